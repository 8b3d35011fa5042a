//! Logical PostgreSQL backups: `pg_dump` in directory format with parallel
//! jobs, from a snapshot exported by berth's own transaction, so that the
//! row counts berth takes in that transaction describe exactly the data
//! dumped. Every file is compressed with zstd on berth's threads (pg_dump
//! before 16 has no zstd).

use std::path::{Path, PathBuf};

use berth_spec::BackupMethod;
use jiff::Timestamp;

use super::{catalog, scratch};
use crate::error::{BackupError, at, fail};
use crate::manifest::{Manifest, Taken};
use crate::source::{Source, pg_connect};
use crate::tool::Tool;
use crate::{Context, backup_dir};
use crate::{compress, crypt};

pub(crate) async fn backup(ctx: &Context<'_>, id: &str) -> Result<Manifest, BackupError> {
    let started_at = Timestamp::now();
    let source = &ctx.source;
    let (client, server_version) = catalog::connect(ctx).await?;
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(at("snapshot"))?;
    let snapshot: String = client.query_one("SELECT pg_export_snapshot()", &[]).await.map_err(at("snapshot"))?.get(0);

    let staging = ctx.work_dir.join(format!("{id}-dump"));
    let pg_dump = scratch::program("pg_dump", &source.version)?;
    let tool = Tool::new("pg_dump", &pg_dump).args(["--version"]).output().await?.trim().to_owned();
    ctx.progress.step("pg_dump", None);
    let dump = Tool::new("pg_dump", &pg_dump)
        .args(source.pg_args())
        .args(["-d", &source.database, "-Fd", "-Z0", "--no-sync", "--no-password"])
        .args(["-j".to_owned(), ctx.jobs.to_string(), "--snapshot".to_owned(), snapshot])
        .args(["-f".to_owned(), staging.display().to_string()])
        .env(source.client_env());
    // Counting runs in the exported snapshot while pg_dump reads it.
    let (dumped, counts) = tokio::join!(dump.output(), catalog::row_counts(&client, "count rows"));
    dumped?;
    let counts = counts?;
    client.batch_execute("COMMIT").await.map_err(at("snapshot"))?;
    drop(client);

    let rel = backup_dir(&source.dependency, id);
    let out = ctx.destination.local_path(&rel).unwrap_or_else(|| ctx.work_dir.join(format!("{id}-out")));
    let out_dump = out.join("dump");
    std::fs::create_dir_all(&out_dump).map_err(|e| fail("compress", format!("{}: {e}", out_dump.display())))?;
    let mut names = list_files(&staging)?;
    names.sort();
    let total: u64 = names.iter().filter_map(|n| std::fs::metadata(staging.join(n)).ok()).map(|m| m.len()).sum();
    ctx.progress.step("compress", Some(total));
    let suffix = if ctx.encryption.is_some() { ".zst.age" } else { ".zst" };
    let pairs = names
        .iter()
        .map(|n| (staging.join(n), out_dump.join(format!("{n}{suffix}"))))
        .collect::<Vec<(PathBuf, PathBuf)>>();
    compress::compress_all(pairs, ctx.jobs, ctx.encryption.clone()).await?;
    ctx.progress.advance(total);
    let _ = std::fs::remove_dir_all(&staging);

    let files =
        crate::store_files(ctx, &rel, &out, names.iter().map(|n| format!("dump/{n}{suffix}")).collect()).await?;
    let encrypted_to = ctx.encryption.as_ref().map(crypt::EncryptionKey::recipient);
    let taken = Taken { started_at, server_version, tool, files, counts, wal: None, encrypted_to };
    Ok(Manifest::finished(source, id, BackupMethod::Logical, taken))
}

fn list_files(dir: &Path) -> Result<Vec<String>, BackupError> {
    let entries = std::fs::read_dir(dir).map_err(|e| fail("pg_dump", format!("{}: {e}", dir.display())))?;
    Ok(entries.flatten().filter(|e| e.path().is_file()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
}

/// Fetches and decompresses a logical backup into `dir`, checking every
/// file's checksum. Returns the problems found (empty: intact).
pub(crate) async fn unpack(ctx: &Context<'_>, manifest: &Manifest, dir: &Path) -> Result<Vec<String>, BackupError> {
    let key = crypt::key_for(manifest, ctx.encryption.as_ref())?;
    std::fs::create_dir_all(dir).map_err(at("download"))?;
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    ctx.progress.step("download and check", Some(manifest.size));
    let mut items = Vec::new();
    for entry in &manifest.files {
        let src = ctx.destination.fetch(&format!("{rel}/{}", entry.name), &ctx.work_dir, ctx.progress).await?;
        let name = entry.name.trim_start_matches("dump/").trim_end_matches(crypt::SUFFIX).trim_end_matches(".zst");
        items.push((src, dir.join(name), entry.clone()));
    }
    let problems = compress::decompress_all(items, ctx.jobs, key).await?;
    ctx.progress.advance(manifest.size);
    Ok(problems)
}

/// Creates `target.database` (from template0) on the target server, a
/// scratch database named by berth.
pub(crate) async fn create_database(target: &Source) -> Result<(), BackupError> {
    let admin = pg_connect(&target.with_database("postgres"), "create the scratch database").await?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&target.database])
        .await
        .map_err(at("create the scratch database"))?
        .is_some();
    // The name is berth's own (`<db>_restore_<id>`): a copy left by an
    // earlier restore of the same backup is replaced.
    if exists {
        admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", catalog::ident(&target.database)))
            .await
            .map_err(at("create the scratch database"))?;
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {} TEMPLATE template0", catalog::ident(&target.database)))
        .await
        .map_err(at("create the scratch database"))
}

/// `pg_restore` of an unpacked dump into `target`, `jobs` at a time.
/// `own_roles`: the target server has the source's roles (restore on the
/// same server), so ownership and grants are restored too.
pub(crate) async fn load(dir: &Path, target: &Source, jobs: usize, own_roles: bool) -> Result<(), BackupError> {
    let mut tool = Tool::new("pg_restore", scratch::program("pg_restore", &target.version)?)
        .args(target.pg_args())
        .args(["-d", &target.database, "--exit-on-error", "--no-password"])
        .args(["-j".to_owned(), jobs.to_string()])
        .env(target.client_env());
    if !own_roles {
        tool = tool.args(["--no-owner", "--no-privileges"]);
    }
    tool.args([dir.display().to_string()]).output().await.map(|_| ())
}

/// Copies a whole database from one server to another through a parallel
/// dump (a restored physical backup into the real server).
pub(crate) async fn transfer(from: &Source, to: &Source, work: &Path, jobs: usize) -> Result<(), BackupError> {
    let dir = work.join("transfer");
    Tool::new("pg_dump", scratch::program("pg_dump", &from.version)?)
        .args(from.pg_args())
        .args(["-d", &from.database, "-Fd", "-Z0", "--no-sync", "--no-password"])
        .args(["-j".to_owned(), jobs.to_string(), "-f".to_owned(), dir.display().to_string()])
        .env(from.client_env())
        .output()
        .await?;
    let loaded = load(&dir, to, jobs, true).await;
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

/// Rows per table of `target`, for comparison with a manifest.
pub(crate) async fn count(target: &Source) -> Result<std::collections::BTreeMap<String, u64>, BackupError> {
    let client = pg_connect(target, "count restored rows").await?;
    catalog::row_counts(&client, "count restored rows").await
}
