//! `berth backup` (take, verify, list, prune, wal-ship) and `berth
//! restore`: glue between the spec's backup policies and berth-backup.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use berth_backup::{Context, Destination, Listed, Manifest, Method, RestoreRequest, Source};
use berth_doctor::judge::bytes;
use berth_plan::{BackupJob, DependencyPlan, Plan};
use berth_runtime::StateFile;
use jiff::Timestamp;

use super::{load, runtime, secret_value, state_dir};
use crate::cli::{BackupArgs, BackupCommand, BackupTarget, MethodArg, RestoreArgs, StatusFormat};
use crate::progress::Transfer;
use crate::{Outcome, environment, output};

/// The spec, loaded, with the dependencies a command works on.
pub(super) struct Loaded {
    pub(super) plan: Plan,
    pub(super) spec_dir: PathBuf,
    pub(super) state_dir: PathBuf,
}

pub(super) fn load_spec(spec: &Path, env: Option<&str>, color: bool) -> anyhow::Result<Loaded> {
    let plan = load(spec, env, color)?.ok_or_else(|| anyhow!("{} has errors; nothing was done", spec.display()))?;
    let spec_dir = spec.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let spec_dir = spec_dir.canonicalize().unwrap_or_else(|_| spec_dir.to_path_buf());
    let state_dir = std::path::absolute(state_dir(spec, env))?;
    Ok(Loaded { plan, spec_dir, state_dir })
}

/// The dependencies with a backup policy that `target` names.
pub(super) fn selected<'p>(
    loaded: &'p Loaded,
    target: &BackupTarget,
) -> anyhow::Result<Vec<(&'p DependencyPlan, &'p BackupJob)>> {
    let with_policy: Vec<(&DependencyPlan, &BackupJob)> =
        loaded.plan.dependencies.iter().filter_map(|d| d.backup.as_ref().map(|b| (d, b))).collect();
    match &target.dependency {
        None if with_policy.is_empty() => crate::usage!("no dependency in the spec has a `backup:` policy"),
        None => Ok(with_policy),
        Some(name) => {
            let Some(dep) = loaded.plan.dependencies.iter().find(|d| &d.name == name) else {
                let names: Vec<&str> = loaded.plan.dependencies.iter().map(|d| d.name.as_str()).collect();
                if name.ends_with(".yaml") || name.ends_with(".yml") || Path::new(name).is_file() {
                    crate::usage!(
                        "`{name}` is a file, not a dependency: name the spec with -f (`berth backup -f {name} [DEPENDENCY]`); dependencies of {}: {}",
                        target.spec.display(),
                        names.join(", ")
                    );
                }
                crate::usage!("no dependency `{name}` in the spec (dependencies: {})", names.join(", "));
            };
            let job = dep.backup.as_ref().ok_or_else(|| {
                anyhow!("dependency `{name}` has no backup policy: add `backup:` (schedule, to) to it in the spec")
            })?;
            Ok(vec![(dep, job)])
        }
    }
}

/// The server of `dep`: --from, the dependency's URL variable, a running
/// `berth up`, or the plan's host with the password from its secret.
/// `needs_server`: without it (list, prune) a missing password is no error.
pub(super) fn source(
    loaded: &Loaded,
    dep: &DependencyPlan,
    from: Option<&str>,
    needs_server: bool,
) -> anyhow::Result<Source> {
    let url = match from.map(str::to_owned).or_else(|| environment::var(&dep.url_env)) {
        Some(url) => url,
        None => {
            let password = dep
                .password_secret
                .as_ref()
                .and_then(|name| loaded.plan.secrets.iter().find(|s| &s.name == name))
                .filter(|_| needs_server)
                .map(|secret| {
                    secret_value(secret).ok_or_else(|| {
                        anyhow!(
                            "secret `{}` (the password of `{}`) has no value: set {}",
                            secret.name,
                            dep.name,
                            secret.env.clone().unwrap_or_else(|| secret.file.clone().unwrap_or_default())
                        )
                    })
                })
                .transpose()?;
            let running = StateFile::read(&loaded.state_dir.join("state.json"))
                .filter(StateFile::supervisor_running)
                .and_then(|s| s.replicas.into_iter().find(|r| r.service == dep.name))
                .and_then(|r| r.ports.values().next().copied());
            let mut url = url::Url::parse(&dep.url).context("the plan's dependency URL")?;
            if let Some(port) = running {
                let _ = url.set_host(Some("127.0.0.1"));
                let _ = url.set_port(Some(port));
            }
            if let Some(pw) = password {
                let _ = url.set_password(Some(&pw));
            }
            url.to_string()
        }
    };
    Ok(Source::from_url(&dep.name, dep.kind, &dep.version, &url)?)
}

