use std::collections::BTreeMap;

use berth_spec::model::units::{ByteSize, Duration, Schedule};
use berth_spec::{
    BackupMethod, DEFAULT_MAX_CLIENTS, DEFAULT_POOL_SIZE, Dependency, DependencyKind, EvictionPolicy, Managed,
    POOLER_PORT, Persistence, PoolMode, Resources, Retention, Spec,
};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct DependencyPlan {
    pub name: String,
    pub kind: DependencyKind,
    pub version: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    pub extensions: Vec<String>,
    pub settings: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmemory: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmemory_policy: Option<EvictionPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    pub storage: ByteSize,
    pub resources: Resources,
    /// Environment variable services read the URL from.
    pub url_env: String,
    /// Connection URL without the password; the host is the dependency's name.
    pub url: String,
    pub used_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupJob>,
    /// How cloud targets size the managed service; unset keys they derive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<Managed>,
    /// PgBouncer in front of a PostgreSQL server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooler: Option<PoolerPlan>,
}

/// PgBouncer in front of one PostgreSQL dependency: services connect to it;
/// it holds at most `pool_size` connections to the server.
#[derive(Debug, Clone, Serialize)]
pub struct PoolerPlan {
    /// `<dependency>-pooler`: its host name, workload and unit.
    pub name: String,
    pub port: u16,
    pub mode: PoolMode,
    pub pool_size: u32,
    pub max_clients: u32,
    pub resources: Resources,
    /// The URL services get (host: the pooler), without the password.
    pub url: String,
    /// The variable that carries the server's own URL (`DATABASE_URL_DIRECT`).
    pub direct_url_env: String,
}

/// One scheduled backup, the same on every target.
#[derive(Debug, Clone, Serialize)]
pub struct BackupJob {
    /// What its backups are filed under in the destination and named by on
    /// the command line: the dependency's name, or `<service>.<volume>`
    /// (names are DNS labels, so the two never meet).
    pub name: String,
    pub subject: BackupSubject,
    /// PostgreSQL: the spec's method (`logical` unless it says
    /// `physical`); Redis: always `snapshot`; a volume: `archive`.
    pub method: BackupMethod,
    pub schedule: Schedule,
    pub to: String,
    pub retain: Retention,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<Duration>,
    pub verify: bool,
    /// The secret whose value signs manifests; verification and restores
    /// refuse a manifest it did not sign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key_secret: Option<String>,
    /// The secret holding the age identity volume archives are encrypted
    /// to; verification and restores refuse one not encrypted to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key_secret: Option<String>,
}

/// What a backup policy backs up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BackupSubject {
    Postgres,
    Redis,
    /// A service's persistent volume.
    Volume {
        service: String,
        volume: String,
    },
}

impl BackupSubject {
    /// The dependency kind, for a dependency's policy.
    pub fn dependency_kind(&self) -> Option<DependencyKind> {
        match self {
            Self::Postgres => Some(DependencyKind::Postgres),
            Self::Redis => Some(DependencyKind::Redis),
            Self::Volume { .. } => None,
        }
    }

    fn of(kind: DependencyKind) -> Self {
        match kind {
            DependencyKind::Postgres => Self::Postgres,
            DependencyKind::Redis => Self::Redis,
        }
    }
}

/// The name a volume's backups are filed under.
pub fn volume_backup_name(service: &str, volume: &str) -> String {
    format!("{service}.{volume}")
}

impl BackupJob {
    /// What a scheduled run does, as `berth` arguments (every target's
    /// jobs and `berth up` run the same): take a backup, restore it into
    /// a scratch copy and compare (unless the spec turned verification
    /// off), then delete what the retention no longer keeps. Each step
    /// runs only when the one before succeeded, so a failed verification
    /// never prunes.
    pub fn scheduled_steps(&self) -> Vec<Vec<String>> {
        let name = self.name.clone();
        let mut steps = vec![vec!["backup".to_owned(), name.clone()]];
        if self.verify {
            steps.push(vec!["backup".to_owned(), "verify".to_owned(), name.clone()]);
        }
        steps.push(vec!["backup".to_owned(), "prune".to_owned(), name]);
        steps
    }

