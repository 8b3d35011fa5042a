//! AWS ECS on Fargate: a task definition and a service definition per
//! service, as the JSON `aws ecs register-task-definition --cli-input-json`
//! and `aws ecs create-service --cli-input-json` read. Secrets come from
//! Secrets Manager ARNs (or SSM parameters), never inline.

use berth_plan::{EnvValue, Plan, ProbeCheck, ProbePlan, Replicas, ServicePlan};
use berth_spec::model::units::{ByteSize, Duration};
use serde_json::{Map, Value, json};

use super::Target;
use crate::Output;

/// Fargate's CPU units, each with the memory (MiB) it allows: from, to, in
/// steps of; a step of 0 means 512, 1024 or 2048.
const FARGATE: &[(u32, u32, u32, u32)] = &[
    (256, 512, 2048, 0),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// The largest Fargate task: 16 vCPU, 120 GiB.
const FARGATE_MAX: (u32, u32) = (16384, 122880);

/// ECS's `stopTimeout` on Fargate, in seconds.
const MAX_STOP_TIMEOUT: u64 = 120;

/// ECS's health check `startPeriod`, in seconds.
const MAX_START_PERIOD: u64 = 300;

/// The spec's default `run.stop_timeout`, also for services without `run`.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::secs(10);

/// CPU units (1024 a core) for millicores, rounded up.
fn cpu_units(cpu_millis: u64) -> u32 {
    u32::try_from(cpu_millis.saturating_mul(1024).div_ceil(1000)).unwrap_or(u32::MAX)
}

/// The smallest valid Fargate size with at least `units` CPU units and
/// `memory_mib` MiB; none when even the largest task is smaller.
fn fargate_fit(units: u32, memory_mib: u64) -> Option<(u32, u32)> {
    FARGATE.iter().find_map(|&(cpu, min, max, step)| {
        let memory = u32::try_from(memory_mib).ok().filter(|m| cpu >= units && *m <= max)?.max(min);
        Some((cpu, if step == 0 { memory.next_power_of_two() } else { min + (memory - min).div_ceil(step) * step }))
    })
}

/// The smallest valid Fargate size that fits the CPU (millicores) and memory (MiB) asked for.
#[cfg(test)]
fn fargate_size(cpu_millis: u64, memory_mib: u64) -> (u32, u32) {
    fargate_fit(cpu_units(cpu_millis), memory_mib).unwrap_or(FARGATE_MAX)
}

/// A service's `run.stop_timeout`, or the spec's default.
pub fn stop_timeout(s: &ServicePlan) -> Duration {
    s.run.as_ref().map_or(DEFAULT_STOP_TIMEOUT, |r| r.stop_timeout)
}

/// Where an ECS task reads a declared secret: its Secrets Manager ARN, or
/// else the SSM parameter `/<project>/<secret>`.
pub fn secret_source(plan: &Plan, secret: &str) -> String {
    plan.secrets
        .iter()
        .find(|s| s.name == secret)
        .and_then(|s| s.aws.clone())
        .unwrap_or_else(|| format!("/{}/{secret}", plan.project))
}

pub fn region(plan: &Plan) -> String {
    plan.targets.ecs.as_ref().and_then(|e| e.region.clone()).unwrap_or_else(|| "us-east-1".to_owned())
}

/// `value` within ECS's bounds for a health check field; outside them,
/// the nearest bound and a warning naming what the spec said.
fn bounded(value: u64, (lo, hi): (u64, u64), what: String, field: &str, target: Target, out: &mut Output) -> u64 {
    let rendered = value.clamp(lo, hi);
    if rendered != value {
        out.unsupported(
            target,
            format!("{what} (ECS's health check `{field}` is {lo} to {hi}; rendered {rendered})"),
            "ECS checks within its own bounds; bring the spec's value within them to render it exactly",
        );
    }
    rendered
}

fn health_check(s: &ServicePlan, probe: &ProbePlan, kind: &str, target: Target, out: &mut Output) -> Option<Value> {
    let command = match &probe.check {
        ProbeCheck::Exec { command } => {
            let mut c = vec!["CMD".to_owned()];
            c.extend(command.iter().cloned());
            c
        }
        ProbeCheck::Http { path, port } => vec![
            "CMD-SHELL".to_owned(),
            format!("curl -fsS -o /dev/null http://127.0.0.1:{}{path} || exit 1", port.port),
        ],
        ProbeCheck::Tcp { .. } => return None,
    };
    let name = &s.name;
    let what = format!("the {kind} interval {} of `{name}`", probe.interval);
    let interval = bounded(probe.interval.ceil_secs(), (5, 300), what, "interval", target, out);
    let what = format!("the {kind} timeout {} of `{name}`", probe.timeout);
    let timeout = bounded(probe.timeout.ceil_secs(), (2, 60), what, "timeout", target, out);
    let threshold = u64::from(probe.failure_threshold);
    let what = format!("the {kind} failure_threshold {threshold} of `{name}`");
    let retries = bounded(threshold, (1, 10), what, "retries", target, out);
    // Failures within the start period do not count: it carries the startup
    // probe's budget, for which ECS has no field of its own.
    let grace = Duration(s.probes.start_grace());
    let start = grace.ceil_secs();
    if start > MAX_START_PERIOD {
        let from = if s.probes.startup.is_some() { "its startup probe" } else { "its check's initial delay" };
        out.unsupported(
            target,
            format!(
                "the start time {grace} of `{name}` from {from} (ECS's health check `startPeriod` is at most \
                 {MAX_START_PERIOD} s; rendered {MAX_START_PERIOD})"
            ),
            "failures after that count, so ECS may replace a task that is still starting; make it start faster",
        );
    }
    Some(json!({
        "command": command,
        "interval": interval,
        "timeout": timeout,
        "retries": retries,
        "startPeriod": start.min(MAX_START_PERIOD),
    }))
}

/// ECS's `stopTimeout`, in seconds. Every target gives a stopping replica
/// its `drain_timeout`, then its `stop_timeout`. Behind the ALB
/// (CloudFormation) ECS waits out the target group's deregistration delay,
/// which carries the drain, before SIGTERM; elsewhere nothing drains first,
/// so both follow SIGTERM.
fn stop_seconds(plan: &Plan, s: &ServicePlan, target: Target, out: &mut Output) -> u64 {
    let behind_alb = target == Target::Cloudformation
        && !plan.targets.cloudformation.as_ref().is_some_and(|c| c.gateway)
        && plan.edge.as_ref().is_some_and(|e| e.routes.iter().any(|r| r.sends_to(&s.name)));
    let stop = stop_timeout(s);
    let drain = s.deploy.drain_timeout;
    let (budget, what) = if behind_alb {
        (stop, format!("the stop_timeout {stop}"))
    } else {
        (Duration(drain.0.saturating_add(stop.0)), format!("the drain_timeout {drain} plus stop_timeout {stop}"))
    };
    let secs = budget.ceil_secs();
    if secs > MAX_STOP_TIMEOUT {
        out.unsupported(
            target,
            format!(
                "{what} of `{}` ({secs} s; ECS's `stopTimeout` is at most {MAX_STOP_TIMEOUT} s; rendered \
                 {MAX_STOP_TIMEOUT})",
                s.name
            ),
            "ECS kills the container that long after SIGTERM; in-flight work still running then is cut",
        );
    }
    secs.min(MAX_STOP_TIMEOUT)
}

/// The container definition of a service; `endpoint` turns a dependency
/// name into the host the task reaches it at.
pub fn container(
    plan: &Plan,
    s: &ServicePlan,
    image: &str,
    endpoint: &dyn Fn(&str) -> String,
    target: Target,
    out: &mut Output,
) -> Value {
    let mut environment = Vec::new();
    let mut secrets = Vec::new();
    for var in &s.env {
        match &var.value {
            EnvValue::Literal { value } => environment.push(json!({ "name": var.name, "value": value })),
            EnvValue::Secret { secret } => {
                secrets.push(json!({ "name": var.name, "valueFrom": secret_source(plan, secret) }))
            }
            EnvValue::Dependency { dependency, url, password_secret, pooled } => {
                // No pooler runs here (R001): the pooled URL becomes the server's.
                let url = match plan.dependencies.iter().find(|d| *pooled && &d.name == dependency) {
                    Some(d) => &d.url,
                    None => url,
                };
                let host = endpoint(dependency);
                environment.push(json!({ "name": var.name, "value": url.replacen(&format!("@{dependency}:"), &format!("@{host}:"), 1).replacen(&format!("://{dependency}:"), &format!("://{host}:"), 1) }));
                if let Some(secret) = password_secret {
                    secrets.push(
                        json!({ "name": format!("{}_PASSWORD", var.name), "valueFrom": secret_source(plan, secret) }),
                    );
                }
            }
        }
    }
    if let Some(p) = &s.primary_port {
        environment.push(json!({ "name": "PORT", "value": p.port.to_string() }));
    }
    environment.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut c = Map::new();
    c.insert("name".to_owned(), json!(s.name));
    c.insert("image".to_owned(), json!(image));
    c.insert("essential".to_owned(), json!(true));
    c.insert(
        "portMappings".to_owned(),
        json!(
            s.ports
                .iter()
                .map(|p| json!({ "name": p.name, "containerPort": p.port, "protocol": "tcp" }))
                .collect::<Vec<_>>()
        ),
    );
    c.insert("environment".to_owned(), Value::Array(environment));
    if !secrets.is_empty() {
        c.insert("secrets".to_owned(), Value::Array(secrets));
    }
    let check = match (&s.probes.readiness, &s.probes.liveness) {
        (Some(p), _) => Some((p, "readiness check")),
        (None, Some(p)) => Some((p, "liveness check")),
        (None, None) => None,
    };
    if let Some(check) = check.and_then(|(p, kind)| health_check(s, p, kind, target, out)) {
        c.insert("healthCheck".to_owned(), check);
    }
    if s.probes.liveness.as_ref().is_some_and(|l| Some(l) != s.probes.readiness.as_ref()) {
        out.unsupported(
            target,
            format!("separate liveness and readiness checks for `{}`", s.name),
            "ECS has one container health check; it uses readiness, and the load balancer's target group checks it too",
        );
    }
    c.insert(
        "logConfiguration".to_owned(),
        json!({ "logDriver": "awslogs", "options": { "awslogs-group": format!("/ecs/{}", plan.project), "awslogs-region": region(plan), "awslogs-stream-prefix": s.name } }),
    );
    c.insert("readonlyRootFilesystem".to_owned(), json!(s.security.read_only_root));
    c.insert("user".to_owned(), json!(s.security.run_as_user.to_string()));
    // Fargate lets a task add SYS_PTRACE and nothing else; registering one
    // that adds more fails, so the rest are named and left out.
    let (add, refused): (Vec<&String>, Vec<&String>) =
        s.security.add_capabilities.iter().partition(|c| c.trim_start_matches("CAP_") == "SYS_PTRACE");
    if !refused.is_empty() {
        out.unsupported(
            Target::Ecs,
            format!("adding the capabilities {refused:?} to `{}` (Fargate allows only SYS_PTRACE)", s.name),
            "run the service on EC2 capacity, or do without the capability",
        );
    }
    c.insert(
        "linuxParameters".to_owned(),
        json!({ "capabilities": { "drop": s.security.drop_capabilities, "add": add }, "initProcessEnabled": true }),
    );
    c.insert("stopTimeout".to_owned(), json!(stop_seconds(plan, s, target, out)));
    let mounts: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| json!({ "sourceVolume": v.name, "containerPath": v.path, "readOnly": v.read_only }))
        .collect();
    if !mounts.is_empty() {
        c.insert("mountPoints".to_owned(), Value::Array(mounts));
    }
    Value::Object(c)
}

