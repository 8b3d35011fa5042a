//! SARIF 2.1.0, the subset GitHub code scanning reads: one run, the rule
//! table with help text, results with physical locations, suppressions
//! with their justification.

use berth_diagnostics::Severity;
use serde_json::json;

use crate::Report;
use crate::registry::RULES;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn render(report: &Report) -> String {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|e| {
            json!({
                "id": e.info.code.id,
                "name": e.info.code.name,
                "shortDescription": { "text": e.info.code.name.replace('-', " ") },
                "fullDescription": { "text": e.info.why.trim() },
                "help": { "text": e.info.fix },
                "defaultConfiguration": { "level": level(e.info.severity) },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let file = &report.files[f.file];
            let d = &f.diagnostic;
            let mut result = json!({
                "ruleId": d.code.id,
                "level": level(d.severity),
                "message": { "text": match &d.help { Some(h) => format!("{} ({h})", d.message), None => d.message.clone() } },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": file.name.trim_start_matches("./") },
                    "region": d.span.map_or_else(|| json!({ "startLine": 1 }), |s| {
                        let (a, b) = (file.line_col(s.start), file.line_col(s.end.max(s.start)));
                        json!({ "startLine": a.line, "startColumn": a.column, "endLine": b.line, "endColumn": b.column.max(a.column + usize::from(a.line == b.line)) })
                    }),
                }}],
            });
            if let Some(index) = RULES.iter().position(|e| e.info.code.id == d.code.id) {
                result["ruleIndex"] = json!(index);
            }
            if let Some(reason) = &f.suppressed {
                // A baseline lives outside the file the finding is in.
                let kind = if reason == crate::baseline::REASON { "external" } else { "inSource" };
                result["suppressions"] = json!([{ "kind": kind, "justification": reason }]);
            }
            result
        })
        .collect();
    let mut doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "berth",
                "informationUri": "https://github.com/berth-dev/berth",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    // What was seen and not checked: tool notifications, not results, so
    // code scanning shows them without raising an alert.
    if !report.notes.is_empty() {
        let notifications: Vec<serde_json::Value> = report
            .notes
            .iter()
            .map(|n| {
                let uri = report.files.get(n.file).map_or("", |f| f.name.trim_start_matches("./"));
                json!({
                    "level": "note",
                    "message": { "text": n.message },
                    "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri } } }],
                })
            })
            .collect();
        if let Some(run) = doc["runs"].get_mut(0) {
            run["invocations"] = json!([{ "executionSuccessful": true, "toolExecutionNotifications": notifications }]);
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
