//! Backups of a spec's dependencies that are proven by restoring them.
//!
//! - [`backup`] takes one (PostgreSQL logical or physical, Redis snapshot),
//!   writes its data, then its [`Manifest`]: a backup without a manifest is
//!   incomplete, whatever files it has.
//! - [`verify`] restores a backup into a scratch server, checks every
//!   checksum and compares what it holds with the manifest (for physical
//!   backups, also that the WAL archive has no hole after it), then
//!   records a [`Verification`] next to it. With a signing key, manifests
//!   are signed at backup and refused unsigned or altered at verification
//!   and restore; without one, verification proves a backup consistent
//!   and restorable, not who wrote it.
//! - [`restore`] does the same into a scratch database on the target
//!   server (for PostgreSQL, to any moment the WAL archive covers), and
//!   [`swap`] puts it in place of the live one.
//! - [`volume`] does the same for a service's volume: an archive of its
//!   files, verified by unpacking it into a scratch directory, restored
//!   beside the live files and swapped in.
//! - [`list`] and [`prune`] (with [`retention`]) manage the destination;
//!   [`wal::ship`] archives WAL continuously.
//! - [`policy`] turns a plan's dependency and backup policy into what these
//!   need: the server (a given URL, a running `berth up`, the plan's host
//!   and password), the method and the signing key.
//!
//! Every failure names its step ([`BackupError`]). Client programs get
//! passwords through their environment only.

mod compress;
pub mod crypt;
mod error;
pub mod manifest;
pub mod metrics;
pub mod policy;
mod postgres;
pub mod progress;
mod redis;
pub mod retention;
pub mod source;
pub mod store;
mod tool;
pub mod volume;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_spec::{DependencyKind, Retention};
use jiff::Timestamp;

/// How a backup is taken: the spec's type, carried by the plan
/// (`BackupJob::method`) and recorded in every [`Manifest`].
pub use berth_spec::BackupMethod;
/// [`BackupMethod`] under the name this crate first exported it by.
pub use berth_spec::BackupMethod as Method;
pub use error::BackupError;
use error::{at, fail};
pub use manifest::{FileEntry, Kind, Manifest, Verification};
pub use postgres::wal;
use postgres::{catalog, logical, physical, scratch::Scratch};
use progress::Progress;
pub use source::Source;
pub use store::Destination;

/// What every operation works with.
pub struct Context<'a> {
    /// The dependency's server.
    pub source: Source,
    pub destination: Destination,
    /// Scratch space for staging, downloads and scratch servers; must be
    /// reachable by the `postgres` user when berth runs as root.
    pub work_dir: PathBuf,
    /// Parallel jobs for dumps, restores and compression.
    pub jobs: usize,
    /// The backup policy's signing key: manifests are signed with it, and
    /// verification and restores refuse one it did not sign. `None`: no
    /// signature is made or asked for.
    pub signing_key: Option<Vec<u8>>,
    /// The policy's age identity: the stored files are encrypted to it,
    /// and a backup not encrypted to it is refused. `None`: stored plain.
    pub encryption: Option<crypt::EncryptionKey>,
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("source", &self.source)
            .field("destination", &self.destination.display())
            .field("work_dir", &self.work_dir)
            .field("signs", &self.signing_key.is_some())
            .field("encryption", &self.encryption)
            .finish_non_exhaustive()
    }
}

/// Where one backup's objects live in the destination.
pub fn backup_dir(dependency: &str, id: &str) -> String {
    format!("{dependency}/backups/{id}")
}

