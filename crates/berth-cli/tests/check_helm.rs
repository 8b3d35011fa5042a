//! `berth check` on a Helm chart: with helm on PATH the chart is rendered
//! (`helm template`, default values) and what it installs is checked like
//! any manifest, findings pointing into the rendered output; with
//! `--no-helm`, or a chart helm cannot render, the templates are skipped
//! with a note and never read as YAML. Through the real binary and the
//! helm the test suite installs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests fail loudly and pass PATH on to the binary"
)]

use std::path::Path;

use berth_test_support::{command, temp_dir, tool};

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

/// A chart whose Deployment runs privileged: K001 once rendered.
fn chart(dir: &Path, dependency: bool) {
    let mut chart = "apiVersion: v2\nname: web\nversion: 0.1.0\n".to_owned();
    if dependency {
        chart.push_str(
            "dependencies:\n  - name: redis\n    version: 19.0.0\n    repository: https://charts.example.com\n",
        );
    }
    write(dir, "chart/Chart.yaml", &chart);
    write(dir, "chart/values.yaml", "image: ghcr.io/acme/web:1.4.2\nprivileged: true\n");
    write(
        dir,
        "chart/templates/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: {{ .Values.image | quote }}
          securityContext:
            privileged: {{ .Values.privileged }}
"#,
    );
}

fn check(dir: &Path, args: &[&str]) -> (String, String) {
    let helm = tool("helm");
    let path = format!("{}:{}", helm.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let out = command(env!("CARGO_BIN_EXE_berth"))
        .arg("check")
        .args(args)
        .arg(".")
        .env("PATH", path)
        .current_dir(dir)
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_chart_is_rendered_with_helm_and_its_objects_checked() {
    let dir = temp_dir();
    chart(dir.path(), false);
    let (stdout, stderr) = check(dir.path(), &[]);
    assert!(stdout.contains("error[K001]"), "the privileged container the chart installs is found:\n{stdout}{stderr}");
    assert!(stdout.contains("chart/Chart.yaml → helm template"), "{stdout}");
    assert!(!stdout.contains("not rendered"), "a rendered chart needs no note:\n{stdout}");
    assert!(!stdout.contains("E001"), "templates are never parsed as YAML:\n{stdout}");

    let (stdout, _) = check(dir.path(), &["--no-helm"]);
    assert!(!stdout.contains("K001"), "{stdout}");
    assert!(stdout.contains("Helm chart not rendered"), "{stdout}");
}

#[test]
fn a_chart_helm_cannot_render_keeps_its_note_and_says_why() {
    let dir = temp_dir();
    chart(dir.path(), true);
    let (stdout, stderr) = check(dir.path(), &[]);
    assert!(stdout.contains("Helm chart not rendered"), "{stdout}");
    assert!(stderr.contains("helm template failed"), "the reason is said:\n{stderr}");
    assert!(!stdout.contains("E001"), "{stdout}");
}
