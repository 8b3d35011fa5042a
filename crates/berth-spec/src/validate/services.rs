use std::collections::BTreeMap;

use berth_diagnostics::Severity;

use super::Checker;
use crate::model::{Probe, Service};
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    replica_ranges(spec, checker);
    for (name, service) in &spec.services {
        let path = Path::root().key("services").key(name);
        if service.image.is_none() && service.build.is_none() && service.run.is_none() {
            checker
                .report(
                    codes::MISSING_SETTING,
                    Severity::Error,
                    &path,
                    Anchor::Key,
                    format!("service `{name}` has nothing to run"),
                )
                .with_help("give it an `image:`, a `build:` or a `run: { command: [...] }`");
        }
        if service.run.as_ref().is_some_and(|r| r.command.is_empty()) {
            checker
                .error(codes::MISSING_SETTING, &path.key("run").key("command"), "the run command is empty")
                .with_help("name the program and its arguments: `command: [./api, --port, \"${PORT}\"]`");
        }
        ports(service, &path, checker);
        health(name, service, &path, checker);
        scaling(service, &path, checker);
        resources(service, &path, checker);
        uses(spec, service, &path, checker);
        env(service, &path, checker);
        volumes(service, &path, checker);
        security(service, &path, checker);
        jobs(spec, name, service, &path, checker);
        devices_and_placement(service, &path, checker);
        egress(service, &path, checker);
        files(service, &path, checker);
        if let Some(metrics) = &service.metrics {
            let mpath = path.key("metrics");
            if metrics.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
                checker.error(codes::INVALID_VALUE, &mpath.key("path"), "the metrics path must start with `/`");
            }
            port_ref(service, metrics.port.as_deref(), &mpath, "metrics", checker);
            metric_names(metrics, &mpath, checker);
        }
        if let Some(deploy) = &service.deploy {
            super::deploy::check(deploy, &path.key("deploy"), checker);
        }
    }
}

/// `files`: an absolute container path outside the service's volumes
/// (a mounted volume would hide or be hidden by the file), from a file
/// inside the spec's directory.
fn files(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    for (mount, source) in &service.files {
        let fpath = path.key("files").key(mount);
        let climbs = |p: &str| p.split('/').any(|part| part == "..");
        if !mount.starts_with('/') || mount.ends_with('/') || climbs(mount) || mount.contains('\0') {
            checker
                .report(
                    codes::INVALID_VALUE,
                    Severity::Error,
                    &fpath,
                    Anchor::Key,
                    format!("`{mount}` is not an absolute file path in the container"),
                )
                .with_help("name where the file appears, such as `/etc/app/config.toml`");
        }
        if let Some((name, _)) = service.volumes.iter().find(|(_, v)| {
            let dir = v.path.trim_end_matches('/');
            mount.strip_prefix(dir).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }) {
            checker
                .report(
                    codes::CONTRADICTION,
                    Severity::Error,
                    &fpath,
                    Anchor::Key,
                    format!("`{mount}` is inside volume `{name}`: one of them would hide the other"),
                )
                .with_help("mount the file outside the volume's path");
        }
        if source.is_empty() || source.starts_with('/') || source.starts_with('~') || climbs(source) {
            checker
                .error(codes::INVALID_VALUE, &fpath, format!("`{source}` is not a path inside the spec's directory"))
                .with_help("write the file's path relative to berth.yaml, such as `config/app.toml`");
        }
    }
}

/// `egress`: each destination a network, an address or a host name, each
/// with ports.
fn egress(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    for (i, entry) in service.egress.iter().enumerate() {
        let epath = path.key("egress").index(i);
        if !super::edge::valid_allow_entry(&entry.to) && !host_name(&entry.to) {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &epath.key("to"),
                    format!("`{}` is not a network, an address or a host name", entry.to),
                )
                .with_help("write `10.20.0.0/16`, `203.0.113.7` or `api.stripe.com` (no scheme, port or path)");
        }
        if entry.ports.is_empty() {
            checker
                .error(codes::MISSING_SETTING, &epath.key("ports"), format!("egress to `{}` names no port", entry.to))
                .with_help("list the TCP ports the service connects to, such as `[443]`");
        }
        for (j, port) in entry.ports.iter().enumerate() {
            if *port == 0 {
                checker.error(codes::OUT_OF_RANGE, &epath.key("ports").index(j), "port 0 is not a port");
            }
        }
    }
}

