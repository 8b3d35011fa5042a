//! Physical PostgreSQL backups: `pg_basebackup` as zstd-compressed tars
//! with the WAL needed for consistency streamed in, plus PostgreSQL's own
//! backup manifest. Restores unpack into a scratch data directory, check
//! every checksum (berth's, then `pg_verifybackup` against PostgreSQL's
//! manifest), and start a scratch server on it in archive recovery: to the
//! backup's consistent point, or with a target time, replaying archived
//! WAL up to it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use berth_spec::BackupMethod;
use jiff::Timestamp;
use serde::Deserialize;

use super::catalog;
use super::scratch::{self, Scratch};
use super::wal::{self, segment_name, wal_dir};
use crate::error::{BackupError, at, fail};
use crate::manifest::{FileEntry, HashingReader, Manifest, Taken, WalRange, check_entry};
use crate::retention::is_segment;
use crate::store::Object;
use crate::tool::Tool;
use crate::{Context, backup_dir};

/// The parts of PostgreSQL's `backup_manifest` berth reads.
#[derive(Debug, Deserialize)]
struct PgManifest {
    #[serde(rename = "WAL-Ranges")]
    wal_ranges: Vec<PgWalRange>,
}

#[derive(Debug, Deserialize)]
struct PgWalRange {
    #[serde(rename = "Timeline")]
    timeline: u32,
    #[serde(rename = "Start-LSN")]
    start: String,
    #[serde(rename = "End-LSN")]
    end: String,
}

