//! `berth up` end to end through the real binaries: the demo service as two
//! supervised replicas behind the edge, real HTTPS with curl, a replica
//! killed and restarted with no failed request, `status`, and `down`
//! stopping every process it started.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_test_support::free_port;
use common::{KillOnDrop, alive, berth, curl, start_up, start_up_with};

#[test]
fn up_serves_restarts_and_stops_everything() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    let (http, https, admin) = (free_port(), free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: e2e
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 5s }}
    ports: {{ http: 8080 }}
    replicas: 2
    env: {{ BERTH_DEMO_VERSION: "7.7.7" }}
    health:
      liveness: {{ http: /health }}
      readiness: {{ http: /health/ready, interval: 1s }}
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: self-signed }}
  rate_limits:
    tight: {{ rate: 1/m, burst: 1 }}
  routes:
    - {{ path: /, service: web }}
    - {{ path: /limited, service: web, rate_limit: tight }}
    - {{ path: /internal, service: web, allow: [10.0.0.0/8] }}
"#,
        demo = demo.path().display()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop_on_failure = KillOnDrop(up.id());
    let cert = dir.path().join(".berth/base/tls/cert.pem");
    let base = format!("https://localhost:{https}");

    let (code, headers) = curl(&cert, &format!("{base}/"), &[]);
    assert_eq!(code, 200);
    assert!(headers.contains("x-version: 7.7.7") && headers.contains("strict-transport-security"), "{headers}");
    let (code, headers) = curl(&cert, &format!("http://localhost:{http}/path"), &[]);
    assert_eq!(code, 301);
    assert!(headers.contains(&format!("location: https://localhost:{https}/path")), "{headers}");
    assert_eq!(curl(&cert, &format!("{base}/internal"), &[]).0, 403);
    assert_ne!(curl(&cert, &format!("{base}/limited"), &[]).0, 429);
    assert_ne!(curl(&cert, &format!("{base}/limited"), &[]).0, 429);
    let (code, headers) = curl(&cert, &format!("{base}/limited"), &[]);
    assert_eq!(code, 429);
    assert!(headers.contains("retry-after:"), "{headers}");

    // Kill a replica: the supervisor restarts it, and no request fails meanwhile.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let pids: Vec<u64> = state["replicas"].as_array().unwrap().iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    Command::new("kill").args(["-9", &pids[0].to_string()]).status().unwrap();
    for i in 0..20 {
        assert_eq!(curl(&cert, &format!("{base}/"), &[]).0, 200, "request {i} after the kill failed");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let out = berth(dir.path(), &["status", "-o", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let restarted =
            json["replicas"].as_array().is_some_and(|r| r.iter().any(|x| x["restarts"] == 1 && x["health"] == "ready"));
        if restarted && out.status.success() {
            break json;
        }
        assert!(Instant::now() < deadline, "the killed replica was not restarted: {json}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status["replicas"].as_array().unwrap().iter().all(|r| r["version"] == "7.7.7"));
    let all_pids: Vec<u64> =
        status["replicas"].as_array().unwrap().iter().map(|r| r["pid"].as_u64().unwrap()).collect();

    // down: berth up drains and stops every replica, then exits cleanly.
    let down = berth(dir.path(), &["down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let exit = up.wait().unwrap();
    assert!(exit.success(), "berth up exited with {exit}");
    for pid in all_pids.iter().chain(&pids) {
        assert!(!alive(*pid), "replica pid {pid} is still running");
    }
    assert!(!dir.path().join(".berth/base/state.json").exists());
}

#[test]
fn deploys_under_load_fail_no_request_and_roll_back_a_version_that_never_gets_ready() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    let (http, https, admin) = (free_port(), free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: deploys
services:
  web:
    run: {{ command: ["{demo}"], stop_timeout: 5s }}
    ports: {{ http: 8080 }}
    replicas: 2
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
    deploy: {{ strategy: rolling, health_timeout: 4s, drain_timeout: 5s }}
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: self-signed }}
  routes:
    - {{ path: /, service: web }}
"#,
        demo = demo.path().display()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let mut up = start_up(dir.path());
    let _stop_on_failure = KillOnDrop(up.id());
    let cert = dir.path().join(".berth/base/tls/cert.pem");
    let url = format!("https://localhost:{https}/api/slow?ms=20");

    // A load generator on loopback for the whole of both deploys.
    let load = common::Load::start(&cert, &url);

    let good = berth(dir.path(), &["deploy", "web", "--version", "2.0.0"]);
    assert!(
        good.status.success(),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = berth(dir.path(), &["deploy", "web", "--version", "3.0.0", "--set", "BERTH_DEMO_NEVER_READY=1"]);
    assert_eq!(bad.status.code(), Some(1), "a deploy that never gets ready fails");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rolled back automatically"));
    std::thread::sleep(Duration::from_millis(500));
    let common::Seen { ok, failed, versions } = load.finish();
    assert!(failed.is_empty(), "{} requests failed during the deploys: {failed:?}", failed.len());
    assert!(ok > 50, "the load generator sent only {ok} requests");
    assert!(versions.contains("2.0.0"), "the new version answered: {versions:?}");
    assert!(!versions.contains("3.0.0"), "the version that never got ready must not answer");

    let status: serde_json::Value =
        serde_json::from_slice(&berth(dir.path(), &["status", "-o", "json"]).stdout).unwrap();
    let running: Vec<&str> =
        status["replicas"].as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap_or("")).collect();
    assert_eq!(running, ["2.0.0", "2.0.0"]);

    // rollback returns to the version before the last successful deploy.
    assert!(berth(dir.path(), &["rollback", "web"]).status.success());
    let (code, headers) = curl(&cert, &format!("https://localhost:{https}/"), &[]);
    assert_eq!(code, 200);
    assert!(!headers.contains("x-version: 2.0.0"), "{headers}");

    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

#[test]
fn up_starts_postgres_and_redis_and_wires_them_in() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: deps
services:
  web:
    run: {{ command: ["{demo}"] }}
    ports: {{ http: 8080 }}
    uses: [db, cache]
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
secrets:
  db-password: {{}}
  cache-password: {{}}
dependencies:
  db:
    kind: postgres
    version: "15"
    password: {{ secret: db-password }}
    extensions: [pgcrypto]
    # Every statement logged: berth's set-up, which sets the role's
    # password, must still not write it into the server's log.
    settings: {{ max_connections: 40, log_statement: all }}
  cache:
    kind: redis
    password: {{ secret: cache-password }}
    maxmemory: 32Mi
edge:
  listen: {{ http: {http}, admin: {admin} }}
  routes:
    - {{ path: /, service: web }}
"#,
        demo = demo.path().display()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let mut up = start_up_with(
        dir.path(),
        &[("BERTH_SECRET_DB_PASSWORD", "p@ss w0rd/1"), ("BERTH_SECRET_CACHE_PASSWORD", "redis-secret")],
    );
    let _stop_on_failure = KillOnDrop(up.id());

    // The demo's readiness checks both URLs it was given.
    let ready = Command::new("curl")
        .args(["-s", "-w", "%{http_code}", &format!("http://127.0.0.1:{http}/health/ready")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ready.stdout).ends_with("200"), "{}", String::from_utf8_lossy(&ready.stdout));

    // The demo's API through the edge: notes in PostgreSQL, visits in Redis.
    let request = |args: &[&str]| {
        let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    let notes = format!("http://127.0.0.1:{http}/api/notes");
    for note in ["first note", "second, with ünïcode"] {
        let (code, body) = request(&["-X", "POST", "--data-binary", note, &notes]);
        assert_eq!(code, "201", "{body}");
    }
    let (code, body) = request(&[&notes]);
    assert_eq!(code, "200", "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bodies: Vec<&str> = listed["notes"].as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["second, with ünïcode", "first note"], "newest first");
    let visits = format!("http://127.0.0.1:{http}/api/visits");
    let counts: Vec<i64> = (0..2)
        .map(|_| serde_json::from_str::<serde_json::Value>(&request(&[&visits]).1).unwrap()["visits"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2]);

    // PostgreSQL: the spec's database, role, password, setting and extension.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let port_of = |name: &str| berth_test_support::replica_port(&state, name);
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .find(|p| p.exists())
        .unwrap();
    let query = Command::new(&psql)
        .args(["-h", "127.0.0.1", "-p", &port_of("db").to_string(), "-U", "deps", "-d", "db", "-tAc", "SELECT current_setting('max_connections') || ',' || (SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto')"])
        .env("PGPASSWORD", "p@ss w0rd/1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&query.stdout).trim(), "40,1", "{}", String::from_utf8_lossy(&query.stderr));
    // The app's role owns its database but is no superuser: an SQL
    // injection cannot run programs as the server's user, and the
    // superuser cannot log in over TCP, with or without a password.
    let as_role = |user: &str, sql: &str| {
        Command::new(&psql)
            .args(["-h", "127.0.0.1", "-p", &port_of("db").to_string(), "-U", user, "-d", "db", "-tAc", sql])
            .env("PGPASSWORD", "p@ss w0rd/1")
            .output()
            .unwrap()
    };
    let role = as_role(
        "deps",
        "SELECT rolsuper::text || ',' || rolreplication::text || ',' || pg_get_userbyid(datdba) FROM pg_roles, pg_database WHERE rolname = current_user AND datname = 'db'",
    );
    // No REPLICATION either: nothing here backs it up with pg_basebackup.
    assert_eq!(
        String::from_utf8_lossy(&role.stdout).trim(),
        "false,false,deps",
        "{}",
        String::from_utf8_lossy(&role.stderr)
    );
    let program = as_role("deps", "COPY (SELECT 1) TO PROGRAM 'true'");
    assert!(!program.status.success(), "the app's role ran a program on the server");
    assert!(
        String::from_utf8_lossy(&program.stderr).contains("must be superuser"),
        "{}",
        String::from_utf8_lossy(&program.stderr)
    );
    let admin = as_role("postgres", "SELECT 1");
    assert!(!admin.status.success(), "the superuser logged in over TCP");
    let wrong = Command::new("redis-cli")
        .args(["-p", &port_of("cache").to_string(), "-a", "wrong", "--no-auth-warning", "ping"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&wrong.stdout).contains("PONG"), "Redis must require its password");
    let right = Command::new("redis-cli")
        .args([
            "-p",
            &port_of("cache").to_string(),
            "-a",
            "redis-secret",
            "--no-auth-warning",
            "config",
            "get",
            "maxmemory",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&right.stdout).contains(&(32u64 << 20).to_string()),
        "{}",
        String::from_utf8_lossy(&right.stdout)
    );
    // The password is in neither the state file nor any log.
    let mut written = std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap();
    for entry in std::fs::read_dir(dir.path().join(".berth/base/logs")).unwrap().flatten() {
        written.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert!(
        !written.contains("p@ss w0rd/1") && !written.contains("redis-secret"),
        "a password leaked into berth's files"
    );

    let pids: Vec<u64> = state["replicas"].as_array().unwrap().iter().filter_map(|r| r["pid"].as_u64()).collect();
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs after down");
    }
}

#[test]
fn up_serves_the_notes_api_through_pgbouncer_within_its_pool() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    // The replicas write their environment where they run.
    common::writable_by_services(dir.path());
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        r#"version: 1
name: pooled
services:
  web:
    # Each replica records the environment it was given, then runs the demo.
    run: {{ command: ["sh", "-c", "env > replica-env-$$.txt && exec {demo}"] }}
    ports: {{ http: 8080 }}
    replicas: 2
    uses: [db]
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
secrets:
  db-password: {{ env: POOLED_DB_PASSWORD }}
dependencies:
  db:
    kind: postgres
    version: "15"
    password: {{ secret: db-password }}
    settings: {{ max_connections: 20 }}
    pooler: {{ mode: transaction, pool_size: 2 }}
edge:
  listen: {{ http: {http}, admin: {admin} }}
  routes:
    - {{ path: /, service: web }}
"#,
        demo = demo.path().display()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let password = "p\"o'oled pw";
    let mut up = start_up_with(dir.path(), &[("POOLED_DB_PASSWORD", password), ("BERTH_SECRET_OTHER", "other")]);
    let _stop_on_failure = KillOnDrop(up.id());

    // The notes API through the edge, both replicas, PgBouncer between
    // them and PostgreSQL: every request answered.
    let notes = format!("http://127.0.0.1:{http}/api/notes");
    let posts: Vec<_> = (0..20)
        .map(|i| {
            let notes = notes.clone();
            std::thread::spawn(move || {
                let out = Command::new("curl")
                    .args(["-s", "-w", "\n%{http_code}", "-X", "POST", "--data-binary"])
                    .arg(format!("note {i}"))
                    .arg(&notes)
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
        })
        .collect();
    // Each answer is its body, then its status on the last line: a failure
    // shows what the demo said.
    let answers: Vec<String> = posts.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.iter().all(|a| a.ends_with("\n201")), "{answers:?}");
    let listed = Command::new("curl").args(["-s", &format!("{notes}?limit=50")]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["notes"].as_array().unwrap().len(), 20, "{listed}");

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let (server, pooler) =
        (berth_test_support::replica_port(&state, "db"), berth_test_support::replica_port(&state, "db-pooler"));
    let psql_program = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .find(|p| p.exists())
        .unwrap();
    let psql = |port: u16, pw: &str, sql: &str| {
        Command::new(&psql_program)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "pooled", "-d", "db", "-tAc", sql])
            .env("PGPASSWORD", pw)
            .output()
            .unwrap()
    };
    // Six clients at once through the pooler, each holding a transaction
    // for half a second: all served, never more than the pool's two
    // connections to the server.
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let program = psql_program.clone();
            std::thread::spawn(move || {
                Command::new(program)
                    .args(["-h", "127.0.0.1", "-p", &pooler.to_string(), "-U", "pooled", "-d", "db", "-tAc"])
                    .arg("SELECT pg_sleep(0.5), 1")
                    .env("PGPASSWORD", "p\"o'oled pw")
                    .output()
                    .unwrap()
            })
        })
        .collect();
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < deadline {
        let count = psql(
            server,
            password,
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
        let n: u32 = String::from_utf8_lossy(&count.stdout).trim().parse().unwrap();
        most = most.max(n);
        std::thread::sleep(Duration::from_millis(100));
    }
    for client in clients {
        let out = client.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!((1..=2).contains(&most), "{most} server connections; the pool allows 2");
    // The pooler checks the password; the wrong one is refused.
    let wrong = psql(pooler, "wrong", "SELECT 1");
    assert!(!wrong.status.success(), "PgBouncer accepted a wrong password");
    // The password is in neither the state file nor any log.
    let mut written = std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap();
    for entry in std::fs::read_dir(dir.path().join(".berth/base/logs")).unwrap().flatten() {
        written.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert!(!written.contains(password), "the password leaked into berth's files");
    // A replica gets the secrets its spec names under their own names, never
    // the variables berth up read them from (BERTH_SECRET_* or a secret's
    // `env:`); nor do the servers.
    let envs: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("replica-env-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(envs.len(), 2, "both replicas recorded their environment");
    for env in &envs {
        assert!(env.lines().any(|l| l.starts_with("DATABASE_URL=postgres://")), "{env}");
        assert!(
            !env.lines().any(|l| l.starts_with("BERTH_SECRET_") || l.starts_with("POOLED_DB_PASSWORD=")),
            "a replica inherited berth's secrets:\n{env}"
        );
    }
    for replica in state["replicas"].as_array().unwrap() {
        let pid = replica["pid"].as_u64().unwrap();
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            !environ.split('\0').any(|l| l.starts_with("BERTH_SECRET_") || l.starts_with("POOLED_DB_PASSWORD=")),
            "{} (pid {pid}) inherited berth's secrets",
            replica["service"]
        );
    }
    // PostgreSQL trusts local connections: its socket is its user's alone.
    let socket = dir.path().join(format!(".berth/base/deps/db/run/.s.PGSQL.{server}"));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "{} is open to other local users", socket.display());
    // What services print and the access log are the owner's alone.
    let logs = dir.path().join(".berth/base/logs");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&logs).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "{} is open to other local users", logs.display());
    // PgBouncer's user list holds the password while it runs, and only then.
    let userlist = dir.path().join(".berth/base/deps/db-pooler/userlist.txt");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&userlist).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "{} is readable by others", userlist.display());

    let pids: Vec<u64> = state["replicas"].as_array().unwrap().iter().filter_map(|r| r["pid"].as_u64()).collect();
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs after down");
    }
    assert!(!userlist.exists(), "the password stays on disk after down");
}