/// A DNS name as RFC 1123 writes it: dot-separated labels of letters,
/// digits and inner hyphens, at least two labels, at most 253 characters.
/// `*.example.com` is not one: no target can hold a wildcard to ports.
pub fn host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && !labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// The most GPUs one replica asks for: the largest machines carry 16.
const GPU_MAX: u32 = 16;

fn devices_and_placement(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    if let Some(gpu) = &service.resources.gpu
        && !(1..=GPU_MAX).contains(&gpu.count)
    {
        checker
            .error(
                codes::OUT_OF_RANGE,
                &path.key("resources").key("gpu").key("count"),
                format!("{} GPUs per replica", gpu.count),
            )
            .with_help(format!("ask for 1 to {GPU_MAX}; leave `gpu` out for none"));
    }
    for (i, device) in service.devices.iter().enumerate() {
        let dpath = path.key("devices").index(i);
        let clean = std::path::Path::new(device)
            .components()
            .all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
        if !device.starts_with("/dev/") || !clean {
            checker
                .error(codes::INVALID_VALUE, &dpath, format!("`{device}` is not a device file"))
                .with_help("name a path under /dev, such as `/dev/fuse`");
        }
    }
    let Some(placement) = &service.placement else { return };
    for (i, t) in placement.tolerations.iter().enumerate() {
        let tpath = path.key("placement").key("tolerations").index(i);
        match (t.operator, &t.value, &t.key) {
            (crate::model::TolerationOperator::Exists, Some(_), _) => {
                checker
                    .error(codes::CONTRADICTION, &tpath.key("value"), "`operator: Exists` matches any value")
                    .with_help("leave `value` out, or use `operator: Equal`");
            }
            (crate::model::TolerationOperator::Equal, _, None) => {
                checker
                    .error(codes::MISSING_SETTING, &tpath, "an `Equal` toleration needs the taint's `key`")
                    .with_help("name the key, or use `operator: Exists` to tolerate every taint");
            }
            _ => {}
        }
    }
}

/// Longest `<service>-<job>`: a CronJob's name limit (its Jobs append 11
/// characters to the 63 of a label).
const JOB_NAME_MAX: usize = 52;

fn jobs(spec: &Spec, service_name: &str, service: &Service, path: &Path, checker: &mut Checker<'_>) {
    for (name, job) in &service.jobs {
        let jpath = path.key("jobs").key(name);
        let full = format!("{service_name}-{name}");
        if !super::names::is_dns_label(name) || full.len() > JOB_NAME_MAX {
            checker
                .report(codes::INVALID_NAME, Severity::Error, &jpath, Anchor::Key, format!("`{name}` cannot name a job of `{service_name}`"))
                .with_help(format!("job names are lowercase letters, digits and `-`, and `<service>-<job>` (`{full}`) at most {JOB_NAME_MAX} characters (a Kubernetes CronJob's limit)"));
        }
        if job.command.is_empty() {
            checker
                .error(codes::MISSING_SETTING, &jpath.key("command"), "the job's command is empty")
                .with_help("name the program and its arguments: `command: [./manage.py, migrate]`");
        }
        if job.before_deploy && job.schedule.is_some() {
            checker
                .error(
                    codes::CONTRADICTION,
                    &jpath.key("schedule"),
                    format!("job `{name}` both gates deploys and runs on a schedule"),
                )
                .with_related(&jpath.key("before_deploy"), Anchor::Key, "gates deploys here")
                .with_help("a migration runs before each deploy; declare the scheduled work as a second job");
        }
        if job.timeout.is_some_and(|t| t.0 < std::time::Duration::from_secs(1)) {
            checker.error(codes::OUT_OF_RANGE, &jpath.key("timeout"), "a job's timeout is at least 1s");
        }
        if job.retries.is_some_and(|r| r > 100) {
            checker.error(codes::OUT_OF_RANGE, &jpath.key("retries"), "at most 100 retries");
        }
        let other_job = spec
            .services
            .iter()
            .filter(|(s, _)| s.as_str() < service_name)
            .find_map(|(s, other)| other.jobs.contains_key(name).then_some(s));
        if let Some(other) = other_job {
            checker
                .report(
                    codes::DUPLICATE_NAME,
                    Severity::Error,
                    &jpath,
                    Anchor::Key,
                    format!("services `{other}` and `{service_name}` both have a job `{name}`"),
                )
                .with_related(&Path::root().key("services").key(other).key("jobs").key(name), Anchor::Key, "also here")
                .with_help("`berth run NAME` finds a job by its name alone: rename one");
        }
        if spec.services.contains_key(&full) {
            checker
                .report(
                    codes::DUPLICATE_NAME,
                    Severity::Error,
                    &jpath,
                    Anchor::Key,
                    format!("job `{name}` of `{service_name}` runs as `{full}`, which is also a service"),
                )
                .with_help("targets name a job's workload `<service>-<job>`: rename the job or the service");
        }
    }
}

