//! Redis: a consistent RDB snapshot fetched over the replication protocol
//! (`redis-cli --rdb`), checked with `redis-check-rdb`, compressed with
//! zstd. Keys per database are counted by loading the snapshot into a
//! scratch `redis-server`, at backup time for the manifest and again at
//! every verification. A restore copies the keys from such a scratch
//! server into the target with DUMP/RESTORE, TTLs kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_process::programs;
use berth_spec::BackupMethod;
use jiff::Timestamp;

use crate::error::{BackupError, at, fail};
use crate::manifest::{Manifest, Taken};
use crate::source::Source;
use crate::tool::{Server, Tool};
use crate::{Context, Restored, WorkDir, backup_dir};
use crate::{compress, crypt};

const FILE: &str = "dump.rdb.zst";
/// The same, encrypted with age.
const ENCRYPTED: &str = "dump.rdb.zst.age";

fn stored_name(encrypted: bool) -> &'static str {
    if encrypted { ENCRYPTED } else { FILE }
}

fn program(name: &str) -> Result<PathBuf, BackupError> {
    programs::redis_program(name).map_err(|e| fail("find Redis's programs", e.to_string()))
}

async fn connect(url: &str, step: &'static str) -> Result<redis::aio::MultiplexedConnection, BackupError> {
    let client = redis::Client::open(url).map_err(at(step))?;
    tokio::time::timeout(Duration::from_secs(10), client.get_multiplexed_async_connection())
        .await
        .map_err(|_| fail(step, "no answer within 10s"))?
        .map_err(at(step))
}

async fn info(con: &mut redis::aio::MultiplexedConnection, section: &str) -> Result<String, BackupError> {
    redis::cmd("INFO").arg(section).query_async(con).await.map_err(at("connect"))
}

/// `db0:keys=10,expires=0,avg_ttl=0` lines as `db0 → 10`.
fn keyspace(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (db, rest) = line.trim().split_once(':')?;
            let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys="))?;
            db.starts_with("db").then(|| (db.to_owned(), keys.parse().unwrap_or(0)))
        })
        .collect()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
}

/// A scratch `redis-server` that loads `rdb` and nothing else.
struct Scratch {
    server: Server,
    url: String,
}

