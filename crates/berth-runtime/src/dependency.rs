//! PostgreSQL and Redis for `berth up`, from the machine's packages: each in
//! a private data directory under the state directory, on a free loopback
//! port, with the spec's password and settings, supervised like a replica.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_plan::{DependencyPlan, Plan, PoolerPlan};
use berth_spec::DependencyKind;

use crate::process::{self, RunAs};
use crate::programs::{chown, chown_tree, locate, missing, postgres_dirs, postgres_user, redis_user};
use crate::state::Shared;
use crate::supervisor::{self, Replica, ReplicaSpec};
use crate::{RuntimeError, io};

/// Where services reach a started dependency.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The connection URL with the password in it: passed to processes only.
    pub url: String,
    /// The loopback port it listens on.
    pub port: u16,
}

/// Percent-encodes a URL user-info part.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

pub async fn start(
    plan: &Plan,
    dep: &DependencyPlan,
    password: Option<String>,
    state_dir: &Path,
    state: &Arc<Shared>,
) -> Result<(Replica, Endpoint), RuntimeError> {
    let dir = dependency_dir(state_dir, &dep.name);
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let log = state_dir.join("logs").join(format!("{}.log", dep.name));
    let port = process::free_port().map_err(io("cannot find a free loopback port"))?;
    let (replica, url) = match dep.kind {
        DependencyKind::Redis => redis(dep, password.as_deref(), &dir, port, log, state)?,
        DependencyKind::Postgres => postgres(plan, dep, password.as_deref(), &dir, port, log, state).await?,
    };
    if !wait_port(port, Duration::from_secs(30)).await {
        replica.stop().await;
        return Err(RuntimeError::Unsupported(format!(
            "{} `{}` did not start; see {}",
            dep.kind.as_str(),
            dep.name,
            state_dir.join("logs").join(format!("{}.log", dep.name)).display()
        )));
    }
    if dep.kind == DependencyKind::Postgres
        && let Err(e) = prepare_database(dep, password.as_deref(), port, &dir, has_superuser(&dir)).await
    {
        replica.stop().await;
        return Err(e);
    }
    Ok((replica, Endpoint { url, port }))
}

fn spec(
    dep: &DependencyPlan,
    command: Vec<String>,
    workdir: &Path,
    port: u16,
    log: PathBuf,
    run_as: Option<RunAs>,
) -> ReplicaSpec {
    let mut ports = BTreeMap::new();
    ports.insert(dep.kind.as_str().to_owned(), port);
    ReplicaSpec {
        service: dep.name.clone(),
        index: 0,
        command,
        workdir: workdir.to_path_buf(),
        env: BTreeMap::new(),
        ports,
        primary: None,
        log,
        stop_timeout: Duration::from_secs(30),
        version: None,
        run_as,
        startup: None,
        liveness: None,
        volumes: Vec::new(),
        state_dir: PathBuf::new(),
    }
}

/// A redis.conf argument in double quotes, so spaces, quotes and
/// backslashes in a password or path survive Redis's argument splitting.
fn redis_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn redis(
    dep: &DependencyPlan,
    password: Option<&str>,
    dir: &Path,
    port: u16,
    log: PathBuf,
    state: &Arc<Shared>,
) -> Result<(Replica, String), RuntimeError> {
    let server = locate("redis-server", &[]).ok_or_else(|| missing("redis-server", "redis-server"))?;
    let run_as = redis_user()?;
    // Older berth ran Redis as root: its files there become the user's.
    chown_tree(dir, run_as)?;
    let mut conf = format!(
        "port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\ndir {}\n",
        redis_quote(&dir.display().to_string())
    );
    for (k, v) in dep.redis_directives() {
        conf.push_str(&format!(
            "{k} {}
",
            if v.is_empty() { "\"\"".to_owned() } else { v }
        ));
    }
    // In a 0600 file, so the password never shows in `ps`.
    if let Some(pw) = password {
        conf.push_str(&format!("requirepass {}\n", redis_quote(pw)));
    }
    let conf_path = dir.join("redis.conf");
    process::write_private(&conf_path, conf.as_bytes()).map_err(io("cannot write redis.conf"))?;
    chown(&conf_path, run_as)?;
    let command = vec![server.display().to_string(), conf_path.display().to_string()];
    let replica = supervisor::start(spec(dep, command, dir, port, log, run_as), state.clone());
    let url = match password {
        Some(pw) => format!("redis://:{}@127.0.0.1:{port}/0", encode(pw)),
        None => format!("redis://127.0.0.1:{port}/0"),
    };
    Ok((replica, url))
}

