//! One JSON document: every file with its kind, every finding (suppressed
//! ones too, with their reason) and whether it counts at the threshold.
//! Serialized straight from borrowed structs: a report of tens of
//! thousands of findings never exists twice in memory.

use berth_diagnostics::{JsonDiagnostic, Severity};
use serde::Serialize;

use crate::{Kind, Report};

#[derive(Serialize)]
struct Document<'a> {
    files: Vec<File<'a>>,
    findings: Vec<Finding<'a>>,
    /// What was seen and not checked; never counts.
    notes: Vec<Note<'a>>,
}

#[derive(Serialize)]
struct File<'a> {
    path: &'a str,
    kind: Kind,
}

#[derive(Serialize)]
struct Note<'a> {
    path: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct Finding<'a> {
    #[serde(flatten)]
    diagnostic: JsonDiagnostic<'a>,
    suppressed: Option<&'a str>,
    counts: bool,
}

pub fn render(report: &Report, threshold: Severity) -> String {
    let doc = Document {
        files: report.files.iter().zip(&report.kinds).map(|(f, k)| File { path: &f.name, kind: *k }).collect(),
        findings: report
            .findings
            .iter()
            .map(|f| Finding {
                diagnostic: JsonDiagnostic::new(&report.files[f.file], &f.diagnostic),
                suppressed: f.suppressed.as_deref(),
                counts: f.suppressed.is_none() && f.diagnostic.severity >= threshold,
            })
            .collect(),
        notes: report
            .notes
            .iter()
            .map(|n| Note { path: report.files.get(n.file).map_or("", |f| f.name.as_str()), message: &n.message })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
