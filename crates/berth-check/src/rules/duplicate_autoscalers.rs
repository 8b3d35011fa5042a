use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Two HorizontalPodAutoscalers on one workload fight: each sets the
    /// replica count from its own metric, and the count flaps.
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