/// Prometheus' metric and label name grammar.
fn is_metric_name(name: &str, label: bool) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':'));
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (!label && c == ':'))
        && !(label && name.starts_with("__"))
}

fn metric_names(metrics: &crate::model::Metrics, path: &Path, checker: &mut Checker<'_>) {
    for (key, value, label) in [
        ("requests", &metrics.requests, false),
        ("duration", &metrics.duration, false),
        ("status_label", &metrics.status_label, true),
    ] {
        let Some(value) = value else { continue };
        if !is_metric_name(value, label) {
            let what = if label { "label" } else { "metric" };
            checker
                .error(codes::INVALID_VALUE, &path.key(key), format!("`{value}` is not a Prometheus {what} name"))
                .with_help("letters, digits and `_`, not starting with a digit");
        }
    }
    if let Some(duration) = metrics.duration.as_deref().filter(|d| d.ends_with("_bucket")) {
        checker
            .error(
                codes::INVALID_VALUE,
                &path.key("duration"),
                format!("name the histogram, not its buckets: `{duration}`"),
            )
            .with_help(format!("write `{}`; berth adds `_bucket`", duration.trim_end_matches("_bucket")));
    }
}

fn is_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn ports(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for (port_name, &number) in &service.ports {
        let ppath = path.key("ports").key(port_name);
        if !is_port_name(port_name) {
            checker
                .report(codes::INVALID_NAME, Severity::Error, &ppath, Anchor::Key, format!("`{port_name}` is not a valid port name"))
                .with_help("port names are lowercase letters, digits and `-`, at most 15 characters, with at least one letter (Kubernetes' rule)");
        }
        if number == 0 {
            checker
                .error(codes::OUT_OF_RANGE, &ppath, "port 0 is not a port")
                .with_help("use a port between 1 and 65535");
        }
        if let Some(first) = seen.insert(number, port_name) {
            checker
                .error(codes::PORT_CLASH, &ppath, format!("ports `{first}` and `{port_name}` are both {number}"))
                .with_related(&path.key("ports").key(first), Anchor::Value, "also here")
                .with_help("each named port needs its own number");
        }
    }
}

/// Reports a `port:` that names no port of the service, or a missing port
/// when the service has none.
pub(crate) fn port_ref(service: &Service, port: Option<&str>, path: &Path, what: &str, checker: &mut Checker<'_>) {
    match port {
        Some(port) if !service.ports.contains_key(port) => {
            let known: Vec<&str> = service.ports.keys().map(String::as_str).collect();
            checker.dangling(&path.key("port"), "port", port, &known, "name one of the service's `ports`");
        }
        None if service.ports.is_empty() => {
            checker
                .error(
                    codes::MISSING_SETTING,
                    path,
                    format!("the {what} check needs a port, but the service declares none"),
                )
                .with_help("add `ports: { http: 8080 }` to the service");
        }
        _ => {}
    }
}

