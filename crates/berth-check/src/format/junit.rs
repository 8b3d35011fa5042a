//! JUnit XML: a test suite per file, a test case per rule that ran on it;
//! a counting finding is a failure.

use std::fmt::Write as _;

use berth_diagnostics::Severity;

use crate::registry::RULES;
use crate::{Kind, Report};

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn render(report: &Report, threshold: Severity) -> String {
    let mut suites = String::new();
    let (mut total_tests, mut total_failures) = (0, 0);
    for (index, (file, kind)) in report.files.iter().zip(&report.kinds).enumerate() {
        if matches!(kind, Kind::Other | Kind::EnvFile) {
            continue;
        }
        let mut cases = String::new();
        let mut failures = 0;
        for entry in RULES {
            let found: Vec<_> = report
                .active(threshold)
                .filter(|f| f.file == index && f.diagnostic.code.id == entry.info.code.id)
                .collect();
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
        // Parse errors are failures of their own.
        for f in
            report.active(threshold).filter(|f| f.file == index && f.diagnostic.code.id == crate::graph::PARSE_ERROR.id)
        {
            failures += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"E001 parse-error\">\n      <failure type=\"error\" message=\"{}\"/>\n    </testcase>\n",
                xml(&file.name),
                xml(&f.diagnostic.message)
            );
        }
        total_tests += RULES.len();
        total_failures += failures;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n{cases}  </testsuite>\n",
            xml(&file.name),
            RULES.len()
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"berth check\" tests=\"{total_tests}\" failures=\"{total_failures}\">\n{suites}</testsuites>\n"
    )
}