#[test]
fn up_detached_returns_once_serving_and_down_stops_it() {
    let demo = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let dir = berth_test_support::temp_dir();
    let (http, admin) = (free_port(), free_port());
    let spec = format!(
        "version: 1\nname: detached\nservices:\n  web:\n    run: {{ command: [\"{}\"] }}\n    ports: {{ http: 8080 }}\n    health:\n      readiness: {{ http: /health/ready }}\nedge:\n  listen: {{ http: {http}, admin: {admin} }}\n  routes:\n    - {{ path: /, service: web }}\n",
        demo.path().display()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let up = berth(dir.path(), &["up", "-d", "berth.yaml"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    assert!(String::from_utf8_lossy(&up.stdout).contains("running in the background"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let supervisor = state["supervisor"].as_u64().unwrap();
    let _stop_on_failure = KillOnDrop(u32::try_from(supervisor).unwrap());
    let served = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://127.0.0.1:{http}/")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&served.stdout), "200");
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(!alive(supervisor), "the detached berth up still runs after down");
}

/// Volumes under `berth up`: each replica sees them at their paths in a
/// mount namespace of its own, backed by the state directory. A persistent
/// volume is shared by the replicas and survives a restart; a scratch one
/// starts empty every time; nothing is written to the host's directories at
/// those paths.
#[test]
fn volumes_are_bound_at_their_paths_in_each_replica() {
    volumes(false);
}

/// The same as a user without privileges: berth up makes a user namespace
/// that maps the user to itself (as root it needs none).
#[test]
fn volumes_need_no_root() {
    volumes(true);
}

fn volumes(unprivileged: bool) {
    let dir = berth_test_support::temp_dir();
    let mnt = dir.path().join("mnt");
    let (data, scratch) = (mnt.join("data"), mnt.join("scratch"));
    let script = format!(
        "if [ -z \"$(ls -A {scratch})\" ]; then echo empty >> {data}/scratch-at-start; else echo dirty >> {data}/scratch-at-start; fi; \
         touch {scratch}/junk; echo start >> {data}/starts-$BERTH_REPLICA; exec sleep 600",
        scratch = scratch.display(),
        data = data.display(),
    );
    let spec = format!(
        r#"version: 1
name: vols
services:
  worker:
    run: {{ command: ["sh", "-c", {script:?}], stop_timeout: 2s }}
    replicas: 2
    volumes:
      data: {{ path: {data:?} }}
      scratch: {{ path: {scratch:?}, kind: scratch }}
"#,
        data = data.display().to_string(),
        scratch = scratch.display().to_string(),
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    let as_root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap().trim() == "0";
    let mut up = if unprivileged && as_root {
        // Everything the unprivileged user touches is theirs.
        assert!(Command::new("chown").args(["-R", "postgres"]).arg(dir.path()).status().unwrap().success());
        assert!(Command::new("chmod").args(["755"]).arg(dir.path()).status().unwrap().success());
        common::start_up_as(dir.path(), "postgres")
    } else {
        start_up(dir.path())
    };
    let _stop_on_failure = KillOnDrop(up.id());
    let stored = dir.path().join(".berth/base/volumes/worker/data");
    let lines = |name: &str| std::fs::read_to_string(stored.join(name)).unwrap_or_default().lines().count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (lines("starts-0") < 1 || lines("starts-1") < 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!((lines("starts-0"), lines("starts-1")), (1, 1), "both replicas wrote to the shared volume");
    // Nothing reached the host's directories at those paths.
    for path in [&data, &scratch] {
        assert_eq!(std::fs::read_dir(path).unwrap().count(), 0, "{} was written on the host", path.display());
    }
    // A replica killed and restarted: the shared volume kept, its scratch empty again.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let first = state["replicas"].as_array().unwrap().iter().find(|r| r["replica"] == 0).unwrap();
    let pid = first["pid"].as_u64().unwrap();
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines("starts-0") < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lines("starts-0"), 2, "replica 0 was not restarted");
    let at_start = std::fs::read_to_string(stored.join("scratch-at-start")).unwrap();
    assert_eq!(at_start, "empty\nempty\nempty\n", "a scratch volume was not empty at a start");
    if unprivileged {
        // The replicas kept their user: the files are the user's, not root's.
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(stored.join("starts-0")).unwrap());
        let expected = if as_root {
            String::from_utf8(Command::new("id").args(["-u", "postgres"]).output().unwrap().stdout)
                .unwrap()
                .trim()
                .parse::<u32>()
                .unwrap()
        } else {
            nix_uid()
        };
        assert_eq!(owner, expected);
    }
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());
}

fn nix_uid() -> u32 {
    String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap().trim().parse().unwrap()
}

/// `/proc/<pid>/status` fields: (real uid, supplementary groups).
fn credentials(pid: u64) -> (u32, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field =
        |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default();
    (field("Uid:").split_whitespace().next().unwrap().parse().unwrap(), field("Groups:"))
}

/// berth up run as root starts no service program as root: each replica,
/// its exec probe (in the replica's own mounts) and its jobs run as the
/// spec's `run_as_user` (default 10001) with no supplementary groups, the
/// volumes are that user's, and root only where the spec says
/// `run_as_user: 0`. Redis runs as its package's user. A working
/// directory the user cannot enter is refused before anything starts,
/// naming the directory in the way.
#[test]
fn as_root_services_run_as_their_user() {
    assert_eq!(nix_uid(), 0, "this test runs berth up as root, as CI does");
    let dir = berth_test_support::temp_dir();
    let mnt = dir.path().join("mnt");
    let data = mnt.join("data");
    // The replica proves its user and its volume; the readiness probe
    // passes only if it too runs as 4321 and sees the replica's volume.
    let api = format!(
        "id -u > {data}/uid-$BERTH_REPLICA; id -G > {data}/groups-$BERTH_REPLICA; echo \"$HOME\" > {data}/home; \
         touch {data}/written-$BERTH_REPLICA; exec sleep 600",
        data = data.display()
    );
    let probe = format!("test \"$(id -u)\" = 4321 && test -e {}/written-$BERTH_REPLICA", data.display());
    let job = format!("id -u > {}/job-uid", data.display());
    let spec = format!(
        r#"version: 1
name: users
services:
  api:
    run: {{ command: ["sh", "-c", {api:?}], stop_timeout: 2s }}
    security: {{ run_as_user: 4321 }}
    volumes:
      data: {{ path: {data:?} }}
    health:
      readiness: {{ exec: ["sh", "-c", {probe:?}], interval: 1s }}
    jobs:
      whoami: {{ command: ["sh", "-c", {job:?}] }}
  defaulted:
    run: {{ command: ["sleep", "600"], stop_timeout: 2s }}
  legacy:
    run: {{ command: ["sleep", "600"], stop_timeout: 2s }}
    security: {{ run_as_user: 0, run_as_non_root: false }}
  other:
    run: {{ command: ["sleep", "600"], stop_timeout: 2s }}
secrets:
  cache-password: {{}}
  # Read from a variable the base environment would otherwise pass on.
  token: {{ env: LC_BERTH_TOKEN }}
dependencies:
  cache:
    kind: redis
    password: {{ secret: cache-password }}
"#,
        data = data.display().to_string(),
    );
    std::fs::write(dir.path().join("berth.yaml"), &spec).unwrap();
    let mut up = start_up_with(
        dir.path(),
        &[
            ("BERTH_SECRET_CACHE_PASSWORD", "pw"),
            ("OPERATOR_TOKEN", "not-for-services"),
            ("LC_BERTH_TOKEN", "hidden-secret"),
        ],
    );
    let _stop_on_failure = KillOnDrop(up.id());
    let stored = dir.path().join(".berth/base/volumes/api/data");
    // Ready means the exec probe passed as 4321 in the replica's mounts.
    assert_eq!(std::fs::read_to_string(stored.join("uid-0")).unwrap().trim(), "4321");
    assert_eq!(std::fs::read_to_string(stored.join("groups-0")).unwrap().trim(), "4321", "supplementary groups kept");
    assert_eq!(std::fs::read_to_string(stored.join("home")).unwrap().trim(), "/", "root's HOME reached the replica");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&stored).unwrap());
    assert_eq!(owner, 4321, "the volume is not the service user's");

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".berth/base/state.json")).unwrap()).unwrap();
    let pid_of = |service: &str| {
        state["replicas"].as_array().unwrap().iter().find(|r| r["service"] == service).unwrap()["pid"].as_u64().unwrap()
    };
    assert_eq!(credentials(pid_of("defaulted")), (10001, String::new()), "the default user is 10001, no groups");
    // Services the spec gives no user get one each: sharing one, a service
    // could read the other's secrets from /proc.
    assert_eq!(credentials(pid_of("other")).0, 10002, "two services shared a uid");
    for service in ["api", "defaulted", "other", "cache"] {
        let pid = pid_of(service);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("NoNewPrivs:\t1"), "{service} may gain privileges: {status}");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(!environ.contains("OPERATOR_TOKEN"), "berth up's own environment reached {service}");
        assert!(!environ.contains("hidden-secret"), "a secret's source variable reached {service}");
    }
    // The volume is data: nothing on it runs setuid or opens a device.
    let mounts = std::fs::read_to_string(format!("/proc/{}/mountinfo", pid_of("api"))).unwrap();
    let line = mounts.lines().find(|l| l.split(' ').nth(4) == Some(data.to_str().unwrap())).unwrap();
    assert!(line.contains("nosuid") && line.contains("nodev"), "{line}");
    assert_eq!(credentials(pid_of("legacy")).0, 0, "run_as_user: 0 runs as root");
    let redis = Command::new("id").args(["-u", "redis"]).output().unwrap();
    let redis: u32 = String::from_utf8(redis.stdout).unwrap().trim().parse().unwrap();
    assert_eq!(credentials(pid_of("cache")).0, redis, "Redis ran as root");

    let run = berth(dir.path(), &["run", "whoami"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(std::fs::read_to_string(stored.join("job-uid")).unwrap().trim(), "4321", "the job ran as root");
    assert!(berth(dir.path(), &["down"]).status.success());
    assert!(up.wait().unwrap().success());

    // A working directory the user cannot enter: refused, naming it.
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    assert!(Command::new("chmod").args(["700"]).arg(&private).status().unwrap().success());
    let refused = spec.replace(
        "  defaulted:\n    run: { command: [\"sleep\", \"600\"], stop_timeout: 2s }",
        "  defaulted:\n    run: { command: [\"sleep\", \"600\"], stop_timeout: 2s, workdir: private }",
    );
    assert_ne!(refused, spec);
    std::fs::write(dir.path().join("berth.yaml"), &refused).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "berth.yaml"])
        .env("BERTH_SECRET_CACHE_PASSWORD", "pw")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("service `defaulted` runs as user 10001")
            && said.contains(&format!("`{}` is mode 0700, owned by 0:0", private.display())),
        "{said}"
    );
}
