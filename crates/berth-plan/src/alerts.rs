//! The alert set and what Prometheus scrapes. Every alert names the metrics
//! its expression reads, and is only planned when some scrape target exports
//! them; what is left out is said in the plan's notes.

use std::collections::BTreeMap;

use berth_spec::model::units::Duration;
use berth_spec::{AlertSeverity, DependencyKind, Spec, ThresholdAlert};
use serde::Serialize;

use crate::edge::EdgePlan;
use crate::{DependencyPlan, MonitoringPlan, ReceiverPlan, ServicePlan};

#[derive(Debug, Clone, Serialize)]
pub struct AlertPlan {
    pub name: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: Duration,
    pub severity: AlertSeverity,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Metrics the expression reads; checked against what targets export.
    pub metrics: Vec<String>,
    /// Built-in alert this came from (`error_rate`), or `custom`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScrapeTarget {
    pub job: String,
    pub kind: ScrapeKind,
    /// Service, dependency or `edge` the target belongs to.
    pub subject: String,
    pub port: u16,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrapeKind {
    /// The service's own `/metrics`.
    Service,
    /// postgres_exporter or redis_exporter next to a dependency.
    Exporter,
    /// The blackbox exporter probing the edge's certificate.
    TlsProbe,
    /// Metrics `berth backup` writes after each verified backup.
    Backup,
}

/// Ports the standard exporters listen on.
const POSTGRES_EXPORTER_PORT: u16 = 9187;
const REDIS_EXPORTER_PORT: u16 = 9121;
const BLACKBOX_PORT: u16 = 9115;
const BACKUP_METRICS_PORT: u16 = 9188;

/// The settings every threshold alert shares, with `enabled` defaulted.
struct Builtin {
    severity: Option<AlertSeverity>,
    enabled: bool,
    for_: Option<Duration>,
}

fn settings<T>(alert: &ThresholdAlert<T>) -> Builtin {
    Builtin { severity: alert.severity, enabled: alert.enabled.unwrap_or(true), for_: alert.for_ }
}

#[allow(clippy::too_many_lines, reason = "one arm per built-in alert reads best as a list")]
pub(crate) fn plan(
    spec: &Spec,
    services: &[ServicePlan],
    deps: &[DependencyPlan],
    edge: Option<&EdgePlan>,
    notes: &mut Vec<String>,
) -> MonitoringPlan {
    let mon = &spec.monitoring;
    let enabled = mon.enabled.unwrap_or(true);
    let mut targets = Vec::new();
    let mut alerts = Vec::new();
    let project = &spec.name;
    let b = &mon.alerts;
    let push = |alerts: &mut Vec<AlertPlan>,
                name: String,
                expr: String,
                for_: Duration,
                severity: AlertSeverity,
                summary: String,
                metrics: &[&str],
                source: &str,
                subject: (&str, &str)| {
        let mut labels = BTreeMap::new();
        labels.insert(subject.0.to_owned(), subject.1.to_owned());
        alerts.push(AlertPlan {
            name,
            expr,
            for_,
            severity,
            summary,
            description: None,
            labels,
            metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
            source: source.to_owned(),
        });
    };
    for s in services {
        let Some(metrics) = &s.metrics else {
            notes.push(format!("service `{}` exports no metrics: no scrape target, and no service_down, error_rate, latency_p95, memory, cpu or restarts alerts for it", s.name));
            continue;
        };
        let job = format!("{project}-{}", s.name);
        targets.push(ScrapeTarget {
            job: job.clone(),
            kind: ScrapeKind::Service,
            subject: s.name.clone(),
            port: metrics.port.port,
            path: metrics.path.clone(),
        });
        let title = camel(&s.name);
        let sel = format!("job=\"{job}\"");
        if b.service_down.enabled.unwrap_or(true) {
            push(
                &mut alerts,
                format!("{title}Down"),
                format!("up{{{sel}}} == 0"),
                b.service_down.for_.unwrap_or(Duration::secs(60)),
                b.service_down.severity.unwrap_or(AlertSeverity::Critical),
                format!("A replica of {} is down", s.name),
                &["up"],
                "service_down",
                ("service", &s.name),
            );
        }
        let er = settings(&b.error_rate);
        if er.enabled {
            let t = b.error_rate.threshold.map_or(5.0, |p| p.0);
            push(
                &mut alerts,
                format!("{title}HighErrorRate"),
                format!(
                    "sum(rate({}[5m])) / sum(rate({}[5m])) * 100 > {t}",
                    metrics.requests_of(&sel, Some("5..")),
                    metrics.requests_of(&sel, None)
                ),
                er.for_.unwrap_or(Duration::secs(300)),
                er.severity.unwrap_or(AlertSeverity::Critical),
                format!("More than {t}% of {} requests fail", s.name),
                &[metrics.requests.as_str()],
                "error_rate",
                ("service", &s.name),
            );
        }
        let lat = settings(&b.latency_p95);
        if lat.enabled {
            let t = b.latency_p95.threshold.unwrap_or(Duration(std::time::Duration::from_millis(500)));
            push(
                &mut alerts,
                format!("{title}HighLatency"),
                format!(
                    "histogram_quantile(0.95, sum by (le) (rate({}{{{sel}}}[5m]))) > {}",
                    metrics.buckets(),
                    t.0.as_secs_f64()
                ),
                lat.for_.unwrap_or(Duration::secs(600)),
                lat.severity.unwrap_or(AlertSeverity::Warning),
                format!("95th percentile latency of {} is above {t}", s.name),
                &[metrics.buckets().as_str()],
                "latency_p95",
                ("service", &s.name),
            );
        }
        let mem = settings(&b.memory);
        match (mem.enabled, s.resources.limits.memory) {
            (true, Some(limit)) => {
                let t = b.memory.threshold.map_or(90.0, |p| p.0);
                push(
                    &mut alerts,
                    format!("{title}HighMemory"),
                    format!("max(process_resident_memory_bytes{{{sel}}}) / {} * 100 > {t}", limit.0),
                    mem.for_.unwrap_or(Duration::secs(300)),
                    mem.severity.unwrap_or(AlertSeverity::Warning),
                    format!("{} uses more than {t}% of its memory limit", s.name),
                    &["process_resident_memory_bytes"],
                    "memory",
                    ("service", &s.name),
                );
            }
            (true, None) => notes.push(format!("service `{}` has no memory limit: no memory alert", s.name)),
            _ => {}
        }
        let cpu = settings(&b.cpu);
        match (cpu.enabled, s.resources.limits.cpu) {
            (true, Some(limit)) => {
                let t = b.cpu.threshold.map_or(90.0, |p| p.0);
                push(
                    &mut alerts,
                    format!("{title}HighCpu"),
                    format!("max(rate(process_cpu_seconds_total{{{sel}}}[5m])) / {} * 100 > {t}", limit.cores()),
                    cpu.for_.unwrap_or(Duration::secs(900)),
                    cpu.severity.unwrap_or(AlertSeverity::Warning),
                    format!("{} uses more than {t}% of its CPU limit", s.name),
                    &["process_cpu_seconds_total"],
                    "cpu",
                    ("service", &s.name),
                );
            }
            (true, None) => notes.push(format!("service `{}` has no CPU limit: no CPU alert", s.name)),
            _ => {}
        }
        let r = &b.restarts;
        if r.enabled.unwrap_or(true) {
            let window = r.window.unwrap_or(Duration::secs(900));
            let t = r.threshold.unwrap_or(3);
            // A restart resets process_start_time_seconds on every target alike.
            push(
                &mut alerts,
                format!("{title}Restarting"),
                format!("sum(changes(process_start_time_seconds{{{sel}}}[{window}])) >= {t}"),
                Duration::secs(0),
                r.severity.unwrap_or(AlertSeverity::Warning),
                format!("{} restarted {t} times within {window}", s.name),
                &["process_start_time_seconds"],
                "restarts",
                ("service", &s.name),
            );
        }
    }
    for d in deps {
        let (port, metric) = match d.kind {
            DependencyKind::Postgres => (POSTGRES_EXPORTER_PORT, "pg_up"),
            DependencyKind::Redis => (REDIS_EXPORTER_PORT, "redis_up"),
        };
        let job = format!("{project}-{}", d.name);
        targets.push(ScrapeTarget {
            job: job.clone(),
            kind: ScrapeKind::Exporter,
            subject: d.name.clone(),
            port,
            path: "/metrics".to_owned(),
        });
        if b.dependency_down.enabled.unwrap_or(true) {
            push(
                &mut alerts,
                format!("{}Down", camel(&d.name)),
                format!("{metric}{{job=\"{job}\"}} == 0"),
                b.dependency_down.for_.unwrap_or(Duration::secs(60)),
                b.dependency_down.severity.unwrap_or(AlertSeverity::Critical),
                format!("{} {} is unreachable", d.kind.as_str(), d.name),
                &[metric],
                "dependency_down",
                ("dependency", &d.name),
            );
        }
    }
    let backups: Vec<&DependencyPlan> = deps.iter().filter(|d| d.backup.is_some()).collect();
    if !backups.is_empty() {
        let job = format!("{project}-backup");
        targets.push(ScrapeTarget {
            job: job.clone(),
            kind: ScrapeKind::Backup,
            subject: "backup".to_owned(),
            port: BACKUP_METRICS_PORT,
            path: "/metrics".to_owned(),
        });
        let ba = settings(&b.backup_age);
        if ba.enabled {
            for d in backups {
                let t = b.backup_age.threshold.unwrap_or(Duration::secs(26 * 3600));
                push(
                    &mut alerts,
                    format!("{}BackupTooOld", camel(&d.name)),
                    format!(
                        "time() - berth_backup_last_verified_timestamp_seconds{{job=\"{job}\",dependency=\"{}\"}} > {}",
                        d.name,
                        t.as_secs()
                    ),
                    Duration::secs(0),
                    ba.severity.unwrap_or(AlertSeverity::Critical),
                    format!("The newest verified backup of {} is older than {t}", d.name),
                    &["berth_backup_last_verified_timestamp_seconds"],
                    "backup_age",
                    ("dependency", &d.name),
                );
            }
        }
    }
    if let Some(edge) = edge.filter(|e| e.tls.is_some()) {
        let ce = settings(&b.certificate_expiry);
        let job = format!("{project}-tls");
        targets.push(ScrapeTarget {
            job: job.clone(),
            kind: ScrapeKind::TlsProbe,
            subject: "edge".to_owned(),
            port: BLACKBOX_PORT,
            path: "/probe".to_owned(),
        });
        if ce.enabled {
            let t = b.certificate_expiry.threshold.unwrap_or(Duration::secs(14 * 86_400));
            push(
                &mut alerts,
                "CertificateExpiringSoon".to_owned(),
                format!("probe_ssl_earliest_cert_expiry{{job=\"{job}\"}} - time() < {}", t.as_secs()),
                ce.for_.unwrap_or(Duration::secs(3600)),
                ce.severity.unwrap_or(AlertSeverity::Warning),
                format!("The edge certificate for {} expires within {t}", edge.hosts.join(", ")),
                &["probe_ssl_earliest_cert_expiry"],
                "certificate_expiry",
                ("service", "edge"),
            );
        }
    }
    for c in &mon.custom_alerts {
        alerts.push(AlertPlan {
            name: c.name.clone(),
            expr: c.expr.trim().to_owned(),
            for_: c.for_.unwrap_or(Duration::secs(300)),
            severity: c.severity.unwrap_or(AlertSeverity::Warning),
            summary: c.summary.clone().unwrap_or_else(|| c.name.clone()),
            description: c.description.clone(),
            labels: c.labels.clone(),
            metrics: metric_names(&c.expr),
            source: "custom".to_owned(),
        });
    }
    if !enabled {
        alerts.clear();
        targets.clear();
    }
    MonitoringPlan {
        enabled,
        scrape_interval: mon.scrape_interval.unwrap_or(Duration::secs(15)),
        scrape_targets: targets,
        alerts,
        receivers: mon.receivers.iter().map(|(n, r)| ReceiverPlan { name: n.clone(), receiver: r.clone() }).collect(),
        dashboards: enabled && mon.dashboards.unwrap_or(true),
    }
}

/// `api-gateway` -> `ApiGateway`, for alert names.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Metric names a PromQL expression reads: identifiers not followed by `(`
/// and not PromQL keywords, label names or durations. Good enough to check
/// an alert against exported metrics; promtool parses it for real.
pub fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "and",
        "or",
        "unless",
        "inf",
        "nan",
        "atan2",
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "limitk",
        "limit_ratio",
    ];
    const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let (mut i, mut depth_braces, mut in_quote) = (0, 0usize, None::<u8>);
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = in_quote {
            if c == q {
                in_quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => in_quote = Some(c),
            b'{' => depth_braces += 1,
            b'}' => depth_braces = depth_braces.saturating_sub(1),
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            _ if (c.is_ascii_alphabetic() || c == b'_' || c == b':') && depth_braces == 0 => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                    i += 1;
                }
                let word = &expr[start..i];
                if GROUPING.contains(&word) {
                    // `by (job)` lists labels, not metrics.
                    let rest = expr[i..].trim_start();
                    if rest.starts_with('(') {
                        i = expr.len() - rest.len() + rest.find(')').unwrap_or(rest.len());
                    }
                    continue;
                }
                let next = expr[i..].trim_start().as_bytes().first().copied();
                let preceded_by_digit = start > 0 && bytes[start - 1].is_ascii_digit();
                if next != Some(b'(')
                    && !preceded_by_digit
                    && !KEYWORDS.contains(&word.to_lowercase().as_str())
                    && !names.iter().any(|n| n == word)
                {
                    names.push(word.to_owned());
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_metric_names_in_promql() {
        let expr = "sum by (job) (rate(http_requests_total{status=~\"5..\"}[5m])) / on(job) sum(rate(http_requests_total[5m])) > 0.05 and queue_depth > 1e3";
        assert_eq!(metric_names(expr), vec!["http_requests_total".to_owned(), "queue_depth".to_owned()]);
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel("api-gateway"), "ApiGateway");
    }
}