impl Scratch {
    async fn start(dir: &Path, rdb: &str) -> Result<Self, BackupError> {
        let port = berth_process::process::free_port().map_err(at("start a scratch Redis"))?;
        let server = Tool::new("start a scratch Redis", program("redis-server")?)
            .args(["--port".to_owned(), port.to_string(), "--bind".to_owned(), "127.0.0.1".to_owned()])
            .args(["--dir".to_owned(), dir.display().to_string(), "--dbfilename".to_owned(), rdb.to_owned()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"])
            .server(&dir.join("redis.log"))?;
        let mut scratch = Self { server, url: format!("redis://127.0.0.1:{port}/0") };
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if !scratch.server.running() {
                return Err(fail("start a scratch Redis", scratch.server.log_tail()));
            }
            if let Ok(mut con) = connect(&scratch.url, "start a scratch Redis").await
                && let Ok(text) = info(&mut con, "persistence").await
                && field(&text, "loading") == Some("0")
            {
                return Ok(scratch);
            }
            if Instant::now() > deadline {
                return Err(fail("start a scratch Redis", scratch.server.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn counts(&self) -> Result<BTreeMap<String, u64>, BackupError> {
        let mut con = connect(&self.url, "count keys").await?;
        Ok(keyspace(&info(&mut con, "keyspace").await?))
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

pub(crate) async fn backup(ctx: &Context<'_>, id: &str) -> Result<Manifest, BackupError> {
    let started_at = Timestamp::now();
    let source = &ctx.source;
    ctx.progress.step("connect", None);
    let mut con = connect(&source.redis_url(), "connect").await?;
    let server_version = field(&info(&mut con, "server").await?, "redis_version").unwrap_or_default().to_owned();
    drop(con);

    let staging = ctx.work_dir.join(format!("{id}-rdb"));
    std::fs::create_dir_all(&staging).map_err(at("redis-cli --rdb"))?;
    let rdb = staging.join("dump.rdb");
    let cli = program("redis-cli")?;
    let tool = Tool::new("redis-cli --rdb", &cli).args(["--version"]).output().await?.trim().to_owned();
    ctx.progress.step("redis-cli --rdb", None);
    let mut fetch = Tool::new("redis-cli --rdb", &cli)
        .args(["-h".to_owned(), source.host.clone(), "-p".to_owned(), source.port.to_string()])
        .env(source.client_env());
    if !source.user.is_empty() {
        fetch = fetch.args(["--user", &source.user]);
    }
    fetch.args(["--rdb".to_owned(), rdb.display().to_string()]).output().await?;
    Tool::new("redis-check-rdb", program("redis-check-rdb")?).args([rdb.display().to_string()]).output().await?;

    ctx.progress.step("count keys", None);
    let scratch = Scratch::start(&staging, "dump.rdb").await?;
    let counts = scratch.counts().await;
    scratch.stop().await;
    let counts = counts?;

    let rel = backup_dir(&source.dependency, id);
    let out = ctx.destination.local_path(&rel).unwrap_or_else(|| ctx.work_dir.join(format!("{id}-out")));
    std::fs::create_dir_all(&out).map_err(at("compress"))?;
    ctx.progress.step("compress", None);
    let name = stored_name(ctx.encryption.is_some());
    compress::compress_all(vec![(rdb, out.join(name))], ctx.jobs, ctx.encryption.clone()).await?;
    let _ = std::fs::remove_dir_all(&staging);
    let files = crate::store_files(ctx, &rel, &out, vec![name.to_owned()]).await?;
    let encrypted_to = ctx.encryption.as_ref().map(crypt::EncryptionKey::recipient);
    let taken = Taken { started_at, server_version, tool, files, counts, wal: None, encrypted_to };
    Ok(Manifest::finished(source, id, BackupMethod::Snapshot, taken))
}

/// Fetches, checks and decompresses the snapshot into `dir/dump.rdb`.
async fn unpack(ctx: &Context<'_>, manifest: &Manifest, dir: &Path) -> Result<(), BackupError> {
    let key = crypt::key_for(manifest, ctx.encryption.as_ref())?;
    let name = stored_name(key.is_some());
    let entry = manifest.files.iter().find(|f| f.name == name).ok_or_else(|| BackupError::Verify {
        id: manifest.id.clone(),
        problems: vec![format!("{name} is not in the manifest")],
    })?;
    ctx.progress.step("download and check", Some(entry.size));
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    let src = ctx.destination.fetch(&format!("{rel}/{name}"), &ctx.work_dir, ctx.progress).await?;
    let problems = compress::decompress_all(vec![(src, dir.join("dump.rdb"), entry.clone())], 1, key).await?;
    if !problems.is_empty() {
        return Err(BackupError::Verify { id: manifest.id.clone(), problems });
    }
    Tool::new("redis-check-rdb", program("redis-check-rdb")?)
        .args([dir.join("dump.rdb").display().to_string()])
        .output()
        .await
        .map_err(|e| BackupError::Verify { id: manifest.id.clone(), problems: vec![e.to_string()] })?;
    Ok(())
}

pub(crate) async fn verify(
    ctx: &Context<'_>,
    manifest: &Manifest,
    work: &Path,
) -> Result<(String, BTreeMap<String, u64>), BackupError> {
    unpack(ctx, manifest, work).await?;
    ctx.progress.step("load into a scratch Redis", None);
    let scratch = Scratch::start(work, "dump.rdb").await?;
    let counts = scratch.counts().await;
    let into = format!("a scratch redis-server on {}", scratch.url.trim_start_matches("redis://"));
    scratch.stop().await;
    Ok((into, counts?))
}

/// A restore of Redis verifies the snapshot in a scratch server; the copy
/// into the live server happens in [`swap`].
pub(crate) async fn restore(ctx: &Context<'_>, manifest: &Manifest) -> Result<BTreeMap<String, u64>, BackupError> {
    let work = WorkDir::new(ctx, &format!("restore-{}", manifest.id))?;
    let (_, counts) = verify(ctx, manifest, &work.0).await?;
    let problems = super::catalog::compare(&manifest.counts, &counts, "keyspace");
    if !problems.is_empty() {
        return Err(BackupError::Verify { id: manifest.id.clone(), problems });
    }
    Ok(counts)
}

/// Replaces everything in `target` with the snapshot: FLUSHALL, then every
/// key with its TTL through DUMP/RESTORE from a scratch server.
pub(crate) async fn swap(ctx: &Context<'_>, target: &Source, restored: &Restored) -> Result<String, BackupError> {
    let manifest = &restored.backup;
    let work = WorkDir::new(ctx, &format!("swap-{}", manifest.id))?;
    unpack(ctx, manifest, &work.0).await?;
    let scratch = Scratch::start(&work.0, "dump.rdb").await?;
    let copied = copy_keys(&scratch.url, &target.redis_url(), &restored.counts).await;
    scratch.stop().await;
    copied?;
    Ok("(replaced in place: Redis keeps no previous copy)".to_owned())
}

async fn copy_keys(from: &str, to: &str, counts: &BTreeMap<String, u64>) -> Result<(), BackupError> {
    let mut dst = connect(to, "swap").await?;
    redis::cmd("FLUSHALL").query_async::<()>(&mut dst).await.map_err(at("swap"))?;
    for db in counts.keys() {
        let n: u32 = db.trim_start_matches("db").parse().unwrap_or(0);
        let mut src = connect(&with_db(from, n), "swap").await?;
        let mut dst = connect(&with_db(to, n), "swap").await?;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut src)
                .await
                .map_err(at("swap"))?;
            cursor = next;
            // SCAN may answer a batch with no keys; an empty pipeline is an error.
            if keys.is_empty() {
                if cursor == 0 {
                    break;
                }
                continue;
            }
            let mut read = redis::pipe();
            for key in &keys {
                read.cmd("PTTL").arg(key).cmd("DUMP").arg(key);
            }
            let values: Vec<redis::Value> = read.query_async(&mut src).await.map_err(at("swap"))?;
            let mut write = redis::pipe();
            for (key, pair) in keys.iter().zip(values.chunks(2)) {
                let ttl = match pair.first() {
                    Some(redis::Value::Int(t)) if *t > 0 => *t,
                    _ => 0,
                };
                if let Some(redis::Value::BulkString(payload)) = pair.get(1) {
                    write.cmd("RESTORE").arg(key).arg(ttl).arg(payload.as_slice()).arg("REPLACE").ignore();
                }
            }
            write.query_async::<()>(&mut dst).await.map_err(at("swap"))?;
            if cursor == 0 {
                break;
            }
        }
    }
    Ok(())
}

fn with_db(url: &str, db: u32) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keyspace_section() {
        let info = "# Keyspace\r\ndb0:keys=12,expires=1,avg_ttl=0\r\ndb3:keys=4,expires=0,avg_ttl=0\r\n";
        let counts = keyspace(info);
        assert_eq!(counts.get("db0"), Some(&12));
        assert_eq!(counts.get("db3"), Some(&4));
        assert_eq!(field("redis_version:7.0.15\r\n", "redis_version"), Some("7.0.15"));
    }
}
