use crate::graph::command::{facts, url_in};
use crate::graph::yaml::{at, int_at, str_at};
use crate::graph::{Container, Graph, place};
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// A liveness or readiness probe, compose healthcheck or Dockerfile
    /// `HEALTHCHECK` on a port the container does not listen on (or a named
    /// port it does not declare) always fails: Kubernetes restarts healthy
    /// pods in a loop or never sends them traffic, compose never starts the
    /// services that wait for `service_healthy`. For nginx containers the
    /// path is checked against the `location`s the configuration serves.
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
            let ports = graph.compose_ports(s);
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
            let mut ports = df.exposed();
            ports.extend(facts(&df.command()).port.map(i64::from));
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
    let bound = facts(&c.command).port.map(i64::from);
    let mut known: Vec<i64> = c.ports.iter().map(|p| p.port).chain(bound).collect();
    known.sort_unstable();
    known.dedup();
    (!known.is_empty() && !known.contains(&port)).then(|| format!("port {port}, but it listens on {}", join(&known)))
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
