//! `berth doctor` end to end: the demo service behind the edge with TLS
//! from files, a real PostgreSQL (physical backups, WAL archiving) and
//! Redis started by `berth up` on loopback. The doctor must find what is
//! wrong (no stack, no backup yet, a world-readable secret file, a
//! certificate about to expire, a spec changed under a running stack) and
//! say so with the exit code monitoring plugins expect: 0, 1 or 2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_test_support::{free_port, read_json, replica_port};
use serde_json::Value;

const PASSWORD: &str = "doctor pw/1";

fn berth(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("BERTH_SECRET_DB_PASSWORD", PASSWORD)
        .env("BERTH_SECRET_CACHE_PASSWORD", PASSWORD)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "berth failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.into_owned()
}

/// `berth doctor -o json`: the report and the exit code.
fn doctor(dir: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["doctor", "berth.yaml", "-o", "json"];
    args.extend(extra);
    let out = berth(dir, &args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e})\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap())
}

/// The check with this section and subject.
fn find<'r>(report: &'r Value, section: &str, subject: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["section"] == section && c["subject"] == subject)
        .unwrap_or_else(|| panic!("no {section} check of {subject} in {report:#}"))
}

fn status<'r>(report: &'r Value, section: &str, subject: &str) -> &'r str {
    find(report, section, subject)["status"].as_str().unwrap()
}

fn message(report: &Value, section: &str, subject: &str) -> String {
    find(report, section, subject)["message"].as_str().unwrap().to_owned()
}

fn spec(demo: &Path, ports: (u16, u16, u16), replicas: u32, work_mem: &str) -> String {
    format!(
        r#"version: 1
name: clinic
services:
  web:
    run: {{ command: ["{demo}"] }}
    ports: {{ http: 8080 }}
    replicas: {replicas}
    uses: [db, cache]
    secrets: {{ API_KEY: api-key }}
    health:
      liveness: {{ http: /health }}
      readiness: {{ http: /health/ready, interval: 1s }}
secrets:
  db-password: {{}}
  cache-password: {{}}
  api-key: {{ file: secrets/api-key }}
dependencies:
  db:
    kind: postgres
    version: "15"
    password: {{ secret: db-password }}
    settings: {{ work_mem: {work_mem}, log_min_duration_statement: 1000 }}
    backup:
      schedule: "0 3 * * *"
      method: physical
      recovery_point: 1m
      to: ./backups
  cache:
    kind: redis
    version: "7.0"
    password: {{ secret: cache-password }}
    maxmemory: 32Mi
edge:
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: files, cert: tls/cert.pem, key: tls/key.pem }}
  routes:
    - {{ path: /, service: web }}
"#,
        demo = demo.display(),
        http = ports.0,
        https = ports.1,
        admin = ports.2,
    )
}

/// A stack started with `berth up -d`, stopped on drop.
struct Stack {
    dir: PathBuf,
    supervisor: u32,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = berth(&self.dir, &["down", "berth.yaml"]);
        let _ = Command::new("kill").arg(self.supervisor.to_string()).status();
    }
}

