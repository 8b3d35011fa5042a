//! Every service: replicas running against the spec, and each replica's
//! health (liveness) and readiness checks, asked the way the platform asks.

use std::time::Duration;

use berth_plan::{PortPlan, ProbeCheck, ProbePlan, ServicePlan};
use berth_runtime::ReplicaState;

use super::judged;
use crate::report::{Check, Section, Status};
use crate::{Inputs, Running, http, judge};

pub async fn check(inputs: &Inputs, running: &Running) -> Vec<Check> {
    let mut out = Vec::new();
    for service in &inputs.plan.services {
        if let Some(url) = inputs.endpoints.get(&service.name) {
            let authority = authority(url);
            out.push(probe(service, &service.name, |_| Some(authority.clone())).await);
            continue;
        }
        let Some(state) = &running.state else {
            out.push(
                Check::new(
                    Section::Services,
                    &service.name,
                    Status::Fail,
                    format!("not running: no live `berth up` for this spec in {}", inputs.state_dir.display()),
                )
                .hint(format!(
                    "start it with `berth up -d`, or check a deployment elsewhere with --endpoint {}=http://HOST:PORT",
                    service.name
                )),
            );
            continue;
        };
        let replicas: Vec<&ReplicaState> = state.replicas.iter().filter(|r| r.service == service.name).collect();
        let alive: Vec<&ReplicaState> =
            replicas.iter().copied().filter(|r| r.pid.is_some_and(berth_runtime::alive)).collect();
        out.push(judged(
            Section::Services,
            &service.name,
            judge::replicas(&service.replicas, u32::try_from(alive.len()).unwrap_or(u32::MAX)),
        ));
        let probes = alive.iter().map(|r| {
            let subject = format!("{}#{}", service.name, r.replica);
            async move {
                let mut check =
                    probe(service, &subject, |port| r.ports.get(&port.name).map(|p| format!("127.0.0.1:{p}"))).await;
                if r.restarts > 0 && check.status <= Status::Warn {
                    check.status = Status::Warn;
                    check.message.push_str(&format!("; restarted {} times", r.restarts));
                    check.hint = Some(format!("see why in {}", r.log.display()));
                }
                check
            }
        });
        out.extend(futures_util::future::join_all(probes).await);
        for r in replicas.iter().filter(|r| !r.pid.is_some_and(berth_runtime::alive)) {
            out.push(
                Check::new(
                    Section::Services,
                    format!("{}#{}", service.name, r.replica),
                    Status::Fail,
                    format!("not running (restarted {} times)", r.restarts),
                )
                .hint(format!("see why in {}", r.log.display())),
            );
        }
    }
    out
}

fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    format!("{host}:{}", url.port_or_known_default().unwrap_or(80))
}

/// One replica's liveness and readiness checks in one line.
async fn probe(service: &ServicePlan, subject: &str, address: impl Fn(&PortPlan) -> Option<String>) -> Check {
    let mut parts = Vec::new();
    let mut status = Status::Skip;
    let mut hint = None;
    let probes = &service.probes;
    let mut asked: Vec<(&str, &ProbePlan)> = Vec::new();
    if let Some(p) = &probes.liveness {
        asked.push(("health", p));
    }
    if let Some(p) = probes.readiness.as_ref().filter(|r| Some(*r) != probes.liveness.as_ref()) {
        asked.push(("ready", p));
    }
    if asked.is_empty() {
        // No check declared: at least the primary port must accept connections.
        let Some(port) = &service.primary_port else {
            return Check::new(Section::Services, subject, Status::Skip, "no health check and no port declared");
        };
        let Some(addr) = address(port) else {
            return Check::new(
                Section::Services,
                subject,
                Status::Fail,
                format!("no address for port `{}`", port.name),
            );
        };
        return match connect(&addr, Duration::from_secs(3)).await {
            Ok(()) => Check::new(
                Section::Services,
                subject,
                Status::Ok,
                format!("{addr} accepts connections (no health check declared)"),
            ),
            Err(e) => Check::new(Section::Services, subject, Status::Fail, format!("{addr}: {e}")),
        };
    }
    for (label, plan) in asked {
        let timeout = plan.timeout.0.max(Duration::from_secs(1));
        let (part, outcome) = match &plan.check {
            ProbeCheck::Http { path, port } => match address(port) {
                None => (format!("{label}: no address for port `{}`", port.name), Status::Fail),
                Some(addr) => match http::get(&addr, path, timeout).await {
                    Ok(a) if berth_plan::http_probe_passes(a.status) => {
                        (format!("{label} GET {path} {} in {} ms", a.status, a.millis), Status::Ok)
                    }
                    Ok(a) => (format!("{label} GET {path} answered {}", a.status), Status::Fail),
                    Err(e) => (format!("{label} GET http://{addr}{path}: {e}"), Status::Fail),
                },
            },
            ProbeCheck::Tcp { port } => match address(port) {
                None => (format!("{label}: no address for port `{}`", port.name), Status::Fail),
                Some(addr) => match connect(&addr, timeout).await {
                    Ok(()) => (format!("{label} tcp {addr} open"), Status::Ok),
                    Err(e) => (format!("{label} tcp {addr}: {e}"), Status::Fail),
                },
            },
            ProbeCheck::Exec { command } => {
                (format!("{label}: exec `{}` runs inside the workload; not run here", command.join(" ")), Status::Skip)
            }
        };
        if outcome == Status::Fail && hint.is_none() {
            hint = Some(format!("the platform would take it out of traffic; see `berth logs {}`", service.name));
        }
        status = status.max(outcome);
        parts.push(part);
    }
    let mut check = Check::new(Section::Services, subject, status, parts.join("; "));
    check.hint = hint;
    check
}

/// A TCP connection within `timeout`; the error reads like `connection refused`.
async fn connect(addr: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string().to_lowercase()),
        Err(_) => Err(format!("no connection within {} s", timeout.as_secs())),
    }
}
