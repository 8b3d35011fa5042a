use crate::graph::builds::repository;
use crate::graph::command::{facts, is_loopback, url_host, url_in, words};
use crate::graph::yaml::{at, int_at, str_at};
use crate::graph::{ComposeService, Container, Graph, place};
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// A liveness or readiness probe, compose healthcheck or Dockerfile
    /// `HEALTHCHECK` on a port the container does not listen on (or a named
    /// port it does not declare) always fails: Kubernetes restarts healthy
    /// pods in a loop or never sends them traffic, compose never starts the
    /// services that wait for `service_healthy`. For nginx containers the
    /// path is checked against the `location`s the configuration serves.
    /// A side listener the command opens (`--admin 127.0.0.1:9180`) counts:
    /// for a healthcheck, which runs inside the container, even on loopback;
    /// for a kubelet probe, which comes from outside the pod, only when it
    /// is bound beyond loopback. A kubelet probe is judged only when the
    /// command says where the server listens: a container port is
    /// documentation, and a command that names side listeners only
    /// (`--metrics-bind-address=:8080`) says nothing of the others (a
    /// controller-runtime manager answers health probes on :8081 unasked).
    /// A Dockerfile `HEALTHCHECK` is judged against EXPOSE alone only when
    /// the image exposes one or two ports: one exposing several servers'
    /// (a mail server's) runs internal listeners too.
    ProbeTargetMissing {
        code: "X008",
        name: "probe-target-missing",
        severity: Error,
        fix: "probe the port (and path) the server really serves",
    }
}

impl Rule for ProbeTargetMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for w in &graph.workloads {
            let file = graph.objects[w.object].file;
            for c in w.containers.iter().filter(|c| !c.init) {
                for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                    for kind in ["httpGet", "tcpSocket", "grpc"] {
                        let Some(port_node) = at(c.node, &[probe, kind, "port"]) else { continue };
                        // `${HEALTH_PORT:-9003}`: a template envsubst fills in.
                        if port_node.as_str().is_some_and(|p| p.contains("${") || p.contains("{{")) {
                            continue;
                        }
                        let problem = match port_node.as_str().filter(|p| p.parse::<i64>().is_err()) {
                            Some(name) => (!c.ports.iter().any(|p| p.name == Some(name)))
                                .then(|| format!("no port of `{}` is named `{name}`", c.name)),
                            None => int_at(c.node, &[probe, kind, "port"]).and_then(|n| wrong_number(c, n)),
                        };
                        if let Some(problem) = problem {
                            sink.report(file, port_node.span, format!("{probe} of `{}`: {problem}", c.name));
                        }
                    }
                    if let (Some(path), true) = (str_at(c.node, &[probe, "httpGet", "path"]), is_nginx(c))
                        && !nginx_serves(graph, path)
                    {
                        let span = at(c.node, &[probe, "httpGet", "path"]).map_or(c.span, |n| n.span);
                        sink.report(
                            file,
                            span,
                            format!("{probe} of `{}` asks `{path}`, which no nginx `location` here serves", c.name),
                        );
                    }
                }
            }
        }
        for s in &graph.compose {
            let Some((test, span)) = &s.healthcheck_test else { continue };
            let Some((Some(port), _)) = url_in(test) else { continue };
            // A check that asks another service of the project (`curl
            // http://db:3306`) says nothing of this one's ports. (One that
            // asks a host outside is still judged: it never tests this
            // container.)
            if url_host(test).is_some_and(|h| {
                !own_address(&h, s.name)
                    && graph
                        .compose
                        .iter()
                        .any(|o| o.project == s.project && o.name != s.name && o.name.eq_ignore_ascii_case(&h))
            }) {
                continue;
            }
            let ports = graph.compose_ports(s);
            if side_ports(graph, s).contains(&i64::from(port)) {
                continue;
            }
            if !ports.is_empty() && !ports.contains(&i64::from(port)) {
                sink.report(
                    s.file,
                    *span,
                    format!("the healthcheck of `{}` asks port {port}; it listens on {}", s.name, join(&ports)),
                );
            }
        }
        for df in graph.dockerfiles {
            let Some(check) = df.final_stage().filter(|i| i.keyword == "HEALTHCHECK").last() else { continue };
            let Some((Some(port), _)) = url_in(&check.args) else { continue };
            let command = facts(&df.command());
            if command.side.iter().any(|(_, side)| *side == port) {
                continue;
            }
            let mut ports = df.exposed();
            // An image that exposes several servers' ports (Mailu's front:
            // HTTP, IMAP, SMTP...) runs listeners of its own besides them,
            // and EXPOSE alone does not say which one answers health.
            if command.port.is_none() && ports.len() > 2 {
                continue;
            }
            ports.extend(command.port.map(i64::from));
            if !ports.is_empty() && !ports.contains(&i64::from(port)) {
                let expose = df.final_stage().find(|i| i.keyword == "EXPOSE").map_or(check.span, |i| i.span);
                sink.report(
                    df.file,
                    check.span,
                    format!(
                        "HEALTHCHECK asks port {port}; the image listens on {} ({})",
                        join(&ports),
                        place(cx.files, df.file, expose)
                    ),
                );
            }
        }
    }
}

