//! `berth backup` (take, verify, list, prune, wal-ship) and `berth
//! restore`: glue between the spec's backup policies and berth-backup.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use berth_backup::volume::Volume;
use berth_backup::{BackupMethod, Context, Kind, Listed, Manifest, RestoreRequest, Source, Verification};
use berth_doctor::judge::bytes;
use berth_plan::BackupJob;
use jiff::Timestamp;

use super::dependencies::{
    Subject, destination, encryption_key, load_target, selected, signing_key, source, volume_dir,
};
use super::runtime;
use crate::cli::{BackupArgs, BackupCommand, BackupTarget, MethodArg, RestoreArgs, StatusFormat};
use crate::progress::Transfer;
use crate::{CliError, Outcome, output};

fn jobs(target: &BackupTarget) -> usize {
    target.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1)
}

fn work_dir(target: &BackupTarget) -> PathBuf {
    target.work_dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("berth-backup-{}", std::process::id())))
}

fn counted(manifest_counts: &std::collections::BTreeMap<String, u64>, kind: Kind) -> String {
    let total: u64 = manifest_counts.values().sum();
    let count = |name: &str| manifest_counts.get(name).copied().unwrap_or(0);
    match kind {
        Kind::Postgres => format!("{total} rows in {} tables", manifest_counts.len()),
        Kind::Redis => format!("{total} keys in {} databases", manifest_counts.len()),
        Kind::Volume => {
            let changed = match count("changed_while_read") {
                0 => String::new(),
                n => format!(" ({n} changed while read: the service was writing)"),
            };
            format!(
                "{} files ({}), {} directories, {} links{changed}",
                count("files"),
                bytes(count("bytes")),
                count("directories"),
                count("links")
            )
        }
    }
}

pub fn run(args: &BackupArgs, color: bool) -> anyhow::Result<Outcome> {
    match &args.command {
        None => take(&args.target, args.method, args.output, color),
        Some(BackupCommand::Verify { target, backup, output }) => verify(target, backup.as_deref(), *output, color),
        Some(BackupCommand::List { target, output }) => list(target, *output, color),
        Some(BackupCommand::Prune { target, dry_run }) => prune(target, *dry_run, color),
        Some(BackupCommand::WalShip { target, spool, once }) => wal_ship(target, spool, *once, color),
        Some(BackupCommand::Exporter { target, listen }) => super::backup_exporter::run(target, *listen, color),
    }
}

/// What a command reaches of each subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The destination only (list, prune): no server, no secret.
    Catalog,
    /// Backups with their keys, and a dependency's server (verify).
    Check,
    /// The data itself too: a dependency's server, a volume's files.
    Take,
}

/// One selected subject, ready to work on: a dependency with its server,
/// or a volume with its directory.
enum Ctx<'a> {
    Dependency(Context<'a>),
    Volume(Volume<'a>),
}

impl Ctx<'_> {
    fn destination(&self) -> &berth_backup::Destination {
        match self {
            Self::Dependency(ctx) => &ctx.destination,
            Self::Volume(v) => &v.destination,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Dependency(ctx) => &ctx.source.dependency,
            Self::Volume(v) => &v.name,
        }
    }
}

