//! Jobs under `berth up`, end to end through the real binaries: a
//! migration gates the start and every deploy (a failing one stops the
//! deploy with no failed request and the old version serving), a job on a
//! one-minute schedule runs by itself, and `berth run` runs one now.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_test_support::free_port;
use common::{KillOnDrop, berth};

/// The migration records the version it ran for, and fails for any
/// version containing `bad`.
const MIGRATE: &str = r#"case "${BERTH_VERSION:-none}" in *bad*) echo "refusing $BERTH_VERSION" >&2; exit 3;; esac; echo "$BERTH_JOB ${BERTH_VERSION:-none} $GREETING" >> migrations.log"#;

fn spec(demo: &Path, dir: &Path, http: u16, https: u16, admin: u16, migrate: &str) -> String {
    format!(
        r#"version: 1
name: jobs
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 5s }}
    ports: {{ http: 8080 }}
    replicas: 2
    env: {{ GREETING: hello }}
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
    deploy: {{ strategy: rolling, health_timeout: 4s, drain_timeout: 3s }}
    jobs:
      migrate:
        command: ["sh", "-c", '{migrate}']
        before_deploy: true
        timeout: 30s
      tick:
        command: ["sh", "-c", 'echo "$BERTH_JOB $(date +%s)" >> ticks.log']
        schedule: "* * * * *"
    volumes:
      data:
        path: {data}
        # berth up runs it every minute, with the signing key it needs.
        backup: {{ schedule: "* * * * *", to: ./backups, signing_key: {{ secret: backup-key }} }}
secrets:
  backup-key: {{}}
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: self-signed }}
  routes:
    - {{ path: /, service: web }}
"#,
        demo = demo.display(),
        data = dir.join("mnt/data").display()
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[test]
fn migrations_gate_deploys_schedules_run_and_berth_run_runs_a_job_now() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    common::writable_by_services(dir.path());
    let (http, https, admin) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("berth.yaml"), spec(demo.path(), dir.path(), http, https, admin, MIGRATE)).unwrap();
    let mut up = common::start_up_with(dir.path(), &[("BERTH_SECRET_BACKUP_KEY", "k3y")]);
    let _stop_on_failure = KillOnDrop(up.id());
    let migrations = dir.path().join("migrations.log");
    assert_eq!(lines(&migrations), ["migrate none hello"], "the migration ran once before the replicas started");

    let cert = dir.path().join(".berth/base/tls/cert.pem");
    let url = format!("https://localhost:{https}/api/slow?ms=20");
    let load = common::Load::start(&cert, &url);

    let good = berth(dir.path(), &["deploy", "web", "--version", "2.0.0"]);
    let said = format!("{}{}", String::from_utf8_lossy(&good.stdout), String::from_utf8_lossy(&good.stderr));
    assert!(good.status.success(), "{said}");
    let (gate, started) = (said.find("job migrate succeeded"), said.find("started replica"));
    assert!(gate.is_some() && gate < started, "the migration runs before any new replica starts: {said}");
    assert_eq!(lines(&migrations), ["migrate none hello", "migrate 2.0.0 hello"]);

    let bad = berth(dir.path(), &["deploy", "web", "--version", "3.0.0-bad"]);
    let said = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert_eq!(bad.status.code(), Some(1), "a failed migration fails the deploy: {said}");
    assert!(said.contains("job `migrate` of `web` failed") && said.contains("exited with status 3"), "{said}");
    let job_log = std::fs::read_to_string(dir.path().join(".berth/base/logs/web-migrate.log")).unwrap();
    assert!(job_log.contains("refusing 3.0.0-bad"), "the job's output is in its log: {job_log}");
    std::thread::sleep(Duration::from_millis(500));
    let common::Seen { ok, failed, versions } = load.finish();
    assert!(failed.is_empty(), "{} requests failed during the deploys: {failed:?}", failed.len());
    assert!(ok > 30, "the load generator sent only {ok} requests");
    assert!(versions.contains("2.0.0") && !versions.iter().any(|v| v.contains("bad")), "{versions:?}");
    let status: serde_json::Value =
        serde_json::from_slice(&berth(dir.path(), &["status", "-o", "json"]).stdout).unwrap();
    let running: Vec<&str> =
        status["replicas"].as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap_or("")).collect();
    assert_eq!(running, ["2.0.0", "2.0.0"], "the old version keeps serving");

    // `berth run`: now, with the running version's settings.
    let ticks = dir.path().join("ticks.log");
    let before = lines(&ticks).len();
    let run = berth(dir.path(), &["run", "tick"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(lines(&ticks).len(), before + 1);
    assert!(lines(&ticks).iter().all(|l| l.starts_with("tick ")));
    let unknown = berth(dir.path(), &["run", "tock"]);
    assert_eq!(unknown.status.code(), Some(2), "an unknown job is a usage error");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `tick`"));

    // The schedule fires every minute by itself.
    let deadline = Instant::now() + Duration::from_secs(75);
    while lines(&ticks).len() < before + 2 {
        assert!(Instant::now() < deadline, "the scheduled job did not run within a minute: {:?}", lines(&ticks));
        std::thread::sleep(Duration::from_millis(500));
    }
    // So did the volume's backup policy: taken, signed and verified.
    let backups = dir.path().join("backups/web.data/backups");
    let log = dir.path().join(".berth/base/logs/backup-web.data.log");
    let verified = || {
        std::fs::read_dir(&backups).into_iter().flatten().flatten().any(|b| b.path().join("verification.json").exists())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !verified() {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(Instant::now() < deadline, "no verified backup of the volume: {said}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("backup prune web.data") && !said.contains("failed"), "{said}");

    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

#[test]
fn a_failing_migration_keeps_berth_up_from_starting_the_service() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    common::writable_by_services(dir.path());
    let (http, https, admin) = (free_port(), free_port(), free_port());
    let failing = r#"echo "no database" >&2; exit 7"#;
    std::fs::write(dir.path().join("berth.yaml"), spec(demo.path(), dir.path(), http, https, admin, failing)).unwrap();
    let up = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "berth.yaml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "{said}");
    assert!(said.contains("job `migrate` of `web` failed") && said.contains("exited with status 7"), "{said}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", http)).is_err(), "nothing serves");
}
