use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A workload scaled by an HPA should not also set `spec.replicas`:
    /// every `kubectl apply` resets the count to the fixed number, scaling
    /// a loaded service down until the HPA catches up.
    AutoscalerWithReplicas {
        code: "X005",
        name: "autoscaler-with-replicas",
        severity: Warning,
        fix: "remove `spec.replicas` from the workload and let the HPA's `minReplicas` set the floor",
    }
}

impl Rule for AutoscalerWithReplicas {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for hpa in &cx.graph.autoscalers {
            let oh = &cx.graph.objects[hpa.object];
            if let Some(w) =
                cx.graph.workload_named(cx.graph.unit(oh.file), oh.namespace, hpa.target_kind, hpa.target_name)
            {
                let o = &cx.graph.objects[w.object];
                if let Some((n, span)) = w.replicas {
                    sink.report(
                        o.file,
                        span,
                        format!(
                            "{} fixes {n} replicas but {} ({}) scales it",
                            o.title(),
                            oh.title(),
                            place(cx.files, oh.file, oh.span)
                        ),
                    );
                }
            }
        }
    }
}
