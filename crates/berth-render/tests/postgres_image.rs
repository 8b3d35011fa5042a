//! The PostgreSQL that compose and Kubernetes render, started the way its
//! container starts it: the official image's own entrypoint
//! (`postgres-image/docker-entrypoint.sh`, unchanged) runs against a real
//! PostgreSQL on this machine with the environment, command and first-start
//! script read back from the rendered `compose.yaml`. The services' role
//! must come out as the spec says (its password, no superuser, owner of its
//! database, the extensions made) and the image's superuser unreachable over
//! TCP; a second start (data directory kept) must not run the script again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use berth_render::{Output, Target};
use berth_test_support::{command, free_port, postgres_program, run, temp_dir, tool, workspace_root};
use serde_json::Value;

const PASSWORD: &str = "s3cret-Pa55'word\"$x";

fn spec(password: bool, method: &str) -> String {
    let password = if password { "    password: { secret: db-password }\n" } else { "" };
    format!(
        "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/shop-api:1.0.0\n    ports: {{ http: 8000 }}\n    \
         health: {{ readiness: {{ http: /health/ready }} }}\n    uses: [db]\n\
         dependencies:\n  db:\n    kind: postgres\n    version: \"15\"\n    user: Shop-App\n    database: shop-db\n    \
         extensions: [pgcrypto, pg_stat_statements]\n{password}    settings: {{ log_statement: all, log_min_duration_statement: 0 }}\n    \
         backup: {{ schedule: \"0 3 * * *\", method: {method}, to: \"file:///var/backups/shop\" }}\n\
         secrets:\n  db-password: {{ env: DB_PASSWORD }}\n"
    )
}

fn render(target: Target, text: &str) -> Output {
    let loaded = berth_spec::load(text, None);
    let spec = loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let plan = berth_plan::build(&spec, None);
    let out = target.render(&plan, text);
    assert!(out.diagnostics.iter().all(|d| d.severity != berth_diagnostics::Severity::Error), "{:?}", out.diagnostics);
    out
}

fn file<'a>(out: &'a Output, path: &str) -> &'a str {
    out.files.iter().find(|f| f.path == path).map(|f| f.contents.as_str()).unwrap_or_else(|| panic!("no {path}"))
}

