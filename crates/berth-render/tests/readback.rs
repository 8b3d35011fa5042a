//! Read-back: every example in every environment is rendered, the files are
//! parsed back as their platform reads them, and each number the plan holds
//! is compared with what the artifact says: replicas and autoscaling,
//! resources, probes, stop and drain times, the Ingress's timeouts, body
//! limits and rates. A number that differs is a failure unless the render
//! reported the difference (an R001/R003 diagnostic naming the service).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_plan::{Plan, ProbePlan, Replicas, ServicePlan};
use berth_render::{Output, Target};
use berth_spec::model::units::{ByteSize, Cpu, RateUnit};
use berth_test_support::example_environments;
use serde_json::Value;

/// Comparisons made, so a reader that silently finds nothing fails.
static CHECKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn checked() {
    CHECKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .filter(|d| d.lines().any(|l| !l.starts_with('#') && !l.trim().is_empty()))
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect()
}

fn file<'a>(out: &'a Output, path: &str) -> Option<&'a str> {
    out.files.iter().find(|f| f.path == path).map(|f| f.contents.as_str())
}

/// Whether the render said something about `service` and one of `words`.
fn reported(out: &Output, service: &str, words: &[&str]) -> bool {
    out.diagnostics
        .iter()
        .any(|d| d.message.contains(&format!("`{service}`")) && words.iter().any(|w| d.message.contains(w)))
}

fn cpu(v: &Value) -> u64 {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Cpu::parse(&text).unwrap_or_else(|e| panic!("cpu {text}: {e:?}")).0
}

fn bytes(v: &Value) -> u64 {
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    ByteSize::parse(&text).unwrap_or_else(|e| panic!("memory {text}: {e:?}")).0
}

fn secs(d: berth_spec::model::units::Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000)).unwrap()
}

/// A Kubernetes probe against the plan's.
fn probe(name: &str, kind: &str, k8s: &Value, plan: Option<&ProbePlan>, failures: &mut Vec<String>) {
    match (plan, k8s.is_null()) {
        (None, true) => {}
        (None, false) => failures.push(format!("{name}: a {kind} probe the plan does not have")),
        (Some(_), true) => failures.push(format!("{name}: the plan's {kind} probe is missing")),
        (Some(p), false) => {
            checked();
            let pairs = [
                ("periodSeconds", secs(p.interval)),
                ("timeoutSeconds", secs(p.timeout)),
                ("failureThreshold", u64::from(p.failure_threshold)),
            ];
            for (field, want) in pairs {
                if k8s[field].as_u64() != Some(want) {
                    failures.push(format!("{name}: {kind} {field} {} != plan {want}", k8s[field]));
                }
            }
        }
    }
}