/// The value of the policy's signing key, read the way every secret is;
/// `None` when the policy names none.
fn signing_key(loaded: &Loaded, job: &BackupJob) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(name) = &job.signing_key_secret else { return Ok(None) };
    let secret = loaded.plan.secrets.iter().find(|s| &s.name == name).ok_or_else(|| {
        anyhow!("secret `{name}` (the backup signing key of `{}`) is not declared under `secrets:`", job.dependency)
    })?;
    // An empty key would sign, but prove nothing.
    let value = secret_value(secret).filter(|v| !v.is_empty()).ok_or_else(|| {
        anyhow!(
            "secret `{name}` (the backup signing key of `{}`) has no value: set {}",
            job.dependency,
            secret.env.clone().unwrap_or_else(|| secret.file.clone().unwrap_or_default())
        )
    })?;
    Ok(Some(value.into_bytes()))
}

pub(super) fn destination(loaded: &Loaded, job: &BackupJob) -> anyhow::Result<Destination> {
    Ok(Destination::open(&job.to, &loaded.spec_dir, &environment::object_store_options())?)
}

fn jobs(target: &BackupTarget) -> usize {
    target.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1)
}

fn work_dir(target: &BackupTarget) -> PathBuf {
    target.work_dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("berth-backup-{}", std::process::id())))
}

fn counted(manifest_counts: &std::collections::BTreeMap<String, u64>, redis: bool) -> String {
    let total: u64 = manifest_counts.values().sum();
    if redis {
        format!("{total} keys in {} databases", manifest_counts.len())
    } else {
        format!("{total} rows in {} tables", manifest_counts.len())
    }
}

pub fn run(args: &BackupArgs, color: bool) -> anyhow::Result<Outcome> {
    match &args.command {
        None => take(&args.target, args.method, args.output, color),
        Some(BackupCommand::Verify { target, backup, output }) => verify(target, backup.as_deref(), *output, color),
        Some(BackupCommand::List { target, output }) => list(target, *output, color),
        Some(BackupCommand::Prune { target, dry_run }) => prune(target, *dry_run, color),
        Some(BackupCommand::WalShip { target, spool, once }) => wal_ship(target, spool, *once, color),
        // Dispatched by `commands::run`, so the exporter can use this module without a cycle.
        Some(BackupCommand::Exporter { .. }) => Err(anyhow!("internal: the exporter runs from commands::run")),
    }
}

