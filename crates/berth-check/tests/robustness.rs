#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! Damaged input never stops a run: every fixture cut at every few bytes,
//! and with bytes swapped, checks without a panic, and a file that no
//! longer parses is reported while its neighbours are still checked.

use std::path::Path;

use berth_check::format::{Format, render};
use berth_check::{Input, check};
use berth_diagnostics::Severity;

fn fixtures() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    berth_test_support::read_tree(&root)
}

#[test]
fn truncated_and_scrambled_files_never_panic() {
    for (name, text) in fixtures() {
        let cuts = (0..text.len()).step_by(5).filter(|i| text.is_char_boundary(*i));
        for cut in cuts {
            let inputs = vec![Input { path: name.clone(), text: text[..cut].to_owned() }];
            let _ = check(inputs, None);
        }
        // Indentation and structure damage: swap neighbouring lines.
        let lines: Vec<&str> = text.lines().collect();
        for i in 1..lines.len() {
            let mut swapped = lines.clone();
            swapped.swap(i - 1, i);
            let _ = check(vec![Input { path: name.clone(), text: swapped.join("\n") }], None);
        }
    }
}

#[test]
fn a_broken_file_is_reported_and_the_rest_still_checked() {
    let broken =
        Input { path: "broken.yaml".into(), text: "apiVersion: v1\nkind: Service\nmetadata: [unclosed\n".into() };
    let privileged = Input {
        path: "deploy.yaml".into(),
        text: std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/K001/bad/deploy.yaml"))
            .unwrap(),
    };
    let report = check(vec![broken, privileged], None);
    let codes: Vec<(&str, &str)> =
        report.findings.iter().map(|f| (report.files[f.file].name.as_str(), f.diagnostic.code.id)).collect();
    assert!(codes.contains(&("broken.yaml", "E001")), "{codes:?}");
    assert!(codes.contains(&("deploy.yaml", "K001")), "{codes:?}");
}

/// The `check` fuzzer's corpus (`fuzz/corpus/check`, seeded from the rule
/// fixtures) replayed on stable: each input, split into files as the fuzz
/// target does, is checked and rendered in every format without a panic.
#[test]
fn fuzz_corpus_never_panics() {
    for (_, text) in berth_test_support::fuzz_corpus("check") {
        let inputs = berth_test_support::check_fuzz_files(&text).into_iter().map(|(path, text)| Input { path, text });
        let report = check(inputs.collect(), None);
        for format in [Format::Human, Format::Json, Format::Sarif, Format::Junit] {
            let _ = render(format, &report, Severity::Info, false);
        }
    }
}