fn kubernetes(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    for s in &plan.services {
        let Some(text) = file(out, &format!("kubernetes/service-{}.yaml", s.name)) else { continue };
        let objects = docs(text);
        let of = |kind: &str| objects.iter().find(|d| d["kind"] == kind);
        let Some(workload) = of("Deployment").or_else(|| of("StatefulSet")) else {
            failures.push(format!("{}: no workload", s.name));
            continue;
        };
        checked();
        network_policy(plan, s, &objects, out, failures);
        k8s_files(s, &objects, workload, failures);
        let spec = &workload["spec"];
        match &s.replicas {
            Replicas::Fixed { count } => {
                if spec["replicas"].as_u64() != Some(u64::from(*count)) {
                    failures.push(format!("{}: replicas {} != plan {count}", s.name, spec["replicas"]));
                }
            }
            Replicas::Autoscaled { min, max, scale_up, scale_down, .. } => {
                let hpa = of("HorizontalPodAutoscaler").map(|h| &h["spec"]);
                let (lo, hi) = hpa.map_or((None, None), |h| (h["minReplicas"].as_u64(), h["maxReplicas"].as_u64()));
                if lo != Some(u64::from(*min)) || hi != Some(u64::from(*max)) {
                    failures.push(format!("{}: HPA {lo:?}..{hi:?} != plan {min}..{max}", s.name));
                }
                for (key, pace) in [("scaleUp", scale_up), ("scaleDown", scale_down)] {
                    let Some(pace) = pace else { continue };
                    checked();
                    let rules = &hpa.map_or(&Value::Null, |h| &h["behavior"][key]);
                    let window = rules["stabilizationWindowSeconds"].as_u64();
                    if window != pace.stabilization.map(|d| d.ceil_secs()) {
                        failures.push(format!("{}: {key} window {window:?} != plan {:?}", s.name, pace.stabilization));
                    }
                    let policy = |kind: &str| {
                        rules["policies"]
                            .as_array()
                            .and_then(|p| p.iter().find(|x| x["type"] == kind))
                            .map(|x| (x["value"].as_u64().unwrap_or(0), x["periodSeconds"].as_u64().unwrap_or(0)))
                    };
                    let per = pace.per.map_or(60, |d| d.ceil_secs());
                    for (kind, want) in [("Pods", pace.max_pods), ("Percent", pace.max_percent)] {
                        if policy(kind) != want.map(|v| (u64::from(v), per)) {
                            failures.push(format!(
                                "{}: {key} {kind} policy {:?} != plan {want:?} per {per}",
                                s.name,
                                policy(kind)
                            ));
                        }
                    }
                }
            }
        }
        checked();
        let pod = &spec["template"]["spec"];
        let container = &pod["containers"][0];
        resources(s, &container["resources"], failures);
        if let Some(gpu) = s.resources.gpu {
            checked();
            let got = &container["resources"]["limits"][gpu.vendor.resource()];
            if got.as_str() != Some(gpu.count.to_string().as_str()) {
                failures.push(format!("{}: limits {} {got} != plan {}", s.name, gpu.vendor.resource(), gpu.count));
            }
        }
        if let Some(placement) = &s.placement {
            checked();
            let selector: std::collections::BTreeMap<String, String> =
                serde_json::from_value(pod["nodeSelector"].clone()).unwrap_or_default();
            if selector != placement.node_selector {
                failures.push(format!("{}: nodeSelector {selector:?} != plan {:?}", s.name, placement.node_selector));
            }
            let tolerations = pod["tolerations"].as_array().map_or(0, Vec::len);
            if tolerations != placement.tolerations.len() {
                failures.push(format!("{}: {tolerations} tolerations != plan {}", s.name, placement.tolerations.len()));
            }
        }
        // Each job: its timeout and retries, on its Job or CronJob.
        for job in &s.jobs {
            checked();
            let name = job.workload(&s.name);
            let gate = file(out, &format!("kubernetes/jobs/{name}.yaml")).map(docs).unwrap_or_default();
            let found = objects
                .iter()
                .chain(gate.iter())
                .find(|d| d["metadata"]["name"] == name.as_str() && (d["kind"] == "Job" || d["kind"] == "CronJob"));
            let job_spec = match found {
                Some(d) if d["kind"] == "CronJob" => &d["spec"]["jobTemplate"]["spec"],
                Some(d) => &d["spec"],
                None => {
                    failures.push(format!("{name}: no Job or CronJob"));
                    continue;
                }
            };
            if job_spec["activeDeadlineSeconds"].as_u64() != Some(job.timeout.ceil_secs())
                || job_spec["backoffLimit"].as_u64() != Some(u64::from(job.retries))
            {
                failures.push(format!(
                    "{name}: deadline/backoff {}/{} != plan",
                    job_spec["activeDeadlineSeconds"], job_spec["backoffLimit"]
                ));
            }
            let schedule = found.and_then(|d| d["spec"]["schedule"].as_str());
            if job.schedule().map(|c| c.0.as_str()).is_some_and(|c| Some(c) != schedule) {
                failures.push(format!("{name}: schedule {schedule:?} != plan {:?}", job.schedule()));
            }
        }
        probe(&s.name, "liveness", &container["livenessProbe"], s.probes.liveness.as_ref(), failures);
        probe(&s.name, "readiness", &container["readinessProbe"], s.probes.readiness.as_ref(), failures);
        probe(&s.name, "startup", &container["startupProbe"], s.probes.startup.as_ref(), failures);
        let drain = secs(s.deploy.drain_timeout);
        let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64();
        if drain > 0 && pre_stop != Some(drain) {
            failures.push(format!("{}: preStop sleep {pre_stop:?} != drain {drain}", s.name));
        }
        let stop = s.run.as_ref().map_or(30, |r| secs(r.stop_timeout));
        let grace = pod["terminationGracePeriodSeconds"].as_u64();
        let want = stop + secs(s.deploy.drain_timeout);
        if grace != Some(want) && !reported(out, &s.name, &["drain", "grace"]) {
            failures.push(format!("{}: terminationGracePeriodSeconds {grace:?} != drain + stop {want}", s.name));
        }
    }
}

