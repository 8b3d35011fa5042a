//! Any text through `berth check`'s front end: kind detection, every
//! parser (YAML, compose, Dockerfile, nginx with includes, Prometheus with
//! PromQL, systemd, berth-check.yaml), the graph, every rule, suppressions
//! and every output format. `check_fuzz_files` turns the input into up to
//! four named files so cross-file rules see several at once. Nothing may
//! panic.
#![no_main]

use berth_check::format::{Format, render};
use berth_check::{Input, check};
use berth_diagnostics::Severity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let inputs = berth_test_support::check_fuzz_files(text).into_iter().map(|(path, text)| Input { path, text });
    let report = check(inputs.collect(), None);
    for format in [Format::Human, Format::Json, Format::Sarif, Format::Junit] {
        let _ = render(format, &report, Severity::Info, false);
    }
});
