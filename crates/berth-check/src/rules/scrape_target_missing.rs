use crate::graph::{Resolved, place};
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// A scrape target that names nothing deployed, a port nothing listens
    /// on, or a ServiceMonitor that selects no Service (or names a port the
    /// Service does not have) leaves the service unmonitored. `up` for it
    /// is simply absent, so no alert on `up == 0` ever fires.
    ScrapeTargetMissing {
        code: "X010",
        name: "scrape-target-missing",
        severity: Error,
        fix: "point the target at a deployed service and the port its metrics are served on",
    }
}

impl Rule for ScrapeTargetMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for job in &graph.scrape_jobs {
            for (target, span) in &job.targets {
                let (host, port) = match target.rsplit_once(':') {
                    Some((h, p)) => (h, p.parse().ok()),
                    None => (*target, Some(80)),
                };
                match graph.resolve(job.file, None, host, port) {
                    Resolved::Found | Resolved::External => {}
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
            if selected.is_empty() && elsewhere {
                continue;
            }
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