/// Runs `f` for each selected dependency or volume with its context; the
/// first failure stops the run with the subject and step named. The
/// commands that need the data (backup, verify) sign or check manifests
/// with the policy's signing key; list and prune do without it.
fn each<T, E: Into<anyhow::Error>>(
    target: &BackupTarget,
    color: bool,
    verb: &str,
    access: Access,
    f: impl AsyncFn(&Ctx<'_>, &BackupJob) -> Result<T, E>,
) -> anyhow::Result<Vec<(String, T)>> {
    let loaded = load_target(target, color)?;
    let chosen = selected(&loaded, target)?;
    let work = work_dir(target);
    let result = runtime()?.block_on(async {
        let mut out = Vec::new();
        for subject in chosen {
            let (name, job) = (subject.name(), subject.job());
            let progress = Transfer::new(&format!("{verb} {name}"));
            let needs_server = access != Access::Catalog;
            let signing_key = if needs_server { signing_key(&loaded, job)? } else { None };
            // list and prune never open a backup's files.
            let encryption = if needs_server { encryption_key(&loaded, job)? } else { None };
            let ctx = match subject {
                Subject::Dependency(dep, _) => Ctx::Dependency(Context {
                    source: source(&loaded, dep, target.from.as_deref(), needs_server)?,
                    destination: destination(&loaded, job)?,
                    work_dir: work.clone(),
                    jobs: jobs(target),
                    signing_key,
                    encryption,
                    progress: &progress,
                }),
                Subject::Volume(service, volume, _) => Ctx::Volume(Volume {
                    name: name.to_owned(),
                    // Only taking a backup reads the volume: verify works
                    // on a machine that does not run the service.
                    dir: match volume_dir(&loaded, service, volume, target.dir.as_deref()) {
                        Ok(dir) => dir,
                        Err(e) if access == Access::Take => return Err(e),
                        Err(_) => PathBuf::new(),
                    },
                    destination: destination(&loaded, job)?,
                    work_dir: work.clone(),
                    signing_key,
                    encryption,
                    progress: &progress,
                }),
            };
            let result: anyhow::Result<T> = f(&ctx, job).await.map_err(Into::into);
            progress.finish(result.is_ok());
            out.push((name.to_owned(), result.with_context(|| format!("{verb} of `{name}`"))?));
        }
        Ok(out)
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn take(
    target: &BackupTarget,
    method: Option<MethodArg>,
    format: StatusFormat,
    color: bool,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let asked = method.map(|m| match m {
        MethodArg::Logical => BackupMethod::Logical,
        MethodArg::Physical => BackupMethod::Physical,
    });
    let taken = each(target, color, "backup", Access::Take, async |ctx, job| match ctx {
        Ctx::Dependency(ctx) => berth_backup::backup(ctx, berth_backup::policy::method(job, asked)).await,
        Ctx::Volume(v) => berth_backup::volume::backup(v).await,
    })?;
    match format {
        StatusFormat::Json => {
            let manifests: Vec<&Manifest> = taken.iter().map(|(_, m)| m).collect();
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(&manifests)?))?;
        }
        StatusFormat::Table => {
            let mut text = String::new();
            for (dep, m) in &taken {
                text.push_str(&format!(
                    "backed up {dep} ({}) as {}: {} in {} files",
                    m.method.as_str(),
                    m.id,
                    bytes(m.size),
                    m.files.len()
                ));
                if !m.counts.is_empty() {
                    text.push_str(&format!(", {}", counted(&m.counts, m.kind)));
                }
                if let Some(wal) = &m.wal {
                    text.push_str(&format!(", WAL {}..{}", wal.start_lsn, wal.end_lsn));
                }
                text.push('\n');
            }
            text.push_str(&format!("done in {:.1}s\n", started.elapsed().as_secs_f64()));
            output::stdout(&text)?;
        }
    }
    Ok(Outcome::Ok)
}

/// Verifies backup `id` of one dependency (default: its newest complete
/// one), with the kind of server it was taken from. Nothing complete to
/// verify fails the verification (exit 4), as a corrupt backup does: what
/// a scheduled verify proves, that a good backup exists, is false. An id
/// that names no backup is wrong usage, which `berth_backup::verify` says.
async fn verify_one(ctx: &Ctx<'_>, id: Option<&str>) -> anyhow::Result<(Kind, Verification)> {
    let listed = berth_backup::list(ctx.destination(), ctx.name()).await?;
    let dependency = ctx.name();
    match id {
        None if !listed.iter().any(Listed::complete) => {
            let at = ctx.destination().display();
            return Err(CliError::verification(format!(
                "no complete backup of `{dependency}` in {at}: nothing to verify"
            ))
            .into());
        }
        Some(id) if listed.iter().any(|l| l.id == id && !l.complete()) => {
            return Err(CliError::verification(format!(
                "backup `{id}` of `{dependency}` is incomplete: it has no manifest"
            ))
            .into());
        }
        _ => {}
    }
    Ok(match ctx {
        Ctx::Dependency(ctx) => (ctx.source.kind.into(), berth_backup::verify(ctx, id).await?),
        Ctx::Volume(v) => (Kind::Volume, berth_backup::volume::verify(v, id).await?),
    })
}

fn verify(target: &BackupTarget, backup: Option<&str>, format: StatusFormat, color: bool) -> anyhow::Result<Outcome> {
    let verified = each(target, color, "verify", Access::Check, async |ctx, _| verify_one(ctx, backup).await)?;
    match format {
        StatusFormat::Json => {
            let all: Vec<&Verification> = verified.iter().map(|(_, (_, v))| v).collect();
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(&all)?))?;
        }
        StatusFormat::Table => {
            let mut text = String::new();
            for (dep, (kind, v)) in &verified {
                text.push_str(&format!(
                    "verified {dep} {}: restored into {} in {:.1}s; checksums match, {}\n",
                    v.id,
                    v.restored_into,
                    v.seconds,
                    counted(&v.counts, *kind)
                ));
            }
            output::stdout(&text)?;
        }
    }
    Ok(Outcome::Ok)
}