/// The service's NetworkPolicy against the plan: every `egress` entry is a
/// rule to exactly its network (any address for a host name, which a policy
/// cannot match and the render reported) on exactly its ports; routed and
/// metrics ports admit only the namespaces `ingress_from`/`metrics_from` name.
fn network_policy(plan: &Plan, s: &ServicePlan, objects: &[Value], out: &Output, failures: &mut Vec<String>) {
    let Some(policy) = objects.iter().find(|d| d["kind"] == "NetworkPolicy") else {
        failures.push(format!("{}: no NetworkPolicy", s.name));
        return;
    };
    let rules = policy["spec"]["egress"].as_array().cloned().unwrap_or_default();
    let ports_of = |rule: &Value| -> Vec<u64> {
        rule["ports"].as_array().map(|p| p.iter().filter_map(|p| p["port"].as_u64()).collect()).unwrap_or_default()
    };
    let cidrs_of = |rule: &Value| -> Vec<String> {
        rule["to"]
            .as_array()
            .map(|t| t.iter().filter_map(|p| p["ipBlock"]["cidr"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    for e in &s.egress {
        checked();
        let want_ports: Vec<u64> = e.ports.iter().map(|p| u64::from(*p)).collect();
        let want_cidrs: Vec<String> = match &e.to {
            berth_plan::EgressTo::Network(cidr) => vec![cidr.clone()],
            berth_plan::EgressTo::Host(host) => {
                if !reported(out, &s.name, &[host.as_str()]) {
                    failures.push(format!("{}: egress to host {host} opened to every address, unreported", s.name));
                }
                vec!["0.0.0.0/0".to_owned(), "::/0".to_owned()]
            }
        };
        if !rules.iter().any(|r| ports_of(r) == want_ports && cidrs_of(r) == want_cidrs) {
            failures.push(format!("{}: no egress rule to {want_cidrs:?} on {want_ports:?}", s.name));
        }
    }
    // Nothing else leaves for an address block except the collector and the egress list.
    for rule in &rules {
        let cidrs = cidrs_of(rule);
        if cidrs.is_empty() {
            continue;
        }
        let listed =
            s.egress.iter().any(|e| e.ports.iter().map(|p| u64::from(*p)).collect::<Vec<_>>() == ports_of(rule));
        let collector = plan.tracing.as_ref().is_some_and(|t| ports_of(rule) == [u64::from(t.port())]);
        if !listed && !collector {
            failures.push(format!("{}: egress to {cidrs:?} on {:?} the spec does not list", s.name, ports_of(rule)));
        }
    }
    let k8s = plan.targets.kubernetes.as_ref();
    let allowed: Vec<(Vec<String>, u16)> = [
        (k8s.map(|k| k.ingress_from.clone()).unwrap_or_default(), s.primary_port.as_ref().map(|p| p.port)),
        (k8s.map(|k| k.metrics_from.clone()).unwrap_or_default(), s.metrics.as_ref().map(|m| m.port.port)),
    ]
    .into_iter()
    .filter_map(|(names, port)| Some((names, port?)))
    .collect();
    if allowed.iter().any(|(names, _)| names.is_empty()) {
        return;
    }
    let ingress = policy["spec"]["ingress"].as_array().cloned().unwrap_or_default();
    for rule in &ingress {
        for peer in rule["from"].as_array().cloned().unwrap_or_default() {
            let selector = &peer["namespaceSelector"];
            if !selector.is_object() {
                continue;
            }
            checked();
            let values: Vec<String> = selector["matchExpressions"][0]["values"]
                .as_array()
                .map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let ok = ports_of(rule)
                .iter()
                .all(|p| allowed.iter().any(|(names, port)| u64::from(*port) == *p && *names == values));
            if !ok {
                failures.push(format!("{}: ports {:?} admit namespaces {selector}", s.name, ports_of(rule)));
            }
        }
    }
}

fn resources(s: &ServicePlan, k8s: &Value, failures: &mut Vec<String>) {
    for (which, amounts) in [("requests", &s.resources.requests), ("limits", &s.resources.limits)] {
        if let Some(c) = amounts.cpu {
            let got = &k8s[which]["cpu"];
            if got.is_null() || cpu(got) != c.0 {
                failures.push(format!("{}: {which}.cpu {got} != plan {}m", s.name, c.0));
            }
        }
        if let Some(m) = amounts.memory {
            let got = &k8s[which]["memory"];
            if got.is_null() || bytes(got) != m.0 {
                failures.push(format!("{}: {which}.memory {got} != plan {}", s.name, m.0));
            }
        }
    }
}

/// ingress-nginx's annotations on each route's Ingress.
fn ingress(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    let (Some(edge), Some(text)) = (&plan.edge, file(out, "kubernetes/ingress.yaml")) else { return };
    let nginx_class = plan.targets.kubernetes.as_ref().and_then(|k| k.ingress_class.as_deref()) == Some("nginx");
    if !nginx_class {
        return;
    }
    let objects = docs(text);
    for route in &edge.routes {
        // Each route's Ingress is named after its place in the plan.
        let index = edge.routes.iter().position(|r| std::ptr::eq(r, route)).unwrap();
        let name = format!("{}-route-{index}", plan.project);
        let Some(ing) = objects.iter().find(|o| o["metadata"]["name"] == name.as_str()) else {
            failures.push(format!("route {}: no Ingress {name}", route.path));
            continue;
        };
        let a = |k: &str| {
            ing["metadata"]["annotations"][format!("nginx.ingress.kubernetes.io/{k}")].as_str().map(str::to_owned)
        };
        if a("proxy-read-timeout") != Some(secs(route.timeout).to_string()) {
            failures.push(format!(
                "route {}: proxy-read-timeout {:?} != {}",
                route.path,
                a("proxy-read-timeout"),
                secs(route.timeout)
            ));
        }
        let body = a("proxy-body-size").map(|v| ByteSize::parse(&v.replace('k', "Ki").replace('m', "Mi")).unwrap().0);
        if body != Some(route.body_limit.0) {
            failures.push(format!("route {}: proxy-body-size {body:?} != {}", route.path, route.body_limit.0));
        }
        if let Some(zone) = route.rate_limit.as_ref().and_then(|z| edge.rate_limits.iter().find(|r| &r.name == z)) {
            let (key, want) = match zone.rate.per {
                RateUnit::Second => ("limit-rps", zone.rate.requests),
                RateUnit::Minute => ("limit-rpm", zone.rate.requests),
                RateUnit::Hour => ("limit-rpm", zone.rate.requests / 60),
            };
            let exact = zone.rate.per != RateUnit::Hour || zone.rate.requests.is_multiple_of(60);
            if (a(key) != Some(want.to_string()) || !exact)
                && !out.diagnostics.iter().any(|d| d.message.contains(&zone.name))
            {
                failures.push(format!("route {}: {key} {:?} != {want}", route.path, a(key)));
            }
        }
    }
}

/// Each configuration file: its exact text in the service's ConfigMap,
/// mounted read-only at its path, and the template's digest over them.
fn k8s_files(s: &ServicePlan, objects: &[Value], workload: &Value, failures: &mut Vec<String>) {
    if s.files.is_empty() {
        return;
    }
    checked();
    let config =
        objects.iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == format!("{}-files", s.name));
    let template = &workload["spec"]["template"];
    let mounts = template["spec"]["containers"][0]["volumeMounts"].as_array().cloned().unwrap_or_default();
    for f in &s.files {
        if config.and_then(|c| c["data"][&f.key].as_str()) != f.content.as_deref() {
            failures.push(format!("{}: ConfigMap key {} is not the text of {}", s.name, f.key, f.source));
        }
        let mounted = mounts
            .iter()
            .any(|m| m["mountPath"] == f.path.as_str() && m["subPath"] == f.key.as_str() && m["readOnly"] == true);
        if !mounted {
            failures.push(format!("{}: {} is not mounted read-only at {}", s.name, f.key, f.path));
        }
    }
    let digest = template["metadata"]["annotations"]["berth.dev/files-sha256"].as_str();
    if digest != s.files_digest().as_deref() {
        failures.push(format!("{}: files digest {digest:?} != plan {:?}", s.name, s.files_digest()));
    }
}

fn compose(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    let Some(text) = file(out, "compose/compose.yaml") else { return };
    let doc: Value = serde_saphyr::from_str(text.split_once('\n').map_or(text, |_| text)).unwrap();
    for s in &plan.services {
        let svc = &doc["services"][&s.name];
        if svc.is_null() {
            continue;
        }
        checked();
        for f in &s.files {
            let config = svc["configs"].as_array().and_then(|c| c.iter().find(|c| c["target"] == f.path.as_str()));
            let source = config.map(|c| &doc["configs"][c["source"].as_str().unwrap_or_default()]["file"]);
            let text = source
                .and_then(Value::as_str)
                .and_then(|p| file(out, &format!("compose/{}", p.trim_start_matches("./"))));
            if text != f.content.as_deref() || config.is_some_and(|c| c["mode"] != 0o444) {
                failures.push(format!("compose {}: {} is not {} read-only", s.name, f.path, f.source));
            }
        }
        let want = u64::from(s.replicas.initial());
        if svc["deploy"]["replicas"].as_u64().unwrap_or(1) != want {
            failures.push(format!("compose {}: replicas {} != {want}", s.name, svc["deploy"]["replicas"]));
        }
        if let Some(c) = s.resources.limits.cpu {
            let got = svc["deploy"]["resources"]["limits"]["cpus"]
                .as_str()
                .map(|v| (v.parse::<f64>().unwrap() * 1000.0).round() as u64);
            if got != Some(c.0) {
                failures.push(format!("compose {}: cpus {got:?} != {}m", s.name, c.0));
            }
        }
        if let Some(m) = s.resources.limits.memory {
            let got = svc["deploy"]["resources"]["limits"]["memory"]
                .as_str()
                .map(|v| ByteSize::parse(&format!("{v}i").replace("Bi", "B")).map(|b| b.0).unwrap_or(0));
            if got != Some(m.0) {
                failures.push(format!("compose {}: memory {got:?} != {}", s.name, m.0));
            }
        }
        if let Some(gpu) = s.resources.gpu.filter(|g| g.vendor == berth_spec::GpuVendor::Nvidia) {
            checked();
            let got = svc["deploy"]["resources"]["reservations"]["devices"][0]["count"].as_u64();
            if got != Some(u64::from(gpu.count)) {
                failures.push(format!("compose {}: GPU count {got:?} != {}", s.name, gpu.count));
            }
        }
        if let Some(run) = &s.run {
            let want = secs(run.stop_timeout) + secs(s.deploy.drain_timeout);
            let got = svc["stop_grace_period"].as_str().map(str::to_owned);
            if got.as_deref().map(|g| berth_spec::model::units::Duration::parse(g).map(secs).unwrap_or(0)) != Some(want)
            {
                failures.push(format!("compose {}: stop_grace_period {got:?} != drain + stop {want}s", s.name));
            }
        }
    }
}

fn systemd(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    let Some(target) = out.files.iter().find(|f| f.path.starts_with("systemd/") && f.path.ends_with(".target")) else {
        return;
    };
    for s in &plan.services {
        let unit_path = format!("systemd/{}-{}@.service", plan.project, s.name);
        let Some(unit) = file(out, &unit_path) else { continue };
        let instances = target.contents.matches(&format!("{}-{}@", plan.project, s.name)).count() as u32;
        if instances != s.replicas.initial() {
            failures.push(format!("systemd {}: {instances} instances != {}", s.name, s.replicas.initial()));
        }
        checked();
        for f in &s.files {
            let bound = unit.lines().filter_map(|l| l.strip_prefix("BindReadOnlyPaths=")).find_map(|b| {
                let (from, to) = b.split_once(':')?;
                (to == f.path).then_some(from)
            });
            let shipped = bound
                .and_then(|from| from.strip_prefix(&format!("/etc/{}/", plan.project)))
                .and_then(|rest| file(out, &format!("systemd/{rest}")));
            if shipped != f.content.as_deref() {
                failures.push(format!("systemd {}: {} is not bound read-only from {}", s.name, f.path, f.source));
            }
        }
        let value = |key: &str| unit.lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned));
        if let Some(c) = s.resources.limits.cpu {
            let got = value("CPUQuota").map(|v| v.trim_end_matches('%').parse::<u64>().unwrap() * 10);
            if got != Some(c.0) {
                failures.push(format!("systemd {}: CPUQuota {got:?} != {}m", s.name, c.0));
            }
        }
        if let Some(m) = s.resources.limits.memory {
            let got = value("MemoryMax").map(|v| ByteSize::parse(&format!("{v}i")).unwrap().0);
            if got != Some(m.0) {
                failures.push(format!("systemd {}: MemoryMax {got:?} != {}", s.name, m.0));
            }
        }
        if let Some(run) = &s.run {
            let want = secs(run.stop_timeout) + secs(s.deploy.drain_timeout);
            let got = value("TimeoutStopSec").map(|v| v.trim_end_matches('s').parse::<u64>().unwrap());
            if got != Some(want) {
                failures.push(format!("systemd {}: TimeoutStopSec {got:?} != drain + stop {want}", s.name));
            }
        }
    }
}

/// The AWS stack: the ALB outlasts every route, TLS minimum, task sizes,
/// backup retention.
fn cloudformation(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    let Some(text) = file(out, "cloudformation/template.yaml") else { return };
    let doc: Value = serde_saphyr::from_str(text).unwrap();
    let resources = &doc["Resources"];
    if let Some(edge) = &plan.edge {
        checked();
        let attrs =
            resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"].as_array().cloned().unwrap_or_default();
        let idle = attrs
            .iter()
            .find(|a| a["Key"] == "idle_timeout.timeout_seconds")
            .and_then(|a| a["Value"].as_str())
            .map(|v| v.parse::<u64>().unwrap());
        let longest = edge.routes.iter().map(|r| secs(r.timeout)).chain([secs(edge.timeouts.idle)]).max().unwrap();
        if idle != Some(longest.min(4000))
            || (longest > 4000 && !out.diagnostics.iter().any(|d| d.message.contains("4000")))
        {
            failures.push(format!("cloudformation: ALB idle timeout {idle:?} != longest route {longest}"));
        }
        if plan.targets.cloudformation.as_ref().is_some_and(|c| c.gateway) {
            cloudformation_gateway(plan, edge, resources, failures);
        }
    }
    for d in plan.dependencies.iter().filter(|d| d.kind == berth_spec::DependencyKind::Redis) {
        // The eviction policy reaches ElastiCache (whose default evicts).
        let Some(policy) = d.redis_directives().into_iter().find(|(k, _)| k == "maxmemory-policy") else { continue };
        checked();
        let group = resources.as_object().unwrap().values().find(|r| {
            r["Type"] == "AWS::ElastiCache::ParameterGroup"
                && r["Properties"]["Description"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&format!(" {} settings", d.name)))
        });
        let got = group.map(|g| &g["Properties"]["Properties"]["maxmemory-policy"]);
        if got.and_then(Value::as_str) != Some(policy.1.as_str()) {
            failures.push(format!("cloudformation {}: maxmemory-policy {got:?} != {}", d.name, policy.1));
        }
    }
    // Read replicas: as many as the spec asks, each of the source's class.
    for d in &plan.dependencies {
        let Some(want) = d.managed.as_ref().and_then(|m| m.read_replicas) else { continue };
        checked();
        let all = resources.as_object().unwrap();
        let replicas: Vec<&Value> =
            all.values().filter(|r| r["Properties"].get("SourceDBInstanceIdentifier").is_some()).collect();
        if replicas.len() != want as usize {
            failures.push(format!("cloudformation {}: {} read replicas != plan {want}", d.name, replicas.len()));
        }
        for replica in replicas {
            let source = replica["Properties"]["SourceDBInstanceIdentifier"]["Ref"].as_str().unwrap_or_default();
            if all[source]["Properties"]["DBInstanceClass"] != replica["Properties"]["DBInstanceClass"] {
                failures.push(format!("cloudformation {}: a read replica's class differs from {source}'s", d.name));
            }
        }
    }
    for d in &plan.dependencies {
        let Some(job) = &d.backup else { continue };
        let id = resources.as_object().unwrap().iter().find(|(_, r)| {
            r["Type"] == "AWS::RDS::DBInstance"
                && r["Properties"]["DBName"]
                    .as_str()
                    .is_some_and(|n| n == d.database.clone().unwrap_or_default().replace('-', "_"))
        });
        let Some((_, rds)) = id else { continue };
        checked();
        let days = job.retain.daily.max(job.retain.weekly * 7).max(job.retain.monthly * 30).max(1);
        let got = rds["Properties"]["BackupRetentionPeriod"].as_u64();
        if got != Some(u64::from(days.min(35)))
            || (days > 35 && !out.diagnostics.iter().any(|x| x.message.contains(&format!("`{}`'s backups", d.name))))
        {
            failures.push(format!("cloudformation {}: BackupRetentionPeriod {got:?} != {days} days (max 35)", d.name));
        }
    }
}

