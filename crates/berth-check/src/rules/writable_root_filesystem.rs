use crate::graph::yaml::bool_at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A writable root filesystem lets an intruder change the application's
    /// own files and drop tools. Services that write only to mounted volumes
    /// (and an `emptyDir` for `/tmp`) lose nothing by making it read-only.
    WritableRootFilesystem {
        code: "K004",
        name: "writable-root-filesystem",
        severity: Warning,
        fix: "set `securityContext.readOnlyRootFilesystem: true`; mount an emptyDir where the process must write",
    }
}

impl Rule for WritableRootFilesystem {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in w.containers.iter().filter(|c| !c.init) {
                if bool_at(c.node, &["securityContext", "readOnlyRootFilesystem"]) != Some(true) {
                    sink.report(file, c.span, format!("container `{}` has a writable root filesystem", c.name));
                }
            }
        }
    }
}
