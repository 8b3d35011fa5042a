use berth_spec::{Node, NodeKind};

use crate::graph::Graph;
use crate::graph::compose::network_names;
use crate::graph::prometheus::{Server, alertmanager_targets, is_config, nothing_on_loopback, servers};
use crate::graph::yaml::{at, seq};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Prometheus evaluates its alerting rules and sends what fires to the
    /// Alertmanagers of `alerting.alertmanagers`. When a static target
    /// (`alertmanager:9093`) names nothing that is deployed, every
    /// notification fails to send: alerts show as firing in Prometheus's
    /// own UI and reach nobody. Reported when the configuration's
    /// deployment unit runs the Prometheus that reads it (a compose service
    /// that mounts it as its `--config.file`, a systemd service, or a
    /// Kubernetes workload) and the target's name reaches nothing from
    /// there: for a compose Prometheus, no service of its
    /// project or of a compose file in a directory above or below it (by
    /// name, `container_name`, `hostname`, network alias or link) and no
    /// `extra_hosts` entry; for one in Kubernetes, no Service anywhere in
    /// the tree. A `localhost` target is judged as scrape targets are
    /// (X010). Silent for Alertmanagers found by service discovery,
    /// addresses that are not a compose or cluster name (IPs, domain
    /// names), a compose Prometheus on the host network or on an external
    /// network, a Prometheus run by systemd (names resolve through the
    /// host's DNS), a Kubernetes Prometheus in a tree with Helm charts, a
    /// tree with an `Alertmanager` resource of the Prometheus Operator, and
    /// a unit that does not run Prometheus.
    AlertmanagerNotDeployed {
        code: "X018",
        name: "alertmanager-not-deployed",
        severity: Error,
        fix: "deploy Alertmanager under that name (a compose service `alertmanager`, a Kubernetes Service), or point `alerting.alertmanagers` at the one that runs",
    }
}

impl Rule for AlertmanagerNotDeployed {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        let operator = graph
            .objects
            .iter()
            .any(|o| o.kind == "Alertmanager" && o.api_version.starts_with("monitoring.coreos.com/"));
        if operator {
            return;
        }
        let charts = cx.files.iter().any(|f| f.name == "Chart.yaml" || f.name.ends_with("/Chart.yaml"));
        for (file, doc) in &graph.documents {
            if !is_config(doc) {
                continue;
            }
            let targets = alertmanager_targets(*file, doc);
            if targets.is_empty() {
                continue;
            }
            let mut servers = servers(graph, graph.unit(*file));
            servers.retain(|s| s.uses_config(graph, cx.files, *file));
            if servers.is_empty() {
                continue;
            }
            let names_known = servers.iter().all(|s| match s {
                Server::Compose(c) => {
                    let declarations: Vec<_> = graph.compose_service(&c.project, c.name).collect();
                    !declarations.iter().any(|d| at(d.node, &["network_mode"]).is_some())
                        && !external_networks(graph, &c.project)
                }
                Server::Kubernetes(_) => !charts,
                Server::Systemd(_) => false,
            });
            for t in &targets {
                let (host, port) = match t.target.rsplit_once(':') {
                    Some((h, p)) => (h, p.parse::<u16>().ok()),
                    None => (t.target, None),
                };
                if host.is_empty() || host.contains(['$', '{', '%', '<']) {
                    continue;
                }
                let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
                if crate::graph::command::is_loopback(host) {
                    if let Some(port) = port
                        && let Some(why) = nothing_on_loopback(graph, cx.files, *file, port)
                    {
                        sink.report(t.file, t.span, format!("alerts are sent to `{}`: {why}", t.target));
                    }
                    continue;
                }
                if ip.is_some() || !names_known {
                    continue;
                }
                let Some(name) = cluster_name(host) else { continue };
                if servers.iter().any(|s| reaches(graph, s, name)) {
                    continue;
                }
                sink.report(
                    t.file,
                    t.span,
                    format!(
                        "alerts are sent to `{}`, but no compose service or Kubernetes Service named `{name}` is \
                         deployed: they fire and reach nobody",
                        t.target
                    ),
                );
            }
        }
    }
}

/// The name a host names inside a compose project or a cluster: a single
/// label, or `name.namespace.svc[.cluster.local]`. `None` for other
/// names (a domain, a pod of a headless Service).
pub(crate) fn cluster_name(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    match labels.as_slice() {
        [name] | [name, _, "svc"] | [name, _, "svc", "cluster", "local"] => Some(*name),
        _ => None,
    }
}

/// Whether the compose files of `project` declare an external network:
/// containers of other projects may answer to any name there.
fn external_networks(graph: &Graph<'_>, project: &str) -> bool {
    let files: Vec<usize> = graph.compose.iter().filter(|s| s.project == project).map(|s| s.file).collect();
    graph.documents.iter().filter(|(f, _)| files.contains(f)).any(|(_, doc)| {
        at(doc, &["networks"]).and_then(Node::as_map).is_some_and(|networks| {
            networks
                .iter()
                .any(|n| at(&n.value, &["external"]).is_some_and(|e| !matches!(e.kind, NodeKind::Bool(false))))
        })
    })
}

