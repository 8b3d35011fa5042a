//! `berth check` configured as a team adopting it would: `berth-check.yaml`
//! (`rules` off and severities, `select`, `exclude`), `--select` and
//! `--ignore` over it, and a baseline written, then hiding what it holds,
//! letting a new finding through alone and naming the entries fixed since.
//! Through the real binary, on small trees in temporary directories.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;

use berth_test_support::{command, temp_dir};

/// D001 (no USER), D002 (no tag), D003 (ADD of local files).
const DOCKERFILE: &str = "FROM debian\nADD src/ /app/\n";
/// C001 (published on every interface).
const COMPOSE: &str = "services:\n  web:\n    image: ghcr.io/acme/web:1.4.2\n    ports: [\"8080:8080\"]\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn berth(dir: &Path, args: &[&str]) -> Run {
    let output = command(env!("CARGO_BIN_EXE_berth")).args(args).current_dir(dir).output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

/// A repository: a Dockerfile, a compose file and a legacy Dockerfile.
fn repo() -> berth_test_support::TempDir {
    let dir = temp_dir();
    write(dir.path(), "app/Dockerfile", DOCKERFILE);
    write(dir.path(), "docker-compose.yml", COMPOSE);
    write(dir.path(), "legacy/Dockerfile", "FROM alpine\n");
    dir
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    file: String,
    code: String,
    severity: String,
    suppressed: Option<String>,
    counts: bool,
}

/// Every finding of `berth check -o json <args>`, with the exit code.
fn findings(dir: &Path, args: &[&str]) -> (i32, Vec<Found>) {
    let mut all = vec!["check", "-o", "json"];
    all.extend_from_slice(args);
    let run = berth(dir, &all);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}), exit {}:\n{}{}", run.code, run.stdout, run.stderr));
    let found = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Found {
            file: f["file"].as_str().unwrap().to_owned(),
            code: f["code"].as_str().unwrap().to_owned(),
            severity: f["severity"].as_str().unwrap().to_owned(),
            suppressed: f["suppressed"].as_str().map(str::to_owned),
            counts: f["counts"].as_bool().unwrap(),
        })
        .collect();
    (run.code, found)
}

