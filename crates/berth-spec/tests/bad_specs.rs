//! Every file in `bad-specs/` is a spec with mistakes. Its first line says
//! which codes must be reported (`# expect: S101 S102`); the rendered
//! diagnostics are snapshotted, so a change in wording or position shows up
//! in review.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_diagnostics::SourceFile;
use berth_test_support::{files_with_extension, render_plain};

#[test]
fn bad_specs_report_the_expected_diagnostics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-specs");
    let files = files_with_extension(&dir, "yaml");
    assert!(files.len() >= 25, "expected the bad-spec fixtures, found {}", files.len());
    for path in files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected: Vec<&str> = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: CODE...`"))
            .split_whitespace()
            .collect();
        let diagnostics = berth_spec::check_all(&text);
        for code in &expected {
            assert!(
                diagnostics.iter().any(|d| d.code.id == *code),
                "{name}: expected {code}, got {:?}",
                diagnostics.iter().map(|d| d.code.id).collect::<Vec<_>>()
            );
        }
        assert!(diagnostics.iter().all(|d| d.span.is_some()), "{name}: every diagnostic should point at the file");
        let file = SourceFile::new(format!("bad-specs/{name}.yaml"), text);
        insta::assert_snapshot!(name.clone(), render_plain(&file, &diagnostics));
    }
}
