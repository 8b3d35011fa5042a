use berth_diagnostics::Span;

use crate::graph::command::{facts, words};
use crate::graph::{Graph, place};
use crate::rule::{Context, Rule, Sink};

use super::support::max_replicas;

crate::declare_rule! {
    /// Every process of every replica opens its own connection pool. When
    /// pool size x workers x replicas, summed over the clients of one
    /// PostgreSQL, exceeds its `max_connections` (100 unless set; 3 are
    /// reserved for superusers), the database refuses connections under
    /// load or during a rolling update, when old and new pods overlap.
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
    max_connections: i64,
    names: Vec<String>,
}

#[derive(Debug)]
struct Client {
    title: String,
    file: usize,
    span: Span,
    pool: i64,
    workers: i64,
    replicas: i64,
    host: Option<String>,
}

impl Client {
    fn connections(&self) -> i64 {
        self.pool * self.workers * self.replicas
    }
}

impl Rule for ConnectionBudget {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let (databases, clients) = collect(cx.graph);
        for db in &databases {
            let mine: Vec<&Client> = clients
                .iter()
                .filter(|c| match &c.host {
                    Some(h) => db.names.iter().any(|n| h == n || h.split('.').next() == Some(n.as_str())),
                    None => databases.len() == 1,
                })
                .collect();
            let total: i64 = mine.iter().map(|c| c.connections()).sum();
            if total <= db.max_connections - RESERVED {
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
                    "{} connections to {} ({}), which allows {} ({} max_connections - {RESERVED} reserved): {}",
                    total,
                    db.title,
                    place(cx.files, db.file, db.span),
                    db.max_connections - RESERVED,
                    db.max_connections,
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

fn max_connections(command: &[String], env: &[(&str, Option<&str>)]) -> i64 {
    let from_command = command.iter().find_map(|w| {
        let (_, value) = w.trim_start_matches('-').split_once("max_connections=")?;
        value.parse().ok()
    });
    let from_env = env.iter().find(|(n, _)| *n == "POSTGRESQL_MAX_CONNECTIONS").and_then(|(_, v)| (*v)?.parse().ok());
    from_command.or(from_env).unwrap_or(100)
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

/// Pool size, workers and database host from a client's environment and
/// command; `None` when it names no pool size.
fn client(env: &[(&str, Option<&str>, Span)], command: &[String]) -> Option<(i64, Span, i64, Option<String>)> {
    let value = |names: &[&str]| env.iter().find(|(n, v, _)| names.contains(n) && v.is_some());
    let url = value(&URLS).and_then(|(_, v, _)| *v);
    let url_pool = url.and_then(|u| {
        let query = u.split_once('?')?.1;
        query.split('&').find_map(|kv| match kv.split_once('=')? {
            ("pool_max_conns" | "connection_limit" | "pool_size" | "max_pool_size", n) => n.parse::<i64>().ok(),
            _ => None,
        })
    });
    let (pool, span) = match (value(&POOL), url_pool) {
        (Some((_, Some(v), span)), _) => (v.parse::<i64>().ok()?, *span),
        (None, Some(n)) => (n, value(&URLS).map(|(_, _, s)| *s)?),
        _ => return None,
    };
    let overflow = value(&OVERFLOW).and_then(|(_, v, _)| (*v)?.parse::<i64>().ok()).unwrap_or(0);
    let workers = value(&WORKERS)
        .and_then(|(_, v, _)| (*v)?.parse::<i64>().ok())
        .or_else(|| facts(command).workers.and_then(|w| i64::try_from(w).ok()))
        .unwrap_or(1);
    let host = url
        .and_then(|u| {
            let rest = u.split_once("://")?.1;
            let authority = rest.split(['/', '?']).next()?;
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            Some(host_port.split(':').next()?.to_owned())
        })
        .or_else(|| value(&HOSTS).and_then(|(_, v, _)| v.map(str::to_owned)));
    Some((pool + overflow, span, workers.max(1), host))
}

fn collect(graph: &Graph<'_>) -> (Vec<Database>, Vec<Client>) {
    let mut databases = Vec::new();
    let mut clients = Vec::new();
    for w in &graph.workloads {
        let o = &graph.objects[w.object];
        for c in w.containers.iter().filter(|c| !c.init) {
            if c.image.is_some_and(is_postgres) {
                let env: Vec<(&str, Option<&str>)> = c.env.iter().map(|(n, v, _)| (*n, *v)).collect();
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
                databases.push(Database {
                    title: o.title(),
                    file: o.file,
                    span: c.span,
                    max_connections: max_connections(&c.command, &env),
                    names,
                });
            } else if let Some((pool, span, workers, host)) = client(&c.env, &c.command) {
                clients.push(Client {
                    title: format!("{} `{}`", o.title(), c.name),
                    file: o.file,
                    span,
                    pool,
                    workers,
                    replicas: max_replicas(graph, w),
                    host,
                });
            }
        }
    }
    for s in &graph.compose {
        let command = s.command.as_ref().map(|(c, _)| words(c)).unwrap_or_default();
        let env: Vec<(&str, Option<&str>, Span)> =
            s.environment.iter().map(|e| (e.name.as_str(), e.value.as_deref(), e.span)).collect();
        if s.image.as_deref().is_some_and(is_postgres) {
            let plain: Vec<(&str, Option<&str>)> = env.iter().map(|(n, v, _)| (*n, *v)).collect();
            databases.push(Database {
                title: format!("compose service `{}`", s.name),
                file: s.file,
                span: s.span,
                max_connections: max_connections(&command, &plain),
                names: vec![s.name.to_owned()],
            });
        } else if let Some((pool, span, workers, host)) = client(&env, &command) {
            clients.push(Client {
                title: format!("`{}`", s.name),
                file: s.file,
                span,
                pool,
                workers,
                replicas: s.replicas.map_or(1, |(r, _)| r.max(1)),
                host,
            });
        }
    }
    (databases, clients)
}
