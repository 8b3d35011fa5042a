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
        let hpas = &cx.graph.autoscalers;
        for (i, a) in hpas.iter().enumerate() {
            let oa = &cx.graph.objects[a.object];
            let first = hpas[..i].iter().find(|b| {
                let ob = &cx.graph.objects[b.object];
                b.target_kind == a.target_kind && b.target_name == a.target_name && ob.namespace == oa.namespace
            });
            if let Some(b) = first {
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
