//! Lookups several rules share.

use crate::graph::yaml::{bool_at, int_at};
use crate::graph::{Container, Graph, Workload};

/// A container's security setting, falling back to the pod's where
/// Kubernetes does (`runAsNonRoot`, `runAsUser`).
pub fn effective_bool(w: &Workload<'_>, c: &Container<'_>, key: &str) -> Option<bool> {
    bool_at(c.node, &["securityContext", key]).or_else(|| bool_at(w.pod, &["securityContext", key]))
}

pub fn effective_int(w: &Workload<'_>, c: &Container<'_>, key: &str) -> Option<i64> {
    int_at(c.node, &["securityContext", key]).or_else(|| int_at(w.pod, &["securityContext", key]))
}

/// Long-running pods: what serves traffic and should have probes.
pub fn long_running(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "DeploymentConfig")
}

/// Replicas the workload may run: `spec.replicas`, or an autoscaler's `maxReplicas`.
pub fn max_replicas(graph: &Graph<'_>, w: &Workload<'_>) -> i64 {
    let o = &graph.objects[w.object];
    if !matches!(o.kind, "Deployment" | "ReplicaSet" | "StatefulSet" | "DeploymentConfig") {
        return 1;
    }
    let hpa = graph
        .autoscalers
        .iter()
        .filter(|a| a.target_kind == o.kind && a.target_name == o.name)
        .filter(|a| graph.unit(graph.objects[a.object].file) == graph.unit(o.file))
        .filter_map(|a| int_at(graph.objects[a.object].node, &["spec", "maxReplicas"]))
        .max();
    hpa.unwrap_or(0).max(w.replicas.map_or(1, |(r, _)| r))
}
