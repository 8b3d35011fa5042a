//! One module per section of the report.

pub mod backups;
pub mod certificates;
pub mod dependencies;
pub mod drift;
pub mod edge;
pub mod secrets;
pub mod services;
pub mod storage;

use crate::judge::Judged;
use crate::report::{Check, Section};

pub(crate) fn judged(section: Section, subject: impl Into<String>, judged: Judged) -> Check {
    Check { section, subject: subject.into(), status: judged.status, message: judged.message, hint: judged.hint }
}
