//! `berth up` on one machine: every service's replicas as supervised
//! processes on loopback ports, gated by their readiness checks, behind the
//! berth edge. State, logs and the edge's certificate live under a state
//! directory next to the spec, so `berth status`, `logs` and `down` find them.

mod process;
mod readiness;
pub mod state;
mod supervisor;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use berth_plan::{EnvValue, Plan, ProbeCheck};
use tokio::sync::watch;

pub use process::{alive, terminate, terminate_group};
pub use state::{ReplicaState, StateFile};
use supervisor::{Replica, ReplicaSpec};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("service `{service}` replica {replica} did not become ready within {timeout:?}; its log is {log}")]
    NotReady { service: String, replica: u32, timeout: Duration, log: String },
    #[error("secret `{0}` has no value: set {1}")]
    MissingSecret(String, String),
    #[error(transparent)]
    Edge(#[from] berth_edge::EdgeError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let what = what.into();
    move |source| RuntimeError::Io { what, source }
}

/// Where a secret's value comes from when berth runs the stack itself.
pub type SecretLookup = dyn Fn(&berth_plan::SecretPlan) -> Option<String> + Send + Sync;

pub struct Options {
    /// The spec's directory: relative commands and workdirs start here.
    pub spec_dir: PathBuf,
    pub state_dir: PathBuf,
    pub secrets: Box<SecretLookup>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("spec_dir", &self.spec_dir)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// A running stack.
#[derive(Debug)]
pub struct Running {
    replicas: Vec<Replica>,
    edge: Option<EdgeHandle>,
    stop: watch::Sender<bool>,
    state_dir: PathBuf,
    pub edge_http: Option<SocketAddr>,
    pub edge_https: Option<SocketAddr>,
}

/// Starts the plan's services, waits until each replica is ready, then the edge.
pub async fn up(plan: &Plan, options: Options) -> Result<Running, RuntimeError> {
    if let Some(dep) = plan.dependencies.first() {
        return Err(RuntimeError::Unsupported(format!(
            "dependency `{}` ({}): berth up does not start PostgreSQL or Redis yet; run it yourself and remove it from the environment you start, or use `berth render compose`",
            dep.name,
            dep.kind.as_str()
        )));
    }
    let logs = options.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(format!("cannot create {}", logs.display())))?;
    let (stop, stop_rx) = watch::channel(false);
    let state = Arc::new(state::Shared::new(options.state_dir.join("state.json")));
    let mut replicas = Vec::new();
    let mut addresses: BTreeMap<(String, String), Vec<SocketAddr>> = BTreeMap::new();
    for service in &plan.services {
        let Some(run) = &service.run else {
            return Err(RuntimeError::Unsupported(format!(
                "service `{}` has no `run` command; berth up runs plain processes",
                service.name
            )));
        };
        let mut env = BTreeMap::new();
        for var in &service.env {
            match &var.value {
                EnvValue::Literal { value } => {
                    env.insert(var.name.clone(), value.clone());
                }
                EnvValue::Secret { secret } => {
                    let declared = plan.secrets.iter().find(|s| &s.name == secret);
                    let value = declared.and_then(|s| (options.secrets)(s));
                    let hint = declared
                        .map_or_else(String::new, |s| s.env.clone().or_else(|| s.file.clone()).unwrap_or_default());
                    env.insert(
                        var.name.clone(),
                        value.ok_or_else(|| RuntimeError::MissingSecret(secret.clone(), hint))?,
                    );
                }
                EnvValue::Dependency { .. } => {}
            }
        }
        let workdir = match &run.workdir {
            Some(w) => options.spec_dir.join(w),
            None => options.spec_dir.clone(),
        };
        for index in 0..service.replicas.initial().max(1) {
            let mut ports = BTreeMap::new();
            for port in &service.ports {
                let p = process::free_port().map_err(io("cannot find a free loopback port"))?;
                ports.insert(port.name.clone(), p);
                addresses
                    .entry((service.name.clone(), port.name.clone()))
                    .or_default()
                    .push(SocketAddr::from(([127, 0, 0, 1], p)));
            }
            let spec = ReplicaSpec {
                service: service.name.clone(),
                index,
                command: run.command.clone(),
                workdir: workdir.clone(),
                env: env.clone(),
                primary: service.primary_port.as_ref().and_then(|p| ports.get(&p.name).copied()),
                ports,
                log: logs.join(format!("{}-{index}.log", service.name)),
                stop_timeout: run.stop_timeout.0,
            };
            replicas.push(supervisor::start(spec, state.clone(), stop_rx.clone()));
        }
    }
    // Traffic only once every replica answers its readiness check.
    let mut not_ready = None;
    'wait: for service in &plan.services {
        let Some(ProbeCheck::Http { path, port }) = service.probes.readiness.as_ref().map(|p| &p.check) else {
            continue;
        };
        for replica in replicas.iter().filter(|r| r.service == service.name) {
            let Some(p) = replica.ports.get(&port.name) else { continue };
            let timeout = service.deploy.health_timeout.0;
            if !readiness::wait(SocketAddr::from(([127, 0, 0, 1], *p)), path, timeout).await {
                let log = replica.log.display().to_string();
                not_ready = Some(RuntimeError::NotReady {
                    service: service.name.clone(),
                    replica: replica.index,
                    timeout,
                    log,
                });
                break 'wait;
            }
        }
    }
    if let Some(error) = not_ready {
        Running { replicas, edge: None, stop, state_dir: options.state_dir.clone(), edge_http: None, edge_https: None }
            .down()
            .await;
        return Err(error);
    }
    let mut running =
        Running { replicas, edge: None, stop, state_dir: options.state_dir.clone(), edge_http: None, edge_https: None };
    if let Some(edge) = &plan.edge {
        let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let tls = match &edge.tls {
            Some(t) if t.mode == berth_spec::TlsMode::Files => {
                let (cert, key) = (t.cert.clone().unwrap_or_default(), t.key.clone().unwrap_or_default());
                Some(berth_edge::tls::from_files(&options.spec_dir.join(cert), &options.spec_dir.join(key))?)
            }
            Some(_) => {
                let pem = berth_edge::tls::self_signed(&edge.hosts)?;
                write_tls(&options.state_dir, &pem)?;
                Some(pem)
            }
            None => None,
        };
        let replicas_of = |service: &str, port: &str| {
            addresses.get(&(service.to_owned(), port.to_owned())).cloned().unwrap_or_default()
        };
        let secret_of = |name: &str| plan.secrets.iter().find(|s| s.name == name).and_then(|s| (options.secrets)(s));
        let inputs = Inputs {
            http: loopback(edge.listen.local_http),
            https: tls.is_some().then(|| loopback(edge.listen.local_https)),
            admin: Some(loopback(edge.listen.admin)),
            tls,
            replicas: &replicas_of,
            secret: &secret_of,
        };
        let config = match EdgeConfig::from_plan(plan, edge, &inputs) {
            Ok(c) => c,
            Err(e) => {
                running.down().await;
                return Err(e.into());
            }
        };
        match Edge::start(config, Some(options.state_dir.join("logs/edge-access.log"))).await {
            Ok(handle) => {
                running.edge_http = Some(handle.http);
                running.edge_https = handle.https;
                state.set_edge(handle.http, handle.https, handle.admin);
                running.edge = Some(handle);
            }
            Err(e) => {
                running.down().await;
                return Err(e.into());
            }
        }
    }
    state.set_supervisor(std::process::id(), &plan.project, plan.environment.clone());
    Ok(running)
}

fn write_tls(dir: &Path, pem: &berth_edge::tls::Pem) -> Result<(), RuntimeError> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(io(format!("cannot create {}", tls.display())))?;
    std::fs::write(tls.join("cert.pem"), &pem.cert).map_err(io("cannot write the edge certificate"))?;
    process::write_private(&tls.join("key.pem"), pem.key.as_bytes()).map_err(io("cannot write the edge key"))?;
    Ok(())
}

impl Running {
    /// Stops the edge (in-flight requests finish), then every replica
    /// (SIGTERM to its process group, SIGKILL after its stop timeout).
    pub async fn down(self) {
        if let Some(edge) = self.edge {
            edge.shutdown(Duration::from_secs(10)).await;
        }
        let _ = self.stop.send(true);
        for replica in self.replicas {
            let _ = replica.task.await;
        }
        let _ = std::fs::remove_file(self.state_dir.join("state.json"));
    }
}
