//! Upper bounds on the numbers targets convert into fields of their own:
//! replica counts (32-bit on Kubernetes, a port per replica on one host),
//! probe thresholds, retention counts, Fargate task sizes, Cloud Run's
//! concurrency. Every value is checked once here, so a renderer never meets
//! one it would have to wrap, truncate or clamp. CPU, sizes and durations
//! are bounded where they are parsed (`model/units.rs`).

use super::Checker;
use crate::model::{Amounts, Probe, Service};
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

/// The most replicas a service may run (and an autoscaler may reach).
pub const MAX_REPLICAS: u64 = 10_000;

/// The most failures or successes in a row a health check may count.
pub const MAX_PROBE_THRESHOLD: u64 = 10_000;

/// The most backups of each period a retention policy may keep (27 years
/// of dailies).
pub const MAX_RETAINED: u64 = 10_000;

/// Fargate's task CPU units and memory (MiB): the smallest and the largest task.
pub const ECS_CPU_UNITS: (u64, u64) = (256, 16_384);
pub const ECS_MEMORY_MIB: (u64, u64) = (512, 122_880);

/// Requests one Cloud Run instance may take at once.
pub const CLOUD_RUN_CONCURRENCY: (u64, u64) = (1, 1000);

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    let root = Path::root();
    for (name, service) in &spec.services {
        self::service(service, &root.key("services").key(name), checker);
    }
    if let Some(batch) = spec.deploy.batch {
        at_most(checker, &root.key("deploy").key("batch"), u64::from(batch), MAX_REPLICAS, REPLICAS_WHY);
    }
    for (name, dep) in &spec.dependencies {
        let path = root.key("dependencies").key(name);
        amounts(dep.resources.limits.as_ref(), &path.key("resources").key("limits"), checker);
        if let Some(backup) = &dep.backup {
            let rpath = path.key("backup").key("retain");
            for (key, count) in
                [("daily", backup.retain.daily), ("weekly", backup.retain.weekly), ("monthly", backup.retain.monthly)]
            {
                at_most(
                    checker,
                    &rpath.key(key),
                    u64::from(count),
                    MAX_RETAINED,
                    "keep fewer backups; beyond this, pruning by period means nothing",
                );
            }
        }
    }
    let tpath = root.key("targets");
    if let Some(ecs) = &spec.targets.ecs {
        let epath = tpath.key("ecs");
        if let Some(cpu) = ecs.cpu {
            within(
                checker,
                &epath.key("cpu"),
                u64::from(cpu),
                ECS_CPU_UNITS,
                "Fargate tasks have 256 to 16384 CPU units (1024 a core)",
            );
        }
        if let Some(memory) = ecs.memory {
            within(
                checker,
                &epath.key("memory"),
                u64::from(memory),
                ECS_MEMORY_MIB,
                "Fargate tasks have 512 to 122880 MiB of memory",
            );
        }
    }
    if let Some(run) = &spec.targets.cloudrun {
        let cpath = tpath.key("cloudrun");
        if let Some(concurrency) = run.concurrency {
            within(
                checker,
                &cpath.key("concurrency"),
                u64::from(concurrency),
                CLOUD_RUN_CONCURRENCY,
                "a Cloud Run instance takes 1 to 1000 requests at once",
            );
        }
        for (key, count) in [("min_instances", run.min_instances), ("max_instances", run.max_instances)] {
            if let Some(count) = count {
                at_most(checker, &cpath.key(key), u64::from(count), MAX_REPLICAS, REPLICAS_WHY);
            }
        }
        if let (Some(min), Some(max)) = (run.min_instances, run.max_instances)
            && min > max
        {
            checker
                .error(
                    codes::CONTRADICTION,
                    &cpath.key("min_instances"),
                    format!("`min_instances` ({min}) is above `max_instances` ({max})"),
                )
                .with_related(&cpath.key("max_instances"), Anchor::Value, "max_instances");
        }
    }
    if let Some(edge) = &spec.edge {
        let tpath = root.key("edge").key("timeouts");
        let t = &edge.timeouts;
        for (key, value) in [("connect", t.connect), ("read", t.read), ("send", t.send), ("header", t.header)] {
            if value.is_some_and(|d| d.0.is_zero()) {
                checker
                    .error(
                        codes::OUT_OF_RANGE,
                        &tpath.key(key),
                        format!("`edge.timeouts.{key}` is 0s: every request would time out at once"),
                    )
                    .with_help("give it time, such as `5s` to connect, `60s` to read or send, `10s` for headers");
            }
        }
    }
}

