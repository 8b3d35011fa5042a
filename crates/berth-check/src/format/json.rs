use berth_diagnostics::{Severity, render_json};

use crate::Report;

pub fn render(report: &Report, threshold: Severity) -> String {
    let mut findings = Vec::new();
    for f in &report.findings {
        let file = &report.files[f.file];
        let Some(mut value) = render_json(file, std::slice::from_ref(&f.diagnostic)).pop() else { continue };
        value["suppressed"] = f.suppressed.as_ref().map_or(serde_json::Value::Null, |r| serde_json::json!(r));
        value["counts"] = serde_json::json!(f.suppressed.is_none() && f.diagnostic.severity >= threshold);
        findings.push(value);
    }
    let files: Vec<serde_json::Value> =
        report.files.iter().zip(&report.kinds).map(|(f, k)| serde_json::json!({ "path": f.name, "kind": k })).collect();
    let doc = serde_json::json!({ "files": files, "findings": findings });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
