use berth_spec::NodeKind;

use crate::graph::yaml::{at, seq};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Docker Compose checks the file against the compose specification
    /// before it starts anything: a service key it does not know
    /// (`enviroment:`, `depend_on:`, `restart_policy:` outside `deploy:`) or a
    /// port it cannot read (`"abc:def"`, `"8080:80/tpc"`, a long-syntax
    /// `target: http`) fails `docker compose up` for the whole project, on
    /// the day of the deploy. Service keys are those of the current compose
    /// specification, plus the legacy `volume_driver`; `x-` extension keys
    /// are allowed. Short-syntax ports are read as Docker reads them
    /// (`[HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTOCOL]`).
    /// Values with `${VAR}` interpolation or template markers (`{{ }}`) are
    /// left alone, and so are files with a top-level key compose does not
    /// have: other tools' files with a `services:` section (CI pipelines,
    /// development environments) are not compose files. An unknown key
    /// with no close spelling among compose's that at least three compose
    /// files of the tree use is a platform's own (Coolify's
    /// `exclude_from_hc`, which it strips before compose runs), not a typo.
    InvalidComposeValue {
        code: "C006",
        name: "invalid-compose-value",
        severity: Error,
        fix: "spell the key as the compose specification does (`docker compose config` shows what compose reads), and write ports as `[HOST_IP:]HOST_PORT:CONTAINER_PORT`, such as `\"127.0.0.1:8080:80\"`",
    }
}

/// The top-level keys of a compose file, besides `x-` extensions.
const TOP_LEVEL: [&str; 9] =
    ["version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models"];

