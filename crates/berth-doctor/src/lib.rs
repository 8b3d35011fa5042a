//! `berth doctor`: checks a running deployment against its spec and says
//! what is wrong, section by section: services (health, readiness,
//! replicas), the edge, TLS certificates, dependencies (reachable,
//! version, settings), backups and WAL against the schedule and recovery
//! point, disk space, secret files, and drift from the spec.
//!
//! An I/O edge: it talks to servers, reads files and the clock. The
//! judgments themselves are pure ([`judge`]) and tested without any of it.
//! A check that cannot run is a failed or skipped check in the report,
//! never an error: the report is what the doctor returns.

mod disk;
pub mod format;
mod http;
pub mod judge;
pub mod report;
mod sections;
mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_backup::{Destination, Source};
use berth_plan::Plan;
use berth_runtime::StateFile;
use jiff::Timestamp;

pub use report::{Check, Report, Section, Status};

/// Everything the doctor is told; what it finds out itself (the running
/// stack's state, servers' answers, files) it reads on its own.
#[derive(Debug)]
pub struct Inputs {
    pub plan: Plan,
    /// Relative paths in the spec (certificate files, backup directories) start here.
    pub spec_dir: PathBuf,
    /// `.berth/<environment>`: where `berth up` keeps state, data and logs.
    pub state_dir: PathBuf,
    /// `--endpoint SERVICE=URL`: check these services there (a port-forward,
    /// a compose port) instead of in a running `berth up`.
    pub endpoints: BTreeMap<String, url::Url>,
    /// Each dependency's server, or why there is none to ask.
    pub servers: BTreeMap<String, Result<Source, String>>,
    /// Each backup destination, or why it cannot be opened.
    pub destinations: BTreeMap<String, Result<Destination, String>>,
    /// Secrets read from an environment variable: whether it is set here.
    pub secret_env: BTreeMap<String, bool>,
    pub now: Timestamp,
}

/// What `berth up` left for other processes: its state, if its supervisor
/// is alive, and the plan it started from.
#[derive(Debug, Default)]
pub(crate) struct Running {
    pub state: Option<StateFile>,
    pub started_from: Option<serde_json::Value>,
}

impl Running {
    fn read(inputs: &Inputs) -> Self {
        let state = StateFile::read(&inputs.state_dir.join("state.json")).filter(StateFile::supervisor_running);
        let started_from = state
            .as_ref()
            .and_then(|_| std::fs::read_to_string(inputs.state_dir.join(berth_runtime::state::PLAN_FILE)).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        Self { state, started_from }
    }
}

/// Runs every check and returns the report.
pub async fn examine(inputs: &Inputs) -> Report {
    let running = Running::read(inputs);
    let (services, edge, certificates, (dependencies, archivers)) = tokio::join!(
        sections::services::check(inputs, &running),
        sections::edge::check(inputs, &running),
        sections::certificates::check(inputs, &running),
        sections::dependencies::check(inputs),
    );
    let backups = sections::backups::check(inputs, &archivers).await;
    let mut checks = Vec::new();
    checks.extend(services);
    checks.extend(edge);
    checks.extend(certificates);
    checks.extend(dependencies);
    checks.extend(backups);
    checks.extend(sections::storage::check(inputs));
    checks.extend(sections::secrets::check(inputs));
    checks.extend(sections::drift::check(inputs, &running));
    Report::new(inputs.plan.project.clone(), inputs.plan.environment.clone(), inputs.now, checks)
}
