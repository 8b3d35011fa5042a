//! Report formats, one module each, behind one closed enum.

mod human;
mod json;
mod junit;
mod sarif;

use berth_diagnostics::Severity;

use crate::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// file:line with the snippet and a hint, for people.
    Human,
    /// One JSON document: files, findings, suppressions.
    Json,
    /// SARIF 2.1.0 for GitHub code scanning and other viewers.
    Sarif,
    /// JUnit XML: one test case per file and rule, for CI test reports.
    Junit,
}

/// Renders `report`; `threshold` decides which findings fail (JUnit) or
/// count in the summary; the others stay visible where the format allows.
pub fn render(format: Format, report: &Report, threshold: Severity, color: bool) -> String {
    match format {
        Format::Human => human::render(report, threshold, color),
        Format::Json => json::render(report, threshold),
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report, threshold),
    }
}
