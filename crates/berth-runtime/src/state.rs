//! `state.json` in the state directory: what `berth up` started, for
//! `berth status`, `logs` and `down` in other processes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::process::Identity;

/// The plan `berth up` started from, next to `state.json`: `berth doctor`
/// compares it with the spec as it is now.
pub const PLAN_FILE: &str = "plan.json";

/// Records the plan the stack runs, written before anything starts.
pub fn write_plan(state_dir: &Path, plan: &berth_plan::Plan) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(plan).map_err(std::io::Error::other)?;
    std::fs::write(state_dir.join(PLAN_FILE), json)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateFile {
    pub project: String,
    pub environment: Option<String>,
    /// The `berth up` process; `berth down` signals it.
    pub supervisor: u32,
    /// The same, with what makes a PID unambiguous (boot, start time).
    #[serde(default)]
    pub supervisor_identity: Option<Identity>,
    pub edge_http: Option<SocketAddr>,
    pub edge_https: Option<SocketAddr>,
    pub edge_admin: Option<SocketAddr>,
    pub replicas: Vec<ReplicaState>,
    /// Every replica passed its readiness check and the edge serves.
    #[serde(default)]
    pub ready: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaState {
    pub service: String,
    pub replica: u32,
    pub pid: Option<u32>,
    pub ports: BTreeMap<String, u16>,
    pub restarts: u32,
    pub log: PathBuf,
    /// The version a deploy gave it (`BERTH_VERSION`), if any.
    #[serde(default)]
    pub version: Option<String>,
    /// The process (and group leader) as started.
    #[serde(default)]
    pub identity: Option<Identity>,
}

impl StateFile {
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Whether the `berth up` that wrote this file still runs (the same
    /// process, not another that got its PID).
    pub fn supervisor_running(&self) -> bool {
        match &self.supervisor_identity {
            Some(identity) => identity.is_running(),
            None => crate::process::alive(self.supervisor) && self.supervisor != 0,
        }
    }

    /// Processes recorded here that still run as recorded.
    pub fn leftovers(&self) -> Vec<Identity> {
        self.replicas.iter().filter_map(|r| r.identity.clone()).filter(Identity::is_running).collect()
    }
}

/// What a state directory says about the stack.
#[derive(Debug)]
pub enum Found {
    Nothing,
    Running(StateFile),
    /// `berth up` died (killed, crashed, the machine rebooted); these of its
    /// processes still run.
    Orphaned {
        state: StateFile,
        leftovers: Vec<Identity>,
    },
}

pub fn inspect(state_dir: &Path) -> Found {
    let Some(state) = StateFile::read(&state_dir.join("state.json")) else { return Found::Nothing };
    if state.supervisor_running() {
        return Found::Running(state);
    }
    let leftovers = state.leftovers();
    Found::Orphaned { state, leftovers }
}

/// Stops what a dead `berth up` left running (verified by identity, so a
/// reused PID is never signalled) and clears its state. Returns what it stopped.
pub async fn reap(state_dir: &Path, grace: std::time::Duration) -> Vec<Identity> {
    let stopped = match inspect(state_dir) {
        Found::Orphaned { leftovers, .. } => crate::process::stop_leftovers(&leftovers, grace).await,
        Found::Nothing | Found::Running(_) => return Vec::new(),
    };
    let _ = std::fs::remove_file(state_dir.join("state.json"));
    let _ = std::fs::remove_file(state_dir.join("control.sock"));
    stopped
}

/// The state, updated by every supervisor task and rewritten on each change.
#[derive(Debug)]
pub struct Shared {
    path: PathBuf,
    state: Mutex<StateFile>,
}

impl Shared {
    pub fn new(path: PathBuf) -> Self {
        Self { path, state: Mutex::new(StateFile::default()) }
    }

    fn update(&self, f: impl FnOnce(&mut StateFile)) {
        let Ok(mut state) = self.state.lock() else { return };
        f(&mut state);
        if let Ok(json) = serde_json::to_string_pretty(&*state) {
            // Write then rename, so readers never see half a file.
            let tmp = self.path.with_extension("json.tmp");
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(&tmp, &self.path);
            }
        }
    }

    pub fn set_replica(&self, replica: ReplicaState) {
        self.update(|s| {
            match s.replicas.iter_mut().find(|r| r.service == replica.service && r.replica == replica.replica) {
                Some(existing) => *existing = replica,
                None => {
                    s.replicas.push(replica);
                    s.replicas.sort_by(|a, b| (&a.service, a.replica).cmp(&(&b.service, b.replica)));
                }
            }
        });
    }

    pub fn remove_replica(&self, service: &str, replica: u32) {
        self.update(|s| s.replicas.retain(|r| !(r.service == service && r.replica == replica)));
    }

    pub fn set_edge(&self, http: SocketAddr, https: Option<SocketAddr>, admin: Option<SocketAddr>) {
        self.update(|s| {
            s.edge_http = Some(http);
            s.edge_https = https;
            s.edge_admin = admin;
        });
    }

    pub fn set_ready(&self) {
        self.update(|s| s.ready = true);
    }

    pub fn set_supervisor(&self, pid: u32, project: &str, environment: Option<String>) {
        self.update(|s| {
            s.supervisor = pid;
            s.supervisor_identity = Identity::of(pid);
            s.project = project.to_owned();
            s.environment = environment;
        });
    }
}
