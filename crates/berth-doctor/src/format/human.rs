//! The report for people: a header, one block per section with aligned
//! status, subject and message, hints under the line they belong to, and
//! a summary that names the exit code.

use crate::report::{Report, Status};

fn paint(text: &str, code: &str, color: bool) -> String {
    if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

fn label(status: Status, color: bool) -> String {
    let (text, code) = match status {
        Status::Ok => ("ok  ", "32"),
        Status::Warn => ("warn", "33;1"),
        Status::Fail => ("FAIL", "31;1"),
        Status::Skip => ("skip", "2"),
    };
    paint(text, code, color)
}

pub fn render(report: &Report, color: bool) -> String {
    let mut out = format!(
        "berth doctor: {}{} at {}\n",
        report.project,
        report.environment.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
        crate::judge::when(report.checked_at)
    );
    let width = report.checks.iter().map(|c| c.subject.chars().count()).max().unwrap_or(0).min(32);
    let mut section = None;
    for check in &report.checks {
        if section != Some(check.section) {
            section = Some(check.section);
            out.push('\n');
            out.push_str(&paint(check.section.title(), "1", color));
            out.push('\n');
        }
        out.push_str(&format!("  {}  {:<width$}  {}\n", label(check.status, color), check.subject, check.message));
        if let Some(hint) = &check.hint {
            out.push_str(&format!("        {:<width$}  {}\n", "", paint(&format!("hint: {hint}"), "2", color)));
        }
    }
    let counts = [
        (report.count(Status::Ok), "ok", "ok"),
        (report.count(Status::Warn), "warning", "warnings"),
        (report.count(Status::Fail), "failure", "failures"),
        (report.count(Status::Skip), "skipped", "skipped"),
    ];
    let summary: Vec<String> = counts
        .iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
    let verdict = match report.status {
        Status::Ok | Status::Skip => "healthy",
        Status::Warn => "needs attention",
        Status::Fail => "failing",
    };
    out.push_str(&format!(
        "\n{}: {} (exit {})\n",
        paint(
            verdict,
            match report.status {
                Status::Fail => "31;1",
                Status::Warn => "33;1",
                _ => "32;1",
            },
            color
        ),
        summary.join(", "),
        report.status.exit_code()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Section};

    #[test]
    fn sections_hints_and_summary() {
        let checks = vec![
            Check::new(Section::Backups, "db", Status::Warn, "newest verified backup 2 d old").hint("look at the job"),
            Check::new(Section::Services, "api", Status::Ok, "2 of 2 replicas running"),
            Check::new(Section::Services, "api#0", Status::Fail, "health GET /healthz: connection refused"),
        ];
        let report =
            Report::new("shop".into(), Some("production".into()), "2026-11-22T12:00:00Z".parse().unwrap(), checks);
        assert_eq!(
            render(&report, false),
            "berth doctor: shop (production) at 2026-11-22 12:00 UTC

Services
  ok    api    2 of 2 replicas running
  FAIL  api#0  health GET /healthz: connection refused

Backups and WAL
  warn  db     newest verified backup 2 d old
               hint: look at the job

failing: 1 ok, 1 warning, 1 failure (exit 2)
"
        );
    }
}
