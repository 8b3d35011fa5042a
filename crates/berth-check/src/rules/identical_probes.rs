use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// When liveness and readiness probe the same thing, a dependency outage
    /// that should only take the pod out of rotation restarts it instead,
    /// on every replica at once: a restart storm on top of the outage.
    /// Two `tcpSocket` checks of one port are not reported: accepting
    /// connections says nothing of dependencies, so an outage behind the
    /// process fails neither (proxies and poolers check themselves so).
    IdenticalProbes {
        code: "K007",
        name: "identical-probes",
        severity: Warning,
        fix: "point liveness at a check of the process itself (`/health`) and readiness at the dependencies (`/health/ready`)",
    }
}

/// The probe without its timing fields: what it checks.
fn target(probe: &berth_spec::Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kind in ["httpGet", "tcpSocket", "grpc", "exec"] {
        if let Some(node) = at(probe, &[kind]) {
            out.push((kind.to_owned(), format!("{:?}", strip(node))));
        }
    }
    out
}

fn strip(node: &berth_spec::Node) -> String {
    match &node.kind {
        berth_spec::NodeKind::Map(entries) => {
            entries.iter().map(|e| format!("{}={}", e.key.name, strip(&e.value))).collect::<Vec<_>>().join(",")
        }
        berth_spec::NodeKind::Seq(items) => items.iter().map(strip).collect::<Vec<_>>().join(","),
        _ => node.scalar_text().unwrap_or_default(),
    }
}

impl Rule for IdenticalProbes {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let (Some(live), Some(ready)) = (at(c.node, &["livenessProbe"]), at(c.node, &["readinessProbe"]))
                else {
                    continue;
                };
                let live_target = target(live);
                let tcp_only = live_target.iter().all(|(kind, _)| kind == "tcpSocket");
                if !live_target.is_empty() && !tcp_only && live_target == target(ready) {
                    let span = c.node.get("livenessProbe").map_or(c.span, |e| e.key.span);
                    sink.report(
                        file,
                        span,
                        format!("container `{}` probes liveness and readiness identically", c.name),
                    );
                }
            }
        }
    }
}
