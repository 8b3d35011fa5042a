use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An alerting rule without `for:` fires on the first evaluation where
    /// its expression is true: one slow scrape, one restart, one spike pages
    /// someone at night and resolves before they open a laptop. Alerts that
    /// cry wolf get silenced, and then the real one is missed. `for: 0m`
    /// counts as none. Alerts that fire by design (`Watchdog`,
    /// `InfoInhibitor`, `vector(1)`), ages and expiries (`time() -
    /// last_backup`, a certificate's expiry), which only move one way, and counts of events over a window
    /// (`changes(...[15m]) >= 3` restarts), which the window debounces, are
    /// left alone.
    AlertWithoutFor {
        code: "P001",
        name: "alert-without-for",
        severity: Warning,
        fix: "add `for: 5m` (or as long as the condition may last before a human must act)",
    }
}

impl Rule for AlertWithoutFor {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for rule in cx.graph.prom_rules.iter().filter(|r| r.alert && !r.has_for && !needs_no_for(r.name, r.expr)) {
            sink.report(
                rule.file,
                rule.span,
                format!("alert `{}` has no `for:` and fires on a single evaluation", rule.name),
            );
        }
    }
}

/// Alerts a `for:` would not calm: always firing on purpose (the
/// dead man's switch and the inhibitor of info alerts), or on a value that
/// moves once a day (a certificate's expiry).
fn needs_no_for(name: &str, expr: &str) -> bool {
    let expr = expr.to_ascii_lowercase();
    matches!(name, "Watchdog" | "InfoInhibitor" | "DeadMansSwitch")
        || expr.trim() == "vector(1)"
        || (expr.contains("cert") && (expr.contains("expir") || expr.contains("not_after")))
        // The age of a timestamp (`time() - last_backup > 26h`) only grows.
        || expr.replace(' ', "").contains("time()-")
        || expr.contains("changes(")
        || expr.contains("resets(")
}
