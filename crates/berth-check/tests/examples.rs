#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! berth's own renders pass berth's own check: every example, every
//! environment, zero findings.

use berth_check::format::{Format, render};
use berth_check::{Input, check};
use berth_diagnostics::Severity;

#[test]
fn what_berth_renders_passes_its_own_check() {
    for (name, text, envs) in berth_test_support::example_environments() {
        for env in envs {
            let report = check(vec![Input { path: format!("{name}/berth.yaml"), text: text.clone() }], env.as_deref());
            assert!(report.files.len() > 1, "{name}: nothing rendered");
            assert!(
                report.findings.is_empty(),
                "{name} ({env:?}):\n{}",
                render(Format::Human, &report, Severity::Info, false)
            );
        }
    }
}
