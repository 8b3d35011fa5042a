use super::support::long_running;
use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Without a readiness probe a pod gets traffic the moment its process
    /// starts, and keeps getting it while it cannot answer; without a
    /// liveness probe a hung process is never restarted.
    ///
    /// Every long-running container needs a liveness probe. A readiness
    /// probe is asked of containers that declare ports: a sidecar that
    /// serves nothing (a log or WAL shipper) must not take its pod out of
    /// the Service when it is behind.
    MissingProbes {
        code: "K006",
        name: "missing-probes",
        severity: Warning,
        fix: "add a `readinessProbe` (can it serve now?) and a `livenessProbe` (is it wedged?) on the serving container",
    }
}

impl Rule for MissingProbes {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let object = &cx.graph.objects[w.object];
            if !long_running(object.kind) {
                continue;
            }
            for c in w.containers.iter().filter(|c| !c.init) {
                let serving = !c.ports.is_empty();
                let missing: Vec<&str> = ["readinessProbe", "livenessProbe"]
                    .into_iter()
                    .filter(|p| (serving || *p == "livenessProbe") && at(c.node, &[p]).is_none())
                    .collect();
                if !missing.is_empty() {
                    sink.report(object.file, c.span, format!("container `{}` has no {}", c.name, missing.join(" or ")));
                }
            }
        }
    }
}