fn age(t: Timestamp) -> String {
    let secs = Timestamp::now().as_second() - t.as_second();
    match secs {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

fn list(target: &BackupTarget, format: StatusFormat, color: bool) -> anyhow::Result<Outcome> {
    let listed: Vec<(String, Vec<Listed>)> = each(target, color, "list", Access::Catalog, async |ctx, _| {
        berth_backup::list(ctx.destination(), ctx.name()).await
    })?;
    match format {
        StatusFormat::Json => {
            let json: Vec<serde_json::Value> = listed
                .iter()
                .flat_map(|(dep, all)| {
                    all.iter().map(move |l| {
                        serde_json::json!({
                            "dependency": dep,
                            "id": l.id,
                            "complete": l.complete(),
                            "stored_bytes": l.stored,
                            "manifest": l.manifest,
                            "verification": l.verification,
                        })
                    })
                })
                .collect();
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
        }
        StatusFormat::Table => {
            let mut text = format!(
                "{:<12} {:<20} {:<9} {:<10} {:>10}  {}\n",
                "DEPENDENCY", "ID", "METHOD", "TAKEN", "SIZE", "STATUS"
            );
            for (dep, all) in &listed {
                for l in all.iter().rev() {
                    let status = match (&l.manifest, &l.verification) {
                        (None, _) => "incomplete (no manifest)".to_owned(),
                        (Some(_), Some(v)) => format!("verified {}", age(v.verified_at)),
                        (Some(_), None) => "not verified".to_owned(),
                    };
                    text.push_str(&format!(
                        "{:<12} {:<20} {:<9} {:<10} {:>10}  {status}\n",
                        dep,
                        l.id,
                        l.manifest.as_ref().map_or("?", |m| m.method.as_str()),
                        l.at().map(age).unwrap_or_default(),
                        bytes(l.manifest.as_ref().map_or(l.stored, |m| m.size)),
                    ));
                }
            }
            output::stdout(&text)?;
        }
    }
    Ok(Outcome::Ok)
}

fn prune(target: &BackupTarget, dry_run: bool, color: bool) -> anyhow::Result<Outcome> {
    let decisions = each(target, color, "prune", Access::Catalog, async |ctx, job| {
        berth_backup::prune(ctx.destination(), ctx.name(), &job.retain, Timestamp::now(), dry_run).await
    })?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut text = String::new();
    for (dep, d) in &decisions {
        for (id, why) in &d.keep {
            text.push_str(&format!("{dep}: keep {id} ({})\n", why.join(", ")));
        }
        for id in &d.delete {
            text.push_str(&format!("{dep}: {verb} {id}\n"));
        }
        if !d.delete_wal.is_empty() {
            text.push_str(&format!(
                "{dep}: {verb} {} WAL segments older than every kept base backup ({}..{})\n",
                d.delete_wal.len(),
                d.delete_wal.first().map_or("", String::as_str),
                d.delete_wal.last().map_or("", String::as_str)
            ));
        }
    }
    output::stdout(&text)?;
    Ok(Outcome::Ok)
}

fn wal_ship(target: &BackupTarget, spool: &Path, once: bool, color: bool) -> anyhow::Result<Outcome> {
    let loaded = load_target(target, color)?;
    let chosen = selected(&loaded, target)?;
    let [Subject::Dependency(dep, job)] = chosen.as_slice() else {
        crate::usage!("name the dependency whose WAL to ship: berth backup wal-ship DEPENDENCY --spool DIR");
    };
    let destination = destination(&loaded, job)?;
    runtime()?.block_on(async {
        loop {
            match berth_backup::wal::ship(spool, &destination, &dep.name).await {
                Ok(shipped) => {
                    for segment in shipped.segments {
                        output::stdout(&format!("archived {segment}\n"))?;
                    }
                }
                Err(e) if once => return Err(anyhow::Error::from(e)),
                Err(e) => output::stderr(&format!("error: {e}\n")),
            }
            if once {
                return Ok(Outcome::Ok);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        crate::usage!("{question}\nrefusing to replace without a confirmation: run on a terminal, or pass --yes");
    }
    output::stderr(&format!("{question} [y/N] "));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn restore(args: &RestoreArgs, color: bool) -> anyhow::Result<Outcome> {
    let target = &args.target;
    let loaded = load_target(target, color)?;
    let chosen = selected(&loaded, target)?;
    let (dep, job) = match chosen.as_slice() {
        [Subject::Dependency(dep, job)] => (*dep, *job),
        [Subject::Volume(service, volume, job)] => return restore_volume(args, &loaded, service, volume, job),
        _ => {
            let names: Vec<&str> = chosen.iter().map(Subject::name).collect();
            crate::usage!("name what to restore: {}", names.join(", "));
        }
    };
    let to_time = args.to_time;
    let work = work_dir(target);
    let progress = Transfer::new(&format!("restore {}", dep.name));
    let result = runtime()?.block_on(async {
        let ctx = Context {
            source: source(&loaded, dep, target.from.as_deref(), true)?,
            destination: destination(&loaded, job)?,
            work_dir: work.clone(),
            jobs: jobs(target),
            signing_key: signing_key(&loaded, job)?,
            encryption: encryption_key(&loaded, job)?,
            progress: &progress,
        };
        let into = match &args.to {
            Some(url) => Source::from_url(&dep.name, dep.kind, &dep.version, url)?,
            None => ctx.source.clone(),
        };
        let request = RestoreRequest { id: args.backup.clone(), to_time };
        let restored = berth_backup::restore(&ctx, &request, &into).await;
        progress.finish(restored.is_ok());
        let restored = restored.with_context(|| format!("restore of `{}`", dep.name))?;
        let redis = restored.backup.kind == Kind::Redis;
        let mut text = format!(
            "restored {} {} ({}, taken {}){}: checksums match, {}\n",
            dep.name,
            restored.backup.id,
            restored.backup.method.as_str(),
            restored.backup.finished_at,
            to_time.map(|t| format!(" replayed to {t}")).unwrap_or_default(),
            counted(&restored.counts, restored.backup.kind)
        );
        if !redis {
            text.push_str(&format!("the copy is database `{}` on {}:{}\n", restored.database, into.host, into.port));
        }
        output::stdout(&text)?;
        if !(args.replace || args.yes) {
            output::stdout(&format!(
                "nothing live changed; swap it in with: berth restore {} {} --replace\n",
                dep.name,
                match to_time {
                    Some(t) => format!("--to-time '{t}'"),
                    None => restored.backup.id.clone(),
                }
            ))?;
            return Ok(Outcome::Ok);
        }
        let question = if redis {
            format!("Replace every key in {} with the backup's?", into.address())
        } else {
            format!(
                "Replace database `{}` on {}:{} with the restored copy (the current one is kept)?",
                into.database, into.host, into.port
            )
        };
        if !args.yes && !confirm(&question)? {
            output::stdout("not replaced\n")?;
            return Ok(Outcome::Ok);
        }
        let kept = berth_backup::swap(&ctx, &into, &restored).await.context("swap")?;
        if redis {
            output::stdout(&format!("replaced the keys of {}\n", into.address()))?;
        } else {
            output::stdout(&format!("swapped in; the previous database is kept as `{kept}`\n"))?;
        }
        Ok(Outcome::Ok)
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// `berth restore SERVICE.VOLUME`: without `--replace`, unpacks and
/// compares the backup in a scratch directory (nothing live changes);
/// with it, restores it beside the volume and swaps the files in.
fn restore_volume(
    args: &RestoreArgs,
    loaded: &super::dependencies::Loaded,
    service: &berth_plan::ServicePlan,
    volume: &berth_plan::VolumePlan,
    job: &BackupJob,
) -> anyhow::Result<Outcome> {
    let target = &args.target;
    if args.to_time.is_some() || args.to.is_some() {
        crate::usage!(
            "`{}` is a volume: it restores to one of its backups (name its id), into its own directory (--dir for another)",
            job.name
        );
    }
    let work = work_dir(target);
    let progress = Transfer::new(&format!("restore {}", job.name));
    let result = runtime()?.block_on(async {
        let v = Volume {
            name: job.name.clone(),
            dir: volume_dir(loaded, service, volume, target.dir.as_deref())?,
            destination: destination(loaded, job)?,
            work_dir: work.clone(),
            signing_key: signing_key(loaded, job)?,
            encryption: encryption_key(loaded, job)?,
            progress: &progress,
        };
        if !(args.replace || args.yes) {
            let checked = berth_backup::volume::verify(&v, args.backup.as_deref()).await;
            progress.finish(checked.is_ok());
            let checked = checked.with_context(|| format!("restore of `{}`", job.name))?;
            output::stdout(&format!(
                "backup {} of {} unpacks and matches its manifest: {}
nothing live changed; put it in {} with: berth restore {} {} --replace
",
                checked.id,
                job.name,
                counted(&checked.counts, Kind::Volume),
                v.dir.display(),
                job.name,
                checked.id
            ))?;
            return Ok(Outcome::Ok);
        }
        let question = format!(
            "Replace the files in {} with backup {} (the current ones are kept beside it)?",
            v.dir.display(),
            args.backup.as_deref().unwrap_or("(the newest)")
        );
        if !args.yes && !confirm(&question)? {
            output::stdout("not replaced\n")?;
            return Ok(Outcome::Ok);
        }
        let restored = berth_backup::volume::restore(&v, args.backup.as_deref()).await;
        progress.finish(restored.is_ok());
        let restored = restored.with_context(|| format!("restore of `{}`", job.name))?;
        output::stdout(&format!(
            "restored {} {} (taken {}) into {}: checksums match, {}\nthe previous files are kept in {}\n",
            job.name,
            restored.backup.id,
            restored.backup.finished_at,
            v.dir.display(),
            counted(&restored.counts, Kind::Volume),
            restored.previous.display()
        ))?;
        Ok(Outcome::Ok)
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}