pub(crate) async fn backup(ctx: &Context<'_>, id: &str) -> Result<Manifest, BackupError> {
    // The base backup and the WAL archive are written by PostgreSQL's own
    // tools; validation refuses the combination (S206), and so does this.
    if ctx.encryption.is_some() {
        return Err(BackupError::Usage(
            "physical backups are not encrypted by berth: remove `encryption_key`, or use `method: logical`".into(),
        ));
    }
    let started_at = Timestamp::now();
    let source = &ctx.source;
    let (client, server_version) = catalog::connect(ctx).await?;
    let segment_size: i64 = client
        .query_one("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'", &[])
        .await
        .map_err(at("connect"))?
        .get(0);
    drop(client);

    let rel = backup_dir(&source.dependency, id);
    let out = ctx.destination.local_path(&rel).unwrap_or_else(|| ctx.work_dir.join(format!("{id}-out")));
    let program = scratch::program("pg_basebackup", &source.version)?;
    let tool = Tool::new("pg_basebackup", &program).args(["--version"]).output().await?.trim().to_owned();
    ctx.progress.step("pg_basebackup", None);
    let mut compress = "client-zstd:level=3".to_owned();
    if ctx.jobs > 1 {
        compress.push_str(&format!(",workers={}", ctx.jobs));
    }
    Tool::new("pg_basebackup", &program)
        .args(source.pg_args())
        .args(["-D".to_owned(), out.display().to_string(), "-Ft".to_owned(), format!("--compress={compress}")])
        .args(["-X", "stream", "--checkpoint=fast", "--no-password"])
        .args([format!("--label=berth {id}")])
        .env(source.client_env())
        .output()
        .await?;

    let pg_manifest: PgManifest = serde_json::from_slice(
        &std::fs::read(out.join("backup_manifest"))
            .map_err(|e| fail("pg_basebackup", format!("no backup_manifest: {e}")))?,
    )
    .map_err(|e| fail("pg_basebackup", format!("backup_manifest: {e}")))?;
    let size = u64::try_from(segment_size).unwrap_or(16 << 20);
    let wal = match (pg_manifest.wal_ranges.first(), pg_manifest.wal_ranges.last()) {
        (Some(first), Some(last)) => Some(WalRange {
            timeline: last.timeline,
            start_segment: segment_name(first.timeline, &first.start, size).unwrap_or_default(),
            end_segment: segment_name(last.timeline, &last.end, size).unwrap_or_default(),
            start_lsn: first.start.clone(),
            end_lsn: last.end.clone(),
            segment_size: Some(size),
        }),
        _ => None,
    };
    // pg_basebackup compresses streamed WAL with gzip only; berth uses zstd.
    let wal_tar = out.join("pg_wal.tar");
    if wal_tar.exists() {
        ctx.progress.step("compress WAL", None);
        crate::compress::compress_all(vec![(wal_tar.clone(), out.join("pg_wal.tar.zst"))], ctx.jobs, None).await?;
        std::fs::remove_file(&wal_tar).map_err(at("compress WAL"))?;
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .map_err(at("pg_basebackup"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.iter().any(|n| n.ends_with(".tar.zst") && n != "base.tar.zst" && n != "pg_wal.tar.zst") {
        return Err(fail(
            "pg_basebackup",
            "the server has tablespaces outside its data directory, which berth does not back up yet",
        ));
    }
    let files = crate::store_files(ctx, &rel, &out, names).await?;
    let taken = Taken { started_at, server_version, tool, files, counts: BTreeMap::new(), wal, encrypted_to: None };
    Ok(Manifest::finished(source, id, BackupMethod::Physical, taken))
}

/// Unpacks a zstd tar into `into`, hashing the compressed file on the way.
fn untar_checked(src: &Path, into: &Path, entry: &FileEntry) -> Result<Option<String>, BackupError> {
    std::fs::create_dir_all(into).map_err(at("unpack"))?;
    let file = File::open(src).map_err(|e| fail("unpack", format!("{}: {e}", src.display())))?;
    let mut hashing = HashingReader::new(BufReader::with_capacity(1 << 20, file));
    let unpacked = zstd::stream::read::Decoder::new(&mut hashing)
        .map_err(|e| e.to_string())
        .and_then(|decoder| tar::Archive::new(decoder).unpack(into).map_err(|e| e.to_string()));
    let _ = std::io::copy(&mut hashing, &mut std::io::sink());
    let (size, sha) = hashing.finish();
    if let Some(problem) = check_entry(entry, size, &sha) {
        return Ok(Some(problem));
    }
    Ok(unpacked.err().map(|e| format!("{}: cannot unpack: {e}", entry.name)))
}

/// A scratch server on a restored copy of `manifest`'s backup, replayed to
/// `target` when given. Fails with every checksum problem found, and
/// before downloading anything when the WAL archive has a hole recovery to
/// `target` would have to cross.
pub(crate) async fn restore_instance(
    ctx: &Context<'_>,
    manifest: &Manifest,
    target: Option<Timestamp>,
    dir: &Path,
) -> Result<Scratch, BackupError> {
    // The archive's listing and its holes, for a point-in-time restore.
    let to_time = match target {
        Some(target) => {
            let objects = ctx.destination.list(&wal_dir(&manifest.dependency)).await?;
            let archived = wal::archived_names(&objects);
            let names: Vec<String> = archived.iter().map(|(name, _)| name.clone()).collect();
            let gaps = wal::backup_gaps(manifest, &names);
            if let Some(gap) = wal::blocking(&gaps, &archived, target) {
                return Err(BackupError::Usage(format!(
                    "point-in-time recovery of `{}` to {target} needs WAL the archive lacks: {}. Recover to an \
                     earlier moment, or take a physical backup now (berth backup {}): recovery from it starts \
                     after the gap",
                    manifest.dependency,
                    gap.describe(),
                    manifest.dependency
                )));
            }
            Some((target, objects, gaps))
        }
        None => None,
    };
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(at("unpack"))?;
    ctx.progress.step("download and unpack", Some(manifest.size));
    let mut problems = Vec::new();
    for entry in &manifest.files {
        let src = ctx.destination.fetch(&format!("{rel}/{}", entry.name), &ctx.work_dir, ctx.progress).await?;
        let (file, dir, data) = (entry.clone(), dir.to_path_buf(), data.clone());
        let problem = tokio::task::spawn_blocking(move || match file.name.as_str() {
            "base.tar.zst" => untar_checked(&src, &data, &file),
            "pg_wal.tar.zst" => untar_checked(&src, &data.join("pg_wal"), &file),
            _ => {
                let (size, sha) = crate::manifest::hash_file(&src)?;
                std::fs::copy(&src, dir.join(&file.name)).map_err(at("unpack"))?;
                Ok(check_entry(&file, size, &sha))
            }
        })
        .await
        .map_err(at("unpack"))??;
        problems.extend(problem);
        ctx.progress.advance(entry.size);
    }
    if !problems.is_empty() {
        return Err(BackupError::Verify { id: manifest.id.clone(), problems });
    }
    ctx.progress.step("pg_verifybackup", None);
    Tool::new("pg_verifybackup", scratch::program("pg_verifybackup", &ctx.source.version)?)
        .args(["-q", "-m", &dir.join("backup_manifest").display().to_string(), &data.display().to_string()])
        .args(["-w", &data.join("pg_wal").display().to_string()])
        .output()
        .await
        .map_err(|e| BackupError::Verify { id: manifest.id.clone(), problems: vec![e.to_string()] })?;

    let mut settings = primary_settings(&controldata(ctx, &data).await?);

    // Archive recovery for every restore, even one to the backup's own
    // consistent point (verify): that is where PostgreSQL checks the
    // settings above and reads WAL through `restore_command`, as a
    // point-in-time restore does; crash recovery checks neither. Without a
    // target, WAL comes from the backup's own pg_wal (the empty archive
    // directory only satisfies `restore_command`).
    let archive = dir.join("wal");
    std::fs::create_dir_all(&archive).map_err(at("prepare recovery"))?;
    settings.extend([
        format!("restore_command=cp '{}/%f' '%p'", archive.display()),
        "recovery_target_action=promote".to_owned(),
    ]);
    let gaps = match to_time {
        Some((target, objects, gaps)) => {
            fetch_wal(ctx, manifest, &archive, objects).await?;
            settings.extend([
                format!("recovery_target_time={}", pg_time(target)),
                // WAL after the base backup may raise those settings again
                // (the primary restarted with a higher max_connections logs
                // the change); with hot standby, recovery would pause there
                // for an operator, forever. Without hot standby, PostgreSQL
                // requires none of those minimums.
                "hot_standby=off".to_owned(),
            ]);
            gaps
        }
        None => {
            settings.push("recovery_target=immediate".to_owned());
            Vec::new()
        }
    };
    std::fs::write(data.join("recovery.signal"), b"").map_err(at("prepare recovery"))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).map_err(at("unpack"))?;
    scratch::chown_tree(dir, scratch::run_as()?)?;
    ctx.progress.step(if target.is_some() { "replay WAL" } else { "recover" }, None);
    Scratch::start(dir, &data, &ctx.source.version, &ctx.source.user, false, &settings).await.map_err(|e| {
        match (target, e) {
            (Some(t), BackupError::Step { detail, .. }) if detail.contains("recovery target") => match gaps.first() {
                Some(gap) => BackupError::Usage(format!(
                    "point-in-time recovery of `{}` to {t} stopped at a gap in the WAL archive: {}",
                    manifest.dependency,
                    gap.describe()
                )),
                None => BackupError::Usage(format!(
                    "the WAL archive of `{}` does not reach {t} yet; the newest archived segment ends before it ({detail})",
                    manifest.dependency
                )),
            },
            (_, e) => e,
        }
    })
}

/// What `pg_controldata` calls each setting that recovery with hot standby
/// requires at least as high as on the primary, and the setting's name.
const PRIMARY_SETTINGS: &[(&str, &str)] = &[
    ("max_connections setting", "max_connections"),
    ("max_worker_processes setting", "max_worker_processes"),
    ("max_wal_senders setting", "max_wal_senders"),
    ("max_prepared_xacts setting", "max_prepared_transactions"),
    ("max_locks_per_xact setting", "max_locks_per_transaction"),
];

/// `pg_controldata` of a restored data directory: its control file holds
/// the primary's settings as of the backup.
async fn controldata(ctx: &Context<'_>, data: &Path) -> Result<String, BackupError> {
    Tool::new("pg_controldata", scratch::program("pg_controldata", &ctx.source.version)?)
        .args(["-D".to_owned(), data.display().to_string()])
        .env(vec![("LC_ALL".to_owned(), "C".to_owned())])
        .output()
        .await
}

/// `name=value` for the scratch server, from `pg_controldata`'s output: the
/// primary's values of [`PRIMARY_SETTINGS`]. PostgreSQL aborts a recovery
/// on a server with less (`max_connections = 100 is a lower setting than on
/// the primary server, where its value was 200`), and the scratch server
/// would otherwise start with the defaults.
fn primary_settings(controldata: &str) -> Vec<String> {
    PRIMARY_SETTINGS
        .iter()
        .filter_map(|(label, name)| {
            let value = controldata.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                if key.trim() == *label { Some(value.trim()) } else { None }
            })?;
            (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{name}={value}"))
        })
        .collect()
}

/// A timestamp as PostgreSQL reads it: `2026-11-22 10:14:00.123456+00`.
fn pg_time(t: Timestamp) -> String {
    format!("{}.{:06}+00", t.strftime("%Y-%m-%d %H:%M:%S"), t.subsec_microsecond())
}

/// Downloads the archived WAL a recovery from `manifest`'s base needs from
/// `objects`, the archive's listing: every segment from its start on (any
/// later timeline) and the history.
async fn fetch_wal(
    ctx: &Context<'_>,
    manifest: &Manifest,
    into: &PathBuf,
    objects: Vec<Object>,
) -> Result<(), BackupError> {
    std::fs::create_dir_all(into).map_err(at("fetch WAL"))?;
    let start = manifest.wal.as_ref().map(|w| (w.timeline, w.start_segment.clone()));
    ctx.progress.step("fetch WAL", Some(objects.iter().map(|o| o.size).sum()));
    for object in objects {
        let Some(name) = object.key.rsplit('/').next().and_then(|n| n.strip_suffix(".zst")) else { continue };
        let needed = match &start {
            _ if name.ends_with(".history") => true,
            Some((timeline, first)) if is_segment(name) => {
                u32::from_str_radix(&name[..8], 16).is_ok_and(|t| t >= *timeline) && name[8..] >= first[8..]
            }
            _ => false,
        };
        if !needed {
            continue;
        }
        let src = ctx.destination.fetch(&object.key, &ctx.work_dir, ctx.progress).await?;
        let bytes = std::fs::read(&src).map_err(at("fetch WAL"))?;
        let raw = zstd::stream::decode_all(bytes.as_slice())
            .map_err(|e| fail("fetch WAL", format!("{}: not valid zstd: {e}", object.key)))?;
        std::fs::write(into.join(name), raw).map_err(at("fetch WAL"))?;
        if ctx.destination.local_path(&object.key).is_none() {
            let _ = std::fs::remove_file(&src);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_scratch_server_takes_the_primarys_settings_from_the_control_file() {
        // pg_controldata of a backup of a server started with
        // max_connections=200 and max_locks_per_transaction=128 (PostgreSQL 15).
        let out = "pg_control version number:            1300
Latest checkpoint's TimeLineID:       1
wal_level setting:                    replica
wal_log_hints setting:                off
max_connections setting:              200
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           128
track_commit_timestamp setting:       off
Bytes per WAL segment:                16777216
";
        assert_eq!(
            primary_settings(out),
            vec![
                "max_connections=200",
                "max_worker_processes=8",
                "max_wal_senders=10",
                "max_prepared_transactions=0",
                "max_locks_per_transaction=128",
            ]
        );
        assert_eq!(primary_settings("max_connections setting: lots\n"), Vec::<String>::new());
    }

    #[test]
    fn target_times_are_written_the_way_postgres_reads_them() {
        let t: Timestamp = "2026-11-22T10:14:00.1234567Z".parse().unwrap();
        assert_eq!(pg_time(t), "2026-11-22 10:14:00.123456+00");
    }
}
