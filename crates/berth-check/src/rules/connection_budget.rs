use berth_diagnostics::Span;

use crate::graph::command::{facts, words};
use crate::graph::compose::{ComposeService, ContainerVar, bind_mounts, container_env, normalize};
use crate::graph::{Graph, Script, place};
use crate::rule::{Context, Rule, Sink};

use super::support::max_replicas;

crate::declare_rule! {
    /// Every process of every replica opens its own connection pool. When
    /// pool size x workers x replicas, summed over the clients of one
    /// PostgreSQL, exceeds its `max_connections` (100 unless set; 3 are
    /// reserved for superusers), the database refuses connections under
    /// load or during a rolling update, when old and new pods overlap.
    /// A client that connects as the image's superuser (the official
    /// image's `POSTGRES_USER`, else `postgres`), or whose role cannot be
    /// read, may use the reserved 3 too: then only `max_connections` counts.
    ///
    /// Pool sizes and workers come from a client's environment: compose
    /// `environment:` and the `env_file:`s of the tree it reads, or a
    /// Kubernetes container's literal `env`. `max_connections` comes from
    /// the server's command line (`-c max_connections=N`), else from
    /// `ALTER SYSTEM SET max_connections` run by `psql` in an init script
    /// mounted into `/docker-entrypoint-initdb.d`, else from a mounted
    /// `postgresql.conf` it is started with (`-c config_file=...`, or
    /// where the Bitnami image reads it) or Bitnami's
    /// `POSTGRESQL_MAX_CONNECTIONS`. A script elsewhere in the deployment
    /// unit that runs `ALTER SYSTEM SET max_connections` may raise the
    /// number, never lower it (when it runs is not known). Clients are
    /// linked by the host of their URL (or `PGHOST`...): a compose client
    /// to a database service of its own project, a Kubernetes client to
    /// the database a Service of that name selects (in its deployment unit,
    /// else the only one in the tree); without a host, to the only
    /// database of their project or unit.
    ConnectionBudget {
        code: "X012",
        name: "connection-budget",
        severity: Error,
        fix: "shrink the pools or workers, raise `max_connections` (`-c max_connections=N`), or put PgBouncer in front",
    }
}

const RESERVED: i64 = 3;

#[derive(Debug)]
struct Database {
    title: String,
    file: usize,
    span: Span,
    unit: usize,
    /// The compose project of a compose database; `None` in Kubernetes.
    project: Option<String>,
    max_connections: i64,
    /// Set on the command line: nothing else changes it.
    fixed: bool,
    /// Init scripts mounted into it (their ALTER SYSTEM is counted already).
    init_scripts: Vec<usize>,
    names: Vec<String>,
    /// The role the image makes a superuser (`POSTGRES_USER`, else
    /// `postgres`); `None` when it cannot be read.
    superuser: Option<String>,
}

#[derive(Debug)]
struct Client {
    title: String,
    file: usize,
    span: Span,
    unit: usize,
    /// The compose project of a compose client: its host names resolve
    /// to that project's services only. `None` in Kubernetes.
    project: Option<String>,
    pool: i64,
    workers: i64,
    replicas: i64,
    host: Option<String>,
    /// The role it connects as, from its URL or `PGUSER`...
    user: Option<String>,
}

impl Client {
    fn connections(&self) -> i64 {
        self.pool * self.workers * self.replicas
    }
}

