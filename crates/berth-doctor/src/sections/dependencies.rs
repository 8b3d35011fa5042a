//! Dependencies: reachable, the version the spec asks for, the settings
//! and extensions it declares. The facts about WAL archiving are gathered
//! on the same connection and handed to the backups section.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_backup::Source;
use berth_plan::DependencyPlan;
use berth_spec::DependencyKind;
use jiff::Timestamp;

use crate::Inputs;
use crate::judge::{self, Archiver};
use crate::report::{Check, Section, Status};

const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn check(inputs: &Inputs) -> (Vec<Check>, BTreeMap<String, Archiver>) {
    let mut out = Vec::new();
    let mut archivers = BTreeMap::new();
    let asked = inputs.plan.dependencies.iter().map(|dep| async move {
        match inputs.servers.get(&dep.name) {
            None => (vec![Check::new(Section::Dependencies, &dep.name, Status::Skip, "no server to ask")], None),
            Some(Err(why)) => (vec![Check::new(Section::Dependencies, &dep.name, Status::Fail, why.clone())], None),
            Some(Ok(source)) => match dep.kind {
                DependencyKind::Postgres => postgres(dep, source).await,
                DependencyKind::Redis => (redis(dep, source).await, None),
            },
        }
    });
    for (dep, (checks, archiver)) in inputs.plan.dependencies.iter().zip(futures_util::future::join_all(asked).await) {
        out.extend(checks);
        if let Some(a) = archiver {
            archivers.insert(dep.name.clone(), a);
        }
    }
    (out, archivers)
}

fn version_check(dep: &DependencyPlan, product: &str, version: &str, address: &str, millis: u128) -> Check {
    // `15.8 (Debian 15.8-1)`: the number is what matters here.
    let number = version.split_whitespace().next().unwrap_or(version);
    let message = format!("{product} {number} at {address}, answered in {millis} ms");
    if judge::version_matches(&dep.version, version) {
        Check::new(Section::Dependencies, &dep.name, Status::Ok, message)
    } else {
        Check::new(
            Section::Dependencies,
            &dep.name,
            Status::Warn,
            format!("{message}; the spec asks for {}", dep.version),
        )
        .hint("the server and the spec disagree on the version: upgrade one, then test a restore")
    }
}

fn unreachable(dep: &DependencyPlan, address: &str, error: String) -> Check {
    Check::new(Section::Dependencies, &dep.name, Status::Fail, format!("cannot reach {address}: {error}"))
        .hint(format!("the services that use it ({}) fail too", dep.used_by.join(", ")))
}

async fn postgres(dep: &DependencyPlan, source: &Source) -> (Vec<Check>, Option<Archiver>) {
    let address = format!("{}:{}", source.host, source.port);
    let mut config = source.pg_config();
    config.application_name("berth-doctor").connect_timeout(TIMEOUT);
    let started = Instant::now();
    let client = match tokio::time::timeout(TIMEOUT, config.connect(tokio_postgres::NoTls)).await {
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            client
        }
        Ok(Err(e)) => return (vec![unreachable(dep, &address, e.to_string())], None),
        Err(_) => return (vec![unreachable(dep, &address, format!("no answer within {} s", TIMEOUT.as_secs()))], None),
    };
    let version: String = match client.query_one("SHOW server_version", &[]).await {
        Ok(row) => row.get(0),
        Err(e) => return (vec![unreachable(dep, &address, e.to_string())], None),
    };
    let millis = started.elapsed().as_millis();
    let mut out = vec![version_check(dep, "PostgreSQL", &version, &address, millis)];
    if !dep.extensions.is_empty() {
        let installed: Vec<String> = client
            .query("SELECT extname FROM pg_extension", &[])
            .await
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        let missing: Vec<&str> = dep.extensions.iter().filter(|e| !installed.contains(e)).map(String::as_str).collect();
        if !missing.is_empty() {
            out.push(
                Check::new(
                    Section::Dependencies,
                    format!("{} extensions", dep.name),
                    Status::Fail,
                    format!("not installed in {}: {}", source.database, missing.join(", ")),
                )
                .hint(format!("CREATE EXTENSION {} (the spec declares it)", missing.join(", "))),
            );
        }
    }
    for (name, wanted) in dep.server_settings() {
        let row = client
            .query_opt(
                "SELECT current_setting($1, true), unit, vartype FROM (SELECT 1) one \
                 LEFT JOIN pg_settings ON pg_settings.name = $1",
                &[&name],
            )
            .await
            .ok()
            .flatten();
        let running: Option<String> = row.as_ref().and_then(|r| r.get(0));
        // The parameter's unit and type, so a bare number counts in its unit
        // (`log_min_duration_statement: 1000` is the server's `1s`) and a
        // boolean reads in every spelling.
        let unit: Option<String> = row.as_ref().and_then(|r| r.get(1));
        let vartype: Option<String> = row.as_ref().and_then(|r| r.get(2));
        let parameter = judge::PgParameter { unit: unit.as_deref(), vartype: vartype.as_deref() };
        let subject = format!("{} {name}", dep.name);
        out.push(match running {
            Some(value) if judge::same_pg_setting(&wanted, &value, parameter) => {
                Check::new(Section::Drift, subject, Status::Ok, format!("{value}, as the spec says"))
            }
            Some(value) => Check::new(
                Section::Drift,
                subject,
                Status::Warn,
                format!("the server runs {value}, the spec says {wanted}"),
            )
            .hint(
                "restart the dependency with the spec's settings (berth up does; other targets: re-render and apply)",
            ),
            None => Check::new(
                Section::Drift,
                subject,
                Status::Warn,
                format!("the server does not know this setting; the spec says {wanted}"),
            ),
        });
    }
    let physical = dep.backup.as_ref().is_some_and(|b| b.method == berth_spec::BackupMethod::Physical);
    let archiver = if physical { archiver(&client).await } else { None };
    (out, archiver)
}

