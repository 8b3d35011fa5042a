//! Google Cloud Run services as Knative `serving.knative.dev/v1` YAML
//! (`gcloud run services replace`). One per service with an HTTP port;
//! secrets from Secret Manager by reference.

use berth_plan::{EnvValue, Plan, ProbeCheck, ProbePlan, Replicas, ServicePlan};
use berth_spec::model::units::{ByteSize, Cpu, Duration};
use serde_json::{Map, Value, json};

use super::Target;
use crate::{Output, header};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Cloud Run's longest request timeout, in seconds.
const MAX_TIMEOUT: u64 = 3600;

/// The most seconds Cloud Run's probe fields take.
const MAX_PROBE_SECONDS: u64 = 240;

/// A check as Cloud Run runs it: its times in whole seconds within Cloud
/// Run's bounds (1 to 240 s, an initial delay 0 to 240 s), each time that
/// had to change named in a warning. The spec's thresholds are at least 1
/// and at most 10000 (berth-spec checks), which Cloud Run takes as they are.
fn probe(s: &ServicePlan, kind: &str, p: &ProbePlan, port: u16, out: &mut Output) -> Option<Value> {
    let (mut v, asked) = match &p.check {
        ProbeCheck::Http { path, port: asked } => (json!({ "httpGet": { "path": path, "port": port } }), asked),
        ProbeCheck::Tcp { port: asked } => (json!({ "tcpSocket": { "port": port } }), asked),
        ProbeCheck::Exec { .. } => return None,
    };
    let name = &s.name;
    // Cloud Run probes the one port it routes to; a check of a side port
    // (`/ready` on `metrics`) would ask the serving port instead.
    if asked.port != port {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "the {kind} of `{name}` on port `{}` ({}): Cloud Run probes only the serving port {port}",
                asked.name, asked.port
            ),
            "check the serving port, or leave the check out for Cloud Run",
        );
    }
    let what = |field: &str, d: Duration| format!("the {kind} {field} {d} of `{name}`");
    v["periodSeconds"] = json!(probe_seconds(what("interval", p.interval), p.interval, 1, "periodSeconds", out));
    v["timeoutSeconds"] = json!(probe_seconds(what("timeout", p.timeout), p.timeout, 1, "timeoutSeconds", out));
    v["failureThreshold"] = json!(p.failure_threshold);
    if !p.initial_delay.0.is_zero() {
        let delay =
            probe_seconds(what("initial delay", p.initial_delay), p.initial_delay, 0, "initialDelaySeconds", out);
        v["initialDelaySeconds"] = json!(delay);
    }
    Some(v)
}

/// `d` in whole seconds (rounded down: checks come sooner, never later)
/// within `min` to [`MAX_PROBE_SECONDS`]; a change is named.
fn probe_seconds(what: String, d: Duration, min: u64, field: &str, out: &mut Output) -> u64 {
    let whole = d.as_secs();
    let rendered = whole.clamp(min, MAX_PROBE_SECONDS);
    if rendered != whole || d.0.subsec_nanos() != 0 {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "{what} exactly (Cloud Run's `{field}` is whole seconds from {min} to {MAX_PROBE_SECONDS}; rendered \
                 {rendered} s)"
            ),
            "keep probe times in whole seconds within Cloud Run's bounds",
        );
    }
    rendered
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
    let (cpu, memory) = size(s, cfg, out);
    if !s.security.add_capabilities.is_empty() {
        out.unsupported(
            Target::Cloudrun,
            format!("adding the capabilities {:?} to `{}`", s.security.add_capabilities, s.name),
            "Cloud Run's sandbox grants no extra Linux capabilities; run the service elsewhere or do without",
        );
    }
    let mut container = Map::new();
    container.insert("name".to_owned(), json!(s.name));
    container.insert("image".to_owned(), json!(image));
    container.insert("ports".to_owned(), json!([{ "name": "http1", "containerPort": port.port }]));
    container.insert("env".to_owned(), Value::Array(env));
    let limits = json!({ "cpu": cpu.to_string(), "memory": memory.to_string() });
    container.insert("resources".to_owned(), json!({ "limits": limits }));
    // Cloud Run gates traffic on the startup probe: readiness takes its place.
    let gate = match (&s.probes.startup, &s.probes.readiness) {
        (Some(p), _) => Some(("startup check", p)),
        (None, Some(p)) => Some(("readiness check", p)),
        (None, None) => None,
    };
    if let Some(p) = gate.and_then(|(kind, p)| probe(s, kind, p, port.port, out)) {
        container.insert("startupProbe".to_owned(), p);
    }
    if let Some(p) = s.probes.liveness.as_ref().and_then(|p| probe(s, "liveness check", p, port.port, out)) {
        container.insert("livenessProbe".to_owned(), p);
    }
    // One request timeout per service: its longest route's.
    let routes: Vec<&berth_plan::RoutePlan> =
        plan.edge.iter().flat_map(|e| &e.routes).filter(|r| r.service == s.name).collect();
    let timeout = routes.iter().map(|r| r.timeout.ceil_secs()).max().unwrap_or(300);
    let cut: Vec<String> = routes
        .iter()
        .filter(|r| r.timeout.ceil_secs() > MAX_TIMEOUT)
        .map(|r| format!("route `{}{}` timeout {}", r.host.as_deref().unwrap_or_default(), r.path, r.timeout))
        .collect();
    if !cut.is_empty() {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "{} (Cloud Run's request timeout is at most {MAX_TIMEOUT} s; rendered {MAX_TIMEOUT} s)",
                cut.join(", ")
            ),
            "Cloud Run ends a request or WebSocket open longer; clients must reconnect",
        );
    }
    let timeout = timeout.clamp(1, MAX_TIMEOUT);
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