/// A route's `split` as each proxy carries it: in the nginx target's
/// upstream, each service's servers' weights add up to its share of the
/// total (servers found by their replica ports); on the ALB, the rule's
/// forward weights are the shares; on ingress-nginx, the canary Ingress's
/// weight, unless the render named the split as not carried.
fn split(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    let Some(edge) = &plan.edge else { return };
    let service = |name: &str| plan.services.iter().find(|s| s.name == name).unwrap();
    for (i, route) in edge.routes.iter().enumerate().filter(|(_, r)| !r.split.is_empty()) {
        if let Some(conf) = file(out, "nginx/nginx.conf") {
            checked();
            let mut weights: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
            let block = conf
                .split("\n    upstream ")
                .find(|b| {
                    b.lines()
                        .next()
                        .is_some_and(|l| l.contains("_and_") && l.starts_with(&route.service.replace('-', "_")))
                })
                .and_then(|b| b.split("\n    }").next())
                .unwrap_or_else(|| panic!("no split upstream for `{}`:\n{conf}", route.path));
            for line in block.lines().map(str::trim).filter(|l| l.starts_with("server ") && !l.contains(" backup")) {
                let port: u16 = line.split_whitespace().nth(1).unwrap().rsplit(':').next().unwrap().parse().unwrap();
                let weight: u64 =
                    line.split("weight=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
                let owner = route
                    .shares()
                    .find(|share| {
                        let replicas = service(share.service).replicas.initial().max(1);
                        (0..replicas).any(|n| berth_plan::replica_port(share.port.port, n) == port)
                    })
                    .unwrap_or_else(|| panic!("nginx: server port {port} of `{}` is no service's", route.path));
                *weights.entry(owner.service).or_default() += weight;
            }
            let total: u64 = weights.values().sum();
            for share in route.shares() {
                let got = weights.get(share.service).copied().unwrap_or(0) * 100;
                if got != u64::from(share.weight) * total {
                    failures.push(format!(
                        "nginx `{}`: `{}` weighs {got}/{total}% != {}%",
                        route.path, share.service, share.weight
                    ));
                }
            }
        }
        if let Some(text) = file(out, "cloudformation/template.yaml")
            && !plan.targets.cloudformation.as_ref().is_some_and(|c| c.gateway)
        {
            checked();
            let doc: Value = serde_saphyr::from_str(text).unwrap();
            let groups =
                doc["Resources"][format!("Route{i}Rule")]["Properties"]["Actions"][0]["ForwardConfig"]["TargetGroups"]
                    .clone();
            let got: Vec<u64> =
                groups.as_array().into_iter().flatten().map(|g| g["Weight"].as_u64().unwrap()).collect();
            let want: Vec<u64> = route.shares().map(|s| u64::from(s.weight)).collect();
            if got != want {
                failures.push(format!("cloudformation `{}`: forward weights {got:?} != {want:?}", route.path));
            }
        }
        if let Some(text) = file(out, "kubernetes/ingress.yaml") {
            checked();
            let canary = docs(text)
                .into_iter()
                .find(|d| d["metadata"]["name"].as_str().is_some_and(|n| n.ends_with(&format!("-route-{i}-split"))));
            let weight = canary.as_ref().and_then(|c| {
                c["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"].as_str().map(str::to_owned)
            });
            let named = out.diagnostics.iter().any(|d| d.message.contains("split") && d.message.contains(&route.path));
            if !named && weight != route.split.first().map(|s| s.weight.to_string()) {
                failures.push(format!("ingress `{}`: canary weight {weight:?} != {:?}", route.path, route.split));
            }
        }
    }
}

/// With the gateway, nothing but berth's edge reaches a routed service: the
/// ALB forwards everything to the edge and has no rule of its own, every
/// routed service admits the edge's security group only and is found by
/// Cloud Map, and the edge believes the ALB's network alone.
fn cloudformation_gateway(plan: &Plan, edge: &berth_plan::EdgePlan, resources: &Value, failures: &mut Vec<String>) {
    checked();
    let all = resources.as_object().unwrap();
    if let Some((id, _)) = all.iter().find(|(_, r)| r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule") {
        failures.push(format!("cloudformation gateway: the ALB routes around the edge ({id})"));
    }
    for (id, listener) in all.iter().filter(|(_, r)| r["Type"] == "AWS::ElasticLoadBalancingV2::Listener") {
        let actions = &listener["Properties"]["DefaultActions"];
        let redirect = actions[0]["Type"] == "redirect" && listener["Properties"]["Protocol"] == "HTTP";
        if actions[0]["TargetGroupArn"]["Ref"] != "EdgeTargetGroup" && !(redirect && edge.redirect_https) {
            failures.push(format!("cloudformation gateway: {id} does not forward to the edge: {actions}"));
        }
    }
    let container = &resources["EdgeTaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    let command: Vec<&Value> = container["Command"].as_array().map(|c| c.iter().collect()).unwrap_or_default();
    let after = |flag: &str| command.iter().position(|a| *a == flag).and_then(|i| command.get(i + 1)).copied();
    if after("--trusted-proxy").map(|v| &v["Ref"]) != Some(&Value::from("VpcCidr")) {
        failures.push(format!("cloudformation gateway: the edge believes {:?}, not the VPC", after("--trusted-proxy")));
    }
    if edge.tls.is_some() != command.iter().any(|a| *a == "--tls-offloaded") {
        failures.push("cloudformation gateway: --tls-offloaded does not follow the spec's TLS".to_owned());
    }
    let spec = container["Environment"][0]["Value"].as_str().unwrap_or_default();
    if berth_spec::load(spec, plan.environment.as_deref()).spec.is_none() {
        failures.push("cloudformation gateway: BERTH_SPEC does not load".to_owned());
    }
    for route in &edge.routes {
        let id: String = route
            .service
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(|p| p[..1].to_uppercase() + &p[1..])
            .collect();
        let group = &resources[format!("{id}SecurityGroup")]["Properties"]["SecurityGroupIngress"];
        let sources: Vec<&Value> = group
            .as_array()
            .map(|g| g.iter().map(|i| &i["SourceSecurityGroupId"]["Fn::GetAtt"][0]).collect())
            .unwrap_or_default();
        if sources.is_empty() || sources.iter().any(|s| **s != "EdgeSecurityGroup") {
            failures
                .push(format!("cloudformation gateway: `{}` admits {sources:?}, not the edge alone", route.service));
        }
        let service = &resources[format!("{id}Service")]["Properties"];
        if service["ServiceRegistries"][0]["RegistryArn"]["Fn::GetAtt"][0] != format!("{id}Discovery").as_str()
            || !service["LoadBalancers"].is_null()
        {
            failures.push(format!("cloudformation gateway: `{}` is not found by Cloud Map alone", route.service));
        }
    }
}

/// ECS task sizes hold each service's own limits; Cloud Run's request
/// timeout is the longest route's.
fn ecs_and_cloud_run(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    for s in &plan.services {
        if let Some(text) = file(out, &format!("ecs/{}-task-definition.json", s.name)) {
            checked();
            let task: Value = serde_json::from_str(text).unwrap();
            let cpu: u64 = task["cpu"].as_str().unwrap().parse().unwrap();
            let memory: u64 = task["memory"].as_str().unwrap().parse().unwrap();
            if let Some(c) = s.resources.limits.cpu
                && cpu * 1000 / 1024 < c.0
            {
                failures.push(format!("ecs {}: {cpu} CPU units under the limit {}m", s.name, c.0));
            }
            if let Some(m) = s.resources.limits.memory
                && memory < m.mebibytes()
            {
                failures.push(format!("ecs {}: {memory} MiB under the limit {}", s.name, m));
            }
        }
        if let Some(text) = file(out, &format!("cloudrun/{}.yaml", s.name)) {
            let Some(edge) = &plan.edge else { continue };
            let Some(longest) = edge.routes.iter().filter(|r| r.service == s.name).map(|r| secs(r.timeout)).max()
            else {
                continue;
            };
            checked();
            let svc = docs(text).remove(0);
            let got = svc["spec"]["template"]["spec"]["timeoutSeconds"].as_u64();
            if got != Some(longest.min(3600)) {
                failures.push(format!("cloudrun {}: timeoutSeconds {got:?} != longest route {longest}", s.name));
            }
        }
    }
}

/// `key = value` lines of an ini file (sections ignored).
fn ini_values(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect()
}

/// A dependency's PgBouncer, in Kubernetes and compose: the pool the plan
/// sets in the `pgbouncer.ini` each ships, the server it points at, and
/// the user list its start-up script writes, run by a real `sh` with a
/// password that needs quoting.
fn pooler(plan: &Plan, out: &Output, failures: &mut Vec<String>) {
    for d in &plan.dependencies {
        let Some(p) = &d.pooler else { continue };
        let db = d.database.clone().unwrap_or_else(|| d.name.clone());
        let want = |ini: &str, place: &str, failures: &mut Vec<String>| {
            checked();
            let values = ini_values(ini);
            let expected = [
                ("pool_mode", p.mode.as_str().to_owned()),
                ("default_pool_size", p.pool_size.to_string()),
                ("max_db_connections", p.pool_size.to_string()),
                ("max_client_conn", p.max_clients.to_string()),
                ("listen_port", p.port.to_string()),
                (db.as_str(), format!("host={} port={} dbname={db}", d.name, d.port)),
            ];
            for (key, value) in expected {
                if values.get(key) != Some(&value) {
                    failures.push(format!("{place} {}: {key} = {:?}, plan says {value}", p.name, values.get(key)));
                }
            }
        };
        let password = "pa\"ss'w d";
        let userlist = berth_plan::userlist_line(d.user.as_deref().unwrap_or_default(), password);
        let run = |script: &str, env: &[(&str, &str)]| {
            let dir = berth_test_support::temp_dir();
            let script = script.replace("/tmp/userlist.txt", &dir.path().join("userlist.txt").display().to_string());
            let script = script.replace("/etc/pgbouncer-auth", &dir.path().display().to_string());
            #[allow(clippy::disallowed_methods, reason = "the test runs the rendered script in a real shell")]
            let status = std::process::Command::new("sh").arg("-c").arg(&script).envs(env.iter().copied()).status();
            assert!(status.is_ok_and(|s| s.success()), "{script}");
            std::fs::read_to_string(dir.path().join("userlist.txt")).unwrap_or_default()
        };
        if let Some(text) = file(out, &format!("kubernetes/dependency-{}.yaml", d.name)) {
            let objects = docs(text);
            let config = objects.iter().find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == p.name.as_str());
            want(config.and_then(|c| c["data"]["pgbouncer.ini"].as_str()).unwrap_or_default(), "kubernetes", failures);
            let deployment =
                objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == p.name.as_str());
            let init = deployment.map(|o| &o["spec"]["template"]["spec"]["initContainers"][0]);
            let script = init.and_then(|c| c["command"][2].as_str()).unwrap_or_default();
            let user = init
                .and_then(|c| c["env"].as_array())
                .and_then(|e| e.iter().find(|v| v["name"] == "PGUSER"))
                .and_then(|v| v["value"].as_str())
                .unwrap_or_default();
            if run(script, &[("PGUSER", user), ("PGPASSWORD", password)]) != userlist {
                failures.push(format!("kubernetes {}: the init container writes another user list", p.name));
            }
        }
        if let Some(text) = file(out, "compose/compose.yaml") {
            let doc: Value = serde_saphyr::from_str(text).unwrap();
            let source = doc["configs"][&p.name]["file"].as_str().unwrap_or_default();
            want(
                file(out, &format!("compose/{}", source.trim_start_matches("./"))).unwrap_or_default(),
                "compose",
                failures,
            );
            // compose turns `$$` into `$`; the secret file is read from /run/secrets.
            let dir = berth_test_support::temp_dir();
            let secret = d.password_secret.clone().unwrap_or_default();
            std::fs::write(dir.path().join(&secret), password).unwrap();
            let script = doc["services"][&p.name]["entrypoint"][2].as_str().unwrap_or_default().replace("$$", "$");
            let script = script.replace("/run/secrets", &dir.path().display().to_string());
            let script = script.split(" && exec ").next().unwrap_or_default().to_owned();
            if run(&script, &[]) != userlist {
                failures.push(format!("compose {}: the entrypoint writes another user list", p.name));
            }
        }
    }
}

