//! Google Cloud Run services as Knative `serving.knative.dev/v1` YAML
//! (`gcloud run services replace`). One per service with an HTTP port;
//! secrets from Secret Manager by reference.

use berth_plan::{EnvValue, Plan, ProbeCheck, ProbePlan, Replicas, ServicePlan};
use serde_json::{Map, Value, json};

use super::Target;
use crate::{Output, header};

fn probe(p: &ProbePlan, port: u16) -> Option<Value> {
    let mut v = match &p.check {
        ProbeCheck::Http { path, .. } => json!({ "httpGet": { "path": path, "port": port } }),
        ProbeCheck::Tcp { .. } => json!({ "tcpSocket": { "port": port } }),
        ProbeCheck::Exec { .. } => return None,
    };
    v["periodSeconds"] = json!(p.interval.as_secs().clamp(1, 240));
    v["timeoutSeconds"] = json!(p.timeout.as_secs().clamp(1, 240));
    v["failureThreshold"] = json!(p.failure_threshold.max(1));
    if !p.initial_delay.0.is_zero() {
        v["initialDelaySeconds"] = json!(p.initial_delay.as_secs().min(240));
    }
    Some(v)
}

/// Secret Manager secret id for a declared secret: the last segment of its
/// `gcp:` reference, else the secret's own name.
fn secret_id(plan: &Plan, secret: &str) -> String {
    plan.secrets
        .iter()
        .find(|s| s.name == secret)
        .and_then(|s| s.gcp.as_deref().map(|g| g.rsplit('/').next().unwrap_or(g).to_owned()))
        .unwrap_or_else(|| secret.to_owned())
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let cfg = plan.targets.cloudrun.clone().unwrap_or_default();
    if !plan.dependencies.is_empty() {
        out.unsupported(
            Target::Cloudrun,
            "the dependencies (PostgreSQL, Redis)",
            "Cloud Run runs stateless containers; use Cloud SQL and Memorystore and point the URLs at them",
        );
    }
    for s in &plan.services {
        match service(plan, s, &cfg, &mut out) {
            Some(v) => out
                .file(format!("{}.yaml", s.name), header::comment("#", plan, "cloudrun") + &crate::yaml::to_string(&v)),
            None => continue,
        }
    }
    out
}

fn service(plan: &Plan, s: &ServicePlan, cfg: &berth_spec::CloudRunTarget, out: &mut Output) -> Option<Value> {
    let Some(image) = &s.image else {
        out.unsupported(
            Target::Cloudrun,
            format!("service `{}` without an `image`", s.name),
            "Cloud Run runs images; add `image:`",
        );
        return None;
    };
    let Some(port) = &s.primary_port else {
        out.unsupported(
            Target::Cloudrun,
            format!("service `{}` without a port", s.name),
            "Cloud Run services answer HTTP on one port; run workers as Cloud Run jobs",
        );
        return None;
    };
    if s.ports.len() > 1 {
        out.unsupported(
            Target::Cloudrun,
            format!("the extra ports of `{}`", s.name),
            "Cloud Run routes to one port; the others are not reachable",
        );
    }
    let mut env = Vec::new();
    for var in &s.env {
        match &var.value {
            EnvValue::Literal { value } => env.push(json!({ "name": var.name, "value": value })),
            EnvValue::Secret { secret } => env.push(json!({ "name": var.name, "valueFrom": { "secretKeyRef": { "name": secret_id(plan, secret), "key": "latest" } } })),
            EnvValue::Dependency { url, password_secret, .. } => {
                env.push(json!({ "name": var.name, "value": url }));
                if let Some(secret) = password_secret {
                    env.push(json!({ "name": format!("{}_PASSWORD", var.name), "valueFrom": { "secretKeyRef": { "name": secret_id(plan, secret), "key": "latest" } } }));
                }
            }
        }
    }
    let (min, max) = match &s.replicas {
        Replicas::Fixed { count } => (*count, *count),
        Replicas::Autoscaled { min, max, .. } => (*min, *max),
    };
    let cpu = cfg.cpu.or(s.resources.limits.cpu).map_or_else(|| "1".to_owned(), |c| c.to_string());
    let memory = cfg.memory.or(s.resources.limits.memory).map_or_else(|| "512Mi".to_owned(), |m| m.to_string());
    let mut container = Map::new();
    container.insert("name".to_owned(), json!(s.name));
    container.insert("image".to_owned(), json!(image));
    container.insert("ports".to_owned(), json!([{ "name": "http1", "containerPort": port.port }]));
    container.insert("env".to_owned(), Value::Array(env));
    container.insert("resources".to_owned(), json!({ "limits": { "cpu": cpu, "memory": memory } }));
    // Cloud Run gates traffic on the startup probe: readiness takes its place.
    if let Some(p) = s.probes.startup.as_ref().or(s.probes.readiness.as_ref()).and_then(|p| probe(p, port.port)) {
        container.insert("startupProbe".to_owned(), p);
    }
    if let Some(p) = s.probes.liveness.as_ref().and_then(|p| probe(p, port.port)) {
        container.insert("livenessProbe".to_owned(), p);
    }
    let timeout = plan
        .edge
        .as_ref()
        .and_then(|e| e.routes.iter().filter(|r| r.service == s.name).map(|r| r.timeout.as_secs()).max())
        .unwrap_or(300)
        .clamp(1, 3600);
    let mut annotations = Map::new();
    annotations
        .insert("autoscaling.knative.dev/minScale".to_owned(), json!(cfg.min_instances.unwrap_or(min).to_string()));
    annotations
        .insert("autoscaling.knative.dev/maxScale".to_owned(), json!(cfg.max_instances.unwrap_or(max).to_string()));
    annotations.insert("run.googleapis.com/startup-cpu-boost".to_owned(), json!("true"));
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/part-of".to_owned(), json!(plan.project));
    if let Some(region) = &cfg.region {
        labels.insert("cloud.googleapis.com/location".to_owned(), json!(region));
    }
    let routed = plan.edge.as_ref().is_some_and(|e| e.routes.iter().any(|r| r.service == s.name));
    let mut metadata_annotations = Map::new();
    metadata_annotations
        .insert("run.googleapis.com/ingress".to_owned(), json!(if routed { "all" } else { "internal" }));
    Some(json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": { "name": format!("{}-{}", plan.project, s.name), "labels": labels, "annotations": metadata_annotations },
        "spec": {
            "template": {
                "metadata": { "annotations": annotations },
                "spec": {
                    "containerConcurrency": cfg.concurrency.unwrap_or(80),
                    "timeoutSeconds": timeout,
                    "containers": [container],
                }
            },
            "traffic": [{ "percent": 100, "latestRevision": true }],
        }
    }))
}
