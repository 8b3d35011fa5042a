use crate::graph::yaml::{bool_at, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A pod that runs as the namespace's `default` ServiceAccount with its
    /// token mounted hands every process in it (and anyone who exploits
    /// one) an API credential it never needed; any Role someone later
    /// binds to `default` silently reaches every such pod.
    DefaultServiceAccount {
        code: "K014",
        name: "default-service-account",
        severity: Warning,
        fix: "set `automountServiceAccountToken: false` on the pod, or give it its own ServiceAccount with only the permissions it needs",
    }
}

impl Rule for DefaultServiceAccount {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let account = str_at(w.pod, &["serviceAccountName"]).or_else(|| str_at(w.pod, &["serviceAccount"]));
            if account.is_some_and(|a| a != "default")
                || bool_at(w.pod, &["automountServiceAccountToken"]) == Some(false)
            {
                continue;
            }
            let o = &cx.graph.objects[w.object];
            sink.report(
                o.file,
                o.span,
                format!("{} runs as the `default` ServiceAccount with its API token mounted", o.title()),
            );
        }
    }
}
