//! A Grafana dashboard per service that exports metrics (traffic, errors,
//! latency percentiles, saturation, replicas, the health of the
//! dependencies it uses) plus provisioning files for the dashboards and the
//! Prometheus data source.

use berth_plan::{Plan, ServicePlan};
use berth_spec::DependencyKind;
use serde_json::{Value, json};

use super::Target;
use crate::{Output, header};

const PANEL_WIDTH: u32 = 12;
const PANEL_HEIGHT: u32 = 8;

struct PanelSpec {
    title: &'static str,
    unit: &'static str,
    queries: Vec<(String, String)>,
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    if !plan.monitoring.dashboards {
        out.unsupported(
            Target::Grafana,
            "dashboards while `monitoring.dashboards` or monitoring is off",
            "nothing was rendered",
        );
        return out;
    }
    for service in &plan.services {
        if service.metrics.is_none() {
            out.unsupported(
                Target::Grafana,
                format!("a dashboard for `{}`, which exports no metrics", service.name),
                "add `metrics: { path: /metrics }` to the service",
            );
            continue;
        }
        let dashboard = dashboard(plan, service);
        let text = serde_json::to_string_pretty(&dashboard).unwrap_or_default() + "\n";
        out.file(format!("dashboards/{}-{}.json", plan.project, service.name), text);
    }
    let p = &plan.project;
    out.file(
        "provisioning/dashboards/berth.yaml",
        header::comment("#", plan, "grafana")
            + &format!("apiVersion: 1\nproviders:\n  - name: {p}\n    folder: {p}\n    type: file\n    disableDeletion: true\n    allowUiUpdates: false\n    options:\n      path: /var/lib/grafana/dashboards/{p}\n"),
    );
    out.file(
        "provisioning/datasources/prometheus.yaml",
        header::comment("#", plan, "grafana")
            + "apiVersion: 1\ndatasources:\n  - name: Prometheus\n    uid: prometheus\n    type: prometheus\n    access: proxy\n    url: http://prometheus:9090\n    isDefault: true\n",
    );
    out
}

fn panels(plan: &Plan, s: &ServicePlan) -> Vec<PanelSpec> {
    let job = format!("{}-{}", plan.project, s.name);
    let sel = format!("job=\"{job}\"");
    let names = s.metrics.as_ref();
    let requests = |status: Option<&str>| names.map_or_else(String::new, |m| m.requests_of(&sel, status));
    let label = names.map_or("status", |m| m.status_label.as_str());
    let buckets = names.map_or_else(String::new, berth_plan::MetricsPlan::buckets);
    let mut list = vec![
        PanelSpec {
            title: "Request rate",
            unit: "reqps",
            queries: vec![(format!("sum by ({label}) (rate({}[5m]))", requests(None)), format!("{{{{{label}}}}}"))],
        },
        PanelSpec {
            title: "Error rate",
            unit: "percent",
            queries: vec![(
                format!("100 * sum(rate({}[5m])) / sum(rate({}[5m]))", requests(Some("5..")), requests(None)),
                "5xx".to_owned(),
            )],
        },
        PanelSpec {
            title: "Latency",
            unit: "s",
            queries: ["0.5", "0.95", "0.99"]
                .iter()
                .map(|q| {
                    (
                        format!("histogram_quantile({q}, sum by (le) (rate({buckets}{{{sel}}}[5m])))"),
                        format!("p{}", &q[2..]),
                    )
                })
                .collect(),
        },
        PanelSpec {
            title: "Replicas up",
            unit: "short",
            queries: vec![(format!("sum(up{{{sel}}})"), "up".to_owned())],
        },
        PanelSpec {
            title: "CPU",
            unit: "percentunit",
            queries: vec![(format!("rate(process_cpu_seconds_total{{{sel}}}[5m])"), "{{instance}}".to_owned())],
        },
        PanelSpec {
            title: "Memory",
            unit: "bytes",
            queries: vec![(format!("process_resident_memory_bytes{{{sel}}}"), "{{instance}}".to_owned())],
        },
    ];
    let deps: Vec<(String, String)> = s
        .uses
        .iter()
        .filter_map(|u| plan.dependencies.iter().find(|d| &d.name == u))
        .map(|d| {
            let metric = match d.kind {
                DependencyKind::Postgres => "pg_up",
                DependencyKind::Redis => "redis_up",
            };
            (format!("{metric}{{job=\"{}-{}\"}}", plan.project, d.name), d.name.clone())
        })
        .collect();
    if !deps.is_empty() {
        list.push(PanelSpec { title: "Dependencies up", unit: "short", queries: deps });
    }
    list
}

fn dashboard(plan: &Plan, s: &ServicePlan) -> Value {
    let panels: Vec<Value> = panels(plan, s)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let i = u32::try_from(i).unwrap_or(0);
            let targets: Vec<Value> = p
                .queries
                .iter()
                .enumerate()
                .map(|(j, (expr, legend))| {
                    let ref_id = char::from(b'A' + u8::try_from(j).unwrap_or(0)).to_string();
                    json!({ "refId": ref_id, "expr": expr, "legendFormat": legend, "datasource": { "type": "prometheus", "uid": "${datasource}" } })
                })
                .collect();
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": p.title,
                "datasource": { "type": "prometheus", "uid": "${datasource}" },
                "gridPos": { "h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": (i % 2) * PANEL_WIDTH, "y": (i / 2) * PANEL_HEIGHT },
                "fieldConfig": { "defaults": { "unit": p.unit }, "overrides": [] },
                "options": { "legend": { "displayMode": "list", "placement": "bottom" }, "tooltip": { "mode": "multi" } },
                "targets": targets,
            })
        })
        .collect();
    json!({
        "uid": format!("{}-{}", plan.project, s.name).chars().take(40).collect::<String>(),
        "title": format!("{} / {}", plan.project, s.name),
        "description": format!("Generated by berth from berth.yaml. Do not edit: change the spec and run `berth render grafana`."),
        "tags": ["berth", plan.project, s.name],
        "editable": false,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "timezone": "utc",
        "time": { "from": "now-6h", "to": "now" },
        "templating": { "list": [{ "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus" }] },
        "annotations": { "list": [] },
        "links": [],
        "panels": panels,
    })
}