#[test]
fn every_number_reaches_the_artifact_or_is_reported() {
    let mut failures = Vec::new();
    for (name, text, envs) in example_environments() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let out = berth_render::render(&plan, &text, Target::ALL);
            let mut here = Vec::new();
            kubernetes(&plan, &out, &mut here);
            ingress(&plan, &out, &mut here);
            compose(&plan, &out, &mut here);
            pooler(&plan, &out, &mut here);
            systemd(&plan, &out, &mut here);
            cloudformation(&plan, &out, &mut here);
            split(&plan, &out, &mut here);
            ecs_and_cloud_run(&plan, &out, &mut here);
            let env = env.as_deref().unwrap_or("base");
            failures.extend(here.into_iter().map(|f| format!("{name} ({env}): {f}")));
        }
    }
    assert!(failures.is_empty(), "numbers that changed on the way:\n{}", failures.join("\n"));
    let checked = CHECKED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(checked > 50, "the readers compared only {checked} things: did a file name change?");
}

/// Drops what Helm adds on top of the kubernetes target's objects (its own
/// labels, the release namespace), so what remains must be equal.
fn without_helm(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("namespace");
            for key in ["labels", "matchLabels", "selector", "podSelector"] {
                if let Some(Value::Object(labels)) = map.get_mut(key) {
                    labels.retain(|k, _| {
                        !k.starts_with("helm.sh/")
                            && k != "app.kubernetes.io/managed-by"
                            && k != "app.kubernetes.io/instance"
                    });
                }
            }
            for v in map.values_mut() {
                without_helm(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_helm),
        _ => {}
    }
}