#[test]
fn doctor_finds_what_is_wrong_and_exits_like_a_monitoring_plugin() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    // Scratch servers of the backup's verification run as `postgres` under root.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path();
    let ports = (free_port(), free_port(), free_port());
    std::fs::write(root.join("berth.yaml"), spec(demo.path(), ports, 2, "8MB")).unwrap();
    std::fs::create_dir_all(root.join("tls")).unwrap();
    // Valid for one day: the doctor must warn (under 30 days).
    berth_test_support::self_signed_certificate(root, "tls/cert.pem", "tls/key.pem");
    std::fs::create_dir_all(root.join("secrets")).unwrap();
    std::fs::write(root.join("secrets/api-key"), "k-123\n").unwrap();
    std::fs::set_permissions(root.join("secrets/api-key"), std::fs::Permissions::from_mode(0o644)).unwrap();

    // Nothing runs yet: services fail, and so does the exit code.
    let (report, code) = doctor(root, &[]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["status"], "fail");
    assert_eq!(status(&report, "services", "web"), "fail");
    assert!(message(&report, "services", "web").contains("not running"));
    assert_eq!(
        status(&report, "tls", &root.join("tls/cert.pem").canonicalize().unwrap().display().to_string()),
        "warn"
    );

    ok(berth(root, &["up", "-d", "berth.yaml"]));
    let state = read_json(&root.join(".berth/base/state.json"));
    let _stack =
        Stack { dir: root.to_path_buf(), supervisor: u32::try_from(state["supervisor"].as_u64().unwrap()).unwrap() };

    let (report, code) = doctor(root, &[]);
    assert_eq!(code, 2, "{report:#}");
    // Services: both replicas, their liveness and readiness answered.
    assert_eq!(message(&report, "services", "web"), "2 of 2 replicas running");
    for replica in ["web#0", "web#1"] {
        assert_eq!(status(&report, "services", replica), "ok", "{report:#}");
        let said = message(&report, "services", replica);
        assert!(said.contains("health GET /health 200") && said.contains("ready GET /health/ready 200"), "{said}");
    }
    // The edge answers and sees both replicas healthy.
    assert_eq!(status(&report, "edge", "edge http"), "ok", "{report:#}");
    assert_eq!(message(&report, "edge", "edge → web"), "2 of 2 replicas healthy");
    // The certificate the edge serves expires within a day.
    let served = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["section"] == "tls" && c["subject"].as_str().unwrap().starts_with("https://"))
        .unwrap();
    assert_eq!(served["status"], "warn", "{served:#}");
    assert!(served["message"].as_str().unwrap().contains("left), self-signed"), "{served:#}");
    // Dependencies: reachable, on the versions the spec names, settings as declared.
    assert_eq!(status(&report, "dependencies", "db"), "ok", "{report:#}");
    assert!(message(&report, "dependencies", "db").starts_with("PostgreSQL 15."));
    assert_eq!(status(&report, "dependencies", "cache"), "ok", "{report:#}");
    assert_eq!(status(&report, "drift", "db work_mem"), "ok");
    // A bare number is in the parameter's unit: the server shows 1000 ms as `1s`.
    assert_eq!(status(&report, "drift", "db log_min_duration_statement"), "ok");
    assert_eq!(status(&report, "drift", "cache maxmemory"), "ok");
    assert_eq!(status(&report, "drift", "spec"), "ok");
    // No backup yet, and no WAL shipped: point-in-time recovery is impossible.
    assert_eq!(status(&report, "backups", "db"), "fail");
    assert!(message(&report, "backups", "db").contains("no verified backup yet"));
    // A secret file others can read fails, with the fix.
    let key = find(&report, "secrets", "secret api-key");
    assert_eq!(key["status"], "fail");
    assert!(key["hint"].as_str().unwrap().starts_with("chmod 600"), "{key:#}");
    assert_eq!(status(&report, "secrets", "secret db-password"), "ok");
    // Disk space of the state directory and the backups is reported.
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["section"] == "disk" && c["message"].as_str().unwrap().contains("free of"))
    );

    // Mend it: a verified base backup, WAL shipped, the secret file private.
    ok(berth(root, &["backup", "db"]));
    ok(berth(root, &["backup", "verify", "db"]));
    let db_port = replica_port(&state, "db").to_string();
    let psql = |sql: &str| {
        let out = Command::new(berth_test_support::tool("psql"))
            .args(["-h", "127.0.0.1", "-p", &db_port, "-U", "clinic", "-d", "db", "-qAtX", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    psql("CREATE TABLE visits (id int); INSERT INTO visits VALUES (1)");
    let current = psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    // The switch is the superuser's, over its socket: the app's role is none.
    let switched = Command::new(berth_test_support::tool("psql"))
        .args(["-h", &root.join(".berth/base/deps/db/run").display().to_string(), "-p", &db_port, "-U", "postgres"])
        .args(["-d", "postgres", "-qAtX", "-c", "SELECT pg_switch_wal()"])
        .output()
        .unwrap();
    assert!(switched.status.success(), "psql: {}", String::from_utf8_lossy(&switched.stderr));
    let shipped = root.join(format!("backups/db/wal/{current}.zst"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !shipped.exists() {
        assert!(Instant::now() < deadline, "{} was never shipped", shipped.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::set_permissions(root.join("secrets/api-key"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let (report, code) = doctor(root, &[]);
    assert_eq!(status(&report, "backups", "db"), "ok", "{report:#}");
    assert!(message(&report, "backups", "db").contains("newest verified backup finished"));
    let wal = find(&report, "backups", "db wal");
    assert_eq!(wal["status"], "ok", "{wal:#}");
    assert!(wal["message"].as_str().unwrap().contains("every finished segment is shipped"), "{wal:#}");
    assert_eq!(status(&report, "secrets", "secret api-key"), "ok");
    // What is left is the certificate's warning: exit 1.
    let failing: Vec<&Value> = report["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail").collect();
    assert!(failing.is_empty(), "{failing:#?}");
    assert_eq!((report["status"].as_str(), code), (Some("warn"), 1), "{report:#}");

    // The exporter serves the same facts to Prometheus, for the rendered alerts.
    let port = free_port();
    let mut exporter = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["backup", "exporter", "db", "--spec", "berth.yaml", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let metrics = (0..100)
        .find_map(|_| {
            let out = Command::new("curl").args(["-sf", &format!("http://127.0.0.1:{port}/metrics")]).output().unwrap();
            if out.status.success() {
                return Some(String::from_utf8(out.stdout).unwrap());
            }
            std::thread::sleep(Duration::from_millis(100));
            None
        })
        .expect("the exporter never answered");
    let _ = Command::new("kill").arg(exporter.id().to_string()).status();
    let _ = exporter.wait();
    assert!(metrics.contains("berth_backup_up{dependency=\"db\"} 1\n"), "{metrics}");
    assert!(metrics.contains("berth_backup_last_verified_timestamp_seconds{dependency=\"db\"} "), "{metrics}");
    assert!(metrics.contains("berth_backup_backups{dependency=\"db\",state=\"verified\"} 1\n"), "{metrics}");
    assert!(metrics.contains("berth_backup_wal_last_shipped_timestamp_seconds{dependency=\"db\"} "), "{metrics}");
    let mut promtool = Command::new(berth_test_support::tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // The human report says the same, sections in order, with the exit code.
    let out = berth(root, &["doctor", "berth.yaml", "--color", "never"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let order = [
        "Services",
        "Edge",
        "TLS certificates",
        "Dependencies",
        "Backups and WAL",
        "Disk space",
        "Secret files",
        "Drift from the spec",
    ];
    let positions: Vec<usize> =
        order.iter().map(|t| text.find(&format!("\n{t}\n")).unwrap_or_else(|| panic!("no {t} in\n{text}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("needs attention:") && text.contains("(exit 1)"), "{text}");

    // --endpoint checks a service where it is told to.
    let web_port = replica_port(&state, "web");
    let (report, _) = doctor(root, &["--endpoint", &format!("web=http://127.0.0.1:{web_port}")]);
    assert_eq!(status(&report, "services", "web"), "ok", "{report:#}");

    // Change the spec under the running stack: the doctor reports the drift.
    std::fs::write(root.join("berth.yaml"), spec(demo.path(), ports, 3, "16MB")).unwrap();
    let (report, code) = doctor(root, &[]);
    assert_eq!(code, 1, "{report:#}");
    let web = find(&report, "drift", "web");
    assert_eq!(web["status"], "warn");
    assert!(web["message"].as_str().unwrap().ends_with("changed since berth up started it: replicas"), "{web:#}");
    assert_eq!(message(&report, "drift", "db work_mem"), "the server runs 8MB, the spec says 16MB");
    assert_eq!(message(&report, "services", "web"), "2 of 3 replicas running");
}