fn health(name: &str, service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let hpath = path.key("health");
    let probes = [
        ("liveness", &service.health.liveness),
        ("readiness", &service.health.readiness),
        ("startup", &service.health.startup),
    ];
    for (kind, probe) in probes {
        if let Some(probe) = probe {
            check_probe(service, probe, &hpath.key(kind), kind, checker);
        }
    }
    if let (Some(live), Some(ready)) = (&service.health.liveness, &service.health.readiness)
        && live == ready
    {
        checker
                .warning(codes::CONTRADICTION, &hpath.key("readiness"), "readiness is identical to liveness")
                .with_related(&hpath.key("liveness"), Anchor::Key, "liveness")
                .with_help("when a dependency is down, readiness should fail (stop traffic) while liveness passes (no restart); point readiness at a path that checks dependencies, such as `/health/ready`");
    }
    if service.health.readiness.is_none() && !service.ports.is_empty() {
        checker
            .report(codes::MISSING_SETTING, Severity::Warning, path, Anchor::Key, format!("service `{name}` has no readiness check"))
            .with_help("without one, traffic and deploys reach replicas before they can answer; add `health: { readiness: { http: /health/ready } }`");
    }
}

fn check_probe(service: &Service, probe: &Probe, path: &Path, kind: &str, checker: &mut Checker<'_>) {
    let methods =
        [probe.http.is_some(), probe.exec.is_some(), probe.tcp == Some(true)].into_iter().filter(|m| *m).count();
    if methods != 1 {
        checker
            .report(
                codes::CONTRADICTION,
                Severity::Error,
                path,
                Anchor::Key,
                format!("the {kind} check needs exactly one of `http`, `tcp` or `exec`, found {methods}"),
            )
            .with_help("for example `{ http: /health }`");
    }
    if let Some(http) = &probe.http
        && !http.starts_with('/')
    {
        checker
            .error(codes::INVALID_VALUE, &path.key("http"), format!("`{http}` is not a path"))
            .with_help(format!("paths start with `/`: `/{}`", http.trim_start_matches('/')));
    }
    if probe.exec.as_ref().is_some_and(Vec::is_empty) {
        checker.error(codes::MISSING_SETTING, &path.key("exec"), "the check command is empty");
    }
    if probe.http.is_some() || probe.tcp == Some(true) {
        port_ref(service, probe.port.as_deref(), path, kind, checker);
    } else if probe.port.is_some() {
        checker.warning(codes::NOT_APPLICABLE, &path.key("port"), "`port` is not used by an `exec` check");
    }
    if let (Some(timeout), Some(interval)) = (probe.timeout, probe.interval)
        && timeout > interval
    {
        checker
            .warning(
                codes::CONTRADICTION,
                &path.key("timeout"),
                format!("the timeout ({timeout}) is longer than the interval ({interval})"),
            )
            .with_related(&path.key("interval"), Anchor::Value, "interval")
            .with_help("checks would overlap; make the timeout shorter than the interval");
    }
    if probe.failure_threshold == Some(0) {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("failure_threshold"), "a failure threshold of 0 is never reached")
            .with_help("use 1 or more");
    }
    match probe.success_threshold {
        Some(0) => {
            checker
                .error(codes::OUT_OF_RANGE, &path.key("success_threshold"), "a success threshold of 0 is never reached")
                .with_help("use 1 or more");
        }
        Some(n) if n > 1 && kind != "readiness" => {
            checker
                .error(
                    codes::OUT_OF_RANGE,
                    &path.key("success_threshold"),
                    format!("a {kind} check must have a success threshold of 1"),
                )
                .with_help("only readiness can require several successes in a row (Kubernetes' rule)");
        }
        _ => {}
    }
}

