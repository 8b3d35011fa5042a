use super::support::{effective_bool, effective_int};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A container that may run as root (no `runAsNonRoot: true` and no
    /// non-zero `runAsUser`) owns every file in its image and is one kernel
    /// bug away from root on the node. Images that never set a user run as
    /// root by default.
    RunsAsRoot {
        code: "K002",
        name: "runs-as-root",
        severity: Warning,
        fix: "set `securityContext.runAsNonRoot: true` (and `runAsUser` to the image's user) on the pod or the container",
    }
}

impl Rule for RunsAsRoot {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let user = effective_int(w, c, "runAsUser");
                if user == Some(0) {
                    sink.report(file, c.span, format!("container `{}` runs as user 0 (root)", c.name));
                } else if effective_bool(w, c, "runAsNonRoot") != Some(true) && user.is_none() {
                    sink.report(file, c.span, format!("container `{}` may run as root", c.name));
                }
            }
        }
    }
}