/// The Helm chart, installed with its default values, is the kubernetes
/// target: `helm template` is run on every example's chart and each object
/// compared with the kubernetes target's, field by field.
#[test]
fn the_helm_chart_renders_the_kubernetes_objects() {
    let helm = berth_test_support::tool("helm");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, text, envs) in example_environments() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let out = berth_render::render(&plan, &text, &[Target::Kubernetes, Target::Helm]);
            if out.has_errors() {
                continue;
            }
            let label = format!("{name} ({})", env.as_deref().unwrap_or("base"));
            let dir = berth_test_support::temp_dir();
            for (relative, f) in out.files.iter().filter_map(|f| Some((f.path.strip_prefix("helm/")?, f))) {
                let path = dir.path().join(relative);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, &f.contents).unwrap();
            }
            let rendered = berth_test_support::run(&helm, &["template", "release", "chart/"], dir.path());
            assert!(rendered.success, "{label}: helm template failed:\n{}", rendered.stderr);
            let key = |v: &Value| {
                format!("{}/{}", v["kind"].as_str().unwrap_or(""), v["metadata"]["name"].as_str().unwrap_or(""))
            };
            let mut from_helm: std::collections::BTreeMap<String, Value> =
                docs(&rendered.stdout).into_iter().filter(|v| !v.is_null()).map(|v| (key(&v), v)).collect();
            let kube: Vec<Value> = out
                .files
                .iter()
                .filter(|f| f.path.starts_with("kubernetes/") && f.path.ends_with(".yaml"))
                .filter(|f| !f.path.ends_with("kustomization.yaml"))
                .flat_map(|f| docs(&f.contents))
                // The chart installs into the release's namespace, which helm makes.
                .filter(|v| v.get("kind").is_some() && v["kind"] != "Namespace")
                .collect();
            for mut object in kube {
                let id = key(&object);
                let Some(mut chart) = from_helm.remove(&id) else {
                    failures.push(format!("{label}: {id} is not in the chart"));
                    continue;
                };
                compared += 1;
                without_helm(&mut object);
                without_helm(&mut chart);
                if object != chart {
                    failures.push(format!(
                        "{label}: {id} differs\n  kubernetes: {}\n  helm:       {}",
                        serde_json::to_string(&object).unwrap(),
                        serde_json::to_string(&chart).unwrap()
                    ));
                }
            }
            for extra in from_helm.keys() {
                failures.push(format!("{label}: the chart adds {extra}"));
            }
        }
    }
    assert!(failures.is_empty(), "the chart is not the kubernetes target:\n{}", failures.join("\n"));
    assert!(compared > 100, "only {compared} objects compared: did a path change?");
}
