#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! Every rule has `tests/rules/<CODE>/bad/` (files that trigger it; the
//! findings are snapshotted) and `good/` (files that must not).

use std::path::Path;

use berth_check::format::{Format, render};
use berth_check::registry::RULES;
use berth_check::{Input, Report, check};
use berth_diagnostics::Severity;

fn read_dir(dir: &Path) -> Vec<Input> {
    berth_test_support::read_tree(dir).into_iter().map(|(path, text)| Input { path, text }).collect()
}

fn only(report: &Report, code: &str) -> String {
    let kept: Vec<_> = report.findings.iter().filter(|f| f.diagnostic.code.id == code).cloned().collect();
    let filtered =
        Report { files: report.files.clone(), kinds: report.kinds.clone(), findings: kept, notes: Vec::new() };
    render(Format::Human, &filtered, Severity::Info, false)
}

#[test]
fn every_rule_fires_on_its_bad_fixture_and_not_on_its_good_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    for entry in RULES {
        let code = entry.info.code.id;
        let dir = root.join(code);
        let bad = check(read_dir(&dir.join("bad")), None);
        assert!(
            bad.findings.iter().any(|f| f.diagnostic.code.id == code),
            "{code}: the bad fixture does not trigger it:\n{}",
            render(Format::Human, &bad, Severity::Info, false)
        );
        insta::assert_snapshot!(format!("{code}-{}", entry.info.code.name), only(&bad, code));
        let good = check(read_dir(&dir.join("good")), None);
        let fired: Vec<_> = good.findings.iter().filter(|f| f.diagnostic.code.id == code).collect();
        assert!(fired.is_empty(), "{code}: the good fixture triggers it:\n{}", only(&good, code));
    }
}

/// The good fixtures are clean code written the way each rule asks: no rule
/// at all fires on them, so they double as examples.
#[test]
fn good_fixtures_are_clean_for_every_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    for entry in RULES {
        let good = check(read_dir(&root.join(entry.info.code.id).join("good")), None);
        assert!(
            good.findings.is_empty(),
            "{}: good fixture has findings:\n{}",
            entry.info.code.id,
            render(Format::Human, &good, Severity::Info, false)
        );
    }
}