async fn postgres(
    plan: &Plan,
    dep: &DependencyPlan,
    password: Option<&str>,
    dir: &Path,
    port: u16,
    log: PathBuf,
    state: &Arc<Shared>,
) -> Result<(Replica, String), RuntimeError> {
    // The spec's version and extensions, checked before anything starts: a
    // missing preload library would otherwise be a restart loop.
    let install = crate::programs::postgres_install(&dep.version, &dep.name).await?;
    let settings = dep.server_settings();
    install.check(&dep.name, &dep.extensions, settings.get("shared_preload_libraries").map(String::as_str))?;
    let (initdb, postgres) = (install.bin.join("initdb"), install.bin.join("postgres"));
    let run_as = postgres_user()?;
    let data = dir.join("data");
    let sockets = socket_dir(dir);
    std::fs::create_dir_all(&sockets).map_err(io("cannot create the socket directory"))?;
    chown(dir, run_as)?;
    chown(&sockets, run_as)?;
    let user = dep.user.clone().unwrap_or_else(|| plan.project.clone());
    if !data.join("PG_VERSION").exists() {
        // The app's role is no superuser (one SQL injection away from
        // `COPY ... TO PROGRAM`): the cluster's superuser is `postgres`,
        // reachable only over the socket; berth writes pg_hba itself.
        if user == SUPERUSER {
            return Err(RuntimeError::Unsupported(format!(
                "dependency `{}`: the services' role cannot be `{SUPERUSER}`, the server's own superuser (an SQL injection would run programs on this machine); set `user:` to the app's name",
                dep.name
            )));
        }
        let args = vec![
            initdb.display().to_string(),
            "-D".into(),
            data.display().to_string(),
            "-U".into(),
            SUPERUSER.to_owned(),
            "-E".into(),
            "UTF8".into(),
            "--auth-local=trust".into(),
            "--auth-host=trust".into(),
        ];
        let ok = process::run_to_end(&args, &[], &log, run_as).await.map_err(io("cannot run initdb"))?;
        if !ok {
            return Err(RuntimeError::Unsupported(format!("initdb failed for `{}`; see {}", dep.name, log.display())));
        }
        // Before the server first starts: initdb's file trusts loopback.
        let hba = data.join("pg_hba.conf");
        process::write_private(&hba, pg_hba(password.is_some()).as_bytes()).map_err(io("cannot write pg_hba.conf"))?;
        chown(&hba, run_as)?;
        process::write_private(&dir.join(SUPERUSER_MARKER), SUPERUSER.as_bytes())
            .map_err(io("cannot record the superuser"))?;
    }
    let mut command = vec![postgres.display().to_string()];
    for (k, v) in &settings {
        command.push("-c".into());
        command.push(format!("{k}={v}"));
    }
    // After the spec's settings: where it listens and who may open its
    // socket are berth's (the last `-c` of a name wins).
    command.extend(crate::programs::postgres_server_args(&data, port, &sockets));
    // Last, so that no setting in the spec turns archiving off by accident.
    let spool = dir.join("wal-spool");
    let archiving = dep.wal_archiving(&spool.display().to_string());
    if !archiving.is_empty() {
        std::fs::create_dir_all(&spool).map_err(io("cannot create the WAL spool directory"))?;
        chown(&spool, run_as)?;
    }
    for (k, v) in archiving {
        command.extend(["-c".to_owned(), format!("{k}={v}")]);
    }
    let replica = supervisor::start(spec(dep, command, dir, port, log, run_as), state.clone());
    let db = dep.database.clone().unwrap_or_else(|| dep.name.clone());
    let url = match password {
        Some(pw) => format!("postgres://{}:{}@127.0.0.1:{port}/{db}", encode(&user), encode(pw)),
        None => format!("postgres://{}@127.0.0.1:{port}/{db}", encode(&user)),
    };
    Ok((replica, url))
}

