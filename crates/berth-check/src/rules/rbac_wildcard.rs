use crate::graph::yaml::{at, seq};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A `*` in a Role's verbs, resources or API groups grants everything
    /// that exists now and everything added later (new resources, CRDs,
    /// `escalate`, `impersonate`). Whoever holds the binding can usually
    /// read every Secret and make themselves cluster-admin.
    RbacWildcard {
        code: "K016",
        name: "rbac-wildcard",
        severity: Error,
        fix: "list the API groups, resources and verbs the subject needs",
    }
}

impl Rule for RbacWildcard {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for o in cx.graph.objects.iter().filter(|o| o.kind == "Role" || o.kind == "ClusterRole") {
            for rule in seq(at(o.node, &["rules"])) {
                for field in ["verbs", "resources", "apiGroups"] {
                    if let Some(star) = seq(at(rule, &[field])).iter().find(|v| v.as_str() == Some("*")) {
                        sink.report(o.file, star.span, format!("{} grants `*` {field}", o.title()));
                    }
                }
            }
        }
    }
}
