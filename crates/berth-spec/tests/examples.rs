//! Every example in `examples/` validates cleanly: no errors and no
//! warnings, in the base and in every environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_diagnostics::SourceFile;
use berth_test_support::{example_specs, render_plain};

#[test]
fn every_example_validates_without_findings() {
    let examples = example_specs();
    assert!(examples.len() >= 3, "expected at least three examples, found {examples:?}");
    for (name, path) in examples {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let diagnostics = berth_spec::check_all(&text);
        let file = SourceFile::new(path.display().to_string(), text.clone());
        assert!(diagnostics.is_empty(), "example {name}:\n{}", render_plain(&file, &diagnostics));
        for env in berth_spec::environments(&text) {
            assert!(berth_spec::load(&text, Some(&env)).spec.is_some(), "example {name}, environment {env}");
        }
    }
}
