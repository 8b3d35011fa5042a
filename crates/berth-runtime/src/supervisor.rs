//! One task per replica: start it, restart it with backoff when it exits
//! or when its liveness (or startup) probe fails its threshold, stop it
//! gracefully (SIGTERM to its group, SIGKILL after the timeout).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::{ReplicaState, Shared};
use crate::volumes::Launch;
use crate::{probe, process};

#[derive(Debug, Clone)]
pub struct ReplicaSpec {
    pub service: String,
    pub index: u32,
    pub command: Vec<String>,
    pub workdir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub ports: BTreeMap<String, u16>,
    pub primary: Option<u16>,
    pub log: PathBuf,
    pub stop_timeout: Duration,
    pub version: Option<String>,
    pub run_as: Option<process::RunAs>,
    /// Probes that restart the replica when they fail (startup gates liveness).
    pub startup: Option<berth_plan::ProbePlan>,
    pub liveness: Option<berth_plan::ProbePlan>,
    /// The service's volumes and the state directory they live in: bound
    /// at their paths in the replica's own mount namespace at each start.
    pub volumes: Vec<berth_plan::VolumePlan>,
    pub state_dir: PathBuf,
}

#[derive(Debug)]
pub struct Replica {
    pub service: String,
    pub index: u32,
    pub version: Option<String>,
    pub ports: BTreeMap<String, u16>,
    /// Its environment, working directory, user and mounts, for exec probes.
    pub env: Vec<(String, String)>,
    pub workdir: PathBuf,
    pub launch: Launch,
    pub log: PathBuf,
    pub task: JoinHandle<()>,
    /// Stops this replica alone (deploys retire replicas one by one).
    pub stop: watch::Sender<bool>,
}

impl Replica {
    /// Stops the replica gracefully and waits for its task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A replica that stayed up this long starts its backoff afresh.
const STABLE: Duration = Duration::from_secs(60);

fn environment(spec: &ReplicaSpec) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(version) = &spec.version {
        env.push(("BERTH_VERSION".to_owned(), version.clone()));
    }
    if let Some(p) = spec.primary {
        env.push(("PORT".to_owned(), p.to_string()));
    }
    for (name, port) in &spec.ports {
        env.push((format!("PORT_{}", name.to_uppercase().replace('-', "_")), port.to_string()));
    }
    env.push(("BERTH_REPLICA".to_owned(), spec.index.to_string()));
    env
}

/// Expands `${PORT}` and `${PORT_<NAME>}` in the command.
fn command(spec: &ReplicaSpec, env: &[(String, String)]) -> Vec<String> {
    spec.command
        .iter()
        .map(|arg| {
            env.iter()
                .filter(|(k, _)| k.starts_with("PORT"))
                .fold(arg.clone(), |acc, (k, v)| acc.replace(&format!("${{{k}}}"), v))
        })
        .collect()
}

pub fn start(spec: ReplicaSpec, state: Arc<Shared>) -> Replica {
    let (stop, stop_rx) = watch::channel(false);
    Replica {
        service: spec.service.clone(),
        index: spec.index,
        version: spec.version.clone(),
        ports: spec.ports.clone(),
        env: environment(&spec),
        workdir: spec.workdir.clone(),
        launch: Launch {
            user: spec.run_as,
            mounts: crate::volumes::mounts(&spec.state_dir, &spec.service, &spec.index.to_string(), &spec.volumes),
        },
        log: spec.log.clone(),
        task: tokio::spawn(async move {
            let (dir, service, index) = (spec.state_dir.clone(), spec.service.clone(), spec.index);
            let scratch = !spec.volumes.is_empty();
            run(spec, state, stop_rx).await;
            if scratch {
                crate::volumes::remove_scratch(&dir, &service, &index.to_string());
            }
        }),
        stop,
    }
}

async fn run(spec: ReplicaSpec, state: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let env = environment(&spec);
    let argv = command(&spec, &env);
    let instance = spec.index.to_string();
    let launch = Launch {
        user: spec.run_as,
        mounts: crate::volumes::mounts(&spec.state_dir, &spec.service, &instance, &spec.volumes),
    };
    let target = |plan: &Option<berth_plan::ProbePlan>| {
        plan.as_ref().and_then(|p| {
            probe::Target::resolve(&p.check, &spec.ports, &spec.workdir, &env, &launch).map(|t| (t, p.clone()))
        })
    };
    let (startup, liveness) = (target(&spec.startup), target(&spec.liveness));
    let mut restarts = 0u32;
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        // Scratch volumes are emptied on every start, restarts included.
        let child = crate::volumes::prepare(&spec.state_dir, &spec.service, &instance, &spec.volumes, spec.run_as)
            .map_err(|e| std::io::Error::other(format!("cannot prepare the volumes: {e}")))
            .and_then(|_| launch.command(argv.clone()))
            .and_then(|spawn| {
                let env: Vec<(String, String)> = env.iter().cloned().chain(spawn.env).collect();
                process::spawn(&spawn.argv, &spec.workdir, &env, &spec.log, spawn.user)
            });
        let mut child = match child {
            Ok(child) => child,
            Err(error) => {
                append(&spec.log, &format!("berth: {error}\n"));
                if wait_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let pid = child.id();
        state.set_replica(ReplicaState {
            service: spec.service.clone(),
            replica: spec.index,
            pid,
            ports: spec.ports.clone(),
            restarts,
            log: spec.log.clone(),
            version: spec.version.clone(),
            identity: pid.and_then(process::Identity::of),
        });
        tokio::select! {
            status = child.wait() => {
                let how = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                append(&spec.log, &format!("berth: replica exited ({how}); restarting in {}s\n", backoff.as_secs()));
                restarts += 1;
                if started.elapsed() >= STABLE {
                    backoff = Duration::from_secs(1);
                }
                if wait_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            why = probe::until_unhealthy(startup.clone(), liveness.clone()) => {
                append(&spec.log, &format!("berth: {why}; restarting the replica\n"));
                stop_child(&mut child, pid, spec.stop_timeout).await;
                restarts += 1;
                if wait_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            _ = stop.changed() => {
                stop_child(&mut child, pid, spec.stop_timeout).await;
                return;
            }
        }
    }
}

/// SIGTERM to the replica's group (with SIGCONT, so a stopped process can
/// act on it), SIGKILL after `timeout`.
async fn stop_child(child: &mut tokio::process::Child, pid: Option<u32>, timeout: Duration) {
    let Some(pid) = pid else { return };
    process::terminate_group(pid, false);
    process::continue_group(pid);
    if tokio::time::timeout(timeout, child.wait()).await.is_err() {
        process::terminate_group(pid, true);
        let _ = child.wait().await;
    }
}

/// Sleeps for `delay`; true when a stop arrived meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Removes a replica that was stopped for good from the state file.
pub fn forget(state: &Shared, replica: &Replica) {
    state.remove_replica(&replica.service, replica.index);
}

fn append(log: &std::path::Path, line: &str) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = f.write_all(line.as_bytes());
    }
}
