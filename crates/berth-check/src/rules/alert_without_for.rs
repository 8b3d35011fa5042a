use berth_diagnostics::Span;
use berth_spec::NodeKind;

use crate::graph::yaml::{at, seq};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An alerting rule without `for:` fires on the first evaluation where
    /// its expression is true: one slow scrape, one restart, one spike pages
    /// someone at night and resolves before they open a laptop. Alerts that
    /// cry wolf get silenced, and then the real one is missed. `for: 0m`
    /// (`0s`, a bare `0`) counts as none. Alerts that fire by design (`Watchdog`,
    /// `InfoInhibitor`, `vector(1)`), ages and expiries (`time() -
    /// last_backup`, a certificate's expiry), which only move one way, and counts of events over a window
    /// (`changes(...[15m]) >= 3` restarts, `increase(errors_total[10m]) > 5`,
    /// `rate(backup_failed_total[5m]) > 0`), averages and minimums over a
    /// window, which the window debounces, uptime checks and change
    /// detection (`offset`), which a `for:` would silence, are left alone.
    AlertWithoutFor {
        code: "P001",
        name: "alert-without-for",
        severity: Warning,
        fix: "add `for: 5m` (or as long as the condition may last before a human must act)",
    }
}

impl Rule for AlertWithoutFor {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let zero = zero_for(cx);
        for rule in cx.graph.prom_rules.iter().filter(|r| {
            let waits = r.has_for && !zero.contains(&(r.file, r.span));
            r.alert && !waits && !needs_no_for(r.name, r.expr)
        }) {
            sink.report(
                rule.file,
                rule.span,
                format!("alert `{}` has no `for:` and fires on a single evaluation", rule.name),
            );
        }
    }
}

/// Alerting rules written `for: 0`, a number: Prometheus reads it as the
/// duration zero, no wait at all, as it reads `0m`. (file, where the
/// alert is named)
fn zero_for(cx: &Context<'_>) -> Vec<(usize, Span)> {
    let mut out = Vec::new();
    for (file, doc) in &cx.graph.documents {
        let groups = at(doc, &["groups"]).or_else(|| at(doc, &["spec", "groups"]));
        for rule in seq(groups).iter().flat_map(|group| seq(at(group, &["rules"]))) {
            if let (Some(name), Some(wait)) = (at(rule, &["alert"]), at(rule, &["for"]))
                && matches!(wait.kind, NodeKind::Int(0))
            {
                out.push((*file, name.span));
            }
        }
    }
    out
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
        || counts_events(&expr)
        // An average or minimum over a window is already debounced by it
        // (the maximum is not: one hot reading is the maximum).
        || ["min_over_time(", "avg_over_time(", "quantile_over_time("].iter().any(|f| expr.contains(f))
        // A TTL that only runs down (`kubelet_certificate_manager_client_ttl_seconds < 86400`).
        || (expr.contains("ttl_seconds") && expr.contains('<'))
        // Fires in the first minutes after a restart, by design: `for:` would stop it.
        || (expr.contains("uptime") && expr.contains('<'))
        // Change detection against the past (`x != x offset 5m`) is true only briefly.
        || (expr.contains(" offset ") && !expr.contains("unless"))
        // An age needs that long to grow past its threshold (`age_of_oldest_message > 3600`).
        || expr.contains("age_of_oldest")
}

/// A count of events over a window (`increase(errors_total[15m]) > 5`,
/// `rate(backup_failed_total[5m]) > 0`): the window debounces it, where a
/// rate of a level (CPU seconds, bytes) still crosses on one scrape.
fn counts_events(expr: &str) -> bool {
    if expr.contains("increase(") || expr.contains("delta(") && !expr.contains("idelta(") {
        return true;
    }
    let failure = ["fail", "error", "errs", "evict", "restart", "reject", "denied", "timeout", "panic", "drop"];
    expr.contains("rate(") && !expr.contains("irate(") && failure.iter().any(|f| expr.contains(f))
}

#[cfg(test)]
mod tests {
    fn findings(text: &str) -> Vec<String> {
        crate::rules::messages_of("P001", &[("alerts.yml", text)])
    }

    fn alert(wait: &str) -> String {
        format!(
            "groups:\n  - name: queue\n    rules:\n      - alert: QueueBacklog\n        expr: sum(rabbitmq_queue_messages_ready) > 1000\n{wait}        labels: {{ severity: page }}\n"
        )
    }

    #[test]
    fn a_zero_wait_is_no_wait() {
        for wait in ["", "        for: 0m\n", "        for: 0s\n", "        for: 0\n", "        for: \"0\"\n"] {
            assert_eq!(findings(&alert(wait)).len(), 1, "{wait:?}");
        }
        for wait in ["        for: 5m\n", "        for: 15m\n"] {
            assert_eq!(findings(&alert(wait)), Vec::<String>::new(), "{wait:?}");
        }
    }
}
