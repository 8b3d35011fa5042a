use crate::graph::yaml::{at, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A `hostPath` volume reaches into the node's filesystem; mounting the
    /// container runtime's socket (`docker.sock`, `containerd.sock`) hands
    /// the pod root on the node.
    HostPath {
        code: "K010",
        name: "host-path",
        severity: Error,
        fix: "use a PersistentVolumeClaim, ConfigMap, Secret or emptyDir instead of a hostPath volume",
    }
}

impl Rule for HostPath {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let object = &cx.graph.objects[w.object];
            for volume in seq(at(w.pod, &["volumes"])) {
                let Some(path) = str_at(volume, &["hostPath", "path"]) else { continue };
                let span = at(volume, &["hostPath", "path"]).map_or(volume.span, |n| n.span);
                let name = str_at(volume, &["name"]).unwrap_or("?");
                let message = if path.ends_with("docker.sock")
                    || path.ends_with("containerd.sock")
                    || path.ends_with("crio.sock")
                {
                    format!("volume `{name}` mounts the container runtime socket {path}: root on the node")
                } else {
                    format!("volume `{name}` mounts the node's {path}")
                };
                sink.report(object.file, span, message);
            }
        }
    }
}
