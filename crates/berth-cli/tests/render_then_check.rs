//! berth agrees with itself: what `berth render all` writes for every
//! example in every environment passes `berth check` with no finding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_test_support::{command, example_environments, workspace_root};

#[test]
fn rendered_examples_pass_berth_check() {
    let mut failures = Vec::new();
    for (name, _, envs) in example_environments() {
        let spec = workspace_root().join("examples").join(&name).join("berth.yaml");
        for env in envs {
            let dir = berth_test_support::temp_dir();
            let out = dir.path().join("deploy");
            let mut render = command(env!("CARGO_BIN_EXE_berth"));
            render.args(["render", "all", "-f"]).arg(&spec).arg("--out").arg(&out);
            if let Some(env) = &env {
                render.args(["--env", env]);
            }
            let rendered = render.output().unwrap();
            assert!(rendered.status.success(), "{name} {env:?}: {}", String::from_utf8_lossy(&rendered.stderr));
            let checked = command(env!("CARGO_BIN_EXE_berth")).arg("check").arg(&out).output().unwrap();
            let stdout = String::from_utf8_lossy(&checked.stdout);
            if !checked.status.success() || !stdout.contains("0 error(s), 0 warning(s)") {
                failures.push(format!(
                    "{name} ({}):\n{stdout}{}",
                    env.as_deref().unwrap_or("base"),
                    String::from_utf8_lossy(&checked.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "berth check disagrees with berth render:\n{}", failures.join("\n"));
}