/// Backup ids are their start time in UTC, sortable as text.
const ID_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn id_time(id: &str) -> Option<Timestamp> {
    let stamp = id.get(..16)?;
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

async fn new_id(destination: &Destination, name: &str) -> Result<String, BackupError> {
    let base = Timestamp::now().strftime(ID_FORMAT).to_string();
    let mut id = base.clone();
    let mut n = 1;
    while !destination.list(&backup_dir(name, &id)).await?.is_empty() {
        n += 1;
        id = format!("{base}-{n}");
    }
    Ok(id)
}

/// Takes a backup of `ctx.source` with `method` and returns its manifest,
/// already written to the destination.
pub async fn backup(ctx: &Context<'_>, method: BackupMethod) -> Result<Manifest, BackupError> {
    std::fs::create_dir_all(&ctx.work_dir).map_err(at("prepare the work directory"))?;
    let id = new_id(&ctx.destination, &ctx.source.dependency).await?;
    let taken = match (ctx.source.kind, method) {
        (DependencyKind::Postgres, BackupMethod::Logical) => logical::backup(ctx, &id).await,
        (DependencyKind::Postgres, BackupMethod::Physical) => physical::backup(ctx, &id).await,
        (DependencyKind::Redis, _) => redis::backup(ctx, &id).await,
        (DependencyKind::Postgres, BackupMethod::Snapshot | BackupMethod::Archive) => {
            Err(BackupError::Usage("PostgreSQL backups are `logical` or `physical`".to_owned()))
        }
    };
    let mut manifest = match taken {
        Ok(m) => m,
        Err(e) => {
            // Nothing without a manifest counts, but do not leave the debris.
            let _ = delete_backup(&ctx.destination, &ctx.source.dependency, &id).await;
            return Err(e);
        }
    };
    if let Some(key) = &ctx.signing_key {
        manifest.sign(key);
    }
    ctx.progress.step("write the manifest", None);
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    ctx.destination.put_bytes(&format!("{rel}/{}", manifest::MANIFEST), manifest.to_json()).await?;
    Ok(manifest)
}

/// Hashes `names` under `out` and, for object storage, uploads them to
/// `rel` and removes the staging copies.
pub(crate) async fn store_files(
    ctx: &Context<'_>,
    rel: &str,
    out: &Path,
    names: Vec<String>,
) -> Result<Vec<FileEntry>, BackupError> {
    store_files_in(&ctx.destination, ctx.progress, rel, out, names).await
}

pub(crate) async fn store_files_in(
    destination: &Destination,
    progress: &dyn Progress,
    rel: &str,
    out: &Path,
    names: Vec<String>,
) -> Result<Vec<FileEntry>, BackupError> {
    let mut files = Vec::new();
    for name in names {
        let path = out.join(&name);
        let (size, sha256) =
            tokio::task::spawn_blocking(move || manifest::hash_file(&path)).await.map_err(at("checksum"))??;
        files.push(FileEntry { name, size, sha256 });
    }
    if destination.local_path(rel).is_none() {
        progress.step("upload", Some(files.iter().map(|f| f.size).sum()));
        for file in &files {
            destination.put_file(&format!("{rel}/{}", file.name), &out.join(&file.name), progress).await?;
        }
        let _ = std::fs::remove_dir_all(out);
    }
    Ok(files)
}

/// One backup in a destination.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub manifest: Option<Manifest>,
    pub verification: Option<Verification>,
    /// Bytes stored under the backup's directory.
    pub stored: u64,
}

impl Listed {
    pub fn complete(&self) -> bool {
        self.manifest.is_some()
    }

    /// When it finished, or for an incomplete one when it started.
    pub fn at(&self) -> Option<Timestamp> {
        self.manifest.as_ref().map(|m| m.finished_at).or_else(|| id_time(&self.id))
    }
}