const REPLICAS_WHY: &str = "run fewer replicas per service; split the work across services if it needs more";

fn service(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    if let Some(replicas) = service.replicas {
        at_most(checker, &path.key("replicas"), u64::from(replicas), MAX_REPLICAS, REPLICAS_WHY);
    }
    if let Some(auto) = &service.autoscale {
        let apath = path.key("autoscale");
        at_most(checker, &apath.key("min"), u64::from(auto.min), MAX_REPLICAS, REPLICAS_WHY);
        at_most(checker, &apath.key("max"), u64::from(auto.max), MAX_REPLICAS, REPLICAS_WHY);
    }
    if let Some(batch) = service.deploy.as_ref().and_then(|d| d.batch) {
        at_most(checker, &path.key("deploy").key("batch"), u64::from(batch), MAX_REPLICAS, REPLICAS_WHY);
    }
    let hpath = path.key("health");
    for (kind, probe) in [
        ("liveness", &service.health.liveness),
        ("readiness", &service.health.readiness),
        ("startup", &service.health.startup),
    ] {
        if let Some(probe) = probe {
            self::probe(probe, &hpath.key(kind), checker);
        }
    }
    amounts(service.resources.limits.as_ref(), &path.key("resources").key("limits"), checker);
}

fn probe(probe: &Probe, path: &Path, checker: &mut Checker<'_>) {
    for (key, threshold) in
        [("failure_threshold", probe.failure_threshold), ("success_threshold", probe.success_threshold)]
    {
        if let Some(n) = threshold {
            at_most(
                checker,
                &path.key(key),
                u64::from(n),
                MAX_PROBE_THRESHOLD,
                "count fewer checks in a row; a longer `interval` waits longer between them",
            );
        }
    }
    for (key, value) in [("interval", probe.interval), ("timeout", probe.timeout)] {
        if value.is_some_and(|d| d.0.is_zero()) {
            checker.error(codes::OUT_OF_RANGE, &path.key(key), format!("`{path}.{key}` is 0s")).with_help(
                if key == "interval" {
                    "checks would run without pause; use `1s` or more, such as `10s`"
                } else {
                    "every check would fail before it starts; use `1s` or more, such as `2s`"
                },
            );
        }
    }
}

/// A limit of nothing: no CPU time or no memory at all lets nothing run.
fn amounts(limits: Option<&Amounts>, path: &Path, checker: &mut Checker<'_>) {
    let Some(limits) = limits else { return };
    if limits.cpu.is_some_and(|c| c.0 == 0) {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("cpu"), format!("`{path}.cpu` is 0: the process would never run"))
            .with_help("give it at least `1m` (a thousandth of a core), or leave the limit out");
    }
    if limits.memory.is_some_and(|m| m.0 == 0) {
        checker
            .error(
                codes::OUT_OF_RANGE,
                &path.key("memory"),
                format!("`{path}.memory` is 0: the process would be killed at once"),
            )
            .with_help("give it memory, such as `256Mi`, or leave the limit out");
    }
}

/// Reports `value` above `max`, naming the key, the value and the maximum.
fn at_most(checker: &mut Checker<'_>, path: &Path, value: u64, max: u64, help: &str) {
    within(checker, path, value, (0, max), help);
}