/// Runs `f` for each selected dependency with its context; the first
/// failure stops the run with the dependency and step named. The commands
/// that need the server (backup, verify) sign or check manifests with the
/// policy's signing key; list and prune do without it.
fn each<T>(
    target: &BackupTarget,
    color: bool,
    verb: &str,
    needs_server: bool,
    f: impl AsyncFn(&Context<'_>, &BackupJob) -> Result<T, berth_backup::BackupError>,
) -> anyhow::Result<Vec<(String, T)>> {
    let loaded = load_spec(&target.spec, target.env.as_deref(), color)?;
    let chosen = selected(&loaded, target)?;
    let work = work_dir(target);
    let result = runtime()?.block_on(async {
        let mut out = Vec::new();
        for (dep, job) in chosen {
            let progress = Transfer::new(&format!("{verb} {}", dep.name));
            let ctx = Context {
                source: source(&loaded, dep, target.from.as_deref(), needs_server)?,
                destination: destination(&loaded, job)?,
                work_dir: work.clone(),
                jobs: jobs(target),
                signing_key: if needs_server { signing_key(&loaded, job)? } else { None },
                progress: &progress,
            };
            let result = f(&ctx, job).await;
            progress.finish(result.is_ok());
            out.push((dep.name.clone(), result.with_context(|| format!("{verb} of `{}`", dep.name))?));
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
    let taken = each(target, color, "backup", true, async |ctx, job| {
        let method = match (method, Method::from_plan(job.method)) {
            (Some(MethodArg::Logical), _) => Method::Logical,
            (Some(MethodArg::Physical), _) => Method::Physical,
            (None, Some(m)) => m,
            (None, None) => Method::Logical,
        };
        berth_backup::backup(ctx, method).await
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
                    text.push_str(&format!(", {}", counted(&m.counts, m.kind == "redis")));
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

fn verify(target: &BackupTarget, backup: Option<&str>, format: StatusFormat, color: bool) -> anyhow::Result<Outcome> {
    let verified = each(target, color, "verify", true, async |ctx, _| berth_backup::verify(ctx, backup).await)?;
    match format {
        StatusFormat::Json => {
            let all: Vec<&berth_backup::Verification> = verified.iter().map(|(_, v)| v).collect();
            output::stdout(&format!("{}\n", serde_json::to_string_pretty(&all)?))?;
        }
        StatusFormat::Table => {
            let mut text = String::new();
            for (dep, v) in &verified {
                text.push_str(&format!(
                    "verified {dep} {}: restored into {} in {:.1}s; checksums match, {}\n",
                    v.id,
                    v.restored_into,
                    v.seconds,
                    counted(&v.counts, v.counts.keys().all(|k| k.starts_with("db")) && !v.counts.is_empty())
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
    let listed: Vec<(String, Vec<Listed>)> = each(target, color, "list", false, async |ctx, _| {
        berth_backup::list(&ctx.destination, &ctx.source.dependency).await
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
    let decisions = each(target, color, "prune", false, async |ctx, job| {
        berth_backup::prune(&ctx.destination, &ctx.source.dependency, &job.retain, Timestamp::now(), dry_run).await
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
    let loaded = load_spec(&target.spec, target.env.as_deref(), color)?;
    let chosen = selected(&loaded, target)?;
    let [(dep, job)] = chosen.as_slice() else {
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

/// `berth up`'s WAL shippers: one task per dependency with physical
/// backups, shipping its spool every second while the stack runs.
pub fn wal_shippers(plan: &Plan, state_dir: &Path, spec_dir: &Path) -> Vec<(String, PathBuf, Destination)> {
    plan.dependencies
        .iter()
        .filter_map(|d| d.backup.as_ref().filter(|b| b.method == "physical").map(|b| (d, b)))
        .filter_map(|(d, b)| {
            let destination = Destination::open(&b.to, spec_dir, &environment::object_store_options())
                .map_err(|e| output::stderr(&format!("warning: WAL of `{}` is not shipped: {e}\n", d.name)))
                .ok()?;
            Some((d.name.clone(), berth_runtime::wal_spool(state_dir, &d.name), destination))
        })
        .collect()
}

fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    let normalized = text.trim().replace(" UTC", "Z").replace(" utc", "Z");
    if let Ok(t) = normalized.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = normalized
        .trim_end_matches('Z')
        .parse()
        .map_err(|_| anyhow!("cannot read `{text}` as a time; write it as `2026-11-22 10:14:00 UTC` or RFC 3339"))?;
    Ok(civil.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp())
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
    let loaded = load_spec(&target.spec, target.env.as_deref(), color)?;
    let chosen = selected(&loaded, target)?;
    let [(dep, job)] = chosen.as_slice() else {
        let names: Vec<&str> = chosen.iter().map(|(d, _)| d.name.as_str()).collect();
        crate::usage!("name the dependency to restore: {}", names.join(", "));
    };
    let to_time = args.to_time.as_deref().map(parse_time).transpose()?;
    let work = work_dir(target);
    let progress = Transfer::new(&format!("restore {}", dep.name));
    let result = runtime()?.block_on(async {
        let ctx = Context {
            source: source(&loaded, dep, target.from.as_deref(), true)?,
            destination: destination(&loaded, job)?,
            work_dir: work.clone(),
            jobs: jobs(target),
            signing_key: signing_key(&loaded, job)?,
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
        let redis = restored.backup.kind == "redis";
        let mut text = format!(
            "restored {} {} ({}, taken {}){}: checksums match, {}\n",
            dep.name,
            restored.backup.id,
            restored.backup.method.as_str(),
            restored.backup.finished_at,
            to_time.map(|t| format!(" replayed to {t}")).unwrap_or_default(),
            counted(&restored.counts, redis)
        );
        if !redis {
            text.push_str(&format!("the copy is database `{}` on {}:{}\n", restored.database, into.host, into.port));
        }
        output::stdout(&text)?;
        if !(args.replace || args.yes) {
            output::stdout(&format!(
                "nothing live changed; swap it in with: berth restore {} {} --replace\n",
                dep.name,
                if to_time.is_some() {
                    format!("--to-time '{}'", args.to_time.clone().unwrap_or_default())
                } else {
                    restored.backup.id.clone()
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