fn scaling(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    if let (Some(replicas), Some(_)) = (service.replicas, &service.autoscale) {
        checker
            .error(
                codes::CONTRADICTION,
                &path.key("replicas"),
                format!("`replicas: {replicas}` is fixed while `autoscale` is set"),
            )
            .with_related(&path.key("autoscale"), Anchor::Key, "autoscale set here")
            .with_help("remove `replicas`; the autoscaler owns the count between `autoscale.min` and `autoscale.max`");
    }
    if service.replicas == Some(0) {
        checker
            .warning(codes::OUT_OF_RANGE, &path.key("replicas"), "0 replicas: the service will not run")
            .with_help("use 1 or more, or remove the service");
    }
    let Some(auto) = &service.autoscale else {
        return;
    };
    let apath = path.key("autoscale");
    for (key, pace) in [("scale_up", &auto.scale_up), ("scale_down", &auto.scale_down)] {
        let Some(pace) = pace else { continue };
        let ppath = apath.key(key);
        if pace.stabilization.is_some_and(|d| d.0 > std::time::Duration::from_secs(3600)) {
            checker
                .error(codes::OUT_OF_RANGE, &ppath.key("stabilization"), "a stabilization window is at most 1h")
                .with_help("Kubernetes refuses longer windows");
        }
        if pace
            .per
            .is_some_and(|d| d.0 < std::time::Duration::from_secs(1) || d.0 > std::time::Duration::from_secs(1800))
        {
            checker.error(codes::OUT_OF_RANGE, &ppath.key("per"), "`per` is 1s to 30m");
        }
        for (k, v) in [("max_pods", pace.max_pods), ("max_percent", pace.max_percent)] {
            if v == Some(0) {
                checker
                    .error(codes::OUT_OF_RANGE, &ppath.key(k), format!("`{k}: 0` stops scaling this way"))
                    .with_help("use 1 or more; to never scale this way, set `min` and `max` accordingly");
            }
        }
        if pace.per.is_some() && pace.max_pods.is_none() && pace.max_percent.is_none() {
            checker
                .error(
                    codes::MISSING_SETTING,
                    &ppath.key("per"),
                    "`per` limits nothing without `max_pods` or `max_percent`",
                )
                .with_help("add `max_pods: 2` or `max_percent: 50`");
        }
    }
    if auto.min == 0 {
        checker
            .error(codes::OUT_OF_RANGE, &apath.key("min"), "`min` must be at least 1")
            .with_help("autoscalers cannot scale to zero from CPU or memory use");
    }
    if auto.min > auto.max {
        checker
            .error(
                codes::CONTRADICTION,
                &apath.key("min"),
                format!("`min` ({}) is above `max` ({})", auto.min, auto.max),
            )
            .with_related(&apath.key("max"), Anchor::Value, "max");
    }
    if auto.cpu.is_none() && auto.memory.is_none() && auto.metric.is_none() {
        checker
            .report(codes::MISSING_SETTING, Severity::Error, &apath, Anchor::Key, "autoscaling needs a target")
            .with_help("add `cpu: 70`, `memory: 80` or `metric: { name: ..., target: ... }`");
    }
    for (key, target) in [("cpu", auto.cpu), ("memory", auto.memory)] {
        if target.is_some_and(|t| t.0 <= 0.0) {
            checker.error(codes::OUT_OF_RANGE, &apath.key(key), "a target of 0% scales to `max` at once");
        }
    }
    let requests = service.resources.requests.unwrap_or_default();
    if auto.cpu.is_some() && requests.cpu.is_none() {
        checker
            .warning(codes::MISSING_SETTING, &apath.key("cpu"), "a CPU target needs a CPU request to measure against")
            .with_help("set `resources.requests.cpu`");
    }
    if auto.memory.is_some() && requests.memory.is_none() {
        checker
            .warning(
                codes::MISSING_SETTING,
                &apath.key("memory"),
                "a memory target needs a memory request to measure against",
            )
            .with_help("set `resources.requests.memory`");
    }
    if auto.metric.is_some() && service.metrics.is_none() {
        checker
            .warning(
                codes::MISSING_SETTING,
                &apath.key("metric"),
                "scaling on a custom metric needs the service to export metrics",
            )
            .with_help("add `metrics: { path: /metrics }` to the service");
    }
    if let Some(metric) = &auto.metric
        && !(metric.target > 0.0 && metric.target.is_finite())
    {
        checker.error(codes::OUT_OF_RANGE, &apath.key("metric").key("target"), "the metric target must be above 0");
    }
}

