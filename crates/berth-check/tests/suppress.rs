#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! Suppressions by annotation (per container), by comment and by
//! `berth-check.yaml`: the findings stay in the report with their reasons,
//! stop counting, and reach SARIF as `suppressions[].justification`; the
//! SARIF document is valid against the official 2.1.0 schema.

use std::path::Path;

use berth_check::format::{Format, render};
use berth_check::{Input, Report, check};
use berth_diagnostics::Severity;
use berth_test_support::{read_tree, run, temp_dir, tool};

fn report() -> Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suppress");
    check(read_tree(&dir).into_iter().map(|(path, text)| Input { path, text }).collect(), None)
}

fn findings(report: &Report) -> Vec<(String, &'static str, Option<String>)> {
    report
        .findings
        .iter()
        .map(|f| (report.files[f.file].name.clone(), f.diagnostic.code.id, f.suppressed.clone()))
        .collect()
}

#[test]
fn suppressed_findings_keep_their_reasons_and_stop_counting() {
    let report = report();
    let all = findings(&report);
    let reason_of = |file: &str, code: &str| {
        all.iter()
            .find(|(f, c, _)| f == file && *c == code)
            .unwrap_or_else(|| panic!("no {code} in {file}: {all:?}"))
            .2
            .clone()
    };
    assert_eq!(
        reason_of("deploy.yaml", "K008").as_deref(),
        Some("the tag is rewritten to a digest by the release pipeline")
    );
    assert_eq!(
        reason_of("legacy/worker.yaml", "K002").as_deref(),
        Some("the legacy worker needs root until it moves to the new base image (#412)")
    );
    assert_eq!(
        reason_of("legacy/worker.yaml", "K006").as_deref(),
        Some("a queue consumer with no port; the supervisor restarts it")
    );
    // The annotation names the vpn container only: web's privileged flag still counts.
    let k001: Vec<_> = all.iter().filter(|(_, c, _)| *c == "K001").collect();
    assert_eq!(k001.len(), 2, "{k001:?}");
    assert_eq!(k001.iter().filter(|(_, _, r)| r.is_some()).count(), 1, "{k001:?}");
    let active: Vec<_> = report.active(Severity::Info).map(|f| f.diagnostic.code.id).collect();
    assert_eq!(active, ["K001"], "{all:?}");
}

#[test]
fn config_mistakes_are_reported_on_the_config() {
    let inputs = vec![Input {
        path: "berth-check.yaml".into(),
        text: "ignore:\n  - rule: privileged-containr\n    reason: x\n  - rule: K001\n".into(),
    }];
    let report = check(inputs, None);
    let human = render(Format::Human, &report, Severity::Info, false);
    assert!(human.contains("did you mean `privileged-container`?"), "{human}");
    assert!(human.contains("ignoring K001 needs a `reason`"), "{human}");
}

#[test]
fn sarif_is_valid_and_carries_justifications() {
    let sarif = render(Format::Sarif, &report(), Severity::Info, false);
    let value: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = value["runs"][0]["results"].as_array().unwrap();
    let justified: Vec<&str> = results.iter().filter_map(|r| r["suppressions"][0]["justification"].as_str()).collect();
    assert_eq!(justified.len(), 4, "{justified:?}");
    let dir = temp_dir();
    let instance = dir.path().join("report.sarif");
    std::fs::write(&instance, &sarif).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sarif/sarif-schema-2.1.0.json");
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(json.load(open(sys.argv[2]))))\n\
        [print(list(e.absolute_path), e.message) for e in errors]\n\
        sys.exit(1 if errors else 0)\n";
    let result =
        run(&tool("python3"), &["-c", script, &schema.to_string_lossy(), &instance.to_string_lossy()], dir.path());
    assert!(result.success, "SARIF does not match the 2.1.0 schema:\n{}{}", result.stdout, result.stderr);
}
