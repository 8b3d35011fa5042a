use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `humanizePercentage` multiplies by 100 itself. An expression that is
    /// already multiplied by 100 (the usual `rate(cpu_seconds[5m]) * 100`)
    /// and then formatted with it shows 4500% for 45% CPU: the page is
    /// wrong exactly when someone reads it under pressure.
    PercentageScaledTwice {
        code: "P002",
        name: "percentage-scaled-twice",
        severity: Warning,
        fix: "either drop `* 100` from the expression (and compare with 0.9, not 90) or format with `{{ $value | printf \"%.0f\" }}%`",
    }
}

impl Rule for PercentageScaledTwice {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for rule in &cx.graph.prom_rules {
            let Ok(facts) = &rule.parsed else { continue };
            if !facts.times_100 {
                continue;
            }
            if let Some((name, _)) = rule.annotations.iter().find(|(_, v)| v.contains("humanizePercentage")) {
                sink.report(
                    rule.file,
                    rule.expr_span,
                    format!(
                        "`{}` multiplies by 100 and its `{name}` annotation formats with `humanizePercentage`, which multiplies again",
                        rule.name
                    ),
                );
            }
        }
    }
}
