use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// With `ProtectSystem=strict` (or any `ReadWritePaths=`), systemd
    /// bind-mounts each listed path when the service starts. A path that
    /// does not exist yet makes the start fail with `226/NAMESPACE`, on the
    /// first boot of a fresh machine only. Paths are created by
    /// `StateDirectory=`, `LogsDirectory=`, `CacheDirectory=`,
    /// `RuntimeDirectory=`, `ConfigurationDirectory=`, or a `tmpfiles.d` line;
    /// a `-` prefix makes a path optional.
    ReadWritePathsMissing {
        code: "U002",
        name: "read-write-paths-missing",
        severity: Error,
        fix: "let systemd create it (`StateDirectory=name` for /var/lib/name), add a tmpfiles.d `d` line, or prefix the path with `-`",
    }
}

/// Directory settings and the root systemd creates their names under.
const CREATED: [(&str, &str); 5] = [
    ("StateDirectory", "/var/lib/"),
    ("LogsDirectory", "/var/log/"),
    ("CacheDirectory", "/var/cache/"),
    ("RuntimeDirectory", "/run/"),
    ("ConfigurationDirectory", "/etc/"),
];

impl Rule for ReadWritePathsMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for unit in graph.units {
            // Drop-ins of the same unit count as one configuration.
            let parts: Vec<_> = graph.units.iter().filter(|u| u.unit == unit.unit).collect();
            let mut created: Vec<String> = Vec::new();
            for part in &parts {
                for (key, root) in CREATED {
                    for s in part.get("Service", key) {
                        created.extend(
                            s.value.split_whitespace().map(|n| format!("{root}{}", n.split(':').next().unwrap_or(n))),
                        );
                    }
                }
            }
            created.extend(graph.tmpfiles.iter().map(|(_, p)| p.clone()));
            for setting in unit.get("Service", "ReadWritePaths") {
                for path in setting.value.split_whitespace() {
                    let path = path.trim_start_matches('+');
                    if path.starts_with('-') || !path.starts_with('/') || path.contains('%') {
                        continue;
                    }
                    let path = path.trim_end_matches('/');
                    let exists =
                        created.iter().any(|c| path == c || path.starts_with(&format!("{}/", c.trim_end_matches('/'))))
                            || ["/tmp", "/var/tmp", "/run", "/dev/shm", "/proc", "/sys", "/dev"].contains(&path);
                    if !exists {
                        sink.report(
                            unit.file,
                            setting.value_span,
                            format!("`{path}` is bind-mounted at start but nothing here creates it; on a fresh machine {} fails with 226/NAMESPACE", unit.unit),
                        );
                    }
                }
            }
        }
    }
}
