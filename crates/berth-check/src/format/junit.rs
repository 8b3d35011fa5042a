//! JUnit XML: a test suite per file, a test case per rule that reads its
//! kind of file (and any rule that reported on it); a counting finding is a
//! failure, a note (what was seen and not checked) a skipped test case.

use std::fmt::Write as _;

use berth_diagnostics::Severity;

use crate::registry::RULES;
use crate::{Kind, Report};

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Whether rules of this code's family read files of `kind`: `K` rules
/// Kubernetes objects, `N` nginx, and so on; cross-file `X` rules read all.
fn reads(kind: Kind, code: &str) -> bool {
    let yaml = matches!(
        kind,
        Kind::Kubernetes
            | Kind::Compose
            | Kind::PrometheusConfig
            | Kind::PrometheusRules
            | Kind::Yaml
            | Kind::HelmChart
            | Kind::CloudFormation
    );
    match code.as_bytes().first() {
        Some(b'K') => kind == Kind::Kubernetes,
        Some(b'D') => kind == Kind::Dockerfile,
        Some(b'C') => kind == Kind::Compose,
        Some(b'N') => kind == Kind::Nginx,
        Some(b'U') => kind == Kind::Systemd,
        Some(b'B') => kind == Kind::Shell,
        Some(b'A') => kind == Kind::CloudFormation,
        Some(b'V') => kind == Kind::EnvFile,
        Some(b'P') => matches!(kind, Kind::PrometheusRules | Kind::Kubernetes),
        Some(b'Y') => yaml,
        // Plain YAML is read for what holds in any YAML only.
        _ => !matches!(kind, Kind::Yaml | Kind::HelmChart),
    }
}

pub fn render(report: &Report, threshold: Severity) -> String {
    let mut suites = String::new();
    let (mut total_tests, mut total_failures) = (0, 0);
    for (index, (file, kind)) in report.files.iter().zip(&report.kinds).enumerate() {
        let has_findings = report.active(threshold).any(|f| f.file == index);
        if matches!(kind, Kind::Other | Kind::EnvFile | Kind::CheckConfig | Kind::HelmTemplate) && !has_findings {
            continue;
        }
        let mut cases = String::new();
        let (mut tests, mut failures) = (0, 0);
        for entry in RULES {
            let found: Vec<_> = report
                .active(threshold)
                .filter(|f| f.file == index && f.diagnostic.code.id == entry.info.code.id)
                .collect();
            if found.is_empty() && !reads(*kind, entry.info.code.id) {
                continue;
            }
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{} {}\"",
                xml(&file.name),
                entry.info.code.id,
                entry.info.code.name
            );
            if found.is_empty() {
                cases.push_str("/>\n");
                continue;
            }
            failures += 1;
            let details: Vec<String> = found
                .iter()
                .map(|f| {
                    let line = f.diagnostic.span.map_or(1, |s| file.line_col(s.start).line);
                    format!("{}:{line}: {}", file.name, f.diagnostic.message)
                })
                .collect();
            let _ = write!(
                cases,
                ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                entry.info.severity.as_str(),
                xml(&found[0].diagnostic.message),
                xml(&details.join("\n"))
            );
        }
        // Findings of no rule (parse errors, spec and configuration
        // diagnostics) are failures of their own.
        for f in report
            .active(threshold)
            .filter(|f| f.file == index && !RULES.iter().any(|e| e.info.code.id == f.diagnostic.code.id))
        {
            tests += 1;
            failures += 1;
            let code = f.diagnostic.code;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{} {}\">\n      <failure type=\"{}\" message=\"{}\"/>\n    </testcase>\n",
                xml(&file.name),
                code.id,
                code.name,
                f.diagnostic.severity.as_str(),
                xml(&f.diagnostic.message)
            );
        }
        for note in report.notes.iter().filter(|n| n.file == index) {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"not checked\">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml(&file.name),
                xml(&note.message)
            );
        }
        total_tests += tests;
        total_failures += failures;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\">\n{cases}  </testsuite>\n",
            xml(&file.name),
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"berth check\" tests=\"{total_tests}\" failures=\"{total_failures}\">\n{suites}</testsuites>\n"
    )
}