/// The rendered PostgreSQL service: (environment, command, script).
fn compose_db(out: &Output) -> (Vec<(String, String)>, Vec<String>, String) {
    let doc: Value = serde_saphyr::from_str(file(out, "compose.yaml")).unwrap();
    let db = &doc["services"]["db"];
    let env = db["environment"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let args = db["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    let mount = &db["configs"][0];
    assert_eq!(mount["target"], "/docker-entrypoint-initdb.d/10-berth-role.sh");
    assert_eq!(mount["mode"], 0o555);
    let source = mount["source"].as_str().unwrap();
    let path = doc["configs"][source]["file"].as_str().unwrap().trim_start_matches("./");
    (env, args, file(out, path).to_owned())
}

/// Runs `args` as `postgres` (PostgreSQL refuses root) with exactly `env`.
fn as_postgres(env: &[(String, String)], args: &[String]) -> std::process::Command {
    let mut all = vec![tool("env").display().to_string(), "-i".to_owned()];
    all.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    all.extend(args.iter().cloned());
    if run(&tool("id"), &["-u"], Path::new("/")).stdout.trim() == "0" {
        all.splice(0..0, ["runuser", "-u", "postgres", "--"].map(str::to_owned));
        all[0] = tool("runuser").display().to_string();
    }
    let mut cmd = command(&all[0]);
    cmd.args(&all[1..]);
    cmd
}

struct Server {
    /// `runuser`, whose child the entrypoint `exec`s into `postgres`.
    child: Child,
    log: PathBuf,
    data: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A fast shutdown of the server this test started, by the PID it
    /// wrote (`runuser` would not pass SIGINT on).
    fn stop(mut self) -> String {
        let pidfile = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let pid = pidfile.lines().next().unwrap().trim().to_owned();
        run(&tool("kill"), &["-INT", &pid], Path::new("/"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "postgres did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The image's entrypoint, sourced, with `_main` as the image runs it;
/// only the path of the first-start directory differs (the test's, not
/// `/docker-entrypoint-initdb.d`).
fn start(dir: &Path, env: &[(String, String)], args: &[String], initdb: &Path, n: usize) -> Server {
    let entrypoint = workspace_root().join("crates/berth-render/tests/postgres-image/docker-entrypoint.sh");
    let script = format!(
        "source '{}'\n\
         eval \"image_$(declare -f docker_process_init_files)\"\n\
         docker_process_init_files() {{ image_docker_process_init_files '{dir}'/*; }}\n\
         ls() {{ command ls '{dir}'; }}\n\
         _main \"$@\"\n",
        entrypoint.display(),
        dir = initdb.display(),
    );
    let mut argv = vec!["bash".to_owned(), "-c".to_owned(), script, "docker-entrypoint.sh".to_owned()];
    argv.extend(args.iter().cloned());
    let log = dir.join(format!("server-{n}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child =
        as_postgres(env, &argv).stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
    Server { child, log, data: PathBuf::from(&env.iter().find(|(k, _)| k == "PGDATA").unwrap().1) }
}

/// `psql` over TCP as `user`: Ok(output) or Err(error text).
fn psql(port: u16, user: &str, password: Option<&str>, conninfo: &str, sql: &str) -> Result<String, String> {
    let psql = postgres_program("psql");
    let mut cmd = command(&psql.display().to_string());
    cmd.args([
        "-X",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        &format!("host=127.0.0.1 port={port} user={user} dbname=shop-db {conninfo}"),
        "-c",
        sql,
    ]);
    cmd.env_remove("PGPASSWORD");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn wait_ready(server: &mut Server, port: u16, password: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if psql(port, "Shop-App", password, "", "SELECT 1").is_ok() {
            return;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("the entrypoint exited ({status}):\n{}", server.log());
        }
        assert!(Instant::now() < deadline, "postgres never admitted Shop-App:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts the rendered database twice on a fresh data directory and checks
/// the roles, returning the logs.
fn boot(out: &Output, password: Option<&str>, executable: bool) -> String {
    let (compose_env, args, script) = compose_db(out);
    let dir = temp_dir();
    let d = dir.path();
    let initdb = d.join("initdb");
    std::fs::create_dir(&initdb).unwrap();
    let script_path = initdb.join("10-berth-role.sh");
    std::fs::write(&script_path, &script).unwrap();
    run(&tool("chmod"), &[if executable { "555" } else { "444" }, &script_path.to_string_lossy()], d);
    let secret = d.join("db-password");
    std::fs::write(&secret, password.unwrap_or_default()).unwrap();
    run(&tool("chmod"), &["-R", "a+rX", &d.to_string_lossy()], d);
    if run(&tool("id"), &["-u"], d).stdout.trim() == "0" {
        run(&tool("chown"), &["-R", "postgres", &d.to_string_lossy()], d);
    }
    let port = free_port();
    let bin = postgres_program("postgres").parent().unwrap().display().to_string();
    let mut env = vec![
        ("PATH".to_owned(), format!("{bin}:/usr/local/bin:/usr/bin:/bin")),
        ("PGDATA".to_owned(), d.join("data").display().to_string()),
        ("PGPORT".to_owned(), port.to_string()),
    ];
    for (k, v) in compose_env {
        // The secret's path inside the container is this test's file.
        let v = if k == "POSTGRES_PASSWORD_FILE" { secret.display().to_string() } else { v };
        env.push((k, v));
    }
    let mut logs = String::new();
    for n in 0..2 {
        let mut server = start(d, &env, &args, &initdb, n);
        wait_ready(&mut server, port, password);
        let log = server.log();
        // The script ran on the empty directory only.
        let ran = log.contains("10-berth-role.sh");
        assert_eq!(ran, n == 0, "start {n}:\n{log}");
        assert!(log.contains(if executable { "running" } else { "sourcing" }) || n == 1, "{log}");
        roles(port, password);
        logs.push_str(&server.stop());
    }
    logs
}

fn roles(port: u16, password: Option<&str>) {
    let app = |sql: &str| psql(port, "Shop-App", password, "", sql);
    assert_eq!(
        app("SELECT rolsuper, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = current_user").unwrap(),
        "f|t|t"
    );
    assert_eq!(
        app("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").unwrap(),
        "Shop-App"
    );
    assert_eq!(
        app("SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension").unwrap(),
        "pg_stat_statements,pgcrypto,plpgsql"
    );
    assert_eq!(app("SHOW shared_preload_libraries").unwrap(), "pg_stat_statements");
    app("CREATE TABLE IF NOT EXISTS notes (id int); SELECT count(*) FROM notes").unwrap();
    assert!(app("SELECT pg_ls_dir('.')").is_err(), "the role reads the data directory");
    let program = app("COPY (SELECT 1) TO PROGRAM 'true'").expect_err("the services' role ran a program");
    assert!(program.contains("permission denied") || program.contains("must be superuser"), "{program}");
    // pg_monitor, for the exporter and berth doctor.
    app("SELECT count(*) FROM pg_stat_activity WHERE query IS NOT NULL").unwrap();
    // Physical backups connect for replication as the services' role.
    let identify = psql(port, "Shop-App", password, "replication=true", "IDENTIFY_SYSTEM").unwrap();
    assert!(identify.contains('|'), "{identify}");
    if password.is_some() {
        let wrong = psql(port, "Shop-App", Some("guess"), "", "SELECT 1").expect_err("a wrong password got in");
        assert!(wrong.contains("password authentication failed"), "{wrong}");
    }
    // The image's superuser: not over TCP, with the right password or none.
    for (conninfo, pw) in [("", password), ("", None), ("replication=true", password)] {
        let refused = psql(port, "postgres", pw, conninfo, "SELECT 1").expect_err("postgres logged in over TCP");
        assert!(refused.contains("pg_hba.conf rejects") && refused.contains("\"postgres\""), "{refused}");
    }
}

#[test]
fn compose_postgres_gives_the_services_a_role_without_superuser() {
    let out = render(Target::Compose, &spec(true, "physical"));
    let logs = boot(&out, Some(PASSWORD), true);
    // The spec logs every statement: the set-up session logs none.
    assert!(logs.contains("LOG:  statement: SELECT 1"), "log_statement is not on:\n{logs}");
    for part in [PASSWORD, "s3cret", "Pa55"] {
        assert!(!logs.contains(part), "the password reached the log:\n{logs}");
    }
}

#[test]
fn without_a_password_the_script_also_works_sourced() {
    let out = render(Target::Compose, &spec(false, "physical"));
    let (env, _, script) = compose_db(&out);
    assert!(env.contains(&("POSTGRES_HOST_AUTH_METHOD".to_owned(), "trust".to_owned())), "{env:?}");
    assert!(script.contains("PASSWORD NULL"), "{script}");
    boot(&out, None, false);
}

#[test]
fn logical_backups_give_no_replication() {
    let out = render(Target::Compose, &spec(true, "logical"));
    let (_, _, script) = compose_db(&out);
    assert!(!script.contains("REPLICATION"), "{script}");
    assert!(!script.contains("host replication %s"), "{script}");
}

/// Kubernetes mounts the same script, executable, where the image runs it,
/// and bootstraps `postgres`, not the services' role, as the superuser.
#[test]
fn kubernetes_mounts_the_same_first_start_script() {
    let text = spec(true, "physical");
    let (_, _, script) = compose_db(&render(Target::Compose, &text));
    let out = render(Target::Kubernetes, &text);
    let docs: Vec<Value> = out
        .files
        .iter()
        .filter(|f| f.path.ends_with(".yaml"))
        .flat_map(|f| f.contents.split("\n---\n").map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|d| serde_saphyr::from_str::<Value>(&d).ok())
        .collect();
    let map =
        docs.iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "db-initdb").expect("ConfigMap");
    assert_eq!(map["data"]["10-berth-role.sh"].as_str(), Some(script.as_str()));
    let set = docs.iter().find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "db").expect("StatefulSet");
    let pod = &set["spec"]["template"]["spec"];
    let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "initdb").unwrap();
    assert_eq!(volume["configMap"]["name"], "db-initdb");
    assert_eq!(volume["configMap"]["defaultMode"], 0o555);
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "initdb").unwrap();
    assert_eq!(mount["mountPath"], "/docker-entrypoint-initdb.d/10-berth-role.sh");
    assert_eq!(mount["subPath"], "10-berth-role.sh");
    let env = container["env"].as_array().unwrap();
    let user = env.iter().find(|e| e["name"] == "POSTGRES_USER").unwrap();
    assert_eq!(user["value"], "postgres");
    assert!(env.iter().any(|e| e["name"] == "POSTGRES_PASSWORD" && e["valueFrom"]["secretKeyRef"].is_object()));
}