fn resources(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let (Some(requests), Some(limits)) = (service.resources.requests, service.resources.limits) else {
        return;
    };
    let rpath = path.key("resources");
    if let (Some(r), Some(l)) = (requests.cpu, limits.cpu)
        && r > l
    {
        checker
            .error(
                codes::CONTRADICTION,
                &rpath.key("requests").key("cpu"),
                format!("the CPU request ({r}) is above the limit ({l})"),
            )
            .with_related(&rpath.key("limits").key("cpu"), Anchor::Value, "limit");
    }
    if let (Some(r), Some(l)) = (requests.memory, limits.memory)
        && r > l
    {
        checker
            .error(
                codes::CONTRADICTION,
                &rpath.key("requests").key("memory"),
                format!("the memory request ({r}) is above the limit ({l})"),
            )
            .with_related(&rpath.key("limits").key("memory"), Anchor::Value, "limit");
    }
}

fn uses(spec: &Spec, service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let known: Vec<&str> = spec.dependencies.keys().map(String::as_str).collect();
    let mut vars: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, dep_name) in service.uses.iter().enumerate() {
        let upath = path.key("uses").index(i);
        if service.uses[..i].contains(dep_name) {
            checker.warning(codes::DUPLICATE_NAME, &upath, format!("`{dep_name}` is listed twice"));
            continue;
        }
        let Some(dep) = spec.dependencies.get(dep_name) else {
            checker.dangling(
                &upath,
                "dependency",
                dep_name,
                &known,
                &format!("declare it under `dependencies:` as `{dep_name}: {{ kind: postgres }}`"),
            );
            continue;
        };
        let var = crate::url_env(dep.url_env.as_deref(), dep.kind);
        // A pooled PostgreSQL also injects the server's own URL.
        let direct =
            (dep.pooler.is_some() && dep.kind == crate::DependencyKind::Postgres).then(|| format!("{var}_DIRECT"));
        for var in std::iter::once(var).chain(direct) {
            if let Some((j, other)) = vars.insert(var.clone(), (i, dep_name)) {
                checker
                    .error(codes::CONTRADICTION, &upath, format!("`{other}` and `{dep_name}` both inject `{var}`"))
                    .with_related(&path.key("uses").index(j), Anchor::Value, "also injects it")
                    .with_help(format!(
                        "set `url_env:` on one of the dependencies, such as `url_env: {}_URL`",
                        dep_name.to_uppercase().replace('-', "_")
                    ));
            }
            if service.env.contains_key(&var) || service.secrets.contains_key(&var) {
                checker
                    .error(
                        codes::CONTRADICTION,
                        &upath,
                        format!("`{var}` is injected by `{dep_name}` and also set on the service"),
                    )
                    .with_help(format!(
                        "remove `{var}` from the service's `env`/`secrets`, or give the dependency another `url_env`"
                    ));
            }
        }
    }
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn env(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    for (section, names) in
        [("env", service.env.keys().collect::<Vec<_>>()), ("secrets", service.secrets.keys().collect())]
    {
        for name in names {
            if !is_env_name(name) {
                checker
                    .report(
                        codes::INVALID_NAME,
                        Severity::Error,
                        &path.key(section).key(name),
                        Anchor::Key,
                        format!("`{name}` is not a valid environment variable name"),
                    )
                    .with_help("use letters, digits and `_`, not starting with a digit");
            }
        }
    }
    for var in service.secrets.keys() {
        if service.env.contains_key(var) {
            checker
                .report(
                    codes::CONTRADICTION,
                    Severity::Error,
                    &path.key("secrets").key(var),
                    Anchor::Key,
                    format!("`{var}` is set both in `env` and in `secrets`"),
                )
                .with_related(&path.key("env").key(var), Anchor::Key, "also in env")
                .with_help("keep the secret and remove the plain value");
        }
    }
}