async fn archiver(client: &tokio_postgres::Client) -> Option<Archiver> {
    let row = client
        .query_one(
            "SELECT current_setting('archive_mode'), pg_walfile_name(pg_current_wal_lsn()), \
                    (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'), \
                    last_archived_wal, extract(epoch FROM last_archived_time)::float8, \
                    last_failed_wal, extract(epoch FROM last_failed_time)::float8 \
             FROM pg_stat_archiver",
            &[],
        )
        .await
        .ok()?;
    let at = |wal: Option<String>, epoch: Option<f64>| Some((wal?, Timestamp::from_second(epoch? as i64).ok()?));
    Some(Archiver {
        archive_mode: row.get(0),
        current: row.get(1),
        segment_size: u64::try_from(row.get::<_, i64>(2)).unwrap_or(16 << 20),
        last_archived: at(row.get(3), row.get(4)),
        last_failed: at(row.get(5), row.get(6)),
    })
}

async fn redis(dep: &DependencyPlan, source: &Source) -> Vec<Check> {
    let address = format!("{}:{}", source.host, source.port);
    let started = Instant::now();
    let connected = async {
        let client = redis::Client::open(source.redis_url()).map_err(|e| e.to_string())?;
        let mut con = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut con).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((con, info))
    };
    let (mut con, info) = match tokio::time::timeout(TIMEOUT, connected).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return vec![unreachable(dep, &address, e)],
        Err(_) => return vec![unreachable(dep, &address, format!("no answer within {} s", TIMEOUT.as_secs()))],
    };
    let millis = started.elapsed().as_millis();
    let version = info.lines().find_map(|l| l.strip_prefix("redis_version:")).unwrap_or("?").trim().to_owned();
    let mut out = vec![version_check(dep, "Redis", &version, &address, millis)];
    for (name, wanted) in dep.redis_directives() {
        // CONFIG may be renamed away on managed servers: then there is nothing to compare.
        let Ok(pair) = redis::cmd("CONFIG").arg("GET").arg(&name).query_async::<Vec<String>>(&mut con).await else {
            continue;
        };
        let Some(value) = pair.get(1) else { continue };
        let subject = format!("{} {name}", dep.name);
        out.push(if value == &wanted || judge::same_setting(&wanted, value) {
            Check::new(Section::Drift, subject, Status::Ok, format!("{value:?}, as the spec says"))
        } else {
            Check::new(
                Section::Drift,
                subject,
                Status::Warn,
                format!("the server runs {value:?}, the spec says {wanted:?}"),
            )
            .hint("restart the dependency with the spec's settings")
        });
    }
    out
}