/// Reports `value` outside `min..=max`, naming the key, the value and the bound.
fn within(checker: &mut Checker<'_>, path: &Path, value: u64, (min, max): (u64, u64), help: &str) {
    let bound = if value > max {
        format!("above the maximum, {max}")
    } else if value < min {
        format!("below the minimum, {min}")
    } else {
        return;
    };
    checker
        .error(codes::OUT_OF_RANGE, path, format!("`{path}` is {value}, {bound}"))
        .with_label(format!("must be between {min} and {max}"))
        .with_help(help);
}

#[cfg(test)]
mod tests {
    use berth_diagnostics::SourceFile;

    fn problems(text: &str) -> Vec<(String, usize, String)> {
        let file = SourceFile::new("berth.yaml", text);
        crate::load(text, None)
            .diagnostics
            .into_iter()
            .filter(|d| d.code == crate::codes::OUT_OF_RANGE)
            .map(|d| (d.code.id.to_owned(), d.span.map_or(0, |s| file.line_col(s.start).line), d.message))
            .collect()
    }

    const BASE: &str = "version: 1\nname: x\nservices:\n  web:\n    image: ghcr.io/a/web:1.0.0\n    ports: { http: 8080 }\n    health: { readiness: { http: /ready } }\n";

    #[test]
    fn counts_past_what_targets_carry_name_the_key_the_value_and_the_maximum() {
        let text = format!(
            "{BASE}    replicas: 20000\n    deploy: {{ batch: 10001 }}\n    health:\n      readiness: {{ http: /ready, failure_threshold: 4294967295 }}\n"
        );
        // Two `health:` keys would be a duplicate; keep one spec per concern.
        let text = text.replacen("    health: { readiness: { http: /ready } }\n", "", 1);
        let found = problems(&text);
        let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
        assert!(messages.contains(&"`services.web.replicas` is 20000, above the maximum, 10000"), "{messages:?}");
        assert!(messages.contains(&"`services.web.deploy.batch` is 10001, above the maximum, 10000"), "{messages:?}");
        assert!(
            messages
                .contains(&"`services.web.health.readiness.failure_threshold` is 4294967295, above the maximum, 10000"),
            "{messages:?}"
        );
        assert!(found.iter().all(|(code, line, _)| code == "S105" && *line > 0), "{found:?}");
    }

    #[test]
    fn target_sizes_stay_within_the_target() {
        let text = format!(
            "{BASE}targets:\n  ecs: {{ cpu: 100, memory: 200000 }}\n  cloudrun: {{ concurrency: 5000, min_instances: 3, max_instances: 2 }}\n"
        );
        let diagnostics = crate::load(&text, None).diagnostics;
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.contains(&"`targets.ecs.cpu` is 100, below the minimum, 256"), "{messages:?}");
        assert!(messages.contains(&"`targets.ecs.memory` is 200000, above the maximum, 122880"), "{messages:?}");
        assert!(messages.contains(&"`targets.cloudrun.concurrency` is 5000, above the maximum, 1000"), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("`min_instances` (3) is above `max_instances` (2)")),
            "{messages:?}"
        );
    }

    #[test]
    fn nothing_is_not_a_limit_or_a_timeout() {
        let text = format!(
            "{BASE}    resources: {{ limits: {{ cpu: 0, memory: 0 }} }}\nedge:\n  timeouts: {{ read: 0s }}\n  routes:\n    - {{ path: /, service: web }}\n"
        );
        let messages: Vec<String> = problems(&text).into_iter().map(|(_, _, m)| m).collect();
        assert!(messages.iter().any(|m| m.starts_with("`services.web.resources.limits.cpu` is 0")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("`services.web.resources.limits.memory` is 0")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("`edge.timeouts.read` is 0s")), "{messages:?}");
    }

    #[test]
    fn values_within_bounds_pass() {
        let text = format!(
            "{BASE}    replicas: 10000\n    resources: {{ limits: {{ cpu: 1m, memory: 1 }} }}\ntargets:\n  ecs: {{ cpu: 256, memory: 512 }}\n  cloudrun: {{ concurrency: 1000 }}\n"
        );
        assert_eq!(problems(&text), Vec::new());
    }
}
