//! The repository's Dockerfile builds the image rendered jobs run: it names
//! that image, passes hadolint, and passes berth's own check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_test_support::{tool, workspace_root};

#[test]
fn the_dockerfile_builds_the_image_rendered_jobs_run() {
    let root = workspace_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(&format!("docker build -t {} .", berth_render::BERTH_IMAGE)),
        "the Dockerfile's build line names {}",
        berth_render::BERTH_IMAGE
    );
    for line in dockerfile.lines().filter(|l| l.starts_with("FROM ")) {
        assert!(line.contains("@sha256:"), "base images are pinned by digest: {line}");
    }
    assert!(dockerfile.lines().any(|l| l.starts_with("USER ") && !l.contains("root")), "runs as non-root");

    let hadolint = berth_test_support::command(&tool("hadolint").to_string_lossy())
        .args(["--no-color", "Dockerfile"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(hadolint.status.success(), "hadolint: {}", String::from_utf8_lossy(&hadolint.stdout));

    let check = berth_test_support::command(env!("CARGO_BIN_EXE_berth"))
        .args(["check", "Dockerfile"])
        .current_dir(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && stdout.contains("0 error(s), 0 warning(s)"),
        "berth check: {stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
