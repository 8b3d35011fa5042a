use crate::graph::yaml::{at, bool_at, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `privileged: true`, `network_mode: host`, `pid: host` and a mounted
    /// Docker socket each give the container the host: the socket alone is
    /// root on the machine. Mounting the directory that holds it
    /// (`/var/run`, `/run`) mounts it too, read-only or not (a read-only
    /// mount does not stop a client connecting to a socket).
    ComposeHostAccess {
        code: "C005",
        name: "compose-host-access",
        severity: Error,
        fix: "remove `privileged`, host namespaces and the Docker socket mount; add single capabilities where needed",
    }
}

impl Rule for ComposeHostAccess {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for s in &cx.graph.compose {
            if bool_at(s.node, &["privileged"]) == Some(true) {
                let span = at(s.node, &["privileged"]).map_or(s.span, |n| n.span);
                sink.report(s.file, span, format!("service `{}` runs privileged", s.name));
            }
            for key in ["network_mode", "pid", "ipc"] {
                if str_at(s.node, &[key]) == Some("host") {
                    let span = at(s.node, &[key]).map_or(s.span, |n| n.span);
                    sink.report(
                        s.file,
                        span,
                        format!("service `{}` shares the host's namespace (`{key}: host`)", s.name),
                    );
                }
            }
            for v in seq(at(s.node, &["volumes"])) {
                let source = v
                    .scalar_text()
                    .map(|t| t.split(':').next().unwrap_or("").to_owned())
                    .or_else(|| str_at(v, &["source"]).map(str::to_owned));
                if source.as_deref().is_some_and(|src| src.ends_with("docker.sock")) {
                    sink.report(
                        s.file,
                        v.span,
                        format!("service `{}` mounts the Docker socket: root on the host", s.name),
                    );
                } else if let Some(dir) =
                    source.as_deref().map(|src| src.trim_end_matches('/')).filter(|d| matches!(*d, "/var/run" | "/run"))
                {
                    sink.report(
                        s.file,
                        v.span,
                        format!("service `{}` mounts {dir}, and with it the Docker socket: root on the host", s.name),
                    );
                }
            }
        }
    }
}
