//! The report as text: one module per format.

mod human;
mod json;

use crate::report::Report;

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Sections of aligned lines, for people.
    Human { color: bool },
    /// The report as one JSON object, for machines.
    Json,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Human { color } => human::render(report, color),
        Format::Json => json::render(report),
    }
}
