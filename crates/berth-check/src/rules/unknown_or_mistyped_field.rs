use berth_spec::Node;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::autoscaling::{v1 as autoscaling_v1, v2 as autoscaling_v2};
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::rbac::v1 as rbac;

use crate::graph::schema::{Problem, problems};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A Kubernetes object with a field its API does not have (`replcas: 3`,
    /// `targetport: 8080`) or a string where the API wants a number or a
    /// boolean (`containerPort: "http"`, `replicas: "3"`) does not apply:
    /// kubectl refuses unknown fields (strict field validation is its
    /// default) and the API server refuses the wrong types. Applied without
    /// validation, a misspelled field is dropped without a word: the
    /// Deployment runs one replica, the Service sends traffic to the wrong
    /// port. It reads the built-in kinds (Deployment, StatefulSet,
    /// DaemonSet, ReplicaSet, ReplicationController, Pod, Job, CronJob,
    /// Service, Ingress, ConfigMap, Secret, PersistentVolumeClaim,
    /// HorizontalPodAutoscaler, NetworkPolicy, ServiceAccount, Role,
    /// RoleBinding, ClusterRole, ClusterRoleBinding, PodDisruptionBudget,
    /// Namespace) at their current API versions, against the Kubernetes 1.33
    /// API. Older API versions (K015 reports those), custom resources and
    /// `status` are not read. Keys that are template placeholders or patch
    /// directives (`$patch`), strings that may be placeholders (`${PORT}`,
    /// `REPLICAS`), numbers where text is wanted, and quantities written as
    /// numbers (`cpu: 1`, which the API accepts) are left alone.
    UnknownOrMistypedField {
        code: "K019",
        name: "unknown-or-mistyped-field",
        severity: Error,
        fix: "use the field names and types of the Kubernetes API (`kubectl explain deployment.spec` lists them); a port's name goes under `name:`, its number under `containerPort:`",
    }
}

type Reader = fn(&Node) -> Vec<Problem>;

/// The typed reader of a built-in kind at the API version clusters serve it.
fn reader(api_version: &str, kind: &str) -> Option<Reader> {
    let read: Reader = match (api_version, kind) {
        ("apps/v1", "Deployment") => problems::<apps::Deployment>,
        ("apps/v1", "StatefulSet") => problems::<apps::StatefulSet>,
        ("apps/v1", "DaemonSet") => problems::<apps::DaemonSet>,
        ("apps/v1", "ReplicaSet") => problems::<apps::ReplicaSet>,
        ("v1", "ReplicationController") => problems::<core_v1::ReplicationController>,
        ("v1", "Pod") => problems::<core_v1::Pod>,
        ("batch/v1", "Job") => problems::<batch::Job>,
        ("batch/v1", "CronJob") => problems::<batch::CronJob>,
        ("v1", "Service") => problems::<core_v1::Service>,
        ("networking.k8s.io/v1", "Ingress") => problems::<networking::Ingress>,
        ("v1", "ConfigMap") => problems::<core_v1::ConfigMap>,
        ("v1", "Secret") => problems::<core_v1::Secret>,
        ("v1", "PersistentVolumeClaim") => problems::<core_v1::PersistentVolumeClaim>,
        ("autoscaling/v2", "HorizontalPodAutoscaler") => problems::<autoscaling_v2::HorizontalPodAutoscaler>,
        ("autoscaling/v1", "HorizontalPodAutoscaler") => problems::<autoscaling_v1::HorizontalPodAutoscaler>,
        ("networking.k8s.io/v1", "NetworkPolicy") => problems::<networking::NetworkPolicy>,
        ("v1", "ServiceAccount") => problems::<core_v1::ServiceAccount>,
        ("rbac.authorization.k8s.io/v1", "Role") => problems::<rbac::Role>,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => problems::<rbac::RoleBinding>,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => problems::<rbac::ClusterRole>,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => problems::<rbac::ClusterRoleBinding>,
        ("policy/v1", "PodDisruptionBudget") => problems::<policy::PodDisruptionBudget>,
        ("v1", "Namespace") => problems::<core_v1::Namespace>,
        _ => return None,
    };
    Some(read)
}

impl Rule for UnknownOrMistypedField {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for o in &cx.graph.objects {
            let Some(read) = reader(o.api_version, o.kind) else { continue };
            for problem in read(o.node) {
                match problem {
                    Problem::Unknown { path, parent, suggestion, span } => {
                        let hint = suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                        sink.report(
                            o.file,
                            span,
                            format!(
                                "{}: `{path}` is not a field of {parent}{hint}; kubectl refuses the object",
                                o.title()
                            ),
                        );
                    }
                    Problem::Mistyped { path, value, expected, span } => {
                        let port_name = expected == "an integer"
                            && (path.ends_with("Port") || path.ends_with(".port"))
                            && !value.bytes().all(|b| b.is_ascii_digit() || b == b'-');
                        let hint = if port_name { "; a port's name goes under `name:`" } else { "" };
                        sink.report(
                            o.file,
                            span,
                            format!(
                                "{}: `{path}` is the string \"{value}\" where the API wants {expected}; the API server refuses the object{hint}",
                                o.title()
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn findings(path: &str, text: &str) -> Vec<String> {
        crate::rules::messages_of("K019", &[(path, text)])
    }

    #[test]
    fn reports_typos_and_strings_for_numbers() {
        let found = findings(
            "k8s/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  replcas: 3\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n          ports: [{ containerPort: \"http\" }]\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("`spec.replcas` is not a field of DeploymentSpec (did you mean `replicas`?)"),
            "{found:?}"
        );
        assert!(found[1].contains("`spec.template.spec.containers[0].ports[0].containerPort`"), "{found:?}");
        assert!(found[1].contains("a port's name goes under `name:`"), "{found:?}");
    }

    #[test]
    fn old_api_versions_and_custom_resources_are_not_read() {
        for text in [
            "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  replcas: 3\n",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: { name: web }\nspec:\n  endpointz: []\n",
        ] {
            assert_eq!(findings("k8s/web.yaml", text), Vec::<String>::new());
        }
    }

    #[test]
    fn list_items_are_read() {
        let found = findings(
            "k8s/list.yaml",
            "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: { name: web }\n    spec:\n      ports: [{ port: 80, targetport: 8080 }]\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("(did you mean `targetPort`?)"), "{found:?}");
    }
}