fn codes(found: &[Found]) -> Vec<&str> {
    let mut codes: Vec<&str> = found.iter().map(|f| f.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[test]
fn without_configuration_every_rule_reports() {
    let dir = repo();
    let (code, found) = findings(dir.path(), &[]);
    assert_eq!(code, 1);
    for expected in ["C001", "D001", "D002", "D003"] {
        assert!(codes(&found).contains(&expected), "{expected} missing: {found:?}");
    }
    assert!(found.iter().any(|f| f.file == "legacy/Dockerfile"), "{found:?}");
}

#[test]
fn rules_turned_off_are_gone_and_severities_are_overridden() {
    let dir = repo();
    write(dir.path(), "berth-check.yaml", "rules:\n  D001: off\n  unpinned-base-image: error\n  C001: info\n");
    let (code, found) = findings(dir.path(), &[]);
    assert_eq!(code, 1, "{found:?}");
    // Off is not suppressed: no trace at all.
    assert!(found.iter().all(|f| f.code != "D001"), "{found:?}");
    let d002: Vec<&Found> = found.iter().filter(|f| f.code == "D002").collect();
    assert!(!d002.is_empty());
    assert!(d002.iter().all(|f| f.severity == "error" && f.counts), "{d002:?}");
    assert!(found.iter().filter(|f| f.code == "D003").all(|f| f.severity == "warning"));
    // Info is below the default threshold: reported, not counted.
    let c001: Vec<&Found> = found.iter().filter(|f| f.code == "C001").collect();
    assert!(!c001.is_empty() && c001.iter().all(|f| f.severity == "info" && !f.counts), "{c001:?}");
}

#[test]
fn select_by_prefix_and_ignore_on_the_command_line() {
    let dir = repo();
    let (_, found) = findings(dir.path(), &["--select", "D"]);
    assert_eq!(codes(&found), ["D001", "D002", "D003"]);
    let (_, found) = findings(dir.path(), &["--select", "D00", "--ignore", "D002,add-instead-of-copy"]);
    assert_eq!(codes(&found), ["D001"]);
    let (_, found) = findings(dir.path(), &["--ignore", "D"]);
    assert_eq!(codes(&found), ["C001"]);
}

#[test]
fn the_command_line_wins_over_the_file() {
    let dir = repo();
    write(dir.path(), "berth-check.yaml", "select: [C]\nignore_rules: [D001]\n");
    let (_, found) = findings(dir.path(), &[]);
    assert_eq!(codes(&found), ["C001"]);
    // --select replaces the file's select, and brings back what it turned off.
    let (_, found) = findings(dir.path(), &["--select", "D"]);
    assert_eq!(codes(&found), ["D001", "D002", "D003"]);
    // --ignore wins over the file's select.
    let (code, found) = findings(dir.path(), &["--ignore", "C001"]);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(code, 0);
}

#[test]
fn unknown_codes_are_reported_with_a_suggestion() {
    let dir = repo();
    let run = berth(dir.path(), &["check", "--select", "unpinned-base-imag"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("did you mean `unpinned-base-image`?"), "{}", run.stderr);
    let run = berth(dir.path(), &["check", "--ignore", "E001"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("always counts"), "{}", run.stderr);
    write(dir.path(), "berth-check.yaml", "rules:\n  unpinned-base-imag: off\n");
    let run = berth(dir.path(), &["check"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[E002]"), "{}", run.stdout);
    assert!(run.stdout.contains("did you mean `unpinned-base-image`?"), "{}", run.stdout);
}

#[test]
fn excluded_files_are_not_reported() {
    let dir = repo();
    write(dir.path(), "berth-check.yaml", "exclude: ['legacy/**']\n");
    let (_, found) = findings(dir.path(), &[]);
    assert!(found.iter().all(|f| !f.file.starts_with("legacy/")), "{found:?}");
    assert!(found.iter().any(|f| f.file == "app/Dockerfile"), "{found:?}");
    let run = berth(dir.path(), &["check", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let legacy = doc["files"].as_array().unwrap().iter().find(|f| f["path"] == "legacy/Dockerfile").cloned();
    assert_eq!(legacy.map(|f| f["kind"].clone()), Some(serde_json::json!("other")));
    // A directory name excludes what is under it.
    write(dir.path(), "berth-check.yaml", "exclude: [legacy]\n");
    let (_, found) = findings(dir.path(), &[]);
    assert!(found.iter().all(|f| !f.file.starts_with("legacy/")), "{found:?}");
}

#[test]
fn a_configuration_above_the_checked_path_applies() {
    let dir = repo();
    write(dir.path(), "berth-check.yaml", "rules:\n  D001: off\n");
    let (_, found) = findings(dir.path(), &["app"]);
    assert_eq!(codes(&found), ["D002", "D003"]);
    let (_, found) = findings(dir.path(), &["app/Dockerfile"]);
    assert_eq!(codes(&found), ["D002", "D003"]);
}

#[test]
fn a_baseline_hides_old_findings_lets_new_ones_through_and_names_fixed_ones() {
    let dir = temp_dir();
    write(dir.path(), "app/Dockerfile", DOCKERFILE);
    write(dir.path(), "docker-compose.yml", COMPOSE);

    // Record.
    let run = berth(dir.path(), &["check", "--write-baseline", "berth-baseline.json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("wrote"), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("berth-baseline.json")).unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(recorded["version"], 1);
    let entries = recorded["findings"].as_array().unwrap();
    assert!(entries.len() >= 4, "{text}");
    for entry in entries {
        for key in ["path", "code", "line", "message", "fingerprint"] {
            assert!(!entry[key].is_null(), "{key} missing in {entry}");
        }
    }
    // Writing again gives the same bytes.
    berth(dir.path(), &["check", "--write-baseline", "again.json"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("again.json")).unwrap(), text);

    // Everything is baselined: the check passes and says how many it hid.
    let run = berth(dir.path(), &["check", "--baseline", "berth-baseline.json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 error(s), 0 warning(s)"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("{} baselined", entries.len())), "{}", run.stdout);
    assert!(!run.stdout.contains("baseline entr"), "{}", run.stdout);

    // Lines move (comments above) and a new ADD comes in: only it counts.
    write(dir.path(), "app/Dockerfile", &format!("# the app\n# built by CI\n\n{DOCKERFILE}ADD etc/ /etc/app/\n"));
    let (code, found) = findings(dir.path(), &["--baseline", "berth-baseline.json"]);
    assert_eq!(code, 1);
    let counting: Vec<(&str, &str)> =
        found.iter().filter(|f| f.counts).map(|f| (f.file.as_str(), f.code.as_str())).collect();
    assert_eq!(counting, [("app/Dockerfile", "D003")], "{found:?}");
    let hidden = found.iter().filter(|f| f.suppressed.as_deref() == Some("in the baseline")).count();
    assert_eq!(hidden, entries.len(), "{found:?}");

    // D002 fixed with a tag: the entry is named stale, to rewrite the file.
    write(dir.path(), "app/Dockerfile", "FROM debian:12-slim\nADD src/ /app/\n");
    let run = berth(dir.path(), &["check", "--baseline", "berth-baseline.json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "note: 1 baseline entry is fixed; rewrite the baseline: berth check --write-baseline berth-baseline.json"
        ),
        "{}",
        run.stdout
    );
    // In a machine format the note goes to stderr, the document stays whole.
    let run = berth(dir.path(), &["check", "-o", "sarif", "--baseline", "berth-baseline.json"]);
    assert!(run.stderr.contains("1 baseline entry is fixed"), "{}", run.stderr);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str())
        .collect();
    assert!(!kinds.is_empty() && kinds.iter().all(|k| *k == "external"), "{kinds:?}");
    // Checking a part of the tree does not call the rest fixed.
    let run = berth(dir.path(), &["check", "--baseline", "berth-baseline.json", "docker-compose.yml"]);
    assert!(!run.stdout.contains("baseline entr"), "{}", run.stdout);
}

#[test]
fn a_malformed_or_missing_baseline_is_an_error() {
    let dir = repo();
    write(dir.path(), "bad.json", "{\"version\": 9, \"findings\": []}");
    let run = berth(dir.path(), &["check", "--baseline", "bad.json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("rewrite it with --write-baseline"), "{}", run.stderr);
    let run = berth(dir.path(), &["check", "--baseline", "missing.json"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
}