/// The service keys of the compose specification (its JSON schema's
/// `service` properties), and `volume_driver` of file format 2.
const SERVICE_KEYS: [&str; 93] = [
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "pull_refresh_after",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Keys that belong somewhere else, and where.
const MOVED: [(&str, &str); 12] = [
    ("restart_policy", "it belongs under `deploy:`"),
    ("resources", "it belongs under `deploy:`"),
    ("replicas", "it belongs under `deploy:` (or write `scale:`)"),
    ("placement", "it belongs under `deploy:`"),
    ("update_config", "it belongs under `deploy:`"),
    ("rollback_config", "it belongs under `deploy:`"),
    ("endpoint_mode", "it belongs under `deploy:`"),
    ("mode", "it belongs under `deploy:`"),
    ("net", "compose file format 2 made it `network_mode:`"),
    ("log_driver", "compose file format 2 made it `logging: { driver: ... }`"),
    ("log_opt", "compose file format 2 made it `logging: { options: ... }`"),
    ("dockerfile", "it belongs under `build:` (`build: { context: ., dockerfile: ... }`)"),
];

fn service_key(key: &str) -> bool {
    SERVICE_KEYS.contains(&key) || key.starts_with("x-")
}

/// A key someone meant as a name (not a template placeholder).
fn plain(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Text some tool fills in before compose reads it.
fn templated(text: &str) -> bool {
    text.contains('$') || text.contains("{{") || text.contains("{%")
}

/// `8080` or `8000-8010`, as Docker reads them.
fn port_range(text: &str) -> Option<(u16, u16)> {
    match text.split_once('-') {
        None => text.parse().ok().map(|p| (p, p)),
        Some((start, end)) => {
            let start: u16 = start.parse().ok()?;
            let end: u16 = end.split('-').next()?.parse().ok()?;
            (start <= end).then_some((start, end))
        }
    }
}

/// Why Docker cannot read a short-syntax port, in the order Docker's
/// `ParsePortSpec` checks: the last `:` part is the container port (with
/// its `/protocol`), the one before it the host port, anything before that
/// the host IP (IPv6 in brackets).
fn short_port_error(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let mut pieces = container.split('/');
    let port = pieces.next().unwrap_or_default();
    let protocol = pieces.next().filter(|p| !p.is_empty()).unwrap_or("tcp");
    let address = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')).unwrap_or(&ip);
    if !address.is_empty() && address.parse::<std::net::IpAddr>().is_err() {
        return Some(format!("`{ip}` is not an IP address"));
    }
    if port.is_empty() {
        return Some("it names no container port".to_owned());
    }
    let Some((start, end)) = port_range(port) else {
        return Some(format!("`{port}` is not a port number or range"));
    };
    if !host.is_empty() {
        let Some((host_start, host_end)) = port_range(host) else {
            return Some(format!("`{host}` is not a port number or range"));
        };
        if start != end && end - start != host_end - host_start {
            return Some(format!("the ranges `{host}` and `{port}` are not the same size"));
        }
    }
    if !["tcp", "udp", "sctp"].contains(&protocol.to_ascii_lowercase().as_str()) {
        return Some(format!("`{protocol}` is not tcp, udp or sctp"));
    }
    None
}

/// Whether `file` is a compose file for certain: every top-level key is one
/// compose has.
fn compose_file(cx: &Context<'_>, file: usize) -> bool {
    cx.graph.documents.iter().find(|(f, _)| *f == file).and_then(|(_, doc)| doc.as_map()).is_some_and(|entries| {
        entries.iter().all(|e| TOP_LEVEL.contains(&e.key.name.as_str()) || e.key.name.starts_with("x-"))
    })
}

impl Rule for InvalidComposeValue {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        // Unknown keys, by how many compose files use them.
        let mut files_using: std::collections::BTreeMap<&str, std::collections::BTreeSet<usize>> =
            std::collections::BTreeMap::new();
        for s in &cx.graph.compose {
            for e in s.node.as_map().unwrap_or_default() {
                if !service_key(&e.key.name) {
                    files_using.entry(e.key.name.as_str()).or_default().insert(s.file);
                }
            }
        }
        let convention = |key: &str| {
            files_using.get(key).is_some_and(|f| f.len() >= 3) && berth_spec::did_you_mean(key, SERVICE_KEYS).is_none()
        };
        for s in &cx.graph.compose {
            if !compose_file(cx, s.file) {
                continue;
            }
            for e in s.node.as_map().unwrap_or_default() {
                let key = e.key.name.as_str();
                if service_key(key) || !e.key.is_text || !plain(key) || convention(key) {
                    continue;
                }
                let hint = match MOVED.iter().find(|(k, _)| *k == key) {
                    Some((_, hint)) => format!("; {hint}"),
                    None => berth_spec::did_you_mean(key, SERVICE_KEYS)
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_default(),
                };
                sink.report(
                    s.file,
                    e.key.span,
                    format!("service `{}`: `{key}` is not a compose service key{hint}", s.name),
                );
            }
            for p in seq(at(s.node, &["ports"])) {
                match &p.kind {
                    NodeKind::Str(text) if !templated(text) => {
                        if let Some(why) = short_port_error(text) {
                            sink.report(
                                s.file,
                                p.span,
                                format!(
                                    "service `{}`: compose cannot read the port `{text}` ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]): {why}",
                                    s.name
                                ),
                            );
                        }
                    }
                    NodeKind::Map(_) => {
                        for field in ["target", "published"] {
                            let Some(node) = at(p, &[field]) else { continue };
                            let Some(text) = node.as_str() else { continue };
                            if text.is_empty() || templated(text) || port_range(text).is_some() {
                                continue;
                            }
                            sink.report(
                                s.file,
                                node.span,
                                format!("service `{}`: `{field}: {text}` is not a port number", s.name),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ports_are_read_as_docker_reads_them() {
        for ok in [
            "80",
            "8080:80",
            "127.0.0.1:8080:80",
            "127.0.0.1::80",
            "[::1]:8080:80",
            "::1:8080:80",
            "9000-9010:9000-9010",
            "9000-9010:9000",
            "53:53/udp",
            "8080:80/TCP",
            "5432:5432/",
        ] {
            assert_eq!(short_port_error(ok), None, "{ok}");
        }
        for bad in ["abc:def", "8080:http", "localhost:8080:80", "8080:80/tpc", "70000:80", "9000-9001:80-82", "8080:"]
        {
            assert!(short_port_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_key_table_is_sorted_and_complete_enough() {
        let mut sorted = SERVICE_KEYS;
        sorted.sort_unstable();
        assert_eq!(sorted, SERVICE_KEYS);
        for key in ["environment", "depends_on", "healthcheck", "develop", "x-aws-role", "volumes", "working_dir"] {
            assert!(service_key(key), "{key}");
        }
    }

    fn findings(text: &str) -> Vec<String> {
        crate::rules::messages_of("C006", &[("docker-compose.yml", text)])
    }

    #[test]
    fn typos_get_a_suggestion_and_misplaced_keys_a_place() {
        let found = findings(
            "services:\n  web:\n    image: nginx:1.27\n    enviroment:\n      A: b\n    restart_policy:\n      condition: on-failure\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("did you mean `environment`?"), "{found:?}");
        // A platform's own key in three files: a convention, not a typo; a
        // misspelling stays one however often it is copied.
        let platform = "services:\n  app:\n    image: ghcr.io/acme/app:1.0.0\n    exclude_from_hc: true\n";
        let typo = "services:\n  app:\n    image: ghcr.io/acme/app:1.0.0\n    enviroment: { A: b }\n";
        let three = |text: &str| -> Vec<String> {
            crate::rules::messages_of(
                "C006",
                &[("a/compose.yaml", text), ("b/compose.yaml", text), ("c/compose.yaml", text)],
            )
        };
        assert!(three(platform).is_empty());
        assert_eq!(three(typo).len(), 3);
        assert!(found[1].contains("under `deploy:`"), "{found:?}");
    }

    #[test]
    fn other_tools_files_and_interpolated_values_are_left_alone() {
        // A CI pipeline's services: not a compose file.
        assert_eq!(
            findings("steps:\n  test: { image: golang }\nservices:\n  db:\n    image: postgres\n    commands: [x]\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            findings(
                "services:\n  web:\n    image: nginx:1.27\n    ports: [\"${HOST:-127.0.0.1}:${PORT}:80\"]\n    x-note: ok\n"
            ),
            Vec::<String>::new()
        );
    }
}
