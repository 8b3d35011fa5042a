//! The demo's tiny API on the dependencies berth wires in: notes kept in
//! PostgreSQL, a visit counter in Redis. Connections are made on first use
//! and made again after a failure, so the demo starts before its
//! dependencies and survives their restarts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::types::Type;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A note as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: i64,
    pub body: String,
    pub created_at: String,
}

#[derive(Debug)]
pub struct Postgres {
    config: tokio_postgres::Config,
    client: Mutex<Option<Arc<tokio_postgres::Client>>>,
}

/// Errors name what failed, never the URL (it holds the password).
fn failed(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Postgres {
    pub fn from_url(url: &str) -> Option<Self> {
        let mut config: tokio_postgres::Config = url.parse().ok()?;
        config.connect_timeout(CONNECT_TIMEOUT).application_name("berth-demo");
        Some(Self { config, client: Mutex::new(None) })
    }

    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let (client, connection) =
            self.config.connect(tokio_postgres::NoTls).await.map_err(|e| failed("connecting to PostgreSQL", e))?;
        tokio::spawn(connection);
        // Replicas start together, and two concurrent `CREATE TABLE IF NOT
        // EXISTS` race on the catalog (a unique violation in pg_type), so the
        // creation is serialised by a transaction-scoped advisory lock; one
        // transaction keeps it on one server connection behind PgBouncer.
        client
            .batch_execute(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(7400319);
                 CREATE TABLE IF NOT EXISTS notes (
                     id bigserial PRIMARY KEY,
                     body text NOT NULL CHECK (length(body) <= 4096),
                     created_at timestamptz NOT NULL DEFAULT now());
                 COMMIT;",
            )
            .await
            .map_err(|e| failed("creating the notes table", e))?;
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    pub async fn add_note(&self, body: &str) -> Result<Note, String> {
        let client = self.client().await?;
        // Unnamed statements, parsed and run in one round trip: a named
        // prepared statement lives on one server connection, and behind
        // PgBouncer's transaction pooling the next query may run on another.
        let row = client
            .query_typed_one(
                "INSERT INTO notes (body) VALUES ($1) RETURNING id, body, created_at::text AS created_at",
                &[(&body, Type::TEXT)],
            )
            .await
            .map_err(|e| failed("inserting a note", e))?;
        Ok(Note { id: row.get("id"), body: row.get("body"), created_at: row.get("created_at") })
    }

    /// The newest `limit` notes, newest first.
    pub async fn notes(&self, limit: i64) -> Result<Vec<Note>, String> {
        let client = self.client().await?;
        let rows = client
            .query_typed(
                "SELECT id, body, created_at::text AS created_at FROM notes ORDER BY id DESC LIMIT $1",
                &[(&limit, Type::INT8)],
            )
            .await
            .map_err(|e| failed("reading notes", e))?;
        Ok(rows
            .iter()
            .map(|row| Note { id: row.get("id"), body: row.get("body"), created_at: row.get("created_at") })
            .collect())
    }
}

#[derive(Debug)]
pub struct Redis {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Redis {
    pub fn from_url(url: &str) -> Option<Self> {
        Some(Self { client: redis::Client::open(url).ok()?, connection: Mutex::new(None) })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "connecting to Redis: timed out".to_owned())?
            .map_err(|e| failed("connecting to Redis", e))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Counts one more visit and returns the total.
    pub async fn visit(&self) -> Result<i64, String> {
        let mut connection = self.connection().await?;
        let result: Result<i64, _> = redis::cmd("INCR").arg("berth-demo:visits").query_async(&mut connection).await;
        match result {
            Ok(n) => Ok(n),
            Err(e) => {
                // Connect afresh next time: the server may have restarted.
                *self.connection.lock().await = None;
                Err(failed("counting a visit in Redis", e))
            }
        }
    }
}
