use crate::graph::yaml::{at, bool_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A privileged container runs with every capability and the host's
    /// devices: a compromise of the process is a compromise of the node.
    /// Almost nothing a web service does needs it.
    PrivilegedContainer {
        code: "K001",
        name: "privileged-container",
        severity: Error,
        fix: "remove `securityContext.privileged: true`; add the one capability the process needs, if any",
    }
}

impl Rule for PrivilegedContainer {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                if bool_at(c.node, &["securityContext", "privileged"]) == Some(true) {
                    let span = at(c.node, &["securityContext", "privileged"]).map_or(c.span, |n| n.span);
                    sink.report(file, span, format!("container `{}` runs privileged", c.name));
                }
            }
        }
    }
}
