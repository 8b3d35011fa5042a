//! The processes berth starts, in one small crate: `berth up` (through
//! berth-runtime) and the scratch servers of backup verification
//! (berth-backup) share it without the backup side linking the edge.
//!
//! - `process`: spawn in an own process group with a parent-death signal,
//!   signal a group, identify a PID by boot and start time, free ports.
//! - `programs`: PostgreSQL's and Redis's programs from the machine's
//!   packages, checked against the version and extensions a spec names.
//! - `namespace`: a program started with directories bound at other paths
//!   for it alone (a replica's volumes under `berth up`).

pub mod namespace;
pub mod process;
pub mod programs;

use std::path::PathBuf;

/// What finding or running a program can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The machine lacks what is needed; the message names the package.
    #[error("{0}")]
    Unsupported(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

/// The directories on PATH, where berth looks for server programs.
#[allow(clippy::disallowed_methods, reason = "locating redis-server and PostgreSQL's programs on PATH")]
pub(crate) fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default()
}
