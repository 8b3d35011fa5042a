//! One error type for every backup command. Each failure names the step
//! that failed, so the log of a scheduled job says where to look.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A step of a backup, restore or verification failed.
    #[error("step `{step}` failed: {detail}")]
    Step { step: &'static str, detail: String },
    /// The restored copy differs from what the manifest promises.
    #[error("backup {id} failed verification:\n  {}", .problems.join("\n  "))]
    Verify { id: String, problems: Vec<String> },
    /// The request cannot be served as asked (no such backup, no base backup
    /// before the target time).
    #[error("{0}")]
    Usage(String),
    /// A secret the policy needs (the server's password, the signing key)
    /// is not declared or has no value.
    #[error("{0}")]
    Secret(String),
}

/// `map_err` helper: any error becomes a failure of `step`.
pub(crate) fn at<E: Display>(step: &'static str) -> impl FnOnce(E) -> BackupError {
    move |e| BackupError::Step { step, detail: e.to_string() }
}

pub(crate) fn fail(step: &'static str, detail: impl Into<String>) -> BackupError {
    BackupError::Step { step, detail: detail.into() }
}
