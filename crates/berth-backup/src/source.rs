//! The server a backup is taken from or restored into, from a connection
//! URL. The password stays in memory and reaches client programs through
//! their environment (`PGPASSWORD`, `REDISCLI_AUTH`), never their arguments.

use berth_spec::DependencyKind;

use crate::error::{BackupError, at};

#[derive(Clone)]
pub struct Source {
    /// The dependency's name in the spec; backups are filed under it.
    pub dependency: String,
    pub kind: DependencyKind,
    /// The major version the spec asks for: picks matching client programs.
    pub version: String,
    pub host: String,
    pub port: u16,
    /// PostgreSQL role (empty for Redis without ACL users).
    pub user: String,
    pub password: Option<String>,
    /// PostgreSQL database, or the Redis database number.
    pub database: String,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("dependency", &self.dependency)
            .field("kind", &self.kind)
            .field("address", &self.address())
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Source {
    /// Parses `postgres://user:password@host:port/database` or
    /// `redis://:password@host:port/0`.
    pub fn from_url(dependency: &str, kind: DependencyKind, version: &str, url: &str) -> Result<Self, BackupError> {
        let parsed = url::Url::parse(url).map_err(at("read the connection URL"))?;
        let expected: &[&str] = match kind {
            DependencyKind::Postgres => &["postgres", "postgresql"],
            DependencyKind::Redis => &["redis"],
        };
        if !expected.contains(&parsed.scheme()) {
            return Err(BackupError::Usage(format!(
                "the URL for `{dependency}` is {}://…, expected {}://…",
                parsed.scheme(),
                expected[0]
            )));
        }
        let database = parsed.path().trim_start_matches('/');
        Ok(Self {
            dependency: dependency.to_owned(),
            kind,
            version: version.to_owned(),
            host: parsed.host_str().unwrap_or("127.0.0.1").trim_matches(['[', ']']).to_owned(),
            port: parsed.port().unwrap_or(match kind {
                DependencyKind::Postgres => 5432,
                DependencyKind::Redis => 6379,
            }),
            user: decode(parsed.username()),
            password: parsed.password().map(decode),
            database: match (kind, database) {
                (DependencyKind::Redis, "") => "0".to_owned(),
                (DependencyKind::Postgres, "") => decode(parsed.username()),
                (_, db) => decode(db),
            },
        })
    }

    /// `host:port/database`, what reports and manifests show.
    pub fn address(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// The same server, another database.
    pub fn with_database(&self, database: &str) -> Self {
        Self { database: database.to_owned(), ..self.clone() }
    }

    /// Environment for PostgreSQL's and Redis's client programs.
    pub(crate) fn client_env(&self) -> Vec<(String, String)> {
        let name = match self.kind {
            DependencyKind::Postgres => "PGPASSWORD",
            DependencyKind::Redis => "REDISCLI_AUTH",
        };
        self.password.iter().map(|p| (name.to_owned(), p.clone())).collect()
    }

    /// `-h host -p port -U user` for PostgreSQL's programs.
    pub(crate) fn pg_args(&self) -> Vec<String> {
        vec!["-h".into(), self.host.clone(), "-p".into(), self.port.to_string(), "-U".into(), self.user.clone()]
    }

    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.database)
            .application_name("berth-backup")
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(pw) = &self.password {
            config.password(pw);
        }
        config
    }

    pub fn redis_url(&self) -> String {
        let plain = format!("redis://{}:{}/{}", self.host, self.port, self.database);
        let Ok(mut url) = url::Url::parse(&plain) else { return plain };
        // The url crate percent-encodes user and password as it sets them.
        let _ = url.set_username(&self.user);
        let _ = url.set_password(self.password.as_deref());
        url.to_string()
    }
}

/// Connects to PostgreSQL and drives the connection in the background.
pub(crate) async fn pg_connect(source: &Source, step: &'static str) -> Result<tokio_postgres::Client, BackupError> {
    let (client, connection) = source.pg_config().connect(tokio_postgres::NoTls).await.map_err(at(step))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn parses_postgres_urls_and_hides_the_password() {
        let s = Source::from_url("db", DependencyKind::Postgres, "16", "postgres://shop:p%40ss@127.0.0.1:5433/orders")
            .unwrap();
        assert_eq!((s.user.as_str(), s.password.as_deref(), s.port), ("shop", Some("p@ss"), 5433));
        assert_eq!(s.address(), "127.0.0.1:5433/orders");
        assert!(!format!("{s:?}").contains("p@ss"));
        assert_eq!(s.client_env(), vec![("PGPASSWORD".to_owned(), "p@ss".to_owned())]);
    }

    #[test]
    fn redis_urls_default_to_database_zero() {
        let s = Source::from_url("cache", DependencyKind::Redis, "7", "redis://:secret@localhost:6380").unwrap();
        assert_eq!((s.database.as_str(), s.port), ("0", 6380));
        assert_eq!(s.redis_url(), "redis://:secret@localhost:6380/0");
    }

    #[test]
    fn a_wrong_scheme_is_a_usage_error() {
        let e = Source::from_url("db", DependencyKind::Postgres, "16", "redis://x").unwrap_err();
        assert!(e.to_string().contains("expected postgres://"), "{e}");
    }
}