fn volumes(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let mut mounts: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, volume) in &service.volumes {
        let vpath = path.key("volumes").key(name);
        if !super::names::is_dns_label(name) {
            checker
                .report(
                    codes::INVALID_NAME,
                    Severity::Error,
                    &vpath,
                    Anchor::Key,
                    format!("`{name}` is not a valid volume name"),
                )
                .with_help("use lowercase letters, digits and `-`");
        }
        if !volume.path.starts_with('/') {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &vpath.key("path"),
                    format!("mount path `{}` is not absolute", volume.path),
                )
                .with_help("mount paths start with `/`, such as `/var/lib/app`");
        } else if std::path::Path::new(&volume.path)
            .components()
            .any(|c| matches!(c, std::path::Component::CurDir | std::path::Component::ParentDir))
        {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &vpath.key("path"),
                    format!("mount path `{}` has `.` or `..` in it", volume.path),
                )
                .with_help("write the path it means, such as `/var/lib/app`");
        }
        if volume.read_only {
            // Every target creates the volume empty (a fresh claim, a named
            // volume, a state directory) and the spec names no writer.
            checker
                .error(
                    codes::CONTRADICTION,
                    &vpath.key("read_only"),
                    format!("volume `{name}` is read-only, but it starts empty and nothing writes it"),
                )
                .with_help("ship files the service only reads in its image; drop `read_only` for data it writes");
        }
        if let Some(backup) = &volume.backup {
            let bpath = vpath.key("backup");
            if volume.kind == Some(crate::model::VolumeKind::Scratch) {
                checker
                    .error(
                        codes::CONTRADICTION,
                        &bpath,
                        format!(
                            "volume `{name}` is scratch space, emptied at every start: there is nothing to back up"
                        ),
                    )
                    .with_help("remove `backup`, or make the volume persistent (drop `kind: scratch`)");
            }
            if backup.method.is_some() {
                checker
                    .error(
                        codes::NOT_APPLICABLE,
                        &bpath.key("method"),
                        "a volume is backed up as an archive of its files; `method` applies to PostgreSQL",
                    )
                    .with_help("remove `method`");
            }
            if backup.recovery_point.is_some() {
                checker
                    .error(
                        codes::NOT_APPLICABLE,
                        &bpath.key("recovery_point"),
                        "a volume recovers to its last backup; `recovery_point` needs PostgreSQL's WAL archiving",
                    )
                    .with_help("remove `recovery_point`; schedule backups as often as you can accept to lose");
            }
            super::dependencies::retention_and_destination(backup, &bpath, checker);
        }
        // One volume inside another: the inner mount point lives in the
        // outer volume, whose owner could swap it for a link (and every
        // target orders the two mounts differently).
        if let Some((other, _)) = mounts.iter().find(|(p, _)| {
            let (a, b) = (std::path::Path::new(p), std::path::Path::new(&volume.path));
            a != b && (a.starts_with(b) || b.starts_with(a))
        }) {
            let outer = mounts[other];
            checker
                .error(
                    codes::CONTRADICTION,
                    &vpath.key("path"),
                    format!("volumes `{outer}` and `{name}` are mounted one inside the other"),
                )
                .with_related(&path.key("volumes").key(outer).key("path"), Anchor::Value, "here")
                .with_help("mount each volume at its own path, such as `/srv/data` and `/srv/uploads`");
        }
        // `/srv/x`, `/srv/x/` and `/srv//x` are one mount point.
        let normal: std::path::PathBuf = std::path::Path::new(&volume.path).components().collect();
        if let Some(other) = mounts.iter().find(|(p, _)| std::path::Path::new(p) == normal).map(|(_, n)| *n) {
            checker
                .error(
                    codes::CONTRADICTION,
                    &vpath.key("path"),
                    format!("volumes `{other}` and `{name}` mount at the same path"),
                )
                .with_related(&path.key("volumes").key(other).key("path"), Anchor::Value, "also here");
        }
        mounts.entry(volume.path.as_str()).or_insert(name);
    }
}

