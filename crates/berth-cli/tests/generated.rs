//! The JSON Schema, the spec and CLI references and the completion scripts
//! are committed. This fails when any is stale; run with
//! `BERTH_UPDATE_GENERATED=1` to rewrite them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests fail loudly; the update switch is an env var"
)]

#[test]
fn generated_files_are_fresh() {
    let root = berth_test_support::workspace_root();
    let update = std::env::var_os("BERTH_UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (path, expected) in berth_cli::generated::all() {
        let full = root.join(path);
        let actual = std::fs::read_to_string(&full).unwrap_or_default();
        if actual != expected {
            if update {
                if let Some(dir) = full.parent() {
                    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
                }
                std::fs::write(&full, expected).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
            } else {
                stale.push(path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\nrun `BERTH_UPDATE_GENERATED=1 cargo test -p berth-cli --test generated` and commit the result"
    );
}
