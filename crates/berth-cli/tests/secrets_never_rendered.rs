//! Secret values are referenced, never written: render every example with
//! every declared secret's value set in the environment, and prove no value
//! appears in any rendered file or in berth's output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests fail loudly; this test spawns the real binary"
)]

use std::process::Command;

#[test]
fn secret_values_appear_in_no_rendered_file() {
    for (name, text, envs) in berth_test_support::example_environments() {
        let spec_path = berth_test_support::workspace_root().join(format!("examples/{name}/berth.yaml"));
        let secrets: Vec<String> = berth_spec::load(&text, None).spec.unwrap().secrets.keys().cloned().collect();
        for env in envs {
            let out = berth_test_support::temp_dir();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
            cmd.args(["render", "all", "-f"]).arg(&spec_path).arg("--out").arg(out.path());
            if let Some(env) = &env {
                cmd.args(["--env", env]);
            }
            let mut values = Vec::new();
            for secret in &secrets {
                let value = format!("s3cr3t-{secret}-{}", secret.len() * 7919);
                cmd.env(berth_plan::secret_env_name(secret), &value);
                values.push(value);
            }
            let output = cmd.output().unwrap();
            assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
            let mut all =
                String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
            let mut files = 0;
            for entry in walk(out.path()) {
                all.push_str(&std::fs::read_to_string(&entry).unwrap());
                files += 1;
            }
            assert!(files > 5, "{name}: expected rendered files, found {files}");
            for value in &values {
                assert!(!all.contains(value.as_str()), "{name} {env:?}: the value of a secret leaked into the output");
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}