/// Whether `name` reaches something from where Prometheus runs: from a
/// compose container, a service of its own project (by name, alias or
/// link) or an `extra_hosts` entry; from a pod, a Service anywhere in the
/// tree (its namespace may be elsewhere). Compose files of a directory
/// above or below count as the project's own: `docker compose -f
/// compose.yaml -f monitoring/compose.yaml` makes one project of them.
fn reaches(graph: &Graph<'_>, server: &Server<'_, '_>, name: &str) -> bool {
    match server {
        Server::Compose(prometheus) => graph.compose.iter().filter(|s| related(&s.dir, &prometheus.project)).any(|s| {
            let extra_hosts = match at(s.node, &["extra_hosts"]) {
                Some(Node { kind: NodeKind::Map(entries), .. }) => entries.iter().any(|e| e.key.name == name),
                other => {
                    seq(other).iter().filter_map(Node::scalar_text).any(|h| h.split([':', '=']).next() == Some(name))
                }
            };
            extra_hosts || network_names(s).iter().any(|n| n == name)
        }),
        Server::Kubernetes(_) => graph.services.iter().any(|s| graph.objects[s.object].name == name),
        // Names resolve through the host's DNS: not judged.
        Server::Systemd(_) => true,
    }
}

/// Whether two compose projects (directories) may be one: the same
/// directory, or one inside the other.
fn related(a: &str, b: &str) -> bool {
    a == b || a.is_empty() || b.is_empty() || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X018", files)
    }

    const PROMETHEUS: &str = "services:\n  prometheus:\n    image: prom/prometheus:v2.53.0\n    volumes:\n      - ./prometheus.yml:/etc/prometheus/prometheus.yml:ro\n";

    fn config(target: &str) -> String {
        format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{target}\"]\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [\"localhost:9090\"]\n"
        )
    }

    #[test]
    fn an_alertmanager_nothing_deploys() {
        let found =
            findings(&[("docker-compose.yml", PROMETHEUS), ("prometheus.yml", config("alertmanager:9093").as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`alertmanager`"), "{found:?}");
        // Inside Prometheus's container, `localhost` is Prometheus.
        let local =
            findings(&[("docker-compose.yml", PROMETHEUS), ("prometheus.yml", config("localhost:9093").as_str())]);
        assert_eq!(local.len(), 1, "{local:?}");
        assert!(local[0].contains("its own container"), "{local:?}");
    }

    #[test]
    fn deployed_under_that_name_or_not_judged() {
        let with_am = format!(
            "{PROMETHEUS}  am:\n    image: prom/alertmanager:v0.27.0\n    networks:\n      default:\n        aliases: [alertmanager]\n"
        );
        assert!(
            findings(&[
                ("docker-compose.yml", with_am.as_str()),
                ("prometheus.yml", config("alertmanager:9093").as_str())
            ])
            .is_empty()
        );
        assert!(
            findings(&[
                ("docker-compose.yml", PROMETHEUS),
                ("prometheus.yml", config("alerts.example.com:9093").as_str())
            ])
            .is_empty()
        );
        assert!(
            findings(&[("docker-compose.yml", PROMETHEUS), ("prometheus.yml", config("10.0.0.5:9093").as_str())])
                .is_empty()
        );
        // Prometheus is not deployed here: the configuration is an example.
        let other = "services:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n";
        assert!(
            findings(&[("docker-compose.yml", other), ("prometheus.yml", config("alertmanager:9093").as_str())])
                .is_empty()
        );
        // An external network may hold it.
        let external = format!("{PROMETHEUS}networks:\n  default:\n    name: monitoring\n    external: true\n");
        assert!(
            findings(&[
                ("docker-compose.yml", external.as_str()),
                ("prometheus.yml", config("alertmanager:9093").as_str())
            ])
            .is_empty()
        );
        // Discovered alertmanagers are not known here.
        let discovered = config("alertmanager:9093").replace(
            "    - static_configs:",
            "    - dns_sd_configs:\n        - names: [alertmanager.example.com]\n      static_configs:",
        );
        assert!(findings(&[("docker-compose.yml", PROMETHEUS), ("prometheus.yml", discovered.as_str())]).is_empty());
    }

    #[test]
    fn names_a_cluster_or_project_resolves() {
        assert_eq!(cluster_name("alertmanager"), Some("alertmanager"));
        assert_eq!(cluster_name("alertmanager.monitoring.svc"), Some("alertmanager"));
        assert_eq!(cluster_name("alertmanager.monitoring.svc.cluster.local."), Some("alertmanager"));
        assert_eq!(cluster_name("alertmanager-0.alertmanager.monitoring.svc.cluster.local"), None);
        assert_eq!(cluster_name("alerts.example.com"), None);
        assert_eq!(cluster_name("alertmanager.monitoring"), None);
    }
}
