//! `berth up` under faults, through the real binaries: the supervisor
//! killed with SIGKILL, a replica frozen with SIGSTOP, the open-file limit
//! below an attacker's connection count, a canary promoted then rolled
//! back. Nothing berth started may outlive it unnoticed, and nothing it
//! did not start may be signalled.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_test_support::free_port;
use common::{KillOnDrop, alive, berth, start_up};

fn demo() -> String {
    escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap().path().display().to_string()
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(".berth/base/state.json")).unwrap()).unwrap()
}

fn pids(state: &serde_json::Value) -> Vec<(String, u64)> {
    state["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["service"].as_str()?.to_owned(), r["pid"].as_u64()?)))
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl").args(["-s", "-m", "5", "-w", "\n%{http_code}", url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

#[test]
fn kill_9_of_berth_up_leaves_no_process_behind() {
    let demo = demo();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    // `stubborn` ignores SIGTERM, so it outlives the parent-death signal:
    // only `berth down`, reading what the dead berth up recorded, can stop it.
    let spec = format!(
        r#"version: 1
name: orphans
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 2s }}
    ports: {{ http: 8080 }}
    replicas: 2
    uses: [db, cache]
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
  stubborn:
    run: {{ command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"], stop_timeout: 2s }}
dependencies:
  db: {{ kind: postgres, version: "15" }}
  cache: {{ kind: redis }}
edge:
  listen: {{ http: {http}, admin: {admin} }}
  routes:
    - {{ path: /, service: web }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop = KillOnDrop(up.id());
    let before = pids(&state(dir.path()));
    assert_eq!(before.len(), 5, "{before:?}");
    assert_eq!(get(&format!("http://127.0.0.1:{http}/")).0, 200);

    Command::new("kill").args(["-9", &up.id().to_string()]).status().unwrap();
    assert!(!up.wait().unwrap().success(), "berth up was killed");
    // The kernel's parent-death signal stops everything that honours SIGTERM.
    wait_for("the replicas and servers to stop with berth up", Duration::from_secs(30), || {
        before.iter().filter(|(s, _)| s != "stubborn").all(|(_, p)| !alive(*p))
    });
    let stubborn = before.iter().find(|(s, _)| s == "stubborn").unwrap().1;
    assert!(alive(stubborn), "the SIGTERM-ignoring replica is still there, as the test intends");

    // status says so, and fails.
    let status = berth(dir.path(), &["status"]);
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(status.status.code(), Some(1), "{text}");
    assert!(text.contains("is not running") && text.contains("left 1 processes"), "{text}");

    // down stops what is left, by verified identity.
    let down = berth(dir.path(), &["down"]);
    let text = String::from_utf8_lossy(&down.stdout).into_owned();
    assert!(down.status.success(), "{text}{}", String::from_utf8_lossy(&down.stderr));
    assert!(text.contains(&stubborn.to_string()), "{text}");
    wait_for("the stubborn replica to be killed", Duration::from_secs(15), || !alive(stubborn));
    assert!(!dir.path().join(".berth/base/state.json").exists());

    // And berth up starts again (PostgreSQL's data directory included).
    let mut again = start_up(dir.path());
    let _stop_again = KillOnDrop(again.id());
    assert_eq!(get(&format!("http://127.0.0.1:{http}/")).0, 200);
    let after = pids(&state(dir.path()));
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(again.wait().unwrap().success());
    for (service, pid) in after.iter().chain(&before) {
        assert!(!alive(*pid), "{service} (pid {pid}) still runs");
    }
}

#[test]
fn down_never_signals_a_pid_it_cannot_verify() {
    let dir = berth_test_support::temp_dir();
    std::fs::write(
        dir.path().join("berth.yaml"),
        "version: 1\nname: reuse\nservices:\n  web:\n    run: { command: [\"true\"] }\n",
    )
    .unwrap();
    // A process berth never started, under a PID the state file claims,
    // as after a reboot: the same PID, another start time.
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = bystander.id();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_owned();
    let state = serde_json::json!({
        "project": "reuse", "environment": null, "supervisor": pid,
        "supervisor_identity": { "pid": pid, "started": 1, "boot": boot },
        "edge_http": null, "edge_https": null, "edge_admin": null, "ready": true,
        "replicas": [{ "service": "web", "replica": 0, "pid": pid, "ports": {}, "restarts": 0, "log": "/dev/null",
                       "identity": { "pid": pid, "started": 1, "boot": boot } }]
    });
    std::fs::create_dir_all(dir.path().join(".berth/base")).unwrap();
    std::fs::write(dir.path().join(".berth/base/state.json"), state.to_string()).unwrap();
    let down = berth(dir.path(), &["down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(u64::from(pid)), "berth down signalled a process it did not start");
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn a_frozen_replica_is_restarted_by_liveness_and_probes_of_every_kind_run() {
    let demo = demo();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: liveness
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 2s }}
    ports: {{ http: 8080 }}
    replicas: 2
    health:
      liveness: {{ http: /health, interval: 1s, timeout: 1s, failure_threshold: 2 }}
      readiness: {{ http: /health/ready, interval: 1s }}
  worker:
    run: {{ command: ["{demo}"], stop_timeout: 2s }}
    ports: {{ http: 8090 }}
    health:
      liveness: {{ tcp: true, interval: 1s, timeout: 1s, failure_threshold: 2 }}
      readiness: {{ exec: ["sh", "-c", "test -n \"$PORT\""], interval: 1s }}
  cache-user:
    run: {{ command: ["{demo}"] }}
    ports: {{ http: 8100 }}
    uses: [cache]
dependencies:
  cache: {{ kind: redis }}
edge:
  listen: {{ http: {http}, admin: {admin} }}
  routes:
    - {{ path: /, service: web }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop = KillOnDrop(up.id());

    // Healthy, with a dependency and an exec probe: status says so with 0.
    let status = berth(dir.path(), &["status"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stdout));

    let frozen = pids(&state(dir.path())).into_iter().find(|(s, _)| s == "web").unwrap().1;
    Command::new("kill").args(["-STOP", &frozen.to_string()]).status().unwrap();
    wait_for("liveness to restart the frozen replica", Duration::from_secs(20), || {
        let s = state(dir.path());
        s["replicas"].as_array().unwrap().iter().any(|r| r["service"] == "web" && r["restarts"] == 1)
    });
    wait_for("the frozen process to be gone", Duration::from_secs(10), || !alive(frozen));
    let log = std::fs::read_to_string(dir.path().join(".berth/base/logs/web-0.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join(".berth/base/logs/web-1.log")).unwrap_or_default();
    assert!(log.contains("liveness probe"), "{log}");
    wait_for("status to be healthy again", Duration::from_secs(20), || berth(dir.path(), &["status"]).status.success());
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

#[test]
fn a_canary_promoted_keeps_its_settings_and_rollback_returns_all_traffic() {
    let demo = demo();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: canary
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 2s }}
    ports: {{ http: 8080 }}
    replicas: 4
    env: {{ BERTH_DEMO_VERSION: "1.0.0" }}
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
    deploy: {{ strategy: canary, canary_weight: 25%, health_timeout: 10s, drain_timeout: 1s }}
edge:
  listen: {{ http: {http}, admin: {admin} }}
  routes:
    - {{ path: /, service: web }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop = KillOnDrop(up.id());
    let versions = || {
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..40 {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-D", "-", &format!("http://127.0.0.1:{http}/")])
                .output()
                .unwrap();
            let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
            let v = head.lines().find_map(|l| l.strip_prefix("x-version: ")).unwrap_or("?").trim().to_owned();
            *seen.entry(v).or_insert(0) += 1;
        }
        seen
    };
    let start = Instant::now();
    let deploy = berth(dir.path(), &["deploy", "web", "--set", "BERTH_DEMO_VERSION=2.0.0"]);
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    assert_eq!(versions().get("2.0.0"), Some(&10), "the canary takes 25%");
    let promote = berth(dir.path(), &["promote", "web"]);
    assert!(promote.status.success(), "{}", String::from_utf8_lossy(&promote.stderr));
    let promoted = versions();
    assert_eq!(promoted.get("2.0.0"), Some(&40), "promote starts the rest with the canary's --set: {promoted:?}");
    // Three replicas became ready together, not one timeout after another.
    assert!(start.elapsed() < Duration::from_secs(20), "deploy and promote took {:?}", start.elapsed());
    let rollback = berth(dir.path(), &["rollback", "web"]);
    assert!(rollback.status.success(), "{}", String::from_utf8_lossy(&rollback.stderr));
    let back = versions();
    assert_eq!(back.get("1.0.0"), Some(&40), "rollback after promote returns all traffic: {back:?}");
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

/// CPU seconds a process has used (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn an_attacker_past_the_open_file_limit_cannot_starve_the_edge() {
    let demo = demo();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: fds
services:
  web:
    run: {{ command: ["{demo}"] }}
    ports: {{ http: 8080 }}
edge:
  listen: {{ http: {http}, admin: {admin} }}
  timeouts: {{ header: 2s }}
  routes:
    - {{ path: /, service: web }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    // berth up under a hard limit of 256 descriptors.
    let mut up = Command::new("prlimit")
        .args(["--nofile=256:256", "--", env!("CARGO_BIN_EXE_berth"), "up", "berth.yaml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prlimit (util-linux)");
    let _stop = KillOnDrop(up.id());
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    assert!(lines.by_ref().any(|l| l.unwrap().contains("press Ctrl-C")), "berth up did not start");
    std::thread::spawn(move || lines.for_each(drop));
    let pid = up.id();

    // 600 connections that never send a byte: more than the process may open.
    let attacker: Vec<std::net::TcpStream> =
        (0..600).filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", http)).ok()).collect();
    assert!(attacker.len() >= 300, "only {} attacker connections", attacker.len());
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    // The admin port answers during the attack.
    let (code, _) = get(&format!("http://127.0.0.1:{admin}/health"));
    assert_eq!(code, 200, "the admin port during the attack");
    // A new client is served while the attack goes on: silent connections
    // are closed after the header timeout, and their slots go to the queue.
    let (code, body) = get(&format!("http://127.0.0.1:{http}/"));
    assert_eq!(code, 200, "a client during the attack: {body}");
    std::thread::sleep(Duration::from_secs(3));
    let cpu = cpu_seconds(pid) - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    assert!(cpu < wall * 0.5, "the edge spun: {cpu:.2}s of CPU in {wall:.1}s");
    drop(attacker);
    // Once the attacker leaves, everything is served at once.
    for _ in 0..20 {
        assert_eq!(get(&format!("http://127.0.0.1:{http}/")).0, 200);
    }
    let (_, metrics) = get(&format!("http://127.0.0.1:{admin}/metrics"));
    assert!(metrics.contains("berth_edge_connections_closed_total{reason=\"silent\"}"), "{metrics}");
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kib / 1024
}

/// The stated bound: an HTTP/2 flood of 200 connections x 100 streams
/// keeps `berth up` (edge, supervisor and all) under this much memory, and
/// it is given back once the flood is over (see `berth-edge/src/limits.rs`).
const FLOOD_RSS_CAP_MIB: u64 = 256;
const IDLE_AFTER_FLOOD_MIB: u64 = 64;

#[test]
fn an_http2_flood_stays_under_the_memory_cap_and_memory_is_given_back() {
    let demo = demo();
    let dir = berth_test_support::temp_dir();
    let (http, https, admin) = (free_port(), free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: flood
services:
  web:
    run: {{ command: ["{demo}"] }}
    ports: {{ http: 8080 }}
    replicas: 2
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: self-signed }}
  routes:
    - {{ path: /, service: web }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop = KillOnDrop(up.id());
    let pid = up.id();
    let mut flood = Command::new("h2load")
        .args(["-c", "200", "-m", "100", "-D", "6", "-t", "1", &format!("https://localhost:{https}/")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("h2load (apt-get install nghttp2-client)");
    let mut peak = 0;
    while flood.try_wait().unwrap().is_none() {
        peak = peak.max(rss_mib(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut report = String::new();
    std::io::Read::read_to_string(&mut flood.stdout.take().unwrap(), &mut report).unwrap();
    assert!(report.contains("status codes:"), "h2load did not run: {report}");
    assert!(peak < FLOOD_RSS_CAP_MIB, "{peak} MiB under the flood (cap {FLOOD_RSS_CAP_MIB} MiB)\n{report}");
    // Served again at once, and the memory goes back.
    assert_eq!(get(&format!("http://127.0.0.1:{admin}/health")).0, 200);
    let (code, _) = get(&format!("http://localhost:{http}/"));
    assert_eq!(code, 301, "plain HTTP redirects to HTTPS");
    wait_for("the memory of the flood to be given back", Duration::from_secs(40), || {
        rss_mib(pid) < IDLE_AFTER_FLOOD_MIB
    });
    let logs = dir.path().join(".berth/base/logs");
    for entry in std::fs::read_dir(logs).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(!text.contains("panicked"), "{}: {text}", entry.path().display());
    }
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
    eprintln!("h2 flood: peak {peak} MiB\n{report}");
}
