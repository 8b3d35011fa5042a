use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Duration, Percent};

/// Metrics, alerts and dashboards.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Turn monitoring off entirely. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How often Prometheus scrapes. Default `15s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<Duration>,
    /// Built-in alerts, all on by default, with their thresholds.
    #[serde(default)]
    pub alerts: BuiltinAlerts,
    /// Your own alerts in PromQL.
    #[serde(default)]
    pub custom_alerts: Vec<CustomAlert>,
    /// Where alerts are sent, by name.
    #[serde(default)]
    pub receivers: BTreeMap<String, Receiver>,
    /// Render Grafana dashboards. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboards: Option<bool>,
    /// OpenTelemetry tracing: every service gets the standard `OTEL_*`
    /// variables (exporter endpoint and protocol, its service name, the
    /// project and environment as resource attributes, the sampler), which
    /// OpenTelemetry SDKs read without code. berth's own edge (`berth up`,
    /// the gateway) records a server span per request as `<project>-edge`,
    /// continuing a client's valid W3C `traceparent` (keeping its sampling
    /// decision only from `edge.trusted_proxies`; `sample` decides
    /// otherwise), and passes its span to the service as
    /// the parent in `traceparent`; nginx and cloud load balancers pass a
    /// client's `traceparent` through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// Where services send traces.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// The OTLP collector, such as `http://otel-collector:4317`.
    pub endpoint: String,
    /// `grpc` (default, port 4317) or `http/protobuf` (port 4318).
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// Share of new traces recorded, 0 to 100 percent; a request that
    /// arrives with a sampled `traceparent` keeps its caller's decision.
    /// Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Percent>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl Tracing {
    /// The collector's port: the endpoint's, else the protocol's standard one.
    pub fn port(&self) -> u16 {
        let authority =
            self.endpoint.split("://").nth(1).unwrap_or_default().split(['/', '?', '#']).next().unwrap_or_default();
        // `[::1]` has colons but no port; `[::1]:4317` and `host:4317` have one.
        let explicit =
            if authority.ends_with(']') { None } else { authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok()) };
        explicit.unwrap_or(match self.protocol {
            OtlpProtocol::Grpc => 4317,
            OtlpProtocol::HttpProtobuf => 4318,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{OtlpProtocol, Tracing};

    #[test]
    fn collector_ports_come_from_the_endpoint_or_the_protocol() {
        let port = |endpoint: &str, protocol| Tracing { endpoint: endpoint.to_owned(), protocol, sample: None }.port();
        assert_eq!(port("http://otel:4317", OtlpProtocol::HttpProtobuf), 4317);
        assert_eq!(port("https://otlp.example.com/v1", OtlpProtocol::Grpc), 4317);
        assert_eq!(port("https://otlp.example.com", OtlpProtocol::HttpProtobuf), 4318);
        assert_eq!(port("http://[::1]:9999/x", OtlpProtocol::Grpc), 9999);
        assert_eq!(port("http://[::1]", OtlpProtocol::Grpc), 4317);
    }
}

impl OtlpProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// The alerts every service gets. Set `enabled: false` to drop one.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuiltinAlerts {
    /// A replica stops answering scrapes. Default `for: 1m`, critical.
    #[serde(default)]
    pub service_down: Alert,
    /// Share of 5xx responses, in percent. Default 5 for `5m`.
    #[serde(default)]
    pub error_rate: ThresholdAlert<Percent>,
    /// 95th percentile latency. Default `500ms` for `10m`.
    #[serde(default)]
    pub latency_p95: ThresholdAlert<Duration>,
    /// Memory use in percent of the limit. Default 90 for `5m`.
    #[serde(default)]
    pub memory: ThresholdAlert<Percent>,
    /// CPU use in percent of the limit. Default 90 for `15m`.
    #[serde(default)]
    pub cpu: ThresholdAlert<Percent>,
    /// Restarts within `window`. Default 3 within `15m`.
    #[serde(default)]
    pub restarts: RestartAlert,
    /// A dependency is unreachable. Default `for: 1m`, critical.
    #[serde(default)]
    pub dependency_down: Alert,
    /// The edge certificate expires within this time. Default `14d`.
    #[serde(default)]
    pub certificate_expiry: ThresholdAlert<Duration>,
    /// The newest verified backup is older than this. Default: twice the
    /// backup interval, at least `26h` for daily backups.
    #[serde(default)]
    pub backup_age: ThresholdAlert<Duration>,
}

/// An alert without a threshold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// `critical`, `warning` or `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
}

/// An alert that fires past a threshold.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct ThresholdAlert<T> {
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The value past which the alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<T>,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// `critical`, `warning` or `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
}

impl<T> Default for ThresholdAlert<T> {
    fn default() -> Self {
        Self { enabled: None, threshold: None, for_: None, severity: None }
    }
}

/// Restarts counted over a window.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartAlert {
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Restarts that fire the alert. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Window the restarts are counted in. Default `15m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// `critical`, `warning` or `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// An alert of your own.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomAlert {
    /// Alert name in UpperCamelCase, such as `QueueBacklogHigh`.
    pub name: String,
    /// PromQL expression; the alert fires while it returns any series.
    pub expr: String,
    /// How long `expr` must hold. Default `5m`.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// Default `warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// One line shown in notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What it means and what to do, for the runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Extra labels on the alert.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Where alerts go. One receiver may notify several channels.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Only alerts of these severities. Default: all.
    #[serde(default)]
    pub severities: Vec<AlertSeverity>,
    /// POST alerts as JSON to a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Post to a Slack channel through an incoming webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Slack>,
    /// Send e-mail through an SMTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

/// A webhook receiver.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// URL to POST to, when it holds no credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Declared secret holding the URL, when it holds a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret: Option<String>,
}

/// A Slack receiver.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// Declared secret holding the incoming-webhook URL.
    pub webhook_secret: String,
    /// Channel, such as `#ops`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// An e-mail receiver.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// Recipient addresses.
    pub to: Vec<String>,
    /// Sender address.
    pub from: String,
    /// SMTP server `host:port`.
    pub smarthost: String,
    /// SMTP user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Declared secret holding the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
}