    /// A volume's policy from the spec's `backup:` on it.
    pub(crate) fn of_volume(service: &str, volume: &str, b: &berth_spec::model::Backup) -> Self {
        Self {
            name: volume_backup_name(service, volume),
            subject: BackupSubject::Volume { service: service.to_owned(), volume: volume.to_owned() },
            method: BackupMethod::Archive,
            schedule: b.schedule.clone(),
            to: b.to.clone(),
            retain: b.retain,
            recovery_point: None,
            verify: b.verify.unwrap_or(true),
            signing_key_secret: b.signing_key.as_ref().map(|k| k.secret.clone()),
            encryption_key_secret: b.encryption_key.as_ref().map(|k| k.secret.clone()),
        }
    }
}

impl PoolerPlan {
    /// The image Kubernetes and compose run PgBouncer from (its entrypoint
    /// is not used: berth passes the configuration it writes).
    pub const IMAGE: &str = "edoburu/pgbouncer:v1.25.1-p0";

    /// `pgbouncer.ini` for this pooler in front of `dep`, reached at
    /// `server`, listening on `listen`, with users from `auth_file`. One
    /// database, one user: `max_db_connections` makes `pool_size` the cap
    /// on server connections whatever the clients do.
    pub fn ini(&self, dep: &DependencyPlan, server: (&str, u16), listen: (&str, u16), auth_file: &str) -> String {
        let db = dep.database.as_deref().unwrap_or(&dep.name);
        let auth = if dep.password_secret.is_some() { "scram-sha-256" } else { "trust" };
        let reset = match self.mode {
            // Session pooling hands a connection to the next client:
            // nothing of the last session may leak into it.
            PoolMode::Session => " DISCARD ALL",
            PoolMode::Transaction => "",
        };
        format!(
            "; PgBouncer for `{dep}`, written by berth.\n\
             [databases]\n\
             {db} = host={host} port={port} dbname={db}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = {listen_addr}\n\
             listen_port = {listen_port}\n\
             unix_socket_dir =\n\
             auth_type = {auth}\n\
             auth_file = {auth_file}\n\
             pool_mode = {mode}\n\
             default_pool_size = {pool}\n\
             max_db_connections = {pool}\n\
             max_client_conn = {clients}\n\
             server_reset_query ={reset}\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            dep = dep.name,
            host = server.0,
            port = server.1,
            listen_addr = listen.0,
            listen_port = listen.1,
            mode = self.mode.as_str(),
            pool = self.pool_size,
            clients = self.max_clients,
        )
    }
}

/// The shell command that writes PgBouncer's `auth_file` at `path` from
/// two shell words that expand to the user and the password (`"$PGUSER"`,
/// `"$(cat /run/secrets/db)"`), quoting them as [`userlist_line`] does, so
/// the password lives only in the running container, never in a rendered file.
pub fn userlist_script(user: &str, password: &str, path: &str) -> String {
    let quote = r#"sed 's/"/""/g'"#;
    format!(
        "umask 077 && printf '\"%s\" \"%s\"\\n' \"$(printf %s {user} | {quote})\" \"$(printf %s {password} | {quote})\" > {path}"
    )
}

/// Turns off, for the session that sets a role's password, every setting
/// that would write its statements to the server's log: `log_statement`,
/// the duration and sampling logs, a failing statement's text, pgaudit. One
/// statement, so settings this server lacks (pgaudit not loaded,
/// `log_min_duration_sample` before 13) are skipped, not errors.
pub const QUIET_SESSION_SQL: &str = "SELECT count(set_config(v.name, v.value, false)) AS quiet FROM (VALUES \
    ('log_statement', 'none'), ('log_min_error_statement', 'panic'), ('log_min_duration_statement', '-1'), \
    ('log_min_duration_sample', '-1'), ('log_transaction_sample_rate', '0'), ('log_duration', 'off'), \
    ('pgaudit.log', 'none')) AS v(name, value) \
    WHERE EXISTS (SELECT FROM pg_settings s WHERE s.name = v.name);\n";

/// Where the official PostgreSQL image runs first-start scripts, and the
/// name of berth's there.
pub const INITDB_DIR: &str = "/docker-entrypoint-initdb.d";
pub const INIT_SCRIPT: &str = "10-berth-role.sh";