impl Rule for ConnectionBudget {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let (databases, clients) = collect(cx);
        let target = |c: &Client| -> Option<usize> {
            let candidates: Vec<usize> = databases
                .iter()
                .enumerate()
                .filter(|(_, db)| db.project == c.project)
                .filter(|(_, db)| match &c.host {
                    Some(h) => db.names.iter().any(|n| h == n || h.split('.').next() == Some(n.as_str())),
                    None => db.unit == c.unit,
                })
                .map(|(i, _)| i)
                .collect();
            let own: Vec<usize> = candidates.iter().copied().filter(|&i| databases[i].unit == c.unit).collect();
            match (own.as_slice(), candidates.as_slice(), &c.host) {
                ([only], _, _) => Some(*only),
                ([], [only], Some(_)) => Some(*only),
                _ => None,
            }
        };
        let targets: Vec<Option<usize>> = clients.iter().map(target).collect();
        for (index, db) in databases.iter().enumerate() {
            let mine: Vec<&Client> =
                clients.iter().zip(&targets).filter(|(_, t)| **t == Some(index)).map(|(c, _)| c).collect();
            let total: i64 = mine.iter().map(|c| c.connections()).sum();
            // Superusers may take the reserved connections too: a client
            // that connects as one (the official image's only role is
            // one), or whose role cannot be read, counts against all of them.
            let superuser = mine.iter().find(|c| c.user.is_none() || db.superuser.is_none() || c.user == db.superuser);
            let (allowed, why) = match superuser {
                Some(c) => (
                    db.max_connections,
                    match (&c.user, &db.superuser) {
                        (Some(user), Some(s)) if user == s => {
                            format!("max_connections; {} connects as the superuser `{user}`", c.title)
                        }
                        _ => "max_connections; a client may connect as a superuser".to_owned(),
                    },
                ),
                None => (
                    db.max_connections - RESERVED,
                    format!("{} max_connections - {RESERVED} reserved", db.max_connections),
                ),
            };
            if total <= allowed {
                continue;
            }
            let Some(biggest) = mine.iter().max_by_key(|c| c.connections()) else { continue };
            let parts: Vec<String> = mine
                .iter()
                .map(|c| {
                    format!(
                        "{}: pool {} x {} worker(s) x {} replica(s) = {}",
                        c.title,
                        c.pool,
                        c.workers,
                        c.replicas,
                        c.connections()
                    )
                })
                .collect();
            sink.report(
                biggest.file,
                biggest.span,
                format!(
                    "{} connections to {} ({}), which allows {} ({}): {}",
                    total,
                    db.title,
                    place(cx.files, db.file, db.span),
                    allowed,
                    why,
                    parts.join("; ")
                ),
            );
        }
    }
}

fn is_postgres(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    (name.starts_with("postgres") || name.starts_with("postgis") || name.starts_with("timescaledb"))
        && !name.contains("exporter")
}

/// `-c max_connections=N` (or `--max_connections=N`, `-N N`) on the
/// server's command line.
fn command_max_connections(command: &[String]) -> Option<i64> {
    let from_flag = command.iter().find_map(|w| {
        let (_, value) = w.trim_start_matches('-').split_once("max_connections=")?;
        value.parse().ok()
    });
    from_flag.or_else(|| command.windows(2).find(|w| w[0] == "-N").and_then(|w| w[1].parse().ok()))
}

/// The value of the last `ALTER SYSTEM SET max_connections = N` (or `TO N`) in SQL text.
fn alter_system(sql: &str) -> Option<i64> {
    let spaced = sql.to_ascii_lowercase().replace('=', " = ").replace(';', " ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    words
        .windows(6)
        .filter(|w| w[..4] == ["alter", "system", "set", "max_connections"] && (w[4] == "=" || w[4] == "to"))
        .filter_map(|w| w[5].trim_matches(['\'', '"']).parse::<i64>().ok())
        .next_back()
}

/// What a script sets `max_connections` to with `psql ... -c "ALTER SYSTEM ..."`.
fn script_max_connections(script: &Script) -> Option<i64> {
    script
        .commands
        .iter()
        .filter_map(|c| c.runs(&["psql"]))
        .filter_map(|(_, args)| alter_system(&args.join(" ")))
        .next_back()
}

/// `max_connections` in a `postgresql.conf` (`name = value` or `name value`,
/// `#` comments, the last line wins); `None` when the file includes others,
/// which may set it again.
fn conf_max_connections(text: &str) -> Option<i64> {
    let mut found = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with("include") {
            return None;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => continue,
            },
        };
        if key == "max_connections"
            && let Ok(n) = value.trim_matches('\'').parse::<i64>()
        {
            found = Some(n);
        }
    }
    found
}

