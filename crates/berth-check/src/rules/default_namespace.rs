use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Objects placed in the `default` namespace share it with everything
    /// else nobody gave a home: NetworkPolicies, quotas, RBAC and `kubectl
    /// delete --all` cannot tell them apart. An object without a namespace
    /// is left to `kubectl -n` or Kustomize's `namespace:` and is not
    /// reported, and neither are Roles and RoleBindings, which must live
    /// beside what they grant.
    DefaultNamespace {
        code: "K013",
        name: "default-namespace",
        severity: Warning,
        fix: "give the application its own namespace",
    }
}

impl Rule for DefaultNamespace {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        // A Role and its binding live where the objects they grant are: in
        // `default` when those are (the `kubernetes` Service, a shared lease).
        for o in cx
            .graph
            .objects
            .iter()
            .filter(|o| o.namespace == Some("default") && !matches!(o.kind, "Role" | "RoleBinding"))
        {
            let span = at(o.node, &["metadata", "namespace"]).map_or(o.span, |n| n.span);
            sink.report(o.file, span, format!("{} is in the `default` namespace", o.title()));
        }
    }
}