/// PgBouncer from the machine's `pgbouncer` package in front of a started
/// PostgreSQL (`server`): the plan's pool, on a free loopback port, as
/// PostgreSQL's user (PgBouncer refuses to run as root), with the user list
/// in a private file.
pub async fn start_pooler(
    dep: &DependencyPlan,
    pooler: &PoolerPlan,
    server: &Endpoint,
    password: Option<&str>,
    state_dir: &Path,
    state: &Arc<Shared>,
) -> Result<(Replica, Endpoint), RuntimeError> {
    let program =
        locate("pgbouncer", &[PathBuf::from("/usr/sbin")]).ok_or_else(|| missing("PgBouncer", "pgbouncer"))?;
    let dir = dependency_dir(state_dir, &pooler.name);
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let run_as = postgres_user()?;
    chown(&dir, run_as)?;
    let log = state_dir.join("logs").join(format!("{}.log", pooler.name));
    let port = process::free_port().map_err(io("cannot find a free loopback port"))?;
    let user = dep.user.clone().unwrap_or_default();
    let userlist = dir.join(USERLIST);
    process::write_private(&userlist, berth_plan::userlist_line(&user, password.unwrap_or_default()).as_bytes())
        .map_err(io("cannot write PgBouncer's user list"))?;
    chown(&userlist, run_as)?;
    let ini_path = dir.join("pgbouncer.ini");
    let ini = pooler.ini(dep, ("127.0.0.1", server.port), ("127.0.0.1", port), &userlist.display().to_string());
    process::write_private(&ini_path, ini.as_bytes()).map_err(io("cannot write pgbouncer.ini"))?;
    chown(&ini_path, run_as)?;
    let mut ports = BTreeMap::new();
    ports.insert("pgbouncer".to_owned(), port);
    let replica = supervisor::start(
        ReplicaSpec {
            service: pooler.name.clone(),
            index: 0,
            command: vec![program.display().to_string(), ini_path.display().to_string()],
            workdir: dir.clone(),
            env: BTreeMap::new(),
            ports,
            primary: None,
            log: log.clone(),
            stop_timeout: Duration::from_secs(30),
            version: None,
            run_as,
            startup: None,
            liveness: None,
            volumes: Vec::new(),
            state_dir: PathBuf::new(),
        },
        state.clone(),
    );
    if !wait_port(port, Duration::from_secs(30)).await {
        replica.stop().await;
        return Err(RuntimeError::Unsupported(format!(
            "PgBouncer for `{}` did not start; see {}",
            dep.name,
            log.display()
        )));
    }
    let db = dep.database.clone().unwrap_or_else(|| dep.name.clone());
    let url = match password {
        Some(pw) => format!("postgres://{}:{}@127.0.0.1:{port}/{db}", encode(&user), encode(pw)),
        None => format!("postgres://{}@127.0.0.1:{port}/{db}", encode(&user)),
    };
    Ok((replica, Endpoint { url, port }))
}

/// PgBouncer's user list holds the database password in the clear (the
/// server's SCRAM secret would need PostgreSQL's own salt): it exists while
/// the pooler runs, and `berth up` writes it again at every start.
const USERLIST: &str = "userlist.txt";

/// Removes every pooler's user list once the poolers have stopped.
pub fn remove_pooler_secrets(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir.join("deps")) else { return };
    for entry in entries.flatten() {
        let _ = std::fs::remove_file(entry.path().join(USERLIST));
    }
}

/// Where PostgreSQL drops finished WAL segments for the shipper
/// (`berth_backup::wal::ship`), which compresses them into the backup
/// destination. A local spool keeps the destination's credentials out of
/// the server's environment and survives a destination outage.
pub fn wal_spool(state_dir: &Path, dependency: &str) -> PathBuf {
    dependency_dir(state_dir, dependency).join("wal-spool")
}

/// A dependency's private directory: data, sockets, spool.
fn dependency_dir(state_dir: &Path, dependency: &str) -> PathBuf {
    state_dir.join("deps").join(dependency)
}

