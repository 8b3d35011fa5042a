//! prometheus.yml, rules.yml with the plan's alerts, and rules.test.yml:
//! promtool unit tests that feed each alert the series it reads and prove
//! that it fires.

use std::collections::BTreeMap;

use berth_plan::{AlertPlan, Plan, ScrapeKind};
use berth_spec::model::units::{ByteSize, Cpu};
use serde::Serialize;

use super::Target;
use crate::{Output, header, yaml};

#[derive(Serialize)]
struct Config {
    global: Global,
    rule_files: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alerting: Vec<()>,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize)]
struct Global {
    scrape_interval: String,
    evaluation_interval: String,
    external_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ScrapeConfig {
    job_name: String,
    metrics_path: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, Vec<String>>,
    static_configs: Vec<StaticConfig>,
}

#[derive(Serialize)]
struct StaticConfig {
    targets: Vec<String>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Rules {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    if !plan.monitoring.enabled {
        out.unsupported(
            Target::Prometheus,
            "a spec with monitoring turned off",
            "nothing was rendered; set `monitoring.enabled: true`",
        );
        return out;
    }
    let mut external_labels = BTreeMap::new();
    external_labels.insert("project".to_owned(), plan.project.clone());
    if let Some(env) = &plan.environment {
        external_labels.insert("environment".to_owned(), env.clone());
    }
    let interval = plan.monitoring.scrape_interval.to_string();
    let scrape_configs = plan
        .monitoring
        .scrape_targets
        .iter()
        .map(|t| {
            let mut labels = BTreeMap::new();
            let subject_key = match t.kind {
                ScrapeKind::Service => "service",
                ScrapeKind::Exporter | ScrapeKind::Backup => "dependency",
                ScrapeKind::TlsProbe => "probe",
            };
            if t.kind != ScrapeKind::Backup {
                labels.insert(subject_key.to_owned(), t.subject.clone());
            }
            let (targets, params) = match t.kind {
                ScrapeKind::Service => {
                    let service = plan.services.iter().find(|s| s.name == t.subject);
                    // Exactly the replicas that run: none with `replicas: 0`,
                    // so a service turned off is not reported down.
                    let count = service.map_or(1, |s| s.replicas.initial());
                    (
                        (0..count).map(|i| format!("127.0.0.1:{}", berth_plan::replica_port(t.port, i))).collect(),
                        BTreeMap::new(),
                    )
                }
                ScrapeKind::TlsProbe => {
                    let hosts = plan.edge.as_ref().map(|e| e.hosts.clone()).unwrap_or_default();
                    let mut params = BTreeMap::new();
                    params.insert("module".to_owned(), vec!["tls_connect".to_owned()]);
                    params.insert("target".to_owned(), hosts.iter().map(|h| format!("{h}:443")).collect());
                    (vec![format!("127.0.0.1:{}", t.port)], params)
                }
                ScrapeKind::Exporter | ScrapeKind::Backup => (vec![format!("127.0.0.1:{}", t.port)], BTreeMap::new()),
            };
            ScrapeConfig {
                job_name: t.job.clone(),
                metrics_path: t.path.clone(),
                params,
                static_configs: vec![StaticConfig { targets, labels }],
            }
        })
        .collect();
    let config = Config {
        global: Global { scrape_interval: interval.clone(), evaluation_interval: interval, external_labels },
        rule_files: vec!["rules.yml"],
        alerting: Vec::new(),
        scrape_configs,
    };
    out.file("prometheus.yml", header::comment("#", plan, "prometheus") + &yaml::to_string(&config));
    let rules = Rules {
        groups: vec![Group {
            name: format!("{}-alerts", plan.project),
            rules: plan.monitoring.alerts.iter().map(rule).collect(),
        }],
    };
    out.file("rules.yml", header::comment("#", plan, "prometheus") + &yaml::to_string(&rules));
    out.file("rules.test.yml", header::comment("#", plan, "prometheus") + &unit_tests(plan));
    out
}

fn rule(alert: &AlertPlan) -> Rule {
    let mut labels = alert.labels.clone();
    labels.insert("severity".to_owned(), alert.severity.as_str().to_owned());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_owned(), alert.summary.clone());
    if let Some(d) = &alert.description {
        annotations.insert("description".to_owned(), d.clone());
    }
    Rule { alert: alert.name.clone(), expr: alert.expr.clone(), for_: alert.for_.to_string(), labels, annotations }
}

#[derive(Serialize)]
struct TestFile {
    rule_files: Vec<&'static str>,
    evaluation_interval: &'static str,
    tests: Vec<TestCase>,
}

#[derive(Serialize)]
struct TestCase {
    name: String,
    interval: &'static str,
    input_series: Vec<Series>,
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Serialize)]
struct Series {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Serialize)]
struct ExpAlert {
    exp_labels: BTreeMap<String, String>,
    exp_annotations: BTreeMap<String, String>,
}

/// Upper bound, in seconds, of the bucket the synthetic slow requests of the
/// latency test fall in. 99 of every 100 requests land in it, so the p95
/// interpolates to about 0.95 of it: above the longest threshold a spec can
/// write (a duration stops at `u64::MAX` seconds, about 1.8e19), so the test
/// proves the alert fires whatever `latency_p95.threshold` says. Any bound a
/// real threshold can reach (60 s, say) fails the test for thresholds near it.
const SLOW_BUCKET_LE: &str = "1e20";

