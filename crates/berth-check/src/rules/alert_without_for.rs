use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An alerting rule without `for:` fires on the first evaluation where
    /// its expression is true: one slow scrape, one restart, one spike pages
    /// someone at night and resolves before they open a laptop. Alerts that
    /// cry wolf get silenced, and then the real one is missed.
    AlertWithoutFor {
        code: "P001",
        name: "alert-without-for",
        severity: Warning,
        fix: "add `for: 5m` (or as long as the condition may last before a human must act)",
    }
}

impl Rule for AlertWithoutFor {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for rule in cx.graph.prom_rules.iter().filter(|r| r.alert && !r.has_for) {
            sink.report(
                rule.file,
                rule.span,
                format!("alert `{}` has no `for:` and fires on a single evaluation", rule.name),
            );
        }
    }
}
