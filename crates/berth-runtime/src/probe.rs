//! Running a service's probes against one replica: HTTP (any 2xx or 3xx,
//! [`berth_plan::http_probe_passes`]), TCP (the port opens) and exec (the
//! command exits 0 within the timeout, in the replica's environment).
//! `berth up` gates traffic on readiness, restarts on liveness, and
//! `berth status` reports readiness, all through this one module.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use berth_plan::{ProbeCheck, ProbePlan};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::process;
use crate::volumes::Launch;

/// A probe aimed at one replica.
#[derive(Debug, Clone)]
pub enum Target {
    Http {
        addr: SocketAddr,
        path: String,
    },
    Tcp {
        addr: SocketAddr,
    },
    /// Run as the replica's user in the replica's mounts.
    Exec {
        command: Vec<String>,
        workdir: PathBuf,
        env: Vec<(String, String)>,
        launch: Launch,
    },
}

impl Target {
    /// The probe against a replica listening on `ports` (by name); `None`
    /// when the port it names is not one the replica has.
    pub fn resolve(
        check: &ProbeCheck,
        ports: &BTreeMap<String, u16>,
        workdir: &std::path::Path,
        env: &[(String, String)],
        launch: &Launch,
    ) -> Option<Self> {
        let loopback = |name: &str| ports.get(name).map(|p| SocketAddr::from(([127, 0, 0, 1], *p)));
        Some(match check {
            ProbeCheck::Http { path, port } => Self::Http { addr: loopback(&port.name)?, path: path.clone() },
            ProbeCheck::Tcp { port } => Self::Tcp { addr: loopback(&port.name)? },
            ProbeCheck::Exec { command } => Self::Exec {
                command: command.clone(),
                workdir: workdir.to_path_buf(),
                env: env.to_vec(),
                launch: launch.clone(),
            },
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Http { addr, path } => format!("GET http://{addr}{path}"),
            Self::Tcp { addr } => format!("TCP {addr}"),
            Self::Exec { command, .. } => format!("exec {}", command.join(" ")),
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// The `X-Version` an HTTP probe's answer carried.
    pub version: Option<String>,
}

/// Runs the probe once, within `timeout`.
pub async fn check(target: &Target, timeout: Duration) -> Outcome {
    let failed = Outcome { passed: false, version: None };
    match target {
        Target::Http { addr, path } => {
            let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            let Ok(req) =
                Request::get(format!("http://{addr}{path}")).header("user-agent", "berth-probe").body(Empty::new())
            else {
                return failed;
            };
            match tokio::time::timeout(timeout, client.request(req)).await {
                Ok(Ok(r)) => Outcome {
                    passed: berth_plan::http_probe_passes(r.status().as_u16()),
                    version: r.headers().get("x-version").and_then(|v| v.to_str().ok()).map(str::to_owned),
                },
                _ => failed,
            }
        }
        Target::Tcp { addr } => Outcome {
            passed: matches!(tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_))),
            version: None,
        },
        Target::Exec { command, workdir, env, launch } => {
            // A probe that cannot even be started fails.
            let passed = match launch.command(command.clone()) {
                Ok(spawn) => {
                    let env: Vec<(String, String)> = env.iter().cloned().chain(spawn.env).collect();
                    process::run_probe(&spawn.argv, workdir, &env, timeout, spawn.user).await
                }
                Err(_) => false,
            };
            Outcome { passed, version: None }
        }
    }
}

/// Waits until the probe passes `success_threshold` times in a row, or
/// `budget` runs out.
pub async fn wait_until_passing(target: &Target, plan: &ProbePlan, budget: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + budget;
    let mut passes = 0;
    loop {
        if check(target, plan.timeout.0).await.passed {
            passes += 1;
            if passes >= plan.success_threshold.max(1) {
                return true;
            }
        } else {
            passes = 0;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        // Gating a deploy: poll faster than the probe's own interval.
        tokio::time::sleep(plan.interval.0.min(Duration::from_millis(250))).await;
    }
}

/// Watches a replica's startup and liveness probes, as Kubernetes does:
/// liveness counts only once the startup probe passed. Returns why the
/// replica must be restarted; never returns while it is healthy.
pub async fn until_unhealthy(startup: Option<(Target, ProbePlan)>, liveness: Option<(Target, ProbePlan)>) -> String {
    if let Some((target, plan)) = &startup {
        tokio::time::sleep(plan.initial_delay.0).await;
        let mut fails = 0;
        while !check(target, plan.timeout.0).await.passed {
            fails += 1;
            if fails >= plan.failure_threshold.max(1) {
                return format!("startup probe ({}) failed {fails} times", target.describe());
            }
            tokio::time::sleep(plan.interval.0).await;
        }
    }
    let Some((target, plan)) = liveness else { return std::future::pending().await };
    tokio::time::sleep(plan.initial_delay.0).await;
    let mut fails = 0;
    loop {
        tokio::time::sleep(plan.interval.0).await;
        if check(&target, plan.timeout.0).await.passed {
            fails = 0;
        } else {
            fails += 1;
            if fails >= plan.failure_threshold.max(1) {
                return format!("liveness probe ({}) failed {fails} times in a row", target.describe());
            }
        }
    }
}
