use crate::graph::prometheus::nothing_on_loopback;
use crate::graph::{Resolved, place};
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// A scrape target that names nothing deployed, a port nothing listens
    /// on, or a ServiceMonitor that selects no Service (or names a port the
    /// Service does not have) leaves the service unmonitored. `up` for it
    /// is simply absent, so no alert on `up == 0` ever fires. With the
    /// blackbox pattern (relabelling `__address__` to the exporter) the
    /// exporter is what is scraped, and a `localhost` URL it probes from
    /// its own compose container reaches only itself. A
    /// ServiceMonitor is judged only when its deployment unit deploys
    /// Services where it looks: otherwise they come another way (an
    /// operator makes them from a custom resource), and never when it
    /// selects the Prometheus Operator's own (`operated-prometheus`).
    ///
    /// A `localhost` (or `127.0.0.1`) target is judged where the
    /// Prometheus that reads the configuration runs, when its unit deploys
    /// it (a compose service that mounts the file as its `--config.file`,
    /// or a systemd service): inside a compose container,
    /// `localhost` is the container itself (unless it uses
    /// `network_mode: host` or another service shares its network
    /// namespace), so `localhost:9100` reaches no node exporter; on the
    /// host (a systemd service), it is found when some other systemd
    /// service or socket, or a compose service's published port, listens
    /// there. Silent for Prometheus's own port, for a unit that deploys no
    /// Prometheus or only Prometheus, for Prometheus in Kubernetes (a
    /// sidecar may listen), and when any service's port is not known or a
    /// script of the unit mentions an exporter or the port.
    ScrapeTargetMissing {
        code: "X010",
        name: "scrape-target-missing",
        severity: Error,
        fix: "point the target at a deployed service and the port its metrics are served on",
    }
}

fn placeholder(host: &str) -> bool {
    // `$(hostname -i)` is no placeholder: nothing substitutes a command in
    // a YAML file, and Prometheus scrapes it literally.
    let variable =
        host.match_indices('$').any(|(i, _)| host[i + 1..].starts_with(|c: char| c == '{' || c.is_ascii_alphabetic()));
    variable
        || host.contains("{{")
        || host.starts_with('<') && host.ends_with('>')
        || host.to_ascii_uppercase().starts_with("YOUR")
        || host.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') && host.contains('_')
}