/// The cluster's own superuser, named at bootstrap; the role services
/// connect as is separate from it.
const SUPERUSER: &str = "postgres";

/// Records that the cluster has a superuser apart from the app's role;
/// clusters `berth up` made before that have none, and keep working as
/// they were (their app role is the bootstrap superuser and cannot be
/// demoted).
const SUPERUSER_MARKER: &str = "superuser";

fn has_superuser(dir: &Path) -> bool {
    dir.join(SUPERUSER_MARKER).exists()
}

/// The server's socket directory in a dependency's directory.
fn socket_dir(dir: &Path) -> PathBuf {
    dir.join("run")
}

/// Client authentication when the superuser is separate: it may log in
/// only over the socket (mode 0700: its OS user and root); every other
/// role logs in over loopback with its password, or without one when the
/// spec sets none.
fn pg_hba(password: bool) -> String {
    let method = if password { "scram-sha-256" } else { "trust" };
    format!(
        "# Written by berth up.\n\
         local all all trust\n\
         local replication all trust\n\
         host all {SUPERUSER} all reject\n\
         host replication {SUPERUSER} all reject\n\
         host all all 127.0.0.1/32 {method}\n\
         host replication all 127.0.0.1/32 {method}\n"
    )
}

/// `text` as an SQL string literal (standard_conforming_strings is on).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as an SQL identifier.
fn sql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What the superuser runs once the server accepts logins (its statements,
/// one of which holds the password, kept out of the server's log whatever
/// the spec's `log_statement` and even when one fails): the app's role
/// (login, its password, no superuser; CREATEDB for `berth backup` and
/// `berth restore`, which connect as it, REPLICATION only when its backups
/// are physical (pg_basebackup reads the whole cluster), and `pg_monitor`,
/// so `berth doctor` reads every setting and the archiver) and its
/// database, owned by it. Run on every start, so a spec that changes
/// method changes the attribute.
fn setup_sql(user: &str, password: Option<&str>, db: &str, replication: bool) -> String {
    let (u, d) = (sql_literal(user), sql_literal(db));
    let pw = password.map_or_else(|| "NULL".to_owned(), sql_literal);
    let replication = if replication { "REPLICATION" } else { "NOREPLICATION" };
    format!(
        "\\set VERBOSITY terse\n\
         {quiet}\
         SELECT format('CREATE ROLE %I', {u}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {u}) \\gexec\n\
         ALTER ROLE {role} WITH LOGIN NOSUPERUSER CREATEDB {replication} PASSWORD {pw};\n\
         GRANT pg_monitor TO {role};\n\
         SELECT format('CREATE DATABASE %I OWNER %I', {d}, {u}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {d}) \\gexec\n",
        role = sql_ident(user),
        quiet = berth_plan::QUIET_SESSION_SQL,
    )
}

/// Whether berth backs `dep` up with pg_basebackup, which needs REPLICATION.
fn physical_backups(dep: &DependencyPlan) -> bool {
    dep.backup.as_ref().is_some_and(|b| b.method == berth_spec::BackupMethod::Physical)
}

/// Creates the app's role (on a cluster with a separate superuser), the
/// database and the extensions the spec asks for.
async fn prepare_database(
    dep: &DependencyPlan,
    password: Option<&str>,
    port: u16,
    dir: &Path,
    superuser: bool,
) -> Result<(), RuntimeError> {
    let dirs = postgres_dirs(&dep.version);
    let psql = locate("psql", &dirs).ok_or_else(|| missing("`psql`", "postgresql-client"))?;
    let user = dep.user.clone().unwrap_or_default();
    let db = dep.database.clone().unwrap_or_else(|| dep.name.clone());
    // The superuser over the socket; a cluster without one, as its role.
    let (host, login, env): (String, String, Vec<(String, String)>) = if superuser {
        (socket_dir(dir).display().to_string(), SUPERUSER.to_owned(), Vec::new())
    } else {
        (
            "127.0.0.1".to_owned(),
            user.clone(),
            password.map(|p| vec![("PGPASSWORD".to_owned(), p.to_owned())]).unwrap_or_default(),
        )
    };
    let log = dir.join("setup.log");
    let base = |database: &str| {
        vec![
            psql.display().to_string(),
            "-h".into(),
            host.clone(),
            "-p".into(),
            port.to_string(),
            "-U".into(),
            login.clone(),
            "-d".into(),
            database.to_owned(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-q".into(),
        ]
    };
    // Wait until it accepts logins, not just connections.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut probe = base("postgres");
        probe.extend(["-c".into(), "SELECT 1".into()]);
        if process::run_to_end(&probe, &env, &log, None).await.unwrap_or(false) {
            break;
        }
        if Instant::now() > deadline {
            return Err(RuntimeError::Unsupported(format!(
                "PostgreSQL `{}` does not accept logins; see {}",
                dep.name,
                log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if superuser {
        // From a private file, so the password is in no process's arguments.
        let sql = dir.join("setup.sql");
        process::write_private(&sql, setup_sql(&user, password, &db, physical_backups(dep)).as_bytes())
            .map_err(io("cannot write the set-up script"))?;
        let mut run = base("postgres");
        run.extend(["-f".into(), sql.display().to_string()]);
        let ok = process::run_to_end(&run, &env, &log, None).await;
        let _ = std::fs::remove_file(&sql);
        if !ok.unwrap_or(false) {
            return Err(RuntimeError::Unsupported(format!(
                "cannot create the role and database of `{}`; see {}",
                dep.name,
                log.display()
            )));
        }
    } else {
        let mut create = base("postgres");
        create.extend(["-c".into(), format!("CREATE DATABASE {}", sql_ident(&db))]);
        // CREATE DATABASE fails when it exists (a restart): that is fine.
        let _ = process::run_to_end(&create, &env, &log, None).await;
    }
    for extension in &dep.extensions {
        let mut cmd = base(&db);
        cmd.extend(["-c".into(), format!("CREATE EXTENSION IF NOT EXISTS {}", sql_ident(extension))]);
        if !process::run_to_end(&cmd, &env, &log, None).await.unwrap_or(false) {
            return Err(RuntimeError::Unsupported(format!(
                "PostgreSQL extension `{extension}` of `{}` is not available: install its package (for TimescaleDB: timescaledb-2-postgresql-{}); see {}",
                dep.name,
                dep.version.split('.').next().unwrap_or(""),
                log.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{pg_hba, redis_quote, setup_sql};

    #[test]
    fn the_app_role_is_made_without_superuser_and_the_superuser_only_logs_in_locally() {
        let sql = setup_sql("shop", Some("it's"), "shop-db", true);
        assert!(
            sql.contains("ALTER ROLE \"shop\" WITH LOGIN NOSUPERUSER CREATEDB REPLICATION PASSWORD 'it''s';"),
            "{sql}"
        );
        assert!(sql.contains("format('CREATE DATABASE %I OWNER %I', 'shop-db', 'shop')"), "{sql}");
        assert!(setup_sql("shop", None, "shop", true).contains("PASSWORD NULL"));
        assert!(setup_sql("shop", None, "shop", false).contains("CREATEDB NOREPLICATION PASSWORD"));
        // The statement holding the password is never logged, even failing.
        let (quiet, secret) = (sql.find("('log_statement', 'none')").unwrap(), sql.find("PASSWORD").unwrap());
        assert!(quiet < secret && sql.find("('log_min_duration_statement', '-1')").unwrap() < secret, "{sql}");
        let hba = pg_hba(true);
        let reject = hba.find("host all postgres all reject").unwrap();
        assert!(reject < hba.find("host all all 127.0.0.1/32 scram-sha-256").unwrap(), "{hba}");
        assert!(hba.contains("host replication postgres all reject"), "{hba}");
        assert!(pg_hba(false).contains("host all all 127.0.0.1/32 trust"));
    }

    #[test]
    fn redis_arguments_are_quoted() {
        assert_eq!(redis_quote("pw with space"), r#""pw with space""#);
        assert_eq!(redis_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(redis_quote("line\nbreak"), r#""line\nbreak""#);
    }
}
