use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Two HorizontalPodAutoscalers on one workload fight: each sets the
    /// replica count from its own metric, and the count flaps. Autoscalers
    /// in separate files of a directory that does not hold the workload
    /// (an `hpa/` folder beside its Deployment, one file per way to scale)
    /// are options a reader applies one of, and are left alone; two in one
    /// file, or beside the workload, are applied together.
    DuplicateAutoscalers {
        code: "X004",
        name: "duplicate-autoscalers",
        severity: Error,
        fix: "keep one HorizontalPodAutoscaler per workload and list all its metrics there",
    }
}

impl Rule for DuplicateAutoscalers {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let mut first_by_target = std::collections::HashMap::new();
        for a in &cx.graph.autoscalers {
            let oa = &cx.graph.objects[a.object];
            let first = *first_by_target
                .entry((cx.graph.unit(oa.file), oa.namespace, a.target_kind, a.target_name))
                .or_insert(a);
            if !std::ptr::eq(first, a) {
                let b = first;
                let ob = &cx.graph.objects[b.object];
                let unit = cx.graph.unit(oa.file);
                let beside_workload = cx
                    .graph
                    .workload_named(unit, oa.namespace, a.target_kind, a.target_name)
                    .is_some_and(|w| cx.graph.unit(cx.graph.objects[w.object].file) == unit);
                if oa.file != ob.file && !beside_workload {
                    continue;
                }
                sink.report(
                    oa.file,
                    a.span,
                    format!(
                        "{} scales {} {}, which {} ({}) already scales",
                        oa.title(),
                        a.target_kind,
                        a.target_name,
                        ob.title(),
                        place(cx.files, ob.file, ob.span)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec: { containers: [{ name: web, image: ghcr.io/acme/web:1.0.0 }] }\n";

    fn hpa(name: &str) -> String {
        format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{ name: {name} }}\nspec:\n  scaleTargetRef: {{ apiVersion: apps/v1, kind: Deployment, name: web }}\n  minReplicas: 1\n  maxReplicas: 4\n"
        )
    }

    #[test]
    fn options_in_a_folder_of_their_own_are_not_applied_together() {
        let (cpu, gpu) = (hpa("web-cpu"), hpa("web-gpu"));
        let options =
            [("app/web.yaml", DEPLOYMENT), ("app/hpa/cpu.yaml", cpu.as_str()), ("app/hpa/gpu.yaml", gpu.as_str())];
        assert!(messages_of("X004", &options).is_empty());
        let both = format!("{cpu}---\n{gpu}");
        assert_eq!(messages_of("X004", &[("app/web.yaml", DEPLOYMENT), ("app/hpa/both.yaml", &both)]).len(), 1);
        let beside = [("app/web.yaml", DEPLOYMENT), ("app/cpu.yaml", cpu.as_str()), ("app/gpu.yaml", gpu.as_str())];
        assert_eq!(messages_of("X004", &beside).len(), 1);
    }
}