impl Rule for ScrapeTargetMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for job in &graph.scrape_jobs {
            // A configuration no Prometheus of the unit loads (a lab's
            // alternative, a file a script copies elsewhere) scrapes nothing.
            let servers = crate::graph::prometheus::servers(graph, graph.unit(job.file));
            let path = crate::graph::compose::normalize(&cx.files[job.file].name);
            // VictoriaMetrics, vmagent, an agent: a scraper berth does not
            // know as Prometheus reads what it mounts.
            let prometheus = |s: &crate::graph::ComposeService<'_>| {
                servers.iter().any(|server| {
                    matches!(server, crate::graph::prometheus::Server::Compose(p) if p.project == s.project && p.name == s.name)
                })
            };
            let mounted = graph.compose.iter().filter(|s| !prometheus(s)).any(|s| {
                crate::graph::compose::bind_mounts(s)
                    .iter()
                    .any(|(src, _)| path == *src || path.starts_with(&format!("{}/", src.trim_end_matches('/'))))
            });
            // A unit that runs no Prometheus at all scrapes with nothing
            // either (a sample configuration beside the app), unless a
            // scraper berth does not know mounts it.
            if !mounted && !servers.iter().any(|s| s.uses_config(graph, cx.files, job.file)) {
                continue;
            }
            // An exporter in a compose container probing `localhost`
            // probes itself.
            if let Some((exporter, _)) = job.targets.first()
                && let Some((host, port)) = exporter.rsplit_once(':')
                // The exporter by its compose name, in this unit or (a
                // monitoring folder the root stack mounts) another.
                && let Some(service) =
                    graph.compose.iter().find(|s| crate::graph::compose::network_names(s).iter().any(|n| n == host))
                && crate::graph::yaml::str_at(service.node, &["network_mode"]).is_none()
            {
                for (probe, span) in &job.probes {
                    let rest = probe.split_once("://").map_or(*probe, |(_, r)| r);
                    let probed = rest.split(['/', '?']).next().unwrap_or(rest);
                    let probed =
                        probed.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(probed, |(h, _)| h);
                    if matches!(probed, "localhost" | "127.0.0.1" | "[::1]") {
                        sink.report(
                            job.file,
                            *span,
                            format!(
                                "job `{}` probes `{probe}` from `{host}:{port}`'s container, where localhost is the exporter itself",
                                job.name
                            ),
                        );
                    }
                }
            }
            for (target, span) in &job.targets {
                let (host, port) = match target.rsplit_once(':') {
                    Some((h, p)) => (h, p.parse().ok()),
                    None => (*target, Some(80)),
                };
                // A placeholder a script or the reader fills in (`$HOST`,
                // `{{HOST_IP}}`, `YOUR_IP`) names nothing yet.
                if placeholder(host) {
                    continue;
                }
                // The API server's Service exists in every cluster.
                if matches!(
                    host,
                    "kubernetes.default.svc" | "kubernetes.default" | "kubernetes.default.svc.cluster.local"
                ) {
                    continue;
                }
                match graph.resolve(job.file, None, host, port) {
                    Resolved::Found => {}
                    Resolved::External => {
                        if let Some(port) = port.filter(|_| crate::graph::command::is_loopback(host))
                            && let Some(why) = nothing_on_loopback(graph, cx.files, job.file, port)
                        {
                            sink.report(job.file, *span, format!("job `{}` scrapes `{target}`: {why}", job.name));
                        }
                    }
                    Resolved::Unknown => {
                        sink.report(
                            job.file,
                            *span,
                            format!("job `{}` scrapes `{target}`, which is not deployed here", job.name),
                        );
                    }
                    Resolved::WrongPort { what, file, span: at, ports } => {
                        sink.report(
                            job.file,
                            *span,
                            format!(
                                "job `{}` scrapes `{target}` but {what} ({}) listens on {}",
                                job.name,
                                place(cx.files, file, at),
                                join(&ports)
                            ),
                        );
                    }
                }
            }
        }
        for monitor in &graph.service_monitors {
            // No `matchLabels` (no selector, or expressions only): which
            // Services it takes is not for this rule to guess.
            if monitor.selector.is_empty() {
                continue;
            }
            // The Prometheus Operator labels the Services and pods it
            // makes for its Prometheus and Alertmanager resources
            // (`operated-prometheus: "true"`).
            if monitor.selector.iter().any(|(k, _)| k.starts_with("operated-")) {
                continue;
            }
            let object = &graph.objects[monitor.object];
            let selected: Vec<_> = graph
                .services
                .iter()
                .filter(|s| {
                    let o = &graph.objects[s.object];
                    let namespace_ok = monitor.any_namespace
                        || if monitor.namespaces.is_empty() {
                            o.namespace == object.namespace
                        } else {
                            o.namespace.is_some_and(|n| monitor.namespaces.contains(&n))
                        };
                    namespace_ok
                        && !monitor.selector.is_empty()
                        && monitor
                            .selector
                            .iter()
                            .all(|(k, v)| service_labels(o).iter().any(|(sk, sv)| sk == k && sv == v))
                })
                .collect();
            // Unknown is not wrong: a monitor of any namespace, or of one
            // the tree holds nothing of (the cluster's own Services in
            // kube-system or default: kubelet, apiserver, CoreDNS), may
            // well select something.
            let elsewhere = monitor.any_namespace
                || monitor.namespaces.iter().any(|n| {
                    matches!(*n, "kube-system" | "default")
                        || !graph.objects.iter().any(|o| o.namespace == Some(*n) && o.kind == "Service")
                });
            // Nor is a monitor whose deployment unit deploys no Service where
            // it looks: its Services come some other way (an operator makes
            // them from a custom resource, another unit installs them).
            let unit = graph.unit(object.file);
            let looks_in = |o: &crate::graph::Object<'_>| {
                if monitor.namespaces.is_empty() {
                    o.namespace == object.namespace
                } else {
                    o.namespace.is_some_and(|n| monitor.namespaces.contains(&n))
                }
            };
            let beside = graph
                .services
                .iter()
                .map(|s| &graph.objects[s.object])
                .any(|o| graph.unit(o.file) == unit && looks_in(o));
            if selected.is_empty() && (elsewhere || !beside) {
                continue;
            }
            // Services of its own deployment unit when it selects any; one
            // that selects only another unit's (a sibling tutorial's
            // ingress-nginx) is deployed with Services that come some
            // other way (a Helm release from Terraform), not with those.
            let own: Vec<_> =
                selected.iter().copied().filter(|s| graph.unit(graph.objects[s.object].file) == unit).collect();
            if own.is_empty() && !selected.is_empty() {
                continue;
            }
            let selected = own;
            if selected.is_empty() {
                sink.report(
                    object.file,
                    monitor.selector_span,
                    format!("{} selects no Service: nothing is scraped", object.title()),
                );
                continue;
            }
            for (port, span) in &monitor.ports {
                if !selected.iter().any(|s| s.ports.iter().any(|p| p.name == Some(*port))) {
                    let s = &graph.objects[selected[0].object];
                    sink.report(
                        object.file,
                        *span,
                        format!(
                            "{} scrapes port `{port}`, which {} ({}) does not name",
                            object.title(),
                            s.title(),
                            place(cx.files, s.file, s.span)
                        ),
                    );
                }
            }
        }
    }
}

