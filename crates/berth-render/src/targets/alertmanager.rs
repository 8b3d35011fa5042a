//! alertmanager.yml: one route per receiver (filtered by severity), grouping
//! by alert and subject, and inhibition so that a dependency that is down
//! silences the error alerts of the services that use it.
//!
//! Secrets are never written into the file: receivers read them from files
//! under [`secret_file`]. The file is for Alertmanager 0.25 (Debian 12's,
//! and what `amtool check-config` checks it with), which reads Slack URLs
//! and SMTP passwords from files but a webhook URL only inline: `url_file`
//! came in 0.26. So a webhook whose URL is a secret is left out with a
//! warning naming 0.26, rather than written inline (the secret in the file)
//! or as `url_file` (a config 0.25 refuses to load, every other route and
//! receiver with it). `http_config`'s file fields do not help: they send an
//! `Authorization` header, while the secret here is the URL itself, and the
//! receiving end would be sent something other than the spec says.

use berth_plan::Plan;
use serde::Serialize;

use super::Target;
use crate::{Output, header, yaml};

#[derive(Serialize)]
struct Config {
    #[serde(skip_serializing_if = "Option::is_none")]
    global: Option<Global>,
    route: Route,
    receivers: Vec<Receiver>,
    inhibit_rules: Vec<Inhibit>,
}

#[derive(Serialize)]
struct Global {
    resolve_timeout: &'static str,
}

#[derive(Serialize)]
struct Route {
    receiver: String,
    group_by: Vec<&'static str>,
    group_wait: &'static str,
    group_interval: &'static str,
    repeat_interval: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<ChildRoute>,
}

#[derive(Serialize)]
struct ChildRoute {
    receiver: String,
    matchers: Vec<String>,
    #[serde(rename = "continue")]
    continue_: bool,
}

#[derive(Serialize, Default)]
struct Receiver {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhook_configs: Vec<Webhook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    slack_configs: Vec<Slack>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_configs: Vec<Email>,
}

#[derive(Serialize)]
struct Webhook {
    url: String,
    send_resolved: bool,
}

#[derive(Serialize)]
struct Slack {
    api_url_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    send_resolved: bool,
    title: &'static str,
    text: &'static str,
}

#[derive(Serialize)]
struct Email {
    to: String,
    from: String,
    smarthost: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_password_file: Option<String>,
    send_resolved: bool,
}

#[derive(Serialize)]
struct Inhibit {
    source_matchers: Vec<String>,
    target_matchers: Vec<String>,
    equal: Vec<&'static str>,
}

/// Where alertmanager reads secret files (mounted there by every target).
pub fn secret_file(name: &str) -> String {
    format!("/etc/alertmanager/secrets/{name}")
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let mon = &plan.monitoring;
    if !mon.enabled {
        out.unsupported(Target::Alertmanager, "a spec with monitoring turned off", "nothing was rendered");
        return out;
    }
    let mut receivers = vec![Receiver { name: "blackhole".to_owned(), ..Receiver::default() }];
    let mut routes = Vec::new();
    for r in &mon.receivers {
        let spec = &r.receiver;
        if let Some(secret) = spec.webhook.as_ref().and_then(|w| w.url_secret.as_ref()) {
            let others = spec.slack.is_some() || spec.email.is_some();
            out.unsupported(
                Target::Alertmanager,
                format!("a webhook URL read from secret `{secret}` (receiver `{}`)", r.name),
                format!(
                    "berth renders for Alertmanager 0.25, which takes a webhook URL only inline, and never writes a secret into alertmanager.yml: the webhook is left out, so {}. Alertmanager 0.26 and later can read it with `url_file: {}`",
                    if others { "its alerts reach the receiver's other channels only" } else { "alerts routed to it reach nobody" },
                    secret_file(secret),
                ),
            );
        }
        receivers.push(Receiver {
            name: r.name.clone(),
            webhook_configs: spec
                .webhook
                .iter()
                .filter_map(|w| Some(Webhook { url: w.url.clone()?, send_resolved: true }))
                .collect(),
            slack_configs: spec
                .slack
                .iter()
                .map(|s| Slack {
                    api_url_file: secret_file(&s.webhook_secret),
                    channel: s.channel.clone(),
                    send_resolved: true,
                    title: "{{ .Status | toUpper }}: {{ .CommonLabels.alertname }}",
                    text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
                })
                .collect(),
            email_configs: spec
                .email
                .iter()
                .map(|e| Email {
                    to: e.to.join(", "),
                    from: e.from.clone(),
                    smarthost: e.smarthost.clone(),
                    auth_username: e.username.clone(),
                    auth_password_file: e.password_secret.as_deref().map(secret_file),
                    send_resolved: true,
                })
                .collect(),
        });
        let mut matchers = vec![format!("project=\"{}\"", plan.project)];
        if !spec.severities.is_empty() {
            let sev: Vec<&str> = spec.severities.iter().map(|s| s.as_str()).collect();
            matchers.push(format!("severity=~\"{}\"", sev.join("|")));
        }
        routes.push(ChildRoute { receiver: r.name.clone(), matchers, continue_: true });
    }
    if mon.receivers.is_empty() {
        out.unsupported(
            Target::Alertmanager,
            "notifications without `monitoring.receivers`",
            "alerts fire but reach nobody; add a webhook, Slack or e-mail receiver",
        );
    }
    let mut inhibit_rules = vec![Inhibit {
        source_matchers: vec!["severity=\"critical\"".to_owned()],
        target_matchers: vec!["severity=\"warning\"".to_owned()],
        equal: vec!["alertname", "service"],
    }];
    // A dependency that is down explains its users' errors and latency.
    for dep in &plan.dependencies {
        let down: Vec<&str> = mon
            .alerts
            .iter()
            .filter(|a| a.source == "dependency_down" && a.labels.get("dependency") == Some(&dep.name))
            .map(|a| a.name.as_str())
            .collect();
        if down.is_empty() || dep.used_by.is_empty() {
            continue;
        }
        inhibit_rules.push(Inhibit {
            source_matchers: vec![format!("alertname=~\"{}\"", down.join("|"))],
            target_matchers: vec![
                format!("service=~\"{}\"", dep.used_by.join("|")),
                "alertname=~\".*(ErrorRate|Latency|Down)\"".to_owned(),
            ],
            equal: vec!["project"],
        });
    }
    let config = Config {
        global: Some(Global { resolve_timeout: "5m" }),
        route: Route {
            receiver: "blackhole".to_owned(),
            group_by: vec!["alertname", "service", "dependency"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes,
        },
        receivers,
        inhibit_rules,
    };
    out.file("alertmanager.yml", header::comment("#", plan, "alertmanager") + &yaml::to_string(&config));
    out
}