/// A service's Fargate task size, in CPU units and MiB: the smallest valid
/// Fargate combination at or above what the service asks for. That is its
/// limits; without a limit, `targets.ecs.cpu` / `memory` (else 256 units
/// and 512 MiB), but never less than its request. Fargate runs only fixed
/// combinations, so rounding up to the next one is the mapping, not a
/// change of the spec; a service beyond the largest task gets the largest
/// and a warning.
pub fn task_size(plan: &Plan, s: &ServicePlan, target: Target, out: &mut Output) -> (u32, u32) {
    let ecs = plan.targets.ecs.as_ref();
    let (limits, requests) = (&s.resources.limits, &s.resources.requests);
    let (units, cpu_text) = match limits.cpu {
        Some(c) => (cpu_units(c.0), format!("CPU limit {c}")),
        None => {
            let u = ecs.and_then(|e| e.cpu).unwrap_or(256).max(requests.cpu.map_or(0, |c| cpu_units(c.0)));
            (u, format!("{u} CPU units"))
        }
    };
    let (memory, memory_text) = match limits.memory {
        Some(m) => (m.mebibytes(), format!("memory limit {m}")),
        None => {
            let default = u64::from(ecs.and_then(|e| e.memory).unwrap_or(512));
            let m = default.max(requests.memory.map_or(0, ByteSize::mebibytes));
            (m, format!("{m} MiB of memory"))
        }
    };
    fargate_fit(units, memory).unwrap_or_else(|| {
        let (c, m) = FARGATE_MAX;
        out.unsupported(
            target,
            format!(
                "the {cpu_text} and {memory_text} of `{}` (a Fargate task has at most {c} CPU units and {m} MiB; \
                 rendered {c} and {m})",
                s.name
            ),
            "lower the service's limits to fit one task, or run it where it fits (Kubernetes, EC2)",
        );
        FARGATE_MAX
    })
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let ecs = plan.targets.ecs.clone().unwrap_or_default();
    let cluster = ecs.cluster.clone().unwrap_or_else(|| plan.project.clone());
    for s in &plan.services {
        let Some(image) = &s.image else {
            out.unsupported(
                Target::Ecs,
                format!("service `{}` without an `image`", s.name),
                "ECS runs images; add `image:`",
            );
            continue;
        };
        let endpoint = |dep: &str| format!("{dep}.{}.internal", plan.project);
        let (cpu, memory) = task_size(plan, s, Target::Ecs, &mut out);
        let mut task = Map::new();
        task.insert("family".to_owned(), json!(format!("{}-{}", plan.project, s.name)));
        task.insert("networkMode".to_owned(), json!("awsvpc"));
        task.insert("requiresCompatibilities".to_owned(), json!(["FARGATE"]));
        task.insert("cpu".to_owned(), json!(cpu.to_string()));
        task.insert("memory".to_owned(), json!(memory.to_string()));
        task.insert(
            "runtimePlatform".to_owned(),
            json!({ "operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64" }),
        );
        if let Some(arn) = &ecs.execution_role_arn {
            task.insert("executionRoleArn".to_owned(), json!(arn));
        } else {
            out.unsupported(Target::Ecs, "a task definition without `targets.ecs.execution_role_arn`", "ECS needs an execution role to pull images and read secrets; set it, or use the `cloudformation` target, which creates one");
        }
        if let Some(arn) = &ecs.task_role_arn {
            task.insert("taskRoleArn".to_owned(), json!(arn));
        }
        task.insert(
            "containerDefinitions".to_owned(),
            json!([container(plan, s, image, &endpoint, Target::Ecs, &mut out)]),
        );
        let volumes: Vec<Value> = s.volumes.iter().map(|v| json!({ "name": v.name })).collect();
        if !volumes.is_empty() {
            if s.volumes.iter().any(|v| v.persistent) {
                out.unsupported(
                    Target::Ecs,
                    format!("persistent volumes of `{}`", s.name),
                    "Fargate task storage is ephemeral; mount EFS by hand or keep state in the dependencies",
                );
            }
            task.insert("volumes".to_owned(), Value::Array(volumes));
        }
        out.file(
            format!("{}-task-definition.json", s.name),
            serde_json::to_string_pretty(&Value::Object(task)).unwrap_or_default() + "\n",
        );
        let desired = match s.replicas {
            Replicas::Fixed { count } => count,
            Replicas::Autoscaled { min, .. } => min,
        };
        let mut service = json!({
            "cluster": cluster,
            "serviceName": s.name,
            "taskDefinition": format!("{}-{}", plan.project, s.name),
            "desiredCount": desired,
            "launchType": "FARGATE",
            "deploymentConfiguration": {
                "minimumHealthyPercent": 100,
                "maximumPercent": 200,
                "deploymentCircuitBreaker": { "enable": true, "rollback": s.deploy.auto_rollback },
            },
            "enableExecuteCommand": false,
            "propagateTags": "SERVICE",
        });
        if !ecs.subnets.is_empty() {
            service["networkConfiguration"] =
                json!({ "awsvpcConfiguration": { "subnets": ecs.subnets, "assignPublicIp": "DISABLED" } });
        }
        out.file(format!("{}-service.json", s.name), serde_json::to_string_pretty(&service).unwrap_or_default() + "\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fargate_size;

    #[test]
    fn fargate_sizes_are_valid_combinations() {
        assert_eq!(fargate_size(250, 256), (256, 512));
        assert_eq!(fargate_size(1000, 512), (1024, 2048));
        assert_eq!(fargate_size(500, 3000), (512, 3072));
        assert_eq!(fargate_size(2000, 20000), (4096, 20480));
    }
}