const DANGEROUS_CAPABILITIES: &[&str] =
    &["ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "NET_RAW"];

fn security(service: &Service, path: &Path, checker: &mut Checker<'_>) {
    let spath = path.key("security");
    let sec = &service.security;
    if sec.run_as_user == Some(0) {
        if sec.run_as_non_root == Some(false) {
            checker.warning(codes::INSECURE_SETTING, &spath.key("run_as_user"), "the service runs as root").with_help(
                "a compromise of the service is then root in its container or host; run as an unprivileged user id",
            );
        } else {
            checker
                .error(codes::CONTRADICTION, &spath.key("run_as_user"), "`run_as_user: 0` is root, but `run_as_non_root` is on")
                .with_help("pick an unprivileged user id (such as 10001), or set `run_as_non_root: false` if root is truly needed");
        }
    }
    for (i, cap) in sec.add_capabilities.iter().enumerate() {
        let bare = cap.trim_start_matches("CAP_").to_uppercase();
        if DANGEROUS_CAPABILITIES.contains(&bare.as_str()) {
            checker
                .warning(
                    codes::INSECURE_SETTING,
                    &spath.key("add_capabilities").index(i),
                    format!("`{cap}` gives the service near-root power"),
                )
                .with_help("add only the narrow capability the service needs, such as `NET_BIND_SERVICE`");
        }
    }
}

/// On one host (systemd, the nginx target, Prometheus' static targets)
/// replica `i` of a service listens on its port plus `i`, up to the most
/// replicas it may run. Two services whose ranges overlap would answer on
/// each other's ports, so a clash is an error whatever the target.
fn replica_ranges(spec: &Spec, checker: &mut Checker<'_>) {
    struct Range<'a> {
        service: &'a str,
        port_name: &'a str,
        first: u64,
        last: u64,
    }
    let mut ranges: Vec<Range<'_>> = Vec::new();
    for (name, service) in &spec.services {
        // In 64 bits: any u32 count of replicas past any u16 port stays exact.
        let most = u64::from(service.autoscale.as_ref().map_or(service.replicas.unwrap_or(1), |a| a.max).max(1));
        for (port_name, &port) in &service.ports {
            let first = u64::from(port);
            ranges.push(Range { service: name, port_name, first, last: first + most - 1 });
        }
    }
    for (i, a) in ranges.iter().enumerate() {
        let path = |r: &Range<'_>| Path::root().key("services").key(r.service).key("ports").key(r.port_name);
        if a.last > u64::from(u16::MAX) {
            checker
                .error(
                    codes::OUT_OF_RANGE,
                    &path(a),
                    format!(
                        "replica {} of `{}` would listen on port {}, above 65535",
                        a.last - a.first,
                        a.service,
                        a.last
                    ),
                )
                .with_help("on one host replica i listens on the port plus i; choose a lower port");
        }
        for b in ranges.iter().skip(i + 1).filter(|b| b.service != a.service) {
            if a.first <= b.last && b.first <= a.last {
                checker
                    .error(
                        codes::PORT_CLASH,
                        &path(b),
                        format!(
                            "on one host, `{}` replicas listen on {}-{} and `{}` replicas on {}-{}: they overlap",
                            a.service, a.first, a.last, b.service, b.first, b.last
                        ),
                    )
                    .with_related(&path(a), Anchor::Value, "this range")
                    .with_help(format!(
                        "replica i listens on the port plus i (up to the most replicas); move `{}` to {} or above",
                        b.service,
                        a.last + 1
                    ));
            }
        }
    }
}
