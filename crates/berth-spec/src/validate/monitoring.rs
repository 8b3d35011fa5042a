use std::collections::BTreeMap;

use berth_diagnostics::Severity;

use super::Checker;
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

fn is_alert_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Brackets and quotes balance: the cheapest check that catches a PromQL
/// expression cut short. promtool checks the rest on render.
fn balanced(expr: &str) -> bool {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    for c in expr.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && quote.is_none()
}

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    let mon = &spec.monitoring;
    let path = Path::root().key("monitoring");
    if let Some(tracing) = &mon.tracing {
        let tpath = path.key("tracing");
        let rest = tracing.endpoint.strip_prefix("http://").or_else(|| tracing.endpoint.strip_prefix("https://"));
        let host_ok = rest.is_some_and(|r| {
            r.split(['/', '?', '#'])
                .next()
                .is_some_and(|h| !h.is_empty() && !h.starts_with(':') && !h.contains(char::is_whitespace))
        });
        if !host_ok {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &tpath.key("endpoint"),
                    format!("`{}` is not an OTLP endpoint URL", tracing.endpoint),
                )
                .with_help("write the collector's URL, such as `http://otel-collector:4317`");
        }
        if tracing.sample.is_some_and(|p| !(0.0..=100.0).contains(&p.0)) {
            checker.error(codes::OUT_OF_RANGE, &tpath.key("sample"), "a sample share is 0 to 100 percent");
        }
    }
    let mut names = BTreeMap::new();
    for (i, alert) in mon.custom_alerts.iter().enumerate() {
        let apath = path.key("custom_alerts").index(i);
        if !is_alert_name(&alert.name) {
            checker
                .error(codes::INVALID_NAME, &apath.key("name"), format!("`{}` is not a valid alert name", alert.name))
                .with_help("use letters, digits and `_`, in UpperCamelCase such as `QueueBacklogHigh`");
        }
        if let Some(j) = names.insert(alert.name.as_str(), i) {
            checker
                .error(
                    codes::DUPLICATE_NAME,
                    &apath.key("name"),
                    format!("two custom alerts are named `{}`", alert.name),
                )
                .with_related(&path.key("custom_alerts").index(j).key("name"), Anchor::Value, "first here");
        }
        if alert.expr.trim().is_empty() {
            checker.error(codes::MISSING_SETTING, &apath.key("expr"), "the alert expression is empty");
        } else if !balanced(&alert.expr) {
            checker
                .error(codes::INVALID_VALUE, &apath.key("expr"), "the expression's brackets or quotes do not balance")
                .with_help("check each `(`, `[`, `{` and quote has its partner");
        }
    }
    for (name, receiver) in &mon.receivers {
        let rpath = path.key("receivers").key(name);
        if receiver.webhook.is_none() && receiver.slack.is_none() && receiver.email.is_none() {
            checker
                .report(
                    codes::MISSING_SETTING,
                    Severity::Error,
                    &rpath,
                    Anchor::Key,
                    format!("receiver `{name}` notifies nobody"),
                )
                .with_help("add `webhook`, `slack` or `email`");
        }
        if let Some(webhook) = &receiver.webhook {
            let wpath = rpath.key("webhook");
            match (&webhook.url, &webhook.url_secret) {
                (None, None) | (Some(_), Some(_)) => {
                    checker.report(
                        codes::CONTRADICTION,
                        Severity::Error,
                        &wpath,
                        Anchor::Key,
                        "a webhook needs exactly one of `url` or `url_secret`",
                    );
                }
                (Some(url), None) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                    checker.error(codes::INVALID_VALUE, &wpath.key("url"), format!("`{url}` is not an HTTP URL"));
                }
                (Some(url), None) if url.contains('@') || url.contains("token=") || url.contains("key=") => {
                    checker
                        .error(codes::SECRET_IN_SPEC, &wpath.key("url"), "this webhook URL carries credentials")
                        .with_help("declare a secret holding the URL and use `url_secret:` instead");
                }
                _ => {}
            }
        }
        if let Some(email) = &receiver.email {
            let epath = rpath.key("email");
            for (i, to) in email.to.iter().enumerate() {
                if !to.contains('@') {
                    checker.error(
                        codes::INVALID_VALUE,
                        &epath.key("to").index(i),
                        format!("`{to}` is not an e-mail address"),
                    );
                }
            }
            if email.to.is_empty() {
                checker.error(codes::MISSING_SETTING, &epath.key("to"), "the e-mail receiver has no recipients");
            }
            if !email.from.contains('@') {
                checker.error(
                    codes::INVALID_VALUE,
                    &epath.key("from"),
                    format!("`{}` is not an e-mail address", email.from),
                );
            }
            if !email.smarthost.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                checker
                    .error(
                        codes::INVALID_VALUE,
                        &epath.key("smarthost"),
                        format!("`{}` is not `host:port`", email.smarthost),
                    )
                    .with_help("such as `smtp.example.com:587`");
            }
        }
    }
    let alerts = &mon.alerts;
    let apath = path.key("alerts");
    if alerts.error_rate.threshold.is_some_and(|t| t.0 <= 0.0) {
        checker.error(
            codes::OUT_OF_RANGE,
            &apath.key("error_rate").key("threshold"),
            "an error-rate threshold of 0% fires on the first error",
        );
    }
    if alerts.error_rate.threshold.is_some_and(|t| t.0 >= 100.0) {
        checker
            .error(
                codes::OUT_OF_RANGE,
                &apath.key("error_rate").key("threshold"),
                "an error-rate threshold of 100% or more never fires: the alert is on when errors are above it",
            )
            .with_help("pick a share below 100, such as 5");
    }
    for (key, threshold) in [
        ("latency_p95", alerts.latency_p95.threshold),
        ("certificate_expiry", alerts.certificate_expiry.threshold),
        ("backup_age", alerts.backup_age.threshold),
    ] {
        if threshold.is_some_and(|t| t.0.is_zero()) {
            checker.error(
                codes::OUT_OF_RANGE,
                &apath.key(key).key("threshold"),
                "a threshold of 0 fires always or never",
            );
        }
    }
    if alerts.restarts.threshold == Some(0) {
        checker.error(
            codes::OUT_OF_RANGE,
            &apath.key("restarts").key("threshold"),
            "a restart threshold of 0 fires always",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::balanced;

    #[test]
    fn bracket_balance() {
        assert!(balanced("sum(rate(x{a=\"(\"}[5m])) > 1"));
        assert!(!balanced("sum(rate(x[5m]) > 1"));
    }
}