/// Every backup of `dependency`, oldest first.
pub async fn list(destination: &Destination, dependency: &str) -> Result<Vec<Listed>, BackupError> {
    let prefix = format!("{dependency}/backups");
    let mut by_id: BTreeMap<String, (u64, bool, bool)> = BTreeMap::new();
    for object in destination.list(&prefix).await? {
        let Some(rest) = object.key.strip_prefix(&format!("{prefix}/")) else { continue };
        let Some((id, file)) = rest.split_once('/') else { continue };
        let entry = by_id.entry(id.to_owned()).or_default();
        entry.0 += object.size;
        entry.1 |= file == manifest::MANIFEST;
        entry.2 |= file == manifest::VERIFICATION;
    }
    let mut out = Vec::new();
    for (id, (stored, has_manifest, has_verification)) in by_id {
        let rel = backup_dir(dependency, &id);
        let manifest = match has_manifest {
            true => destination
                .get_bytes(&format!("{rel}/{}", manifest::MANIFEST))
                .await?
                .map(|b| Manifest::from_json(&id, &b))
                .transpose()?
                .map(|m| belongs(m, dependency, &id))
                .transpose()?,
            false => None,
        };
        let verification = match has_verification {
            true => destination
                .get_bytes(&format!("{rel}/{}", manifest::VERIFICATION))
                .await?
                .and_then(|b| serde_json::from_slice::<Verification>(&b).ok()),
            false => None,
        };
        out.push(Listed { id, manifest, verification, stored });
    }
    out.sort_by(|a, b| a.at().cmp(&b.at()).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// A manifest names the backup it describes; one that names another (an
/// id with `/` or `..`, another dependency) was not written for this
/// directory, and its id must never become a path.
fn belongs(manifest: Manifest, dependency: &str, id: &str) -> Result<Manifest, BackupError> {
    if manifest.id == id && manifest.dependency == dependency {
        return Ok(manifest);
    }
    Err(BackupError::Verify {
        id: id.to_owned(),
        problems: vec![format!(
            "its manifest describes backup `{}` of `{}`, not `{id}` of `{dependency}`: it was copied or forged",
            manifest.id, manifest.dependency
        )],
    })
}

/// Refuses a manifest the policy's signing key did not sign: checksums
/// only prove the files are the ones the manifest lists, and whoever can
/// rewrite the files can rewrite the manifest too.
fn authenticate(ctx: &Context<'_>, manifest: &Manifest) -> Result<(), BackupError> {
    authenticate_with(ctx.signing_key.as_deref(), manifest)
}

fn authenticate_with(signing_key: Option<&[u8]>, manifest: &Manifest) -> Result<(), BackupError> {
    match signing_key {
        Some(key) => manifest
            .check_signature(key)
            .map_err(|problem| BackupError::Verify { id: manifest.id.clone(), problems: vec![problem] }),
        None => Ok(()),
    }
}

/// The manifest of backup `id`, or of the newest complete backup.
async fn pick(ctx: &Context<'_>, id: Option<&str>) -> Result<Manifest, BackupError> {
    pick_in(&ctx.destination, &ctx.source.dependency, id).await
}

async fn pick_in(destination: &Destination, name: &str, id: Option<&str>) -> Result<Manifest, BackupError> {
    let all = list(destination, name).await?;
    let found = match id {
        Some(id) => all
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| BackupError::Usage(format!("no backup `{id}` of `{name}` in {}", destination.display())))?,
        None => all.into_iter().rev().find(Listed::complete).ok_or_else(|| {
            BackupError::Usage(format!("no complete backup of `{name}` in {}", destination.display()))
        })?,
    };
    found.manifest.ok_or_else(|| {
        BackupError::Usage(format!("backup `{}` has no manifest: it is incomplete and cannot be restored", found.id))
    })
}

/// A private directory under the work directory, removed on drop.
pub(crate) struct WorkDir(pub(crate) PathBuf);

impl WorkDir {
    pub(crate) fn new(ctx: &Context<'_>, name: &str) -> Result<Self, BackupError> {
        Self::in_dir(&ctx.work_dir, name)
    }

    pub(crate) fn in_dir(work_dir: &Path, name: &str) -> Result<Self, BackupError> {
        let dir = work_dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail("prepare the work directory", format!("{}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Restores backup `id` (or the newest) into a scratch server, checks
/// every checksum and compares the copy with the manifest; a physical
/// backup must also have every archived WAL segment after it, and with a
/// signing key the manifest must carry its signature. On success the
/// verification is recorded next to the backup.
pub async fn verify(ctx: &Context<'_>, id: Option<&str>) -> Result<Verification, BackupError> {
    let started = Instant::now();
    let manifest = pick(ctx, id).await?;
    authenticate(ctx, &manifest)?;
    let work = WorkDir::new(ctx, &format!("verify-{}", manifest.id))?;
    let (restored_into, counts) = match manifest.method {
        BackupMethod::Logical => {
            let dump = work.0.join("dump");
            let problems = logical::unpack(ctx, &manifest, &dump).await?;
            if !problems.is_empty() {
                return Err(BackupError::Verify { id: manifest.id.clone(), problems });
            }
            ctx.progress.step("start a scratch PostgreSQL", None);
            let scratch = Scratch::init(&work.0.join("pg"), &ctx.source.version, &ctx.source.user).await?;
            let result = load_and_count(ctx, &scratch, &manifest, &dump).await;
            let into = format!("a scratch PostgreSQL {} on 127.0.0.1:{}", manifest.server_version, scratch.port);
            scratch.stop().await;
            (into, result?)
        }
        BackupMethod::Physical => {
            // A hole in the archive after the backup stops every recovery
            // to a later moment, while the backup itself still restores.
            ctx.progress.step("check the WAL archive", None);
            let archived: Vec<String> = wal::archived(&ctx.destination, &manifest.dependency)
                .await?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            let gaps = wal::backup_gaps(&manifest, &archived);
            if !gaps.is_empty() {
                return Err(BackupError::Verify {
                    id: manifest.id.clone(),
                    problems: gaps.iter().map(wal::Gap::describe).collect(),
                });
            }
            let scratch = physical::restore_instance(ctx, &manifest, None, &work.0.join("pg")).await?;
            let counts = logical::count(&scratch.source(&manifest.dependency, &ctx.source.database)).await;
            let into = format!(
                "a scratch PostgreSQL on 127.0.0.1:{} (archive recovery of the base backup to its consistent point)",
                scratch.port
            );
            scratch.stop().await;
            (into, counts?)
        }
        BackupMethod::Snapshot => redis::verify(ctx, &manifest, &work.0).await?,
        BackupMethod::Archive => return Err(volume_archive(&manifest)),
    };
    // A physical backup has no counts of its own: its proof is the
    // checksums, pg_verifybackup, an unbroken WAL archive and a clean
    // recovery above.
    let problems = match manifest.method {
        BackupMethod::Physical => Vec::new(),
        BackupMethod::Logical | BackupMethod::Snapshot | BackupMethod::Archive => {
            catalog::compare(&manifest.counts, &counts, what(&manifest))
        }
    };
    if !problems.is_empty() {
        return Err(BackupError::Verify { id: manifest.id.clone(), problems });
    }
    let verification = Verification {
        id: manifest.id.clone(),
        verified_at: Timestamp::now(),
        restored_into,
        seconds: started.elapsed().as_secs_f64(),
        counts,
    };
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    ctx.destination.put_bytes(&format!("{rel}/{}", manifest::VERIFICATION), verification.to_json()).await?;
    Ok(verification)
}

fn what(manifest: &Manifest) -> &'static str {
    match manifest.kind {
        Kind::Postgres => "table",
        Kind::Redis => "keyspace",
        Kind::Volume => "count",
    }
}

/// A dependency's command given a volume's backup (a manifest names what
/// it holds, whatever the destination it was found in).
fn volume_archive(manifest: &Manifest) -> BackupError {
    BackupError::Usage(format!(
        "backup `{}` is an archive of volume `{}`, not a dependency's; use `berth backup verify {}` or `berth restore {}`",
        manifest.id, manifest.dependency, manifest.dependency, manifest.dependency
    ))
}

async fn load_and_count(
    ctx: &Context<'_>,
    scratch: &Scratch,
    manifest: &Manifest,
    dump: &Path,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let target = scratch.source(&manifest.dependency, &ctx.source.database);
    if target.database != "postgres" {
        logical::create_database(&target).await?;
    }
    ctx.progress.step("pg_restore", None);
    logical::load(dump, &target, ctx.jobs, false).await?;
    ctx.progress.step("count rows", None);
    logical::count(&target).await
}

/// What to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    /// A backup id; default the newest complete one.
    pub id: Option<String>,
    /// Recover to this moment (PostgreSQL, physical backups and WAL).
    pub to_time: Option<Timestamp>,
}

/// A verified copy, ready to be swapped in.
#[derive(Debug, Clone)]
pub struct Restored {
    pub backup: Manifest,
    /// The scratch database on the target server (PostgreSQL).
    pub database: String,
    pub counts: BTreeMap<String, u64>,
    pub to_time: Option<Timestamp>,
}

/// Restores into a new scratch database on `target`'s server and verifies
/// it (a manifest the signing key did not sign is refused first). Nothing
/// live is touched; [`swap`] does that.
pub async fn restore(ctx: &Context<'_>, request: &RestoreRequest, target: &Source) -> Result<Restored, BackupError> {
    let manifest = match request.to_time {
        Some(t) => base_before(ctx, t).await?,
        None => pick(ctx, request.id.as_deref()).await?,
    };
    authenticate(ctx, &manifest)?;
    match manifest.kind {
        Kind::Redis => {
            let counts = redis::restore(ctx, &manifest).await?;
            return Ok(Restored { database: ctx.source.database.clone(), backup: manifest, counts, to_time: None });
        }
        Kind::Volume => return Err(volume_archive(&manifest)),
        Kind::Postgres => {}
    }
    let scratch_db = format!("{}_restore_{}", target.database, manifest.id.to_lowercase().replace('-', "_"));
    let into = target.with_database(&scratch_db);
    let work = WorkDir::new(ctx, &format!("restore-{}", manifest.id))?;
    let expected = match manifest.method {
        BackupMethod::Physical => {
            let scratch = physical::restore_instance(ctx, &manifest, request.to_time, &work.0.join("pg")).await?;
            let from = scratch.source(&manifest.dependency, &ctx.source.database);
            let copied = async {
                let counts = logical::count(&from).await?;
                logical::create_database(&into).await?;
                ctx.progress.step("copy into the target server", None);
                logical::transfer(&from, &into, &work.0, ctx.jobs).await?;
                Ok::<_, BackupError>(counts)
            }
            .await;
            scratch.stop().await;
            copied?
        }
        BackupMethod::Snapshot | BackupMethod::Archive => {
            return Err(BackupError::Usage(format!(
                "backup `{}` is a {} backup, but its manifest names a PostgreSQL dependency",
                manifest.id, manifest.method
            )));
        }
        BackupMethod::Logical => {
            let dump = work.0.join("dump");
            let problems = logical::unpack(ctx, &manifest, &dump).await?;
            if !problems.is_empty() {
                return Err(BackupError::Verify { id: manifest.id.clone(), problems });
            }
            logical::create_database(&into).await?;
            ctx.progress.step("pg_restore", None);
            logical::load(&dump, &into, ctx.jobs, true).await?;
            manifest.counts.clone()
        }
    };
    ctx.progress.step("count rows", None);
    let counts = logical::count(&into).await?;
    let problems = catalog::compare(&expected, &counts, "table");
    if !problems.is_empty() {
        return Err(BackupError::Verify { id: manifest.id.clone(), problems });
    }
    Ok(Restored { backup: manifest, database: scratch_db, counts, to_time: request.to_time })
}

/// The newest complete physical backup that finished before `t`.
async fn base_before(ctx: &Context<'_>, t: Timestamp) -> Result<Manifest, BackupError> {
    list(&ctx.destination, &ctx.source.dependency)
        .await?
        .into_iter()
        .rev()
        .filter_map(|l| l.manifest)
        .find(|m| m.method == BackupMethod::Physical && m.finished_at <= t)
        .ok_or_else(|| {
            BackupError::Usage(format!(
                "no physical backup of `{}` finished before {t}; point-in-time recovery starts from one",
                ctx.source.dependency
            ))
        })
}

/// Puts a restored scratch database in place of `target.database`: new
/// connections are refused, open ones ended, the live database renamed to
/// `<db>_before_<now>` (kept, not dropped) and the copy renamed in.
pub async fn swap(ctx: &Context<'_>, target: &Source, restored: &Restored) -> Result<String, BackupError> {
    match restored.backup.kind {
        Kind::Redis => return redis::swap(ctx, target, restored).await,
        Kind::Volume => return Err(volume_archive(&restored.backup)),
        Kind::Postgres => {}
    }
    let live = &target.database;
    let old = format!("{live}_before_{}", Timestamp::now().strftime("%Y%m%dt%H%M%S"));
    let admin = source::pg_connect(&target.with_database("postgres"), "swap").await?;
    let (l, o, n) = (catalog::ident(live), catalog::ident(&old), catalog::ident(&restored.database));
    admin.batch_execute(&format!("ALTER DATABASE {l} WITH ALLOW_CONNECTIONS false")).await.map_err(at("swap"))?;
    let renamed = async {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[live],
            )
            .await?;
        admin.batch_execute(&format!("ALTER DATABASE {l} RENAME TO {o}")).await?;
        admin.batch_execute(&format!("ALTER DATABASE {n} RENAME TO {l}")).await?;
        admin.batch_execute(&format!("ALTER DATABASE {o} WITH ALLOW_CONNECTIONS true")).await
    }
    .await;
    if let Err(e) = renamed {
        let _ = admin.batch_execute(&format!("ALTER DATABASE {l} WITH ALLOW_CONNECTIONS true")).await;
        return Err(fail("swap", e.to_string()));
    }
    Ok(old)
}

/// Deletes every object of one backup.
async fn delete_backup(destination: &Destination, dependency: &str, id: &str) -> Result<(), BackupError> {
    let rel = backup_dir(dependency, id);
    let objects = destination.list(&rel).await?;
    // The manifest first: from then on the rest is known to be incomplete.
    for object in objects.iter().filter(|o| o.key.ends_with(manifest::MANIFEST)).chain(objects.iter()) {
        destination.delete(&object.key).await?;
    }
    if let Some(dir) = destination.local_path(&rel) {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Applies `retain` to `dependency`'s backups and WAL; with `dry_run`
/// only reports.
pub async fn prune(
    destination: &Destination,
    dependency: &str,
    retain: &Retention,
    now: Timestamp,
    dry_run: bool,
) -> Result<retention::Decision, BackupError> {
    let listed = list(destination, dependency).await?;
    let candidates: Vec<retention::Candidate> = listed
        .iter()
        .map(|l| retention::Candidate {
            id: l.id.clone(),
            at: l.at().unwrap_or(now),
            complete: l.complete(),
            verified: l.verification.is_some(),
            wal_start: l.manifest.as_ref().and_then(|m| m.wal.as_ref()).map(|w| w.start_segment.clone()),
        })
        .collect();
    let wal_objects = destination.list(&wal::wal_dir(dependency)).await?;
    let wal_names: Vec<String> =
        wal_objects.iter().filter_map(|o| o.key.rsplit('/').next()?.strip_suffix(".zst").map(str::to_owned)).collect();
    let decision = retention::decide(&candidates, retain, &wal_names, now);
    if !dry_run {
        for id in &decision.delete {
            delete_backup(destination, dependency, id).await?;
        }
        for name in &decision.delete_wal {
            destination.delete(&format!("{}/{name}.zst", wal::wal_dir(dependency))).await?;
        }
    }
    Ok(decision)
}
