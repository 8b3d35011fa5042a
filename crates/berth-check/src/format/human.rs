use berth_diagnostics::{ColorChoice, Diagnostic, Severity, render_human};

use crate::{Kind, Report};

pub fn render(report: &Report, threshold: Severity, color: bool) -> String {
    let choice = if color { ColorChoice::Always } else { ColorChoice::Never };
    let mut out = String::new();
    for (index, file) in report.files.iter().enumerate() {
        let shown: Vec<Diagnostic> = report
            .findings
            .iter()
            .filter(|f| f.file == index && f.suppressed.is_none() && f.diagnostic.severity >= threshold)
            .map(|f| f.diagnostic.clone())
            .collect();
        if !shown.is_empty() {
            out.push_str(&render_human(file, &shown, choice));
        }
    }
    // What was not checked, whatever the threshold: a clean summary must
    // not read as covering it.
    for note in &report.notes {
        let path = report.files.get(note.file).map_or("", |f| f.name.as_str());
        out.push_str(&format!("note: {path}: {}\n", note.message));
    }
    let active: Vec<_> = report.active(threshold).collect();
    let errors = active.iter().filter(|f| f.diagnostic.severity == Severity::Error).count();
    let warnings = active.len() - errors;
    // Findings the baseline hides are debt carried on purpose, counted
    // apart from those suppressed with a reason of their own.
    let baselined = report.findings.iter().filter(|f| f.suppressed.as_deref() == Some(crate::baseline::REASON)).count();
    let suppressed = report.findings.iter().filter(|f| f.suppressed.is_some()).count() - baselined;
    let checked =
        report.kinds.iter().filter(|k| !matches!(k, Kind::Other | Kind::CheckConfig | Kind::HelmTemplate)).count();
    out.push_str(&format!(
        "checked {checked} file(s): {errors} error(s), {warnings} warning(s){}{}\n",
        if suppressed > 0 { format!(", {suppressed} suppressed") } else { String::new() },
        if baselined > 0 { format!(", {baselined} baselined") } else { String::new() }
    ));
    out
}
