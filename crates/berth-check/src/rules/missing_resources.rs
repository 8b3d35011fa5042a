use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Without CPU and memory requests the scheduler places pods blind and
    /// the pod is the first evicted under pressure; without a memory limit
    /// one leaking replica can take the node's memory from its neighbours.
    MissingResources {
        code: "K005",
        name: "missing-resources",
        severity: Warning,
        fix: "set `resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory`",
    }
}

impl Rule for MissingResources {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let missing: Vec<&str> = [
                    ("requests", "cpu", "requests.cpu"),
                    ("requests", "memory", "requests.memory"),
                    ("limits", "memory", "limits.memory"),
                ]
                .iter()
                .filter(|(group, key, _)| at(c.node, &["resources", group, key]).is_none())
                .map(|(_, _, name)| *name)
                .collect();
                if !missing.is_empty() {
                    sink.report(file, c.span, format!("container `{}` has no {}", c.name, missing.join(", ")));
                }
            }
        }
    }
}
