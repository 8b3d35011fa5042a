use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// API versions removed from Kubernetes are rejected by the API server:
    /// the apply fails on upgrade day, or a chart that "always worked"
    /// cannot be installed on a new cluster.
    DeprecatedApi {
        code: "K015",
        name: "deprecated-api",
        severity: Error,
        fix: "move to the replacement API version (`kubectl convert` or the Kubernetes deprecation guide)",
    }
}

/// (apiVersion, kind or `*`, removed in, replacement)
const REMOVED: [(&str, &str, &str, &str); 22] = [
    ("extensions/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("extensions/v1beta1", "DaemonSet", "1.16", "apps/v1"),
    ("extensions/v1beta1", "ReplicaSet", "1.16", "apps/v1"),
    ("extensions/v1beta1", "NetworkPolicy", "1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy", "1.16", "Pod Security admission"),
    ("extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("apps/v1beta1", "*", "1.16", "apps/v1"),
    ("apps/v1beta2", "*", "1.16", "apps/v1"),
    ("networking.k8s.io/v1beta1", "*", "1.22", "networking.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "*", "1.22", "rbac.authorization.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", "*", "1.22", "apiextensions.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "*", "1.22", "admissionregistration.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", "*", "1.22", "scheduling.k8s.io/v1"),
    ("certificates.k8s.io/v1beta1", "*", "1.22", "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", "*", "1.22", "coordination.k8s.io/v1"),
    ("batch/v1beta1", "CronJob", "1.25", "batch/v1"),
    ("policy/v1beta1", "PodDisruptionBudget", "1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy", "1.25", "Pod Security admission"),
    ("discovery.k8s.io/v1beta1", "*", "1.25", "discovery.k8s.io/v1"),
    ("autoscaling/v2beta1", "*", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "*", "1.26", "autoscaling/v2"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "*", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
];

impl Rule for DeprecatedApi {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for o in &cx.graph.objects {
            let Some((_, _, removed, replacement)) =
                REMOVED.iter().find(|(api, kind, _, _)| *api == o.api_version && (*kind == "*" || *kind == o.kind))
            else {
                continue;
            };
            let span = at(o.node, &["apiVersion"]).map_or(o.span, |n| n.span);
            sink.report(
                o.file,
                span,
                format!("{} uses `{}`, removed in Kubernetes {removed}; use {replacement}", o.title(), o.api_version),
            );
        }
    }
}
