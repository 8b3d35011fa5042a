use crate::graph::Workload;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A Service whose selector matches no pod template in the deployment
    /// has no endpoints: clients get connection refused. Usually a label
    /// typo, or labels changed on one side only. Pods the tree cannot see
    /// are not missing: a Service in `kube-system` (static pods such as the
    /// scheduler), or beside a resource an operator turns into pods (a
    /// Prometheus, an Alertmanager, a database cluster), is left alone, and
    /// so is one whose deployment unit (see `berth check`'s units) has no
    /// pod template in its namespace: its pods are installed some other
    /// way (a Service for an operator's or a cloud's exporter). Nor is one
    /// whose selector resembles no pod template of its unit and namespace
    /// (none in its own file, no label value, workload name or Service
    /// name within two edits):
    /// a Service for pods a Helm chart or the platform installs. A typo
    /// (`app=wbe` beside `app=web`) or a relabelled Deployment still is.
    ServiceSelectsNothing {
        code: "X002",
        name: "service-selects-nothing",
        severity: Warning,
        fix: "make the selector match the pod template's labels (`spec.template.metadata.labels`)",
    }
}

impl Rule for ServiceSelectsNothing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        // Only meaningful when the workloads are part of what was checked.
        if cx.graph.workloads.is_empty() {
            return;
        }
        for service in &cx.graph.services {
            let object = &cx.graph.objects[service.object];
            if service.selector.is_empty() || cx.graph.selected(object.namespace, &service.selector).next().is_some() {
                continue;
            }
            let operated =
                cx.graph.objects.iter().any(|o| o.namespace == object.namespace && OPERATED_KINDS.contains(&o.kind));
            let unit = cx.graph.unit(object.file);
            let workloads_in =
                |file: usize| cx.graph.workloads.iter().filter(|w| cx.graph.objects[w.object].file == file).count();
            let intended = cx.graph.workloads.iter().find(|w| {
                let o = &cx.graph.objects[w.object];
                cx.graph.unit(o.file) == unit
                    && o.namespace == object.namespace
                    // A Service written in the same file as the file's only
                    // workload is for it (a bundle of a whole chart is not).
                    && (o.file == object.file && workloads_in(o.file) == 1
                        || resembles(w, o.name, object.name, &service.selector))
            });
            let Some(intended) = intended else { continue };
            if object.namespace == Some("kube-system") || operated {
                continue;
            }
            let wanted: Vec<String> = service.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let has: Vec<String> = intended.pod_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let near = &cx.graph.objects[intended.object];
            sink.report(
                object.file,
                service.selector_span,
                format!(
                    "{} selects {} but no pod template has those labels; {} ({}) has {}",
                    object.title(),
                    wanted.join(","),
                    near.title(),
                    crate::graph::place(cx.files, near.file, near.span),
                    has.join(",")
                ),
            );
        }
    }
}

/// Whether a pod template looks like the one a Service meant: one of its
/// label values, or the workload's name, is within two edits of a selector
/// value or of the Service's name.
fn resembles(workload: &Workload<'_>, workload_name: &str, service_name: &str, selector: &[(String, String)]) -> bool {
    let close = |a: &str, b: &str| {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        a == b || strsim::levenshtein(&a, &b) <= if a.len().min(b.len()) < 5 { 1 } else { 2 }
    };
    let wanted: Vec<&str> = selector.iter().map(|(_, v)| v.as_str()).chain([service_name]).collect();
    workload
        .pod_labels
        .iter()
        .map(|(_, v)| v.as_str())
        .chain([workload_name])
        .any(|have| wanted.iter().any(|w| close(w, have)))
}

/// Custom resources whose operator creates the pods (so their labels are
/// not in any template of the tree).
const OPERATED_KINDS: &[&str] = &[
    "Prometheus",
    "PrometheusAgent",
    "Alertmanager",
    "ThanosRuler",
    "Elasticsearch",
    "Kibana",
    "Kafka",
    "RabbitmqCluster",
    "RedisFailover",
    "postgresql",
    "Cluster",
    "MongoDBCommunity",
    "Rollout",
];

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: load\nspec:\n  template:\n    metadata:\n      labels: { app: load }\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: load\n          image: ghcr.io/acme/load:1.0.0\n";

    fn service(selector: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: load\nspec:\n  selector: {{ {selector} }}\n  ports: [{{ port: 80 }}]\n"
        )
    }

    #[test]
    fn the_job_controllers_label_selects_a_jobs_pods() {
        assert!(messages_of("X002", &[("job.yaml", JOB), ("svc.yaml", &service("job-name: load"))]).is_empty());
        assert!(
            messages_of("X002", &[("job.yaml", JOB), ("svc.yaml", &service("batch.kubernetes.io/job-name: load"))])
                .is_empty()
        );
        assert_eq!(messages_of("X002", &[("job.yaml", JOB), ("svc.yaml", &service("job-name: other"))]).len(), 1);
    }

    /// Redis HA's announce Services each select one pod of the StatefulSet
    /// by the name its controller gives it.
    #[test]
    fn the_statefulset_controllers_labels_select_one_pod() {
        const STS: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: load\nspec:\n  replicas: 3\n  serviceName: load\n  template:\n    metadata:\n      labels: { app: load }\n    spec:\n      containers:\n        - name: load\n          image: ghcr.io/acme/load:1.0.0\n";
        let x002 = |selector: &str| messages_of("X002", &[("sts.yaml", STS), ("svc.yaml", &service(selector))]);
        assert!(x002("app: load, statefulset.kubernetes.io/pod-name: load-0").is_empty());
        assert!(x002("statefulset.kubernetes.io/pod-name: load-2").is_empty(), "the controller's label alone");
        assert!(x002("app: load, apps.kubernetes.io/pod-index: \"1\"").is_empty());
        assert_eq!(x002("app: load, statefulset.kubernetes.io/pod-name: loader-0").len(), 1, "another set's pod");
        assert_eq!(x002("app: load, statefulset.kubernetes.io/pod-name: load").len(), 1, "no ordinal");
    }

    /// OpenShift's DeploymentConfig runs pods like a Deployment.
    #[test]
    fn a_deployment_configs_pods_are_selected() {
        const DC: &str = "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata:\n  name: postgresql\nspec:\n  replicas: 1\n  selector: { app: sonarqube, deploymentconfig: postgresql }\n  template:\n    metadata:\n      labels: { app: sonarqube, deploymentconfig: postgresql }\n    spec:\n      containers:\n        - name: postgresql\n          image: postgres:15\n";
        let x002 = |selector: &str| messages_of("X002", &[("dc.yaml", DC), ("svc.yaml", &service(selector))]);
        assert!(x002("app: sonarqube, deploymentconfig: postgresql").is_empty());
        assert_eq!(x002("app: sonarqube, deploymentconfig: postgres").len(), 1);
    }
}