/// A name in SQL or pg_hba.conf, double-quoted (the spec allows only
/// `[A-Za-z0-9_-]`, so the quotes keep case and `-`).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl DependencyPlan {
    /// The first-start script container targets give the official
    /// PostgreSQL image (mounted into [`INITDB_DIR`]), so the services'
    /// role is not the image's superuser: the image bootstraps `postgres`
    /// (`POSTGRES_USER`) and this script, run once on an empty data
    /// directory against the image's socket-only server, makes the
    /// services' role without SUPERUSER, gives it the database and creates
    /// the spec's extensions as the superuser. pg_hba then rejects
    /// `postgres` over TCP before the image's password line, so the
    /// superuser is reachable only from inside its container.
    ///
    /// The password comes from `POSTGRES_PASSWORD`, which the image sets
    /// from the secret (or its `_FILE`): it is in no rendered file and no
    /// process's arguments, and the session that uses it logs no statement.
    /// Written to work both run and sourced (a bind mount may lose the
    /// executable bit): no `set`, every failure exits. `None` for Redis.
    pub fn postgres_init_script(&self) -> Option<String> {
        if self.kind != DependencyKind::Postgres {
            return None;
        }
        let user = quoted(self.user.as_deref().unwrap_or_default());
        let database = quoted(self.database.as_deref().unwrap_or(&self.name));
        // pg_basebackup connects as the services' role for physical backups.
        let physical = self.backup.as_ref().is_some_and(|b| b.method == BackupMethod::Physical);
        let replication = if physical { " REPLICATION" } else { "" };
        let password = if self.password_secret.is_some() {
            "\\set password `printf '%s' \"$POSTGRES_PASSWORD\"`\n".to_owned()
        } else {
            String::new()
        };
        let password_clause = if self.password_secret.is_some() { ":'password'" } else { "NULL" };
        let extensions: String = if self.extensions.is_empty() {
            String::new()
        } else {
            let mut out = format!("\\connect {database}\n");
            for extension in &self.extensions {
                out.push_str(&format!("CREATE EXTENSION IF NOT EXISTS {};\n", quoted(extension)));
            }
            out
        };
        let replication_line = if physical {
            format!("  printf 'host replication %s all %s\\n' '{user}' \"$auth\"\n")
        } else {
            String::new()
        };
        Some(format!(
            "#!/bin/sh\n\
             # Rendered by berth for `{name}`: the services' role {user} is no superuser.\n\
             # The official image runs this once, on an empty data directory.\n\
             psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet --username postgres --dbname postgres <<'SQL' || exit 1\n\
             \\set VERBOSITY terse\n\
             {QUIET_SESSION_SQL}\
             {password}\
             CREATE ROLE {user} WITH LOGIN NOSUPERUSER CREATEDB{replication} PASSWORD {password_clause};\n\
             GRANT pg_monitor TO {user};\n\
             ALTER DATABASE {database} OWNER TO {user};\n\
             {extensions}\
             SQL\n\
             # Over TCP the superuser is rejected and everyone else gives the\n\
             # image's method (its `host all all all <method>`), loopback too:\n\
             # initdb's `trust` for 127.0.0.1 would admit any process in the pod.\n\
             hba=\"$PGDATA/pg_hba.conf\"\n\
             auth=$(sed -n 's/^host all all all \\([a-z0-9-]*\\)$/\\1/p' \"$hba\" | tail -n 1)\n\
             auth=${{auth:-scram-sha-256}}\n\
             {{\n\
             \x20 printf '%s\\n' '# berth: the superuser only over the socket' 'host all postgres all reject' 'host replication postgres all reject'\n\
             {replication_line}\
             \x20 printf 'host all all all %s\\n' \"$auth\"\n\
             \x20 cat \"$hba\"\n\
             }} > \"$hba.berth\" && chmod 600 \"$hba.berth\" && mv \"$hba.berth\" \"$hba\" || exit 1\n",
            name = self.name,
        ))
    }
}

/// One line of PgBouncer's `auth_file`: both fields in double quotes, a
/// quote inside doubled.
pub fn userlist_line(user: &str, password: &str) -> String {
    format!("\"{}\" \"{}\"\n", user.replace('"', "\"\""), password.replace('"', "\"\""))
}

