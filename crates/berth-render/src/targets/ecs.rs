//! AWS ECS on Fargate: a task definition and a service definition per
//! service, as the JSON `aws ecs register-task-definition --cli-input-json`
//! and `aws ecs create-service --cli-input-json` read. Secrets come from
//! Secrets Manager ARNs (or SSM parameters), never inline.

use berth_plan::{EnvValue, Plan, ProbeCheck, ProbePlan, Replicas, ServicePlan};
use serde_json::{Map, Value, json};

use super::Target;
use crate::Output;

/// Fargate's valid CPU units and the memory (MiB) range each allows.
const FARGATE: &[(u32, u32, u32)] =
    &[(256, 512, 2048), (512, 1024, 4096), (1024, 2048, 8192), (2048, 4096, 16384), (4096, 8192, 30720)];

/// The smallest valid Fargate size that fits the CPU (millicores) and memory (MiB) asked for.
pub fn fargate_size(cpu_millis: u64, memory_mib: u64) -> (u32, u32) {
    let units = u32::try_from((cpu_millis * 1024).div_ceil(1000)).unwrap_or(u32::MAX);
    let memory = u32::try_from(memory_mib).unwrap_or(u32::MAX);
    for &(cpu, min, max) in FARGATE {
        if cpu >= units && memory <= max {
            let mem = memory.max(min);
            // Memory comes in 1 GiB steps above the smallest sizes.
            let mem = if mem > 2048 {
                mem.div_ceil(1024) * 1024
            } else if mem > 1024 {
                2048
            } else if mem > 512 {
                1024
            } else {
                512
            };
            return (cpu, mem.clamp(min, max));
        }
    }
    (4096, 30720)
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

fn health_check(probe: &ProbePlan, start_grace: std::time::Duration) -> Option<Value> {
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
    let clamp = |v: u64, lo: u64, hi: u64| v.clamp(lo, hi);
    Some(json!({
        "command": command,
        "interval": clamp(probe.interval.as_secs(), 5, 300),
        "timeout": clamp(probe.timeout.as_secs(), 2, 60),
        "retries": clamp(u64::from(probe.failure_threshold), 1, 10),
        // The startup probe's budget; ECS allows at most 300 s (named by the caller).
        "startPeriod": clamp(start_grace.as_secs(), 0, 300),
    }))
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
            EnvValue::Dependency { dependency, url, password_secret } => {
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
    let grace = s.probes.start_grace();
    if grace.as_secs() > 300 {
        out.unsupported(
            Target::Ecs,
            format!(
                "the start time of `{}` ({}s; ECS's health check startPeriod is at most 300 s; rendered 300)",
                s.name,
                grace.as_secs()
            ),
            "make the service start faster, or accept that ECS may replace it while it starts",
        );
    }
    if let Some(check) = s.probes.readiness.as_ref().or(s.probes.liveness.as_ref()).and_then(|p| health_check(p, grace))
    {
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
    c.insert("linuxParameters".to_owned(), json!({ "capabilities": { "drop": s.security.drop_capabilities, "add": s.security.add_capabilities }, "initProcessEnabled": true }));
    let stop = s.run.as_ref().map_or(30, |r| r.stop_timeout.as_secs());
    if !(2..=120).contains(&stop) {
        out.unsupported(
            Target::Ecs,
            format!(
                "the stop timeout of `{}` ({stop}s; ECS's stopTimeout is 2 to 120 s; rendered {})",
                s.name,
                stop.clamp(2, 120)
            ),
            "shorten `run.stop_timeout`; the load balancer's deregistration delay carries the drain",
        );
    }
    c.insert("stopTimeout".to_owned(), json!(stop.clamp(2, 120)));
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

/// A service's Fargate task size: the smallest valid size that fits its
/// own limits; `targets.ecs.cpu`/`memory` only size services without limits.
pub fn task_size(plan: &Plan, s: &ServicePlan) -> (u32, u32) {
    let ecs = plan.targets.ecs.as_ref();
    let cpu = s.resources.limits.cpu.map(|c| c.0).or_else(|| ecs.and_then(|e| e.cpu).map(u64::from)).unwrap_or(256);
    let memory = s
        .resources
        .limits
        .memory
        .map(|m| m.mebibytes())
        .or_else(|| ecs.and_then(|e| e.memory).map(u64::from))
        .unwrap_or(512);
    fargate_size(cpu, memory)
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
        let (cpu, memory) = task_size(plan, s);
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