fn wrong_number(c: &Container<'_>, port: i64) -> Option<String> {
    let command = facts(&c.command);
    // `containerPort` only documents: a process may serve more (the
    // ingress-nginx controller's /healthz on 10254 is declared nowhere).
    // Only a command line that says what it serves on makes a port closed;
    // one that names side listeners only (`--metrics-bind-address=:8080`)
    // says nothing of the others (controller-runtime's health probes on
    // :8081 by default), unless the probe asks one bound to loopback.
    let on_loopback =
        command.side.iter().any(|(host, p)| i64::from(*p) == port && host.as_deref().is_some_and(is_loopback));
    if command.port.is_none() && !on_loopback {
        return None;
    }
    // The kubelet probes the pod's address: a loopback side listener does
    // not answer it.
    let side =
        command.side.iter().filter(|(host, _)| !host.as_deref().is_some_and(is_loopback)).map(|(_, p)| i64::from(*p));
    let image = c.image.and_then(repository).map(|r| crate::graph::images::default_ports(&r)).unwrap_or_default();
    let mut known: Vec<i64> = c
        .ports
        .iter()
        .map(|p| p.port)
        .chain(command.port.map(i64::from))
        .chain(side)
        .chain(image.iter().copied().filter(|p| !on_loopback || *p != port))
        .collect();
    known.sort_unstable();
    known.dedup();
    (!known.is_empty() && !known.contains(&port)).then(|| format!("port {port}, but it listens on {}", join(&known)))
}

/// Ports of the side listeners (admin, status, metrics) a compose service's
/// command, or its Dockerfile's, opens; its healthcheck runs inside the
/// container, so a loopback one answers it too.
fn side_ports(graph: &Graph<'_>, service: &ComposeService<'_>) -> Vec<i64> {
    let mut out = Vec::new();
    for s in graph.compose_service(&service.project, service.name) {
        if let Some((command, _)) = &s.command {
            out.extend(facts(&words(command)).side.iter().map(|(_, p)| i64::from(*p)));
        }
        if let Some(df) = graph.dockerfile_of(s) {
            out.extend(facts(&df.command()).side.iter().map(|(_, p)| i64::from(*p)));
        }
    }
    out
}

/// Whether a health check's URL host is the container itself: loopback,
/// every address (`0.0.0.0`), or the service's own name.
fn own_address(host: &str, service: &str) -> bool {
    is_loopback(host) || host == "0.0.0.0" || host == "::" || host.eq_ignore_ascii_case(service)
}

fn is_nginx(c: &Container<'_>) -> bool {
    c.image.is_some_and(|i| {
        let name = i.rsplit('/').next().unwrap_or(i);
        name.starts_with("nginx") && !name.starts_with("nginx-prometheus-exporter")
    })
}

