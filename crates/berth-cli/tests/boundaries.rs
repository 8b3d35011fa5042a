//! The crate boundaries ARCHITECTURE.md promises, read from `cargo tree`:
//! the pure core links no runtime, and the backup logic no HTTP or TLS
//! stack (object storage lives in `berth-object-store`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "a test that runs cargo and fails loudly"
)]

use std::process::Command;

/// Every package `krate` links in normal (non-dev, non-build) builds.
fn linked(krate: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree -p {krate}: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn assert_none_of(krate: &str, forbidden: &[&str]) {
    let linked = linked(krate);
    assert!(linked.iter().any(|p| p == krate), "{krate} missing from its own tree: {linked:?}");
    let found: Vec<_> = linked.iter().filter(|p| forbidden.contains(&p.as_str())).collect();
    assert!(found.is_empty(), "{krate} links {found:?}");
}

#[test]
fn the_pure_core_links_no_async_runtime_and_no_network() {
    for krate in ["berth-spec", "berth-plan", "berth-render", "berth-check", "berth-diagnostics"] {
        assert_none_of(krate, &["tokio", "hyper", "rustls", "mio"]);
    }
}

#[test]
fn backups_link_no_http_client_or_tls() {
    assert_none_of("berth-backup", &["hyper", "rustls", "reqwest", "object_store", "berth-edge", "berth-runtime"]);
    // The object-storage crate is where they are, so the test can fail.
    assert!(linked("berth-object-store").iter().any(|p| p == "object_store"));
}
