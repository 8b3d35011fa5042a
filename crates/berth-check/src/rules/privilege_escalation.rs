use crate::graph::yaml::bool_at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Unless `allowPrivilegeEscalation` is false, a process can gain more
    /// privileges than its parent (setuid binaries, file capabilities). The
    /// default is true.
    PrivilegeEscalation {
        code: "K003",
        name: "privilege-escalation",
        severity: Warning,
        fix: "set `securityContext.allowPrivilegeEscalation: false` on the container",
    }
}

impl Rule for PrivilegeEscalation {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                if bool_at(c.node, &["securityContext", "allowPrivilegeEscalation"]) != Some(false) {
                    sink.report(file, c.span, format!("container `{}` allows privilege escalation", c.name));
                }
            }
        }
    }
}