/// A service's CPU and memory on Cloud Run: the smallest combination
/// Cloud Run accepts at or above what the service asks for. That is its
/// limits; without a limit, `targets.cloudrun.cpu` / `memory` (else 1 CPU
/// and 512Mi), never less than its request. Cloud Run takes 0.08 to 1 CPU
/// (in thousandths, and below 1 only with `concurrency: 1`) or 2, 4, 6 or
/// 8 CPUs, and 128Mi to 32Gi; memory over 512Mi needs 0.5 CPU, over 1Gi 1,
/// over 4Gi 2, over 8Gi 4, over 16Gi 6 and over 24Gi 8; 4 CPUs need 2Gi and
/// 6 or 8 need 4Gi. A number that has to change is named in a warning.
fn size(s: &ServicePlan, cfg: &berth_spec::CloudRunTarget, out: &mut Output) -> (Cpu, ByteSize) {
    let (limits, requests) = (&s.resources.limits, &s.resources.requests);
    let (asked_cpu, cpu_text) = match limits.cpu {
        Some(c) => (c, "CPU limit"),
        None => (cfg.cpu.unwrap_or(Cpu(1000)).max(requests.cpu.unwrap_or(Cpu(0))), "CPU"),
    };
    let (asked_memory, memory_text) = match limits.memory {
        Some(m) => (m, "memory limit"),
        None => (cfg.memory.unwrap_or(ByteSize(512 * MIB)).max(requests.memory.unwrap_or(ByteSize(0))), "memory"),
    };
    let concurrency = cfg.concurrency.unwrap_or(80);
    let mut why: Vec<String> = Vec::new();
    let (mut cpu, mut memory) = (asked_cpu.0, asked_memory.0);
    if memory < 128 * MIB {
        memory = 128 * MIB;
        why.push("memory is at least 128Mi".to_owned());
    } else if memory > 32 * GIB {
        memory = 32 * GIB;
        why.push("memory is at most 32Gi".to_owned());
    }
    if cpu < 80 {
        cpu = 80;
        why.push("CPU is at least 0.08".to_owned());
    } else if cpu > 8000 {
        cpu = 8000;
        why.push("CPU is at most 8".to_owned());
    }
    if cpu < 1000 && concurrency != 1 {
        cpu = 1000;
        why.push(format!("below 1 CPU only with concurrency 1 (it is {concurrency})"));
    }
    let needs = [(24 * GIB, 8000), (16 * GIB, 6000), (8 * GIB, 4000), (4 * GIB, 2000), (GIB, 1000), (512 * MIB, 500)];
    if let Some(&(over, need)) = needs.iter().find(|(over, _)| memory > *over)
        && cpu < need
    {
        cpu = need;
        why.push(format!("over {} of memory needs {} CPU", ByteSize(over), Cpu(need)));
    }
    let whole = [2000, 4000, 6000, 8000].into_iter().find(|c| *c >= cpu).unwrap_or(8000);
    if cpu > 1000 && whole != cpu {
        cpu = whole;
        why.push("above 1, CPU is 2, 4, 6 or 8".to_owned());
    }
    let floor = match cpu {
        4000 => 2 * GIB,
        6000 | 8000 => 4 * GIB,
        _ => 0,
    };
    if memory < floor {
        memory = floor;
        why.push(format!("{} CPU need at least {}", Cpu(cpu), ByteSize(floor)));
    }
    let (cpu, memory) = (Cpu(cpu), ByteSize(memory));
    if cpu != asked_cpu || memory != asked_memory {
        out.unsupported(
            Target::Cloudrun,
            format!(
                "the {cpu_text} {asked_cpu} and {memory_text} {asked_memory} of `{}` (on Cloud Run {}; rendered \
                 {cpu} CPU and {memory})",
                s.name,
                why.join(", ")
            ),
            "size the service to a combination Cloud Run offers to render it exactly",
        );
    }
    (cpu, memory)
}