/// Whether some server of the checked nginx configurations has a location
/// for `path`. Regex locations are assumed to match.
fn nginx_serves(graph: &Graph<'_>, path: &str) -> bool {
    if graph.nginx.is_empty() {
        return true;
    }
    graph.nginx.iter().flat_map(|c| c.blocks("location")).any(|l| match (l.arg(0), l.arg(1)) {
        (Some("="), Some(exact)) => exact == path,
        (Some("~" | "~*"), _) => true,
        (Some("^~"), Some(prefix)) => path.starts_with(prefix),
        (Some(prefix), None) => path.starts_with(prefix),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_healthcheck_that_asks_another_service_is_not_judged() {
        // rinha-de-backend's wesleyav: the API's check probes MySQL.
        let compose = "services:\n  api01:\n    image: acme/api:1.0\n    command: uvicorn app:app --port 8080\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://mysqlserver:3306\"]\n  mysqlserver:\n    image: mysql:8.4\n";
        assert!(messages_of("X008", &[("docker-compose.yml", compose)]).is_empty());
        let own = compose.replace("http://mysqlserver:3306", "http://localhost:3306");
        assert_eq!(messages_of("X008", &[("docker-compose.yml", own.as_str())]).len(), 1);
    }

    use crate::rules::messages_of;

    fn manager(args: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: manager\nspec:\n  selector:\n    matchLabels: {{ app: m }}\n  template:\n    metadata:\n      labels: {{ app: m }}\n    spec:\n      containers:\n        - name: manager\n          image: kserve/kserve-controller:v0.16.0\n          args: [{args}]\n          ports:\n            - {{ name: webhook-server, containerPort: 9443 }}\n          livenessProbe:\n            httpGet: {{ path: /healthz, port: 8081 }}\n"
        )
    }

    /// A kubebuilder manager names its metrics listener on the command
    /// line; its health probes listen on controller-runtime's :8081.
    #[test]
    fn side_listeners_alone_say_nothing_of_the_health_port() {
        assert!(
            messages_of("X008", &[("m.yaml", &manager("\"--metrics-addr=127.0.0.1:8080\", \"--leader-elect\""))])
                .is_empty()
        );
        assert!(messages_of("X008", &[("m.yaml", &manager("\"--metrics-bind-address=:8080\""))]).is_empty());
        // A health listener bound to loopback cannot answer the kubelet.
        let loopback = messages_of("X008", &[("m.yaml", &manager("\"--health-probe-bind-address=127.0.0.1:8081\""))]);
        assert_eq!(loopback.len(), 1, "{loopback:?}");
    }

    /// Charon opens its monitoring API where a variable says.
    #[test]
    fn a_listen_address_variable_opens_its_port() {
        let compose = |address: &str| {
            format!(
                "services:\n  charon:\n    image: obolnetwork/charon:v1.1.0\n    environment:\n      - CHARON_MONITORING_ADDRESS={address}\n    ports:\n      - 3610:3610/tcp\n    healthcheck:\n      test: wget -qO- http://localhost:3620/readyz\n"
            )
        };
        assert!(messages_of("X008", &[("docker-compose.yml", &compose("0.0.0.0:3620"))]).is_empty());
        assert_eq!(messages_of("X008", &[("docker-compose.yml", &compose("0.0.0.0:3630"))]).len(), 1);
    }

    /// An envsubst template's probe port is filled in with the container's.
    #[test]
    fn a_templated_probe_port_is_not_a_port_name() {
        let templated = manager("").replace("port: 8081", "port: \"${HEALTH_PORT:-9443}\"");
        assert!(messages_of("X008", &[("m.yaml", &templated)]).is_empty());
        let named = manager("").replace("port: 8081", "port: health");
        assert_eq!(messages_of("X008", &[("m.yaml", &named)]).len(), 1);
    }
}