fn metrics_of<'a>(plan: &'a Plan, service: &str) -> Option<&'a berth_plan::MetricsPlan> {
    plan.services.iter().find(|s| s.name == service)?.metrics.as_ref()
}

/// Series that make a built-in alert fire; `None` for custom alerts, whose
/// expressions berth cannot invert.
fn firing_series(plan: &Plan, alert: &AlertPlan) -> Option<(Vec<Series>, BTreeMap<String, String>)> {
    let job = |subject: &str| format!("{}-{subject}", plan.project);
    let subject = alert.labels.get("service").or_else(|| alert.labels.get("dependency"))?.clone();
    let sel = format!("job=\"{}\"", job(&subject));
    let mut labels = BTreeMap::new();
    let series = match alert.source.as_str() {
        "service_down" => {
            labels.insert("job".to_owned(), job(&subject));
            labels.insert("instance".to_owned(), "replica-1".to_owned());
            vec![Series { series: format!("up{{{sel},instance=\"replica-1\"}}"), values: "0x120".to_owned() }]
        }
        // Every request fails: a threshold may be any share below 100%.
        "error_rate" => {
            let m = metrics_of(plan, &subject)?;
            let (name, label) = (&m.requests, &m.status_label);
            vec![
                Series { series: format!("{name}{{{sel},{label}=\"500\"}}"), values: "0+60x120".to_owned() },
                Series { series: format!("{name}{{{sel},{label}=\"200\"}}"), values: "0x120".to_owned() },
            ]
        }
        "latency_p95" => {
            let buckets = metrics_of(plan, &subject)?.buckets();
            vec![
                Series { series: format!("{buckets}{{{sel},le=\"0.1\"}}"), values: "0+1x120".to_owned() },
                Series {
                    series: format!("{buckets}{{{sel},le=\"{SLOW_BUCKET_LE}\"}}"),
                    values: "0+100x120".to_owned(),
                },
                Series { series: format!("{buckets}{{{sel},le=\"+Inf\"}}"), values: "0+100x120".to_owned() },
            ]
        }
        // Twice the largest limit a spec may set: 200% of any limit, past any threshold.
        "memory" => vec![Series {
            series: format!("process_resident_memory_bytes{{{sel}}}"),
            values: format!("{}x120", 2 * ByteSize::MAX.0),
        }],
        "cpu" => vec![Series {
            series: format!("process_cpu_seconds_total{{{sel}}}"),
            values: format!("0+{}x120", 2.0 * Cpu::MAX.cores() * 60.0),
        }],
        "restarts" => {
            vec![Series { series: format!("process_start_time_seconds{{{sel}}}"), values: "0+60x120".to_owned() }]
        }
        "dependency_down" => {
            let metric = alert.metrics.first()?;
            labels.insert("job".to_owned(), job(&subject));
            vec![Series { series: format!("{metric}{{{sel}}}"), values: "0x120".to_owned() }]
        }
        "backup_age" => {
            labels.insert("job".to_owned(), format!("{}-backup", plan.project));
            labels.insert("dependency".to_owned(), subject.clone());
            vec![Series {
                series: format!(
                    "berth_backup_last_verified_timestamp_seconds{{job=\"{}-backup\",dependency=\"{subject}\"}}",
                    plan.project
                ),
                values: "-1000000x120".to_owned(),
            }]
        }
        "certificate_expiry" => {
            labels.insert("job".to_owned(), format!("{}-tls", plan.project));
            vec![Series {
                series: format!("probe_ssl_earliest_cert_expiry{{job=\"{}-tls\"}}", plan.project),
                values: "0x120".to_owned(),
            }]
        }
        _ => return None,
    };
    labels.extend(alert.labels.clone());
    labels.insert("severity".to_owned(), alert.severity.as_str().to_owned());
    Some((series, labels))
}

fn unit_tests(plan: &Plan) -> String {
    let mut tests = Vec::new();
    for alert in &plan.monitoring.alerts {
        let Some((mut input_series, exp_labels)) = firing_series(plan, alert) else { continue };
        // Evaluate past `for` plus the 5m rate windows and the 15m restart window.
        let eval = alert.for_.as_secs() / 60 + 20;
        // Long enough series for any `for`: every pattern above is `<start>x120`.
        for series in &mut input_series {
            series.values = series.values.replace("x120", &format!("x{}", eval + 10));
        }
        tests.push(TestCase {
            name: format!("{} fires", alert.name),
            interval: "1m",
            input_series,
            alert_rule_test: vec![AlertTest {
                eval_time: format!("{eval}m"),
                alertname: alert.name.clone(),
                exp_alerts: vec![ExpAlert { exp_labels, exp_annotations: rule(alert).annotations }],
            }],
        });
    }
    yaml::to_string(&TestFile { rule_files: vec!["rules.yml"], evaluation_interval: "1m", tests })
}

#[cfg(test)]
mod tests {
    use super::SLOW_BUCKET_LE;

    #[test]
    fn the_slow_bucket_puts_the_p95_above_every_threshold() {
        let le: f64 = SLOW_BUCKET_LE.parse().unwrap();
        // histogram_quantile's interpolation inside (0.1, le] with 1 of 100 below 0.1.
        let p95 = 0.1 + (le - 0.1) * (95.0 - 1.0) / (100.0 - 1.0);
        assert!(p95 > std::time::Duration::MAX.as_secs_f64() * 2.0, "{p95}");
    }
}
