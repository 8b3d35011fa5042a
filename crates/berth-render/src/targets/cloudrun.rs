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
    // The service's own limits first; the target's settings size services without them.
    let cpu = cloud_run_cpu(s, s.resources.limits.cpu.or(cfg.cpu), out);
    let memory = cloud_run_memory(s, s.resources.limits.memory.or(cfg.memory), out);
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
    let longest = plan
        .edge
        .as_ref()
        .and_then(|e| e.routes.iter().filter(|r| r.service == s.name).max_by_key(|r| r.timeout.as_millis()));
    let timeout = longest.map_or(300, |r| u64::try_from(r.timeout.as_millis().div_ceil(1000)).unwrap_or(u64::MAX));
    if let Some(route) = longest.filter(|_| timeout > 3600) {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "the timeout {} of route `{}` (Cloud Run's request timeout is at most 3600 s; rendered 3600)",
                route.timeout, route.path
            ),
            "shorten the route's `timeout`, or keep long streams alive with reconnects",
        );
    }
    let timeout = timeout.clamp(1, 3600);
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

/// Cloud Run's CPU: 0.08 to 1 in hundredths, or 1, 2, 4, 6 or 8 whole
/// CPUs. A value between is rounded up, and said; default 1.
fn cloud_run_cpu(s: &ServicePlan, asked: Option<berth_spec::model::units::Cpu>, out: &mut Output) -> String {
    let Some(asked) = asked else { return "1".to_owned() };
    let millis = asked.0;
    let allowed = if millis <= 1000 {
        millis.max(80).div_ceil(10) * 10
    } else {
        [2000, 4000, 6000, 8000].into_iter().find(|c| *c >= millis).unwrap_or(8000)
    };
    if allowed != millis {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "{asked} CPU for `{}` exactly (Cloud Run offers 0.08-1, 2, 4, 6 or 8; rendered {})",
                s.name,
                berth_spec::model::units::Cpu(allowed)
            ),
            "set the CPU limit to a value Cloud Run offers",
        );
    }
    berth_spec::model::units::Cpu(allowed).to_string()
}

/// Cloud Run's memory: 128Mi to 32Gi; default 512Mi.
fn cloud_run_memory(s: &ServicePlan, asked: Option<berth_spec::model::units::ByteSize>, out: &mut Output) -> String {
    use berth_spec::model::units::ByteSize;
    let Some(asked) = asked else { return "512Mi".to_owned() };
    let rendered = ByteSize(asked.0.clamp(128 << 20, 32 << 30));
    if rendered != asked {
        out.unsupported(
            Target::Cloudrun,
            format!("{asked} of memory for `{}` (Cloud Run offers 128Mi to 32Gi; rendered {rendered})", s.name),
            "set the memory limit within Cloud Run's range",
        );
    }
    rendered.to_string()
}
