//! CLI tests as data: each `cmd/*.toml` runs the real `berth` binary and
//! compares its exit code and output. `TRYCMD=overwrite` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml").case("tests/cmd/*.trycmd");
}
