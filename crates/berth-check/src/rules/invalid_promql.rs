use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A rule whose expression does not parse makes Prometheus refuse the
    /// whole rule file (or, through the Prometheus Operator, the whole
    /// PrometheusRule), so every alert in it is silently gone.
    InvalidPromql {
        code: "P003",
        name: "invalid-promql",
        severity: Error,
        fix: "correct the expression; `promtool check rules` shows the same error",
    }
}

impl Rule for InvalidPromql {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for rule in &cx.graph.prom_rules {
            if let Err(message) = &rule.parsed {
                let first = message.lines().next().unwrap_or(message);
                sink.report(
                    rule.file,
                    rule.expr_span,
                    format!("`{}`: the expression does not parse: {first}", rule.name),
                );
            }
        }
    }
}
