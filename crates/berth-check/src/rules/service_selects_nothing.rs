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
    /// way (a Service for an operator's or a cloud's exporter).
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
            let unit_has_pods = cx.graph.workloads.iter().any(|w| {
                let o = &cx.graph.objects[w.object];
                cx.graph.unit(o.file) == unit && o.namespace == object.namespace
            });
            if object.namespace == Some("kube-system") || operated || !unit_has_pods {
                continue;
            }
            let wanted: Vec<String> = service.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            sink.report(
                object.file,
                service.selector_span,
                format!("{} selects {} but no pod template has those labels", object.title(), wanted.join(",")),
            );
        }
    }
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
}
