//! Lookups several rules share.

use crate::graph::yaml::{bool_at, int_at};
use crate::graph::{Container, Workload};

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
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
}
