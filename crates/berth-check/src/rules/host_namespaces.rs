use crate::graph::yaml::{at, bool_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `hostNetwork`, `hostPID` and `hostIPC` put the pod in the node's own
    /// namespaces: it sees every process, every connection and can bind
    /// the node's ports, bypassing NetworkPolicies.
    HostNamespaces {
        code: "K009",
        name: "host-namespaces",
        severity: Error,
        fix: "remove `hostNetwork`, `hostPID` and `hostIPC`; expose ports through a Service instead",
    }
}

impl Rule for HostNamespaces {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let object = &cx.graph.objects[w.object];
            for key in ["hostNetwork", "hostPID", "hostIPC"] {
                if bool_at(w.pod, &[key]) == Some(true) {
                    let span = at(w.pod, &[key]).map_or(object.span, |n| n.span);
                    sink.report(object.file, span, format!("{} shares the node's namespace (`{key}`)", object.title()));
                }
            }
        }
    }
}