fn service_labels(o: &crate::graph::Object<'_>) -> Vec<(String, String)> {
    crate::graph::yaml::labels(crate::graph::yaml::at(o.node, &["metadata", "labels"]))
}

#[cfg(test)]
mod tests {
    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X010", files)
    }

    fn scraping(targets: &str) -> String {
        format!("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{targets}]\n")
    }

    const COMPOSE: &str = "services:\n  prometheus:\n    image: prom/prometheus:v2.53.0\n    volumes:\n      - ./prometheus.yml:/etc/prometheus/prometheus.yml:ro\n  node-exporter:\n    image: prom/node-exporter:v1.8.1\n    expose: [\"9100\"]\n";

    /// The blackbox pattern: the listed URLs are parameters; what is
    /// scraped is the relabelled `__address__`, the exporter.
    #[test]
    fn probe_targets_relabelled_to_the_exporter_are_parameters() {
        let config = |exporter: &str| {
            format!(
                "scrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n    static_configs:\n      - targets: [\"http://app:8080/health\", \"https://example.com\"]\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - target_label: __address__\n        replacement: {exporter}\n"
            )
        };
        let compose = "services:\n  prometheus:\n    image: prom/prometheus:v2.53.0\n    volumes:\n      - ./prometheus.yml:/etc/prometheus/prometheus.yml:ro\n  blackbox-exporter:\n    image: prom/blackbox-exporter:v0.25.0\n    expose: [\"9115\"]\n";
        let x010 = |exporter: &str| findings(&[("prometheus.yml", &config(exporter)), ("docker-compose.yml", compose)]);
        assert!(x010("blackbox-exporter:9115").is_empty(), "{:?}", x010("blackbox-exporter:9115"));
        assert_eq!(x010("blackbox:9115").len(), 1, "the exporter's address is still judged");
        let local = config("blackbox-exporter:9115").replace("http://app:8080/health", "http://localhost:3000");
        let found = findings(&[("prometheus.yml", &local), ("docker-compose.yml", compose)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("localhost is the exporter itself"), "{found:?}");
    }

    /// AMQ Broker's operator makes the Services from an `ActiveMQArtemis`;
    /// a monitor beside it selects what the tree cannot show.
    #[test]
    fn a_monitor_whose_unit_deploys_no_service_judges_nothing() {
        let monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: broker\nspec:\n  selector:\n    matchLabels: { application: broker-app }\n  endpoints:\n    - port: wconsj\n";
        let broker = "apiVersion: broker.amq.io/v1beta1\nkind: ActiveMQArtemis\nmetadata:\n  name: broker\n";
        assert!(findings(&[("amq/monitor.yaml", monitor), ("amq/broker.yaml", broker)]).is_empty());
        let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: { application: web-app }\nspec:\n  selector: { app: web }\n  ports: [{ name: http, port: 80 }]\n";
        let found = findings(&[("amq/monitor.yaml", monitor), ("amq/service.yaml", service)]);
        assert_eq!(found.len(), 1, "the unit's Services are all there, none has the labels: {found:?}");
    }

    #[test]
    fn placeholders_links_and_unloaded_configurations() {
        for target in ["\"$NODE_HOST:9100\"", "\"{{HOST_IP}}:9100\"", "YOUR_IP:9100", "\"${EXPORTER}:9100\""] {
            assert!(
                findings(&[("prometheus.yml", &scraping(target)), ("docker-compose.yml", COMPOSE)]).is_empty(),
                "{target}"
            );
        }
        assert_eq!(
            findings(&[("prometheus.yml", &scraping("\"$(hostname -i):9100\"")), ("docker-compose.yml", COMPOSE)])
                .len(),
            1
        );
        // Prometheus's own `links: [cadvisor]` does not make it cadvisor.
        let linked = COMPOSE.replace(
            "    image: prom/prometheus:v2.53.0\n",
            "    image: prom/prometheus:v2.53.0\n    links: [cadvisor]\n",
        );
        assert_eq!(
            findings(&[("prometheus.yml", &scraping("cadvisor:8080")), ("docker-compose.yml", &linked)]).len(),
            1
        );
        // A link alias names the linked service.
        let aliased = COMPOSE.replace(
            "    image: prom/prometheus:v2.53.0\n",
            "    image: prom/prometheus:v2.53.0\n    links: [\"node-exporter:node\"]\n",
        );
        assert!(findings(&[("prometheus.yml", &scraping("node:9100")), ("docker-compose.yml", &aliased)]).is_empty());
        // A second configuration the compose Prometheus does not mount.
        assert!(
            findings(&[
                ("exporters.yml", &scraping("gone:9100")),
                ("prometheus.yml", &scraping("node-exporter:9100")),
                ("docker-compose.yml", COMPOSE)
            ])
            .is_empty()
        );
    }

    #[test]
    fn localhost_inside_a_prometheus_container() {
        let config = scraping("\"localhost:9100\", \"localhost:9090\", \"node-exporter:9100\"");
        let found = findings(&[("docker-compose.yml", COMPOSE), ("prometheus.yml", config.as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`localhost:9100`") && found[0].contains("its own container"), "{found:?}");
        // The exporter shares Prometheus's network namespace.
        let shared = COMPOSE.replace("    expose: [\"9100\"]\n", "    network_mode: service:prometheus\n");
        let config = scraping("\"localhost:9100\"");
        assert!(findings(&[("docker-compose.yml", shared.as_str()), ("prometheus.yml", config.as_str())]).is_empty());
        // A configuration the compose Prometheus does not mount is another's.
        let unmounted = [("docker-compose.yml", COMPOSE), ("prometheus-host.yml", config.as_str())];
        assert!(findings(&unmounted).is_empty());
        // No Prometheus deployed here: whose localhost is unknown.
        let other = "services:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n";
        assert!(findings(&[("docker-compose.yml", other), ("prometheus.yml", config.as_str())]).is_empty());
        assert!(findings(&[("prometheus.yml", config.as_str())]).is_empty());
    }

    const PROMETHEUS_SERVICE: &str = "[Unit]\nDescription=Prometheus\n\n[Service]\nExecStart=/usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml\n";

    #[test]
    fn localhost_on_the_host() {
        let app = "services:\n  app:\n    image: ghcr.io/acme/app:4.0.2\n    ports: [\"127.0.0.1:8000:8000\"]\n";
        let config = scraping("\"localhost:8000\", \"localhost:9187\"");
        let files = [
            ("docker-compose.yml", app),
            ("prometheus.service", PROMETHEUS_SERVICE),
            ("prometheus.yml", config.as_str()),
        ];
        let found = findings(&files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`localhost:9187`") && found[0].contains("prometheus.service"), "{found:?}");
        // An exporter unit listens on its default port.
        let exporter = "[Service]\nExecStart=/usr/local/bin/postgres_exporter\n";
        let mut with_exporter = files.to_vec();
        with_exporter.push(("postgres_exporter.service", exporter));
        assert!(findings(&with_exporter).is_empty());
        // A unit whose port is not known may be the one.
        let mut with_unknown = files.to_vec();
        with_unknown.push(("app.service", "[Service]\nExecStart=/opt/app/bin/run\n"));
        assert!(findings(&with_unknown).is_empty());
        // Prometheus alone: the exporters may be installed any other way.
        let alone = [("prometheus.service", PROMETHEUS_SERVICE), ("prometheus.yml", config.as_str())];
        assert!(findings(&alone).is_empty());
    }

    /// A Kubernetes Prometheus whose ConfigMap is written out in the tree
    /// loads that text, not a `prometheus.yml` lying beside it (DAPP's
    /// monitoring/prometheus/prometheus.yml, named only by a compose
    /// extension field).
    #[test]
    fn a_file_beside_a_kubernetes_prometheus_with_an_inline_config_map_is_not_loaded() {
        let workload = |volume: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prometheus\nspec:\n  selector:\n    matchLabels: {{ app: prometheus }}\n  template:\n    metadata:\n      labels: {{ app: prometheus }}\n    spec:\n      containers:\n        - name: prometheus\n          image: prom/prometheus:v2.53.0\n      volumes:\n        - name: config\n          configMap:\n            name: {volume}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: prometheus\nspec:\n  selector: {{ app: prometheus }}\n  ports:\n    - port: 9090\n"
            )
        };
        let inline = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prometheus-config\ndata:\n  prometheus.yml: |\n    scrape_configs: []\n";
        let stray = scraping("\"gitlab-runner:9252\"");
        let with_inline = format!("{}---\n{inline}", workload("prometheus-config"));
        assert!(findings(&[("prometheus.yaml", &with_inline), ("prometheus.yml", &stray)]).is_empty());
        // A ConfigMap the tree does not hold (generated from the file by
        // kustomize or kubectl) may be this very file.
        let generated = workload("prometheus-generated");
        let found = findings(&[("prometheus.yaml", &generated), ("prometheus.yml", &stray)]);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
