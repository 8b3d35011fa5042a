//! Numbers a target cannot carry exactly are named, never changed in
//! silence: each case here was once a clamp (`.max(1)`, `.clamp(..)`,
//! `unwrap_or(1)`) that rendered something other than the spec without a
//! word. Values past what any target carries are refused by berth-spec
//! before they get here (`validate/ranges.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_render::{Output, Target};
use serde_json::{Value, json};

fn render(text: &str, target: Target) -> Output {
    let loaded = berth_spec::load(text, None);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let plan = berth_plan::build(&loaded.spec.unwrap(), None);
    berth_render::render(&plan, text, &[target])
}

fn file<'a>(out: &'a Output, path: &str) -> &'a str {
    &out.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} among {:?}", out.files.iter().map(|f| &f.path).collect::<Vec<_>>()))
        .contents
}

/// The one warning whose message holds every part.
fn warned(out: &Output, parts: &[&str]) {
    let found = out.diagnostics.iter().any(|d| d.code.id == "R001" && parts.iter().all(|p| d.message.contains(p)));
    assert!(found, "a warning with {parts:?} in {:#?}", out.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A document of a multi-document file, by its kind.
fn document(text: &str, kind: &str) -> Value {
    let doc = text
        .split("\n---\n")
        .find(|d| d.contains(&format!("kind: {kind}\n")))
        .unwrap_or_else(|| panic!("a {kind} in {text}"));
    yaml(doc)
}

const OFF: &str = r#"
version: 1
name: shop
services:
  api:
    image: ghcr.io/acme/api:1.0.0
    run: { command: [./api] }
    ports: { http: 8080 }
    replicas: 0
    metrics: { path: /metrics }
    health: { readiness: { http: /ready } }
edge:
  routes:
    - { path: /, service: api }
"#;

#[test]
fn no_replicas_start_nothing_on_systemd() {
    let out = render(OFF, Target::Systemd);
    assert!(out.files.iter().any(|f| f.path == "systemd/shop-api@.service"), "the template is installed");
    assert!(!out.files.iter().any(|f| f.path.starts_with("systemd/env/api-")), "no replica's environment");
    assert!(!file(&out, "systemd/shop.target").contains("shop-api@0.service"), "no replica is wanted");
}

#[test]
fn no_replicas_send_nginx_nowhere() {
    let out = render(OFF, Target::Nginx);
    let conf = file(&out, "nginx/nginx.conf");
    assert!(conf.contains("server 127.0.0.1:8080 down"), "{conf}");
}

#[test]
fn no_replicas_are_not_scraped() {
    let out = render(OFF, Target::Prometheus);
    let config = yaml(file(&out, "prometheus/prometheus.yml"));
    let jobs = config["scrape_configs"].as_array().unwrap();
    let api = jobs
        .iter()
        .find(|j| j["static_configs"][0]["labels"]["service"] == "api")
        .unwrap_or_else(|| panic!("the api's job in {jobs:?}"));
    assert_eq!(api["static_configs"][0]["targets"], json!([]), "{api}");
}

#[test]
fn a_cpu_limit_systemd_cannot_say_is_named() {
    let text = OFF.replace("replicas: 0", "replicas: 1\n    resources: { limits: { cpu: 155m } }");
    let out = render(&text, Target::Systemd);
    assert!(file(&out, "systemd/shop-api@.service").contains("CPUQuota=15%\n"));
    warned(&out, &["CPU limit 155m of `api`", "rendered 15%"]);
    let text = OFF.replace("replicas: 0", "replicas: 1\n    resources: { limits: { cpu: 5m } }");
    let out = render(&text, Target::Systemd);
    assert!(file(&out, "systemd/shop-api@.service").contains("CPUQuota=1%\n"));
    warned(&out, &["CPU limit 5m of `api`", "rendered 1%"]);
    // Whole percent: nothing to say.
    let text = OFF.replace("replicas: 0", "replicas: 1\n    resources: { limits: { cpu: 250m } }");
    let out = render(&text, Target::Systemd);
    assert!(!out.diagnostics.iter().any(|d| d.message.contains("CPU limit")), "{:?}", out.diagnostics);
}

const PROBES: &str = r#"
version: 1
name: shop
services:
  api:
    image: ghcr.io/acme/api:1.0.0
    ports: { http: 8080 }
    health:
      readiness: { http: /ready, interval: 1500ms, timeout: 500ms, initial_delay: 300s }
    deploy: { health_timeout: 3h }
edge:
  routes:
    - { path: /, service: api }
"#;

#[test]
fn cloud_run_probe_times_out_of_bounds_are_named() {
    let out = render(PROBES, Target::Cloudrun);
    let service = yaml(file(&out, "cloudrun/api.yaml"));
    let probe = &service["spec"]["template"]["spec"]["containers"][0]["startupProbe"];
    assert_eq!(probe["periodSeconds"], json!(1), "{probe}");
    assert_eq!(probe["timeoutSeconds"], json!(1), "{probe}");
    assert_eq!(probe["initialDelaySeconds"], json!(240), "{probe}");
    assert_eq!(probe["failureThreshold"], json!(3), "{probe}");
    warned(&out, &["readiness check interval 1500ms of `api`", "`periodSeconds`", "rendered 1 s"]);
    warned(&out, &["readiness check timeout 500ms of `api`", "`timeoutSeconds`", "rendered 1 s"]);
    warned(&out, &["readiness check initial delay 5m of `api`", "`initialDelaySeconds`", "rendered 240 s"]);
}

#[test]
fn kubernetes_probe_times_in_whole_seconds_are_named() {
    let out = render(PROBES, Target::Kubernetes);
    let deployment = document(file(&out, "kubernetes/service-api.yaml"), "Deployment");
    let probe = &deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(probe["periodSeconds"], json!(1), "{probe}");
    assert_eq!(probe["timeoutSeconds"], json!(1), "{probe}");
    assert_eq!(probe["initialDelaySeconds"], json!(300), "{probe}");
    warned(&out, &["readiness check's interval 1500ms of `api`", "rendered 1 s"]);
    warned(&out, &["readiness check's timeout 500ms of `api`", "at least 1", "rendered 1 s"]);
    assert!(!out.diagnostics.iter().any(|d| d.message.contains("initial delay")), "300 s is exact");
}

#[test]
fn a_fractional_utilization_target_is_named() {
    let text = r#"
version: 1
name: shop
services:
  api:
    image: ghcr.io/acme/api:1.0.0
    ports: { http: 8080 }
    health: { readiness: { http: /ready } }
    resources: { requests: { cpu: 100m } }
    autoscale: { min: 2, max: 4, cpu: 72.5 }
"#;
    let out = render(text, Target::Kubernetes);
    let hpa = document(file(&out, "kubernetes/service-api.yaml"), "HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["minReplicas"], json!(2));
    assert_eq!(hpa["spec"]["maxReplicas"], json!(4));
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], json!(73), "{hpa}");
    warned(&out, &["CPU target 72.5% of `api`", "rendered 73%"]);
}

#[test]
fn a_health_timeout_past_the_ecs_grace_period_is_named() {
    let out = render(PROBES, Target::Cloudformation);
    let template = file(&out, "cloudformation/template.yaml");
    assert!(template.contains("HealthCheckGracePeriodSeconds: 7200\n"), "{template}");
    warned(&out, &["health_timeout 3h of `api`", "at most 7200", "rendered 7200 s"]);
}
