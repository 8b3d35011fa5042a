//! What the doctor found: one [`Check`] per thing it looked at, grouped
//! into sections, each ok, warn or fail (or skipped, with the reason).

use jiff::Timestamp;
use serde::Serialize;

/// How one check came out. Ordered: the report's status is the worst one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not looked at, and the message says why (an exec probe, no running stack).
    Skip,
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The exit code, as monitoring plugins use them (Nagios, Icinga,
    /// Sensu): 0 ok, 1 warning, 2 critical. berth's own "could not run"
    /// code, 3, is their "unknown".
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Skip | Self::Ok => 0,
            Self::Warn => 1,
            Self::Fail => 2,
        }
    }
}

/// The report's sections, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Services,
    Edge,
    Tls,
    Dependencies,
    Backups,
    Disk,
    Secrets,
    Drift,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Self::Services => "Services",
            Self::Edge => "Edge",
            Self::Tls => "TLS certificates",
            Self::Dependencies => "Dependencies",
            Self::Backups => "Backups and WAL",
            Self::Disk => "Disk space",
            Self::Secrets => "Secret files",
            Self::Drift => "Drift from the spec",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub section: Section,
    /// What was checked: `api`, `api#1`, `db`, `db wal`, `/var/lib/berth`.
    pub subject: String,
    pub status: Status,
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub fn new(section: Section, subject: impl Into<String>, status: Status, message: impl Into<String>) -> Self {
        Self { section, subject: subject.into(), status, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub checked_at: Timestamp,
    /// The worst status of any check.
    pub status: Status,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(project: String, environment: Option<String>, checked_at: Timestamp, mut checks: Vec<Check>) -> Self {
        // Stable order: by section, then in the order each section found them.
        checks.sort_by_key(|c| c.section);
        let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok).max(Status::Ok);
        Self { project, environment, checked_at, status, checks }
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}
