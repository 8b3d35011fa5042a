use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A Service whose selector matches no pod template in the deployment
    /// has no endpoints: clients get connection refused. Usually a label
    /// typo, or labels changed on one side only.
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
            let wanted: Vec<String> = service.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            sink.report(
                object.file,
                service.selector_span,
                format!("{} selects {} but no pod template has those labels", object.title(), wanted.join(",")),
            );
        }
    }
}