pub(crate) fn plan(spec: &Spec, name: &str, dep: &Dependency) -> DependencyPlan {
    let (port, version, storage) = match dep.kind {
        DependencyKind::Postgres => (5432, "16", 10 << 30),
        DependencyKind::Redis => (6379, "7", 1 << 30),
    };
    let postgres = dep.kind == DependencyKind::Postgres;
    let database = postgres.then(|| dep.database.clone().unwrap_or_else(|| name.to_owned()));
    let user = postgres.then(|| dep.user.clone().unwrap_or_else(|| spec.name.clone()));
    let url = match (&database, &user) {
        (Some(db), Some(user)) => format!("postgres://{user}@{name}:{port}/{db}"),
        _ => format!("redis://{name}:{port}/0"),
    };
    let backup = dep.backup.as_ref().map(|b| {
        let method = backup_method(dep.kind, b.method);
        BackupJob {
            name: name.to_owned(),
            subject: BackupSubject::of(dep.kind),
            method,
            schedule: b.schedule.clone(),
            to: b.to.clone(),
            retain: b.retain,
            recovery_point: (method == BackupMethod::Physical).then(|| b.recovery_point.unwrap_or(Duration::secs(300))),
            verify: b.verify.unwrap_or(true),
            signing_key_secret: b.signing_key.as_ref().map(|k| k.secret.clone()),
            encryption_key_secret: b.encryption_key.as_ref().map(|k| k.secret.clone()),
        }
    });
    DependencyPlan {
        name: name.to_owned(),
        kind: dep.kind,
        version: dep.version.clone().unwrap_or_else(|| version.to_owned()),
        port,
        database,
        user,
        password_secret: dep.password.as_ref().map(|p| p.secret.clone()),
        extensions: dep.extensions.clone(),
        settings: dep.settings.clone(),
        maxmemory: dep.maxmemory,
        maxmemory_policy: (!postgres).then(|| dep.maxmemory_policy.unwrap_or(EvictionPolicy::Noeviction)),
        persistence: (!postgres).then(|| dep.persistence.unwrap_or(Persistence::Rdb)),
        storage: dep.storage.unwrap_or(ByteSize(storage)),
        resources: dep.resources.clone(),
        url_env: berth_spec::url_env(dep.url_env.as_deref(), dep.kind),
        url: url.clone(),
        used_by: spec
            .services
            .iter()
            .filter(|(_, s)| s.uses.iter().any(|u| u == name))
            .map(|(n, _)| n.clone())
            .collect(),
        pooler: dep.pooler.as_ref().filter(|_| postgres).map(|p| {
            let pooler = format!("{name}-pooler");
            let url_env = berth_spec::url_env(dep.url_env.as_deref(), dep.kind);
            PoolerPlan {
                url: url.replacen(&format!("@{name}:{port}/"), &format!("@{pooler}:{POOLER_PORT}/"), 1),
                name: pooler,
                port: POOLER_PORT,
                mode: p.mode.unwrap_or(PoolMode::Transaction),
                pool_size: p.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
                max_clients: p.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS),
                resources: p.resources.clone(),
                direct_url_env: format!("{url_env}_DIRECT"),
            }
        }),
        backup,
        managed: dep.managed.clone(),
    }
}

/// The method a dependency of `kind` is backed up with when its spec says
/// `asked`: Redis always snapshots (the spec rejects a `method` there);
/// PostgreSQL takes a logical dump unless the spec says `physical`.
fn backup_method(kind: DependencyKind, asked: Option<BackupMethod>) -> BackupMethod {
    match (kind, asked) {
        (DependencyKind::Redis, _) => BackupMethod::Snapshot,
        (DependencyKind::Postgres, Some(BackupMethod::Physical)) => BackupMethod::Physical,
        // A spec cannot say `snapshot` or `archive` (they do not deserialize).
        (
            DependencyKind::Postgres,
            Some(BackupMethod::Logical | BackupMethod::Snapshot | BackupMethod::Archive) | None,
        ) => BackupMethod::Logical,
    }
}

/// Extensions whose library must be in `shared_preload_libraries` before
/// `CREATE EXTENSION` works (or, for pg_stat_statements, before it counts).
const PRELOADED: &[&str] =
    &["timescaledb", "pg_stat_statements", "pg_cron", "pgaudit", "citus", "pg_stat_monitor", "pg_squeeze"];

