//! What a database holds, counted the same way at backup and at restore:
//! rows per user table (partitions counted as their own tables).

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::Context;
use crate::error::{BackupError, at};
use crate::source::pg_connect;

/// Tables whose data `pg_dump` writes: ordinary tables and partitions in
/// user schemas, not those an extension owns.
const TABLES: &str = "
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2";

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Rows per `schema.table`, in the client's current snapshot.
pub(crate) async fn row_counts(client: &Client, step: &'static str) -> Result<BTreeMap<String, u64>, BackupError> {
    let mut counts = BTreeMap::new();
    for row in client.query(TABLES, &[]).await.map_err(at(step))? {
        let (schema, table): (String, String) = (row.get(0), row.get(1));
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}.{}", quote(&schema), quote(&table)), &[])
            .await
            .map_err(at(step))?
            .get(0);
        counts.insert(format!("{schema}.{table}"), u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// The `connect` step every PostgreSQL backup starts with: a client to the
/// source and the server's version for the manifest.
pub(crate) async fn connect(ctx: &Context<'_>) -> Result<(Client, String), BackupError> {
    ctx.progress.step("connect", None);
    let client = pg_connect(&ctx.source, "connect").await?;
    let row = client.query_one("SHOW server_version", &[]).await.map_err(at("connect"))?;
    let version = row.get::<_, String>(0).split_whitespace().next().unwrap_or_default().to_owned();
    Ok((client, version))
}

/// Differences between the counts a manifest promises and a restored copy.
pub(crate) fn compare(expected: &BTreeMap<String, u64>, actual: &BTreeMap<String, u64>, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, want) in expected {
        match actual.get(table) {
            None => problems.push(format!("{what} `{table}` is missing from the restored copy")),
            Some(got) if got != want => {
                problems.push(format!("{what} `{table}`: {got} restored, the backup holds {want}"));
            }
            Some(_) => {}
        }
    }
    for table in actual.keys().filter(|t| !expected.contains_key(*t)) {
        problems.push(format!("{what} `{table}` is in the restored copy but not in the backup's manifest"));
    }
    problems
}

/// Quotes an identifier for SQL text.
pub(crate) fn ident(name: &str) -> String {
    quote(name)
}
