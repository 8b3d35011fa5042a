//! `berth check` walking a directory through the real binary: what the
//! walker keeps must be what the library needs. A kustomization's JSON 6902
//! patches are plain YAML lists, and a kustomization need not say
//! `apiVersion:`; dropped by a kind filter, every patch silently stayed
//! unapplied and a fixed Service selector was still reported.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;

use berth_test_support::{command, temp_dir};

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn check(dir: &Path) -> String {
    let out = command(env!("CARGO_BIN_EXE_berth")).args(["check", "."]).current_dir(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A chart-rendered Service whose selector (`app=redis-ha`, `release`) a
/// kustomization rewrites to the labels its own patch gives the pods.
fn tree(dir: &Path) {
    write(
        dir,
        "upstream.yaml",
        r"apiVersion: v1
kind: Service
metadata:
  name: redis
spec:
  ports:
    - port: 6379
      targetPort: 6379
  selector:
    app: redis-ha
    release: argocd
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis-ha-server
spec:
  serviceName: redis
  selector:
    matchLabels: { app: redis-ha, release: argocd }
  template:
    metadata:
      labels: { app: redis-ha, release: argocd }
    spec:
      containers:
        - name: redis
          image: redis:7.2.4
          ports:
            - containerPort: 6379
",
    );
    write(
        dir,
        "overlays/service-selector.yaml",
        "- {op: remove, path: /spec/selector/app}\n- {op: remove, path: /spec/selector/release}\n- {op: add, path: /spec/selector/app.kubernetes.io~1name, value: redis-ha}\n",
    );
    write(
        dir,
        "overlays/statefulset-labels.yaml",
        "- op: replace\n  path: /spec/selector/matchLabels\n  value: { app.kubernetes.io/name: redis-ha }\n- op: replace\n  path: /spec/template/metadata/labels\n  value: { app.kubernetes.io/name: redis-ha }\n",
    );
}

const KUSTOMIZATION: &str = r#"resources:
  - upstream.yaml
patches:
  - target: { version: v1, group: "", kind: Service, name: redis }
    path: overlays/service-selector.yaml
  - target: { group: apps, version: v1, kind: StatefulSet, name: redis-ha-server }
    path: overlays/statefulset-labels.yaml
"#;

#[test]
fn json_patch_files_of_a_kustomization_are_applied_when_walking_a_tree() {
    let dir = temp_dir();
    tree(dir.path());
    write(dir.path(), "kustomization.yaml", KUSTOMIZATION);
    let out = check(dir.path());
    assert!(!out.contains("X002"), "both patches applied, the selector matches the pods:\n{out}");

    // Only the StatefulSet patched: the Service selects labels no pod has.
    let one = KUSTOMIZATION
        .lines()
        .filter(|l| !l.contains("kind: Service") && !l.contains("service-selector"))
        .collect::<Vec<_>>()
        .join("\n");
    write(dir.path(), "kustomization.yaml", &one);
    let out = check(dir.path());
    assert!(out.contains("X002"), "the half-applied overlay leaves the Service selecting nothing:\n{out}");
}

/// A spec's configuration files are checked as what it deploys: a
/// credential in `config/app.toml` lands in a ConfigMap, found by K017,
/// though a tree walk would not read a `.toml` file for its own sake.
#[test]
fn a_specs_configuration_files_are_checked_inside_what_it_renders() {
    let dir = temp_dir();
    write(
        dir.path(),
        "berth.yaml",
        "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n    ports: { http: 8080 }\n    files:\n      /etc/api/app.toml: config/app.toml\n",
    );
    write(dir.path(), "config/app.toml", "[db]\nurl = \"postgres://app:hunter2@db:5432/app\"\n");
    let out = check(dir.path());
    assert!(out.contains("K017") && out.contains("a URL with a password"), "{out}");
    write(dir.path(), "config/app.toml", "[db]\nurl_env = \"DATABASE_URL\"\n");
    assert!(!check(dir.path()).contains("K017"));
}

/// `berth render` reads the files beside the spec; one missing is an
/// error at its `files` entry and nothing is written.
#[test]
fn a_missing_configuration_file_stops_the_render_at_its_entry() {
    let dir = temp_dir();
    write(
        dir.path(),
        "berth.yaml",
        "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n    files:\n      /etc/api/app.toml: config/app.toml\n",
    );
    let out = command(env!("CARGO_BIN_EXE_berth"))
        .args(["render", "kubernetes", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("S207") && stderr.contains("berth.yaml:7"), "file, line and column: {stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is written");
    write(dir.path(), "config/app.toml", "port = 8080\n");
    let out = command(env!("CARGO_BIN_EXE_berth"))
        .args(["render", "kubernetes", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let api = std::fs::read_to_string(dir.path().join("out/kubernetes/service-api.yaml")).unwrap();
    assert!(api.contains("app.toml: |") || api.contains("app.toml: 'port = 8080"), "{api}");
}

/// A spec whose service reads `config/app.toml`, a symbolic link to `target`.
fn spec_with_file_linked_to(dir: &Path, target: &Path) {
    write(
        dir,
        "berth.yaml",
        "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n    files:\n      /etc/api/app.toml: config/app.toml\n",
    );
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::os::unix::fs::symlink(target, dir.join("config/app.toml")).unwrap();
}

/// A symbolic link among the spec's files must not carry a file from
/// outside its directory (a key, a secret) into what is rendered.
#[test]
fn a_configuration_file_linked_from_outside_the_spec_is_refused() {
    let dir = temp_dir();
    let outside = temp_dir();
    write(outside.path(), "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n");
    spec_with_file_linked_to(dir.path(), &outside.path().join("id_rsa"));
    let out = command(env!("CARGO_BIN_EXE_berth"))
        .args(["render", "kubernetes", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("S207") && stderr.contains("outside the spec's directory"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

/// `berth check` in CI on a pull request: a spec's configuration file
/// linked to a key outside the checked tree is not read, so no snippet of
/// it can reach the report; one inside the tree is.
#[test]
fn berth_check_reads_no_configuration_file_linked_from_outside_the_tree() {
    let dir = temp_dir();
    let outside = temp_dir();
    write(
        outside.path(),
        "credentials",
        "[default]\naws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY1\ndatabase_url = \"postgres://app:hunter2@db/app\"\n",
    );
    spec_with_file_linked_to(dir.path(), &outside.path().join("credentials"));
    let run = || {
        command(env!("CARGO_BIN_EXE_berth"))
            .args(["check", ".", "-o", "json"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("K017") && !stdout.contains("hunter2") && !stdout.contains("wJalrXUtn"), "{stdout}");
    // The same text as a file of the tree is read, and its password found.
    std::fs::remove_file(dir.path().join("config/app.toml")).unwrap();
    write(dir.path(), "config/app.toml", "database_url = \"postgres://app:hunter2@db/app\"\n");
    let stdout = String::from_utf8_lossy(&run().stdout).into_owned();
    assert!(stdout.contains("K017"), "{stdout}");
}

/// A CI step that parses the report gets a document even from a tree with
/// nothing to check; the exit status still says nothing was found.
#[test]
fn a_tree_with_no_deployment_files_still_gets_its_json_and_sarif_documents() {
    let dir = temp_dir();
    write(dir.path(), "README.md", "# nothing to deploy\n");
    for format in ["json", "sarif"] {
        let out = command(env!("CARGO_BIN_EXE_berth"))
            .args(["check", ".", "-o", format])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert!(doc.is_object(), "{format}: {doc}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no deployment files found"));
    }
}