impl DependencyPlan {
    /// PostgreSQL parameters the server starts with: the spec's settings,
    /// plus the libraries its extensions need preloaded.
    pub fn server_settings(&self) -> BTreeMap<String, String> {
        let mut settings = self.settings.clone();
        let mut libraries: Vec<String> = settings
            .get("shared_preload_libraries")
            .map(|l| l.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        for extension in &self.extensions {
            if PRELOADED.contains(&extension.as_str()) && !libraries.contains(extension) {
                // Citus must load first; the others in any order.
                if extension == "citus" {
                    libraries.insert(0, extension.clone());
                } else {
                    libraries.push(extension.clone());
                }
            }
        }
        if !libraries.is_empty() {
            settings.insert("shared_preload_libraries".to_owned(), libraries.join(","));
        }
        settings
    }

    /// Whether the dependency archives WAL continuously: PostgreSQL with
    /// physical backups and a recovery point.
    pub fn archives_wal(&self) -> bool {
        self.archive_timeout().is_some()
    }

    fn archive_timeout(&self) -> Option<Duration> {
        self.backup.as_ref().filter(|b| b.method == BackupMethod::Physical).and_then(|b| b.recovery_point)
    }

    /// The PostgreSQL settings of continuous WAL archiving into `spool`,
    /// for a dependency with physical backups (none otherwise): every
    /// target starts the server with these, after the spec's own settings
    /// so that none of those turns archiving off, and ships the spool with
    /// `berth backup wal-ship`. `archive_timeout` is the recovery point:
    /// a quiet server still closes a segment that often.
    pub fn wal_archiving(&self, spool: &str) -> Vec<(String, String)> {
        let Some(rpo) = self.archive_timeout() else { return Vec::new() };
        vec![
            ("wal_level".to_owned(), "replica".to_owned()),
            ("archive_mode".to_owned(), "on".to_owned()),
            ("archive_command".to_owned(), archive_command(spool)),
            ("archive_timeout".to_owned(), rpo.as_secs().max(1).to_string()),
        ]
    }

    /// Redis directives as (name, value), in the order every target writes
    /// them; an empty value means "none" (`save ""` turns snapshots off).
    pub fn redis_directives(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(max) = self.maxmemory {
            out.push(("maxmemory".to_owned(), max.0.to_string()));
        }
        if let Some(policy) = self.maxmemory_policy {
            let name =
                serde_json::to_value(policy).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            out.push(("maxmemory-policy".to_owned(), name));
        }
        let persistence: &[(&str, &str)] = match self.persistence {
            Some(Persistence::None) => &[("save", ""), ("appendonly", "no")],
            Some(Persistence::Aof) => &[("save", ""), ("appendonly", "yes")],
            Some(Persistence::Both) => &[("appendonly", "yes")],
            Some(Persistence::Rdb) | None => &[],
        };
        out.extend(persistence.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        out.extend(self.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The directives as `redis-server` arguments for a shell command line.
    pub fn redis_arguments(&self) -> Vec<String> {
        self.redis_directives()
            .into_iter()
            .map(|(k, v)| format!("--{k} {}", if v.is_empty() { "''".to_owned() } else { v }))
            .collect()
    }
}

impl DependencyPlan {
    /// The container image for container targets: the official one, or
    /// TimescaleDB's when the spec asks for that extension.
    pub fn image(&self) -> String {
        match self.kind {
            DependencyKind::Postgres if self.extensions.iter().any(|e| e == "timescaledb") => {
                format!("timescale/timescaledb:2.17.2-pg{}", self.version)
            }
            DependencyKind::Postgres => format!("postgres:{}", self.version),
            DependencyKind::Redis => format!("redis:{}", self.version),
        }
    }
}

/// Copies a segment into the spool under a temporary name and renames it,
/// so the shipper never reads half a segment. A segment already there is
/// accepted only when identical: PostgreSQL may archive one twice after a
/// crash, but must never replace a different one. The spool is created on
/// first use, so the server never waits for the shipper to make it.
fn archive_command(spool: &str) -> String {
    format!(
        "mkdir -p '{spool}' && if [ -f '{spool}/%f' ]; then cmp -s %p '{spool}/%f'; \
         else cp %p '{spool}/%f.part' && mv '{spool}/%f.part' '{spool}/%f'; fi"
    )
}