const POOL: [&str; 8] = [
    "DB_POOL_SIZE",
    "DATABASE_POOL_SIZE",
    "DB_POOL",
    "POOL_SIZE",
    "SQLALCHEMY_POOL_SIZE",
    "PG_POOL_MAX",
    "DB_MAX_CONNS",
    "DATABASE_MAX_CONNS",
];
const OVERFLOW: [&str; 2] = ["SQLALCHEMY_MAX_OVERFLOW", "DB_MAX_OVERFLOW"];
const WORKERS: [&str; 5] = ["WEB_CONCURRENCY", "GUNICORN_WORKERS", "WORKERS", "PUMA_WORKERS", "UVICORN_WORKERS"];
const URLS: [&str; 4] = ["DATABASE_URL", "POSTGRES_URL", "PG_URL", "DB_URL"];
const HOSTS: [&str; 4] = ["PGHOST", "DB_HOST", "POSTGRES_HOST", "DATABASE_HOST"];
const USERS: [&str; 5] = ["PGUSER", "DB_USER", "DB_USERNAME", "POSTGRES_USER", "DATABASE_USER"];

/// Pool size (where it is set), workers and database host from a client's
/// environment and command; `None` when it names no pool size.
fn client(env: &[ContainerVar<'_>], command: &[String]) -> Option<ClientFacts> {
    let value = |names: &[&str]| env.iter().find(|v| names.contains(&v.name) && v.value.is_some());
    // The connection string: a variable of a known name, else any whose
    // value is a PostgreSQL URL or a libpq `key=value` string.
    let conn = match value(&URLS) {
        Some(v) => v.value.and_then(|t| Connection::parse(t, true)).map(|c| (v, c)),
        None => env.iter().find_map(|v| Some((v, Connection::parse(v.value?, false)?))),
    };
    let url_pool = conn.as_ref().and_then(|(_, c)| c.pool);
    let (pool, file, span) = match (value(&POOL), url_pool) {
        (Some(v), _) => (v.value?.parse::<i64>().ok()?, v.file, v.span),
        (None, Some(n)) => {
            let (at, _) = conn.as_ref()?;
            (n, at.file, at.span)
        }
        _ => return None,
    };
    let overflow = value(&OVERFLOW).and_then(|v| v.value?.parse::<i64>().ok()).unwrap_or(0);
    let workers = value(&WORKERS)
        .and_then(|v| v.value?.parse::<i64>().ok())
        .or_else(|| facts(command).workers.and_then(|w| i64::try_from(w).ok()))
        .unwrap_or(1);
    let host = conn
        .as_ref()
        .and_then(|(_, c)| c.host.clone())
        .or_else(|| value(&HOSTS).and_then(|v| v.value.map(str::to_owned)));
    let user = conn
        .as_ref()
        .and_then(|(_, c)| c.user.clone())
        .or_else(|| value(&USERS).and_then(|v| v.value.map(str::to_owned)));
    Some(ClientFacts { pool: pool + overflow, file, span, workers: workers.max(1), host, user })
}

/// What a PostgreSQL connection string says of the client.
#[derive(Debug, Default, PartialEq, Eq)]
struct Connection {
    host: Option<String>,
    user: Option<String>,
    /// A pool size written into it (pgx's `pool_max_conns`, Prisma's
    /// `connection_limit`...).
    pool: Option<i64>,
}

impl Connection {
    const POOL_KEYS: [&'static str; 4] = ["pool_max_conns", "connection_limit", "pool_size", "max_pool_size"];

    /// `postgres://user:pw@host:port/db?k=v` (a driver's variant too:
    /// `postgresql+asyncpg://`; any scheme when `any_scheme`, for a
    /// variable whose name says it is the database's URL) or libpq's
    /// `host=h user=u k=v`.
    fn parse(text: &str, any_scheme: bool) -> Option<Self> {
        let known = |v: &str| (!v.is_empty() && !v.contains('$')).then(|| v.to_owned());
        let pool = |k: &str, v: &str| Self::POOL_KEYS.contains(&k).then(|| v.parse::<i64>().ok()).flatten();
        let url = text
            .split_once("://")
            .filter(|(scheme, _)| any_scheme || scheme.starts_with("postgres"))
            .map(|(_, rest)| rest);
        if let Some(rest) = url {
            let authority = rest.split(['/', '?']).next()?;
            let (userinfo, host_port) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
            let query = rest.split_once('?').map_or("", |(_, q)| q);
            return Some(Self {
                host: host_port.split(':').next().and_then(known),
                user: userinfo.and_then(|u| u.split(':').next()).and_then(known),
                pool: query.split('&').find_map(|kv| kv.split_once('=').and_then(|(k, v)| pool(k, v))),
            });
        }
        let pairs: Vec<(&str, &str)> = text.split_whitespace().filter_map(|w| w.split_once('=')).collect();
        let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        // libpq's form: at least a host and a database or user.
        if get("host").is_none() || (get("dbname").is_none() && get("user").is_none()) {
            return None;
        }
        Some(Self {
            host: get("host").and_then(known),
            user: get("user").and_then(known),
            pool: pairs.iter().find_map(|(k, v)| pool(k, v)),
        })
    }
}

/// What [`client`] reads off a client's environment and command.
struct ClientFacts {
    pool: i64,
    file: usize,
    span: Span,
    workers: i64,
    host: Option<String>,
    user: Option<String>,
}

/// The role the image creates as its superuser: the official image's
/// `POSTGRES_USER` (else `postgres`), Bitnami's `postgres`. `None` when
/// the variable comes from the shell.
fn superuser(image: &str, env: &[ContainerVar<'_>]) -> Option<String> {
    if image.contains("bitnami/postgresql") {
        return Some("postgres".to_owned());
    }
    match env.iter().find(|v| v.name == "POSTGRES_USER") {
        Some(v) => v.value.map(str::to_owned),
        None => Some("postgres".to_owned()),
    }
}

/// `max_connections` of a compose PostgreSQL, and whether its command line
/// fixes it: the command line, then `ALTER SYSTEM` in the init scripts
/// mounted into it (`postgresql.auto.conf` is read after
/// `postgresql.conf`), then the larger of the `postgresql.conf` it is
/// started with and `POSTGRESQL_MAX_CONNECTIONS`; else 100.
fn compose_max_connections(
    cx: &Context<'_>,
    declarations: &[&ComposeService<'_>],
    env: &[ContainerVar<'_>],
    command: &[String],
) -> (i64, bool, Vec<usize>) {
    let mounts: Vec<(String, String)> = declarations.iter().flat_map(|d| bind_mounts(d)).collect();
    let mounted = |dst_prefix: &str| -> Vec<String> {
        mounts.iter().filter(|(_, dst)| dst.starts_with(dst_prefix)).map(|(src, _)| src.clone()).collect()
    };
    let init_sources = mounted("/docker-entrypoint-initdb.d");
    let mut init: Vec<(&str, usize, Option<i64>)> = cx
        .graph
        .scripts
        .iter()
        .filter_map(|script| {
            let name = cx.files.get(script.file)?.name.as_str();
            let path = normalize(name);
            init_sources
                .iter()
                .any(|src| path == *src || path.starts_with(&format!("{src}/")))
                .then(|| (name, script.file, script_max_connections(script)))
        })
        .collect();
    // The entrypoint runs them in the order of their names: the last one wins.
    init.sort_by_key(|(name, _, _)| *name);
    let init_scripts: Vec<usize> = init.iter().map(|(_, file, _)| *file).collect();
    if let Some(n) = command_max_connections(command) {
        return (n, true, init_scripts);
    }
    if let Some(n) = init.iter().filter_map(|(_, _, n)| *n).next_back() {
        return (n, false, init_scripts);
    }
    // The file `-c config_file=...` names, or the one the Bitnami image reads.
    let bitnami = declarations.iter().any(|d| d.image.as_deref().is_some_and(|i| i.contains("bitnami/postgresql")));
    let config = command.iter().find_map(|w| w.trim_start_matches('-').strip_prefix("config_file=")).and_then(|path| {
        mounts.iter().find_map(|(src, dst)| {
            if path == dst.as_str() {
                Some(src.clone())
            } else {
                path.strip_prefix(&format!("{dst}/")).map(|rest| format!("{src}/{rest}"))
            }
        })
    });
    let bitnami_config = |(src, dst): &(String, String)| {
        let read = matches!(
            dst.as_str(),
            "/opt/bitnami/postgresql/conf/postgresql.conf" | "/bitnami/postgresql/conf/postgresql.conf"
        );
        (bitnami && read).then(|| src.clone())
    };
    let config = config.or_else(|| mounts.iter().find_map(bitnami_config));
    let from_config = config.and_then(|path| {
        let file = cx.files.iter().find(|f| normalize(&f.name) == path)?;
        conf_max_connections(&file.text)
    });
    let from_env = env.iter().find(|v| v.name == "POSTGRESQL_MAX_CONNECTIONS").and_then(|v| v.value?.parse().ok());
    (from_config.into_iter().chain(from_env).max().unwrap_or(100), false, init_scripts)
}

fn collect(cx: &Context<'_>) -> (Vec<Database>, Vec<Client>) {
    let graph: &Graph<'_> = cx.graph;
    let mut databases = Vec::new();
    let mut clients = Vec::new();
    for w in &graph.workloads {
        let o = &graph.objects[w.object];
        let unit = graph.unit(o.file);
        for c in w.containers.iter().filter(|c| !c.init) {
            let env: Vec<ContainerVar<'_>> = c
                .env
                .iter()
                .map(|(name, value, span)| ContainerVar { name, value: *value, file: o.file, span: *span })
                .collect();
            if c.image.is_some_and(is_postgres) {
                let names = graph
                    .services
                    .iter()
                    .filter(|s| !s.selector.is_empty())
                    .filter(|s| {
                        graph
                            .selected_in(
                                graph.unit(graph.objects[s.object].file),
                                graph.objects[s.object].namespace,
                                &s.selector,
                            )
                            .any(|sw| sw.object == w.object)
                    })
                    .map(|s| graph.objects[s.object].name.to_owned())
                    .collect();
                let from_command = command_max_connections(&c.command);
                let from_env =
                    env.iter().find(|v| v.name == "POSTGRESQL_MAX_CONNECTIONS").and_then(|v| v.value?.parse().ok());
                databases.push(Database {
                    title: o.title(),
                    file: o.file,
                    span: c.span,
                    unit,
                    project: None,
                    max_connections: from_command.or(from_env).unwrap_or(100),
                    fixed: from_command.is_some(),
                    init_scripts: Vec::new(),
                    names,
                    superuser: superuser(c.image.unwrap_or_default(), &env),
                });
            } else if let Some(f) = client(&env, &c.command) {
                clients.push(Client {
                    title: format!("{} `{}`", o.title(), c.name),
                    file: f.file,
                    span: f.span,
                    unit,
                    project: None,
                    pool: f.pool,
                    workers: f.workers,
                    replicas: max_replicas(graph, w),
                    host: f.host,
                    user: f.user,
                });
            }
        }
    }
    // One entry per service: its base file and overrides merged.
    for declarations in graph.compose_services() {
        let s = declarations[0];
        let command =
            declarations.iter().rev().find_map(|d| d.command.as_ref()).map(|(c, _)| words(c)).unwrap_or_default();
        // `environment:` and the env files; only `environment:` when an
        // env file is not in the tree.
        let env: Vec<ContainerVar<'_>> = container_env(&declarations, graph.env_files, cx.files).unwrap_or_else(|| {
            let mut vars: Vec<ContainerVar<'_>> = Vec::new();
            for &d in declarations.iter().rev() {
                for e in &d.environment {
                    if !vars.iter().any(|v| v.name == e.name) {
                        vars.push(ContainerVar {
                            name: e.name.as_str(),
                            value: e.value.as_deref(),
                            file: d.file,
                            span: e.span,
                        });
                    }
                }
            }
            vars
        });
        let unit = graph.unit(s.file);
        let image = declarations.iter().rev().find_map(|d| d.image.as_deref());
        if image.is_some_and(is_postgres) {
            let (max_connections, fixed, init_scripts) = compose_max_connections(cx, &declarations, &env, &command);
            databases.push(Database {
                title: format!("compose service `{}`", s.name),
                file: s.file,
                span: s.span,
                unit,
                project: Some(s.project.clone()),
                max_connections,
                fixed,
                init_scripts,
                names: vec![s.name.to_owned()],
                superuser: superuser(image.unwrap_or_default(), &env),
            });
        } else if let Some(f) = client(&env, &command) {
            clients.push(Client {
                title: format!("`{}`", s.name),
                file: f.file,
                span: f.span,
                unit,
                project: Some(s.project.clone()),
                pool: f.pool,
                workers: f.workers,
                replicas: declarations.iter().rev().find_map(|d| d.replicas).map_or(1, |(r, _)| r.max(1)),
                host: f.host,
                user: f.user,
            });
        }
    }
    // A script of the unit that raises `max_connections` may have run:
    // counted only when it raises it, and only for the unit's one database.
    let per_unit = |unit: usize| databases.iter().filter(|d| d.unit == unit).count();
    let raised: Vec<Option<i64>> = databases
        .iter()
        .map(|db| {
            if db.fixed || per_unit(db.unit) != 1 {
                return None;
            }
            graph
                .scripts
                .iter()
                .filter(|s| graph.unit(s.file) == db.unit && !db.init_scripts.contains(&s.file))
                .filter_map(script_max_connections)
                .max()
        })
        .collect();
    for (db, raised) in databases.iter_mut().zip(raised) {
        if let Some(n) = raised {
            db.max_connections = db.max_connections.max(n);
        }
    }
    (databases, clients)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X012", files)
    }

    fn compose(db: &str) -> String {
        format!(
            "services:\n  db:\n    image: postgres:16.4\n{db}  api:\n    image: ghcr.io/acme/api:2.1.0\n    env_file: api.env\n    deploy:\n      replicas: 2\n"
        )
    }

    /// 20 x 4 x 2 = 160 connections.
    const API_ENV: &str = "DATABASE_URL=postgres://app@db:5432/app\nDB_POOL_SIZE=20\nWEB_CONCURRENCY=4\n";

    #[test]
    fn pools_from_env_files() {
        let found = findings(&[("docker-compose.yml", compose("").as_str()), ("api.env", API_ENV)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("160 connections"), "{found:?}");
        let raised = compose("    command: postgres -c max_connections=200\n");
        assert!(findings(&[("docker-compose.yml", raised.as_str()), ("api.env", API_ENV)]).is_empty());
    }

    #[test]
    fn a_client_connecting_as_the_superuser_may_use_the_reserved_connections() {
        // rinha-de-backend's shape: 2 x 5 = 10 connections, max_connections
        // 12, the apps connect as POSTGRES_USER, the image's superuser.
        let text = |user_line: &str, client_user: &str| {
            format!(
                "services:\n  db:\n    image: postgres:16.4\n    environment:\n{user_line}    command: postgres -c max_connections=12\n  api:\n    image: ghcr.io/acme/api:2.1.0\n    environment:\n      - DATABASE_URL=postgres://{client_user}@db:5432/app\n      - DB_POOL_SIZE=5\n    deploy:\n      replicas: 2\n"
            )
        };
        let as_superuser = text("      - POSTGRES_USER=rinha\n", "rinha");
        assert!(findings(&[("docker-compose.yml", as_superuser.as_str())]).is_empty());
        // Without POSTGRES_USER the superuser is `postgres`: `app` is not one.
        let as_app = text("      - POSTGRES_DB=app\n", "app");
        let found = findings(&[("docker-compose.yml", as_app.as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("allows 9 (12 max_connections - 3 reserved)"), "{found:?}");
        // Past max_connections even a superuser is refused.
        let over = as_superuser.replace("DB_POOL_SIZE=5", "DB_POOL_SIZE=7");
        let found = findings(&[("docker-compose.yml", over.as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("allows 12 (max_connections; `api` connects as the superuser `rinha`)"), "{found:?}");
    }

    #[test]
    fn connection_strings_by_their_value() {
        assert_eq!(
            Connection::parse("postgres://rinha:pw@db:5432/rinha?pool_max_conns=400&pool_min_conns=50", false),
            Some(Connection { host: Some("db".into()), user: Some("rinha".into()), pool: Some(400) })
        );
        assert_eq!(
            Connection::parse("host=postgres user=transacoes password=x sslmode=disable pool_max_conns=100", false),
            Some(Connection { host: Some("postgres".into()), user: Some("transacoes".into()), pool: Some(100) })
        );
        assert_eq!(
            Connection::parse("postgresql+asyncpg://${DB_USER}@${DB_HOST}/app", false).map(|c| c.host),
            Some(None)
        );
        assert_eq!(Connection::parse("host=localhost port=8080", false), None);
        assert_eq!(Connection::parse("redis://cache:6379", false), None);
        // A pool in a DSN under any variable name counts: 2 x 100 > 100.
        let text = "services:\n  postgres:\n    image: postgres:16.4\n    environment:\n      POSTGRES_USER: admin\n  api1: &api\n    image: ghcr.io/acme/api:1.0.0\n    environment:\n      DB_DSN: host=postgres user=app password=app pool_max_conns=100\n  api2: *api\n";
        let found = findings(&[("docker-compose.yml", text)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("200 connections"), "{found:?}");
    }

    #[test]
    fn max_connections_from_a_mounted_configuration() {
        let db = "    command: postgres -c config_file=/etc/postgresql/postgresql.conf\n    volumes:\n      - ./postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro\n";
        let text = compose(db);
        let with = |conf: &str| {
            findings(&[("docker-compose.yml", text.as_str()), ("api.env", API_ENV), ("postgres/postgresql.conf", conf)])
        };
        assert!(with("max_connections = 300\nshared_buffers = 1GB\n").is_empty());
        assert_eq!(with("max_connections = 150\n").len(), 1);
    }

    #[test]
    fn max_connections_from_alter_system() {
        let db = "    volumes:\n      - ./initdb:/docker-entrypoint-initdb.d:ro\n";
        let text = compose(db);
        let script = |n: u32| {
            format!(
                "#!/bin/bash\nset -euo pipefail\npsql -v ON_ERROR_STOP=1 -U \"$POSTGRES_USER\" -c \"ALTER SYSTEM SET max_connections = {n};\"\n"
            )
        };
        let with = |path: &str, n: u32| {
            findings(&[("docker-compose.yml", text.as_str()), ("api.env", API_ENV), (path, script(n).as_str())])
        };
        assert!(with("initdb/10-tune.sh", 250).is_empty());
        assert_eq!(with("initdb/10-tune.sh", 120).len(), 1);
        // A script that is not mounted may raise the limit, never lower it.
        assert!(with("scripts/tune.sh", 250).is_empty());
        let lowered = findings(&[
            ("docker-compose.yml", compose("    command: postgres -c max_connections=200\n").as_str()),
            ("api.env", API_ENV),
            ("scripts/tune.sh", script(50).as_str()),
        ]);
        assert!(lowered.is_empty(), "{lowered:?}");
    }

    #[test]
    fn clients_link_within_their_unit() {
        let small = "services:\n  db:\n    image: postgres:16.4\n  api:\n    image: ghcr.io/acme/api:2.1.0\n    environment:\n      DB_POOL_SIZE: \"10\"\n";
        // Each example has its own database: 10 connections each, not 20 to one.
        let files = [("a/docker-compose.yml", small), ("b/docker-compose.yml", small)];
        assert!(findings(&files).is_empty());
        let big = small.replace("\"10\"", "\"120\"");
        let found = findings(&[("a/docker-compose.yml", big.as_str()), ("b/docker-compose.yml", small)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("120 connections"), "{found:?}");
    }

    #[test]
    fn max_connections_from_sql_and_configuration() {
        assert_eq!(alter_system("ALTER SYSTEM SET max_connections = 300;"), Some(300));
        assert_eq!(alter_system("alter system set max_connections to '150'"), Some(150));
        assert_eq!(alter_system("ALTER SYSTEM SET max_connections=50; SELECT pg_reload_conf();"), Some(50));
        assert_eq!(alter_system("ALTER SYSTEM SET shared_buffers = '1GB'"), None);
        assert_eq!(conf_max_connections("# max_connections = 500\nmax_connections = 200  # raised\n"), Some(200));
        assert_eq!(conf_max_connections("max_connections 80\nshared_buffers = 1GB\n"), Some(80));
        assert_eq!(conf_max_connections("max_connections = 200\ninclude_dir 'conf.d'\n"), None);
        let w = |s: &str| words(s);
        assert_eq!(command_max_connections(&w("postgres -c max_connections=200")), Some(200));
        assert_eq!(command_max_connections(&w("postgres -N 300")), Some(300));
        assert_eq!(command_max_connections(&w("postgres -c shared_buffers=1GB")), None);
    }
}
