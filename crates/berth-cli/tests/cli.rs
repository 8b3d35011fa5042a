//! CLI tests as data: each `cmd/*.toml` runs the real `berth` binary and
//! compares its exit code and output. `TRYCMD=overwrite` rewrites them.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
