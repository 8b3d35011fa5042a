//! A spec's dependencies as the commands that reach them see them: the
//! loaded plan, the dependencies a command names, their servers, backup
//! destinations and signing keys, and `berth up`'s WAL shippers. Shared by
//! `backup`, `backup_exporter`, `doctor` and `stack`, which import from
//! here and not from one another. What is decided (which server, which
//! method, which key) is decided in `berth_backup::policy`; this module
//! only reads what that needs: the environment, the state file, secrets.

use std::path::{Path, PathBuf};

use berth_backup::policy::{self, Whereabouts};
use berth_backup::{Destination, Source};
use berth_plan::{BackupJob, DependencyPlan, Plan, SecretPlan, ServicePlan, VolumePlan};
use berth_runtime::StateFile;

use super::{load, secret_value, state_dir};
use crate::cli::BackupTarget;
use crate::{CliError, ErrorKind, environment, output};

/// The spec, loaded, with the directories commands resolve paths against.
pub(super) struct Loaded {
    pub(super) plan: Plan,
    pub(super) spec_dir: PathBuf,
    pub(super) state_dir: PathBuf,
}

/// Loads the spec; one with errors (printed) fails with
/// [`ErrorKind::SpecErrors`].
pub(super) fn load_spec(spec: &Path, env: Option<&str>, color: bool) -> anyhow::Result<Loaded> {
    let plan = load(spec, env, color)?.ok_or_else(|| {
        CliError::new(ErrorKind::SpecErrors, format!("{} has errors; nothing was done", spec.display()))
    })?;
    let spec_dir = spec.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let spec_dir = spec_dir.canonicalize().unwrap_or_else(|_| spec_dir.to_path_buf());
    let state_dir = std::path::absolute(state_dir(spec, env))?;
    Ok(Loaded { plan, spec_dir, state_dir })
}

/// The spec of a backup command. A spec path given where the dependency
/// goes (`berth backup berth.yaml`) is refused first, whether or not a
/// ./berth.yaml exists: a name ending in `.yaml` or `.yml` is never a
/// dependency's (those are DNS labels).
pub(super) fn load_target(target: &BackupTarget, color: bool) -> anyhow::Result<Loaded> {
    if let Some(name) = &target.dependency
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
    {
        return Err(a_file(target, name).into());
    }
    load_spec(&target.spec, target.env.as_deref(), color)
}

/// The usage error for a file named where a dependency goes.
fn a_file(target: &BackupTarget, name: &str) -> CliError {
    let command = if target.command.is_empty() { "backup" } else { target.command };
    CliError::usage(format!(
        "`{name}` is a file, not a dependency of this spec; did you mean `berth {command} -f {name}`?"
    ))
}

/// What a backup command works on: a dependency, or a service's volume.
#[derive(Debug, Clone, Copy)]
pub(super) enum Subject<'p> {
    Dependency(&'p DependencyPlan, &'p BackupJob),
    Volume(&'p ServicePlan, &'p VolumePlan, &'p BackupJob),
}

impl<'p> Subject<'p> {
    /// What its backups are filed under and named by on the command line.
    pub(super) fn name(&self) -> &'p str {
        &self.job().name
    }

    pub(super) fn job(&self) -> &'p BackupJob {
        match self {
            Self::Dependency(_, job) | Self::Volume(_, _, job) => job,
        }
    }
}

/// Every backup policy of the plan that `target` names: a dependency's
/// name, or `<service>.<volume>`; all of them without a name.
pub(super) fn selected<'p>(loaded: &'p Loaded, target: &BackupTarget) -> anyhow::Result<Vec<Subject<'p>>> {
    let plan = &loaded.plan;
    let all: Vec<Subject<'p>> =
        plan.dependencies
            .iter()
            .filter_map(|d| d.backup.as_ref().map(|b| Subject::Dependency(d, b)))
            .chain(plan.services.iter().flat_map(|s| {
                s.volumes.iter().filter_map(move |v| v.backup.as_ref().map(|b| Subject::Volume(s, v, b)))
            }))
            .collect();
    let Some(name) = &target.dependency else {
        if all.is_empty() {
            crate::usage!("nothing in the spec has a `backup:` policy (a dependency's, or a volume's)");
        }
        return Ok(all);
    };
    if let Some(found) = all.iter().find(|s| s.name() == name) {
        return Ok(vec![*found]);
    }
    if let Some((service, volume)) = name.split_once('.') {
        let Some(s) = plan.services.iter().find(|s| s.name == service) else {
            let names = plan.services.iter().map(|s| s.name.as_str());
            let close =
                berth_spec::did_you_mean(service, names).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
            crate::usage!("{} has no service `{service}`{close}", target.spec.display());
        };
        if !s.volumes.iter().any(|v| v.name == volume) {
            let names: Vec<&str> = s.volumes.iter().map(|v| v.name.as_str()).collect();
            let close = berth_spec::did_you_mean(volume, names.iter().copied())
                .map(|c| format!("did you mean `{service}.{c}`? "))
                .unwrap_or_default();
            crate::usage!("service `{service}` has no volume `{volume}`; {close}its volumes: {}", names.join(", "));
        }
        crate::usage!("volume `{name}` has no backup policy: add `backup:` (schedule, to) to it in the spec");
    }
    let Some(dep) = plan.dependencies.iter().find(|d| &d.name == name) else {
        if Path::new(name).is_file() {
            return Err(a_file(target, name).into());
        }
        let names: Vec<&str> = plan.dependencies.iter().map(|d| d.name.as_str()).collect();
        let known = if names.is_empty() {
            "it declares none".to_owned()
        } else {
            let close = berth_spec::did_you_mean(name, names.iter().copied())
                .map(|close| format!("did you mean `{close}`? "))
                .unwrap_or_default();
            format!("{close}dependencies: {}", names.join(", "))
        };
        crate::usage!("{} has no dependency `{name}`; {known}", target.spec.display());
    };
    crate::usage!("dependency `{}` has no backup policy: add `backup:` (schedule, to) to it in the spec", dep.name);
}

/// Where a volume's files are: `--dir`, else where `berth up` keeps them
/// (`.berth/<env>/volumes/<service>/<volume>`), else where the systemd
/// target does (`/var/lib/<project>/<service>/<volume>`).
pub(super) fn volume_dir(
    loaded: &Loaded,
    service: &ServicePlan,
    volume: &VolumePlan,
    given: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(std::path::absolute(dir)?);
    }
    let up = berth_runtime::volumes::service_dir(&loaded.state_dir, &service.name).join(&volume.name);
    let systemd = Path::new("/var/lib").join(&loaded.plan.project).join(&service.name).join(&volume.name);
    for dir in [&up, &systemd] {
        if dir.is_dir() {
            return Ok(dir.clone());
        }
    }
    crate::usage!(
        "volume `{}.{}` has no directory on this machine: berth up keeps it in {}, the systemd target in {}; name another with --dir",
        service.name,
        volume.name,
        up.display(),
        systemd.display()
    );
}

/// The server of `dep` (`berth_backup::policy::server`): `from`
/// (`--from`), the dependency's URL variable, a running `berth up`, or the
/// plan's host with the password from its secret. `needs_server`: without
/// it (list, prune) no password is read and a missing one is no error.
pub(super) fn source(
    loaded: &Loaded,
    dep: &DependencyPlan,
    from: Option<&str>,
    needs_server: bool,
) -> anyhow::Result<Source> {
    let mut whereabouts =
        Whereabouts { from: from.map(str::to_owned), url_variable: environment::var(&dep.url_env), running_port: None };
    // The state file matters only when no URL is given.
    if whereabouts.is_plan_server() {
        whereabouts.running_port = running_port(loaded, dep);
    }
    let read: &dyn Fn(&SecretPlan) -> Option<String> = &secret_value;
    Ok(policy::server(&loaded.plan, dep, &whereabouts, needs_server.then_some(read))?)
}

/// The loopback port of `dep` when a `berth up` of this spec and
/// environment is running.
fn running_port(loaded: &Loaded, dep: &DependencyPlan) -> Option<u16> {
    StateFile::read(&loaded.state_dir.join("state.json"))
        .filter(StateFile::supervisor_running)
        .and_then(|s| s.replicas.into_iter().find(|r| r.service == dep.name))
        .and_then(|r| r.ports.values().next().copied())
}

/// The value of the policy's signing key (`berth_backup::policy::signing_key`),
/// read the way every secret is; `None` when the policy names none.
pub(super) fn signing_key(loaded: &Loaded, job: &BackupJob) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(policy::signing_key(&loaded.plan, job, &secret_value)?)
}

/// The age identity of a volume's policy (`berth_backup::policy::encryption_key`).
pub(super) fn encryption_key(
    loaded: &Loaded,
    job: &BackupJob,
) -> anyhow::Result<Option<berth_backup::crypt::EncryptionKey>> {
    Ok(policy::encryption_key(&loaded.plan, job, &secret_value)?)
}

pub(super) fn destination(loaded: &Loaded, job: &BackupJob) -> anyhow::Result<Destination> {
    Ok(open_destination(&job.to, &loaded.spec_dir)?)
}

/// A backup destination: a directory, or object storage reached with the
/// credentials in berth's environment.
fn open_destination(to: &str, spec_dir: &Path) -> Result<Destination, berth_backup::BackupError> {
    Destination::open(to, spec_dir, |url| berth_object_store::open(url, &environment::object_store_options()))
}

/// `berth up`'s WAL shippers: one per dependency that archives WAL
/// (physical backups), shipping its spool while the stack runs.
pub(super) fn wal_shippers(plan: &Plan, state_dir: &Path, spec_dir: &Path) -> Vec<(String, PathBuf, Destination)> {
    plan.dependencies
        .iter()
        .filter(|d| d.archives_wal())
        .filter_map(|d| Some((d, d.backup.as_ref()?)))
        .filter_map(|(d, b)| {
            let destination = open_destination(&b.to, spec_dir)
                .map_err(|e| output::stderr(&format!("warning: WAL of `{}` is not shipped: {e}\n", d.name)))
                .ok()?;
            Some((d.name.clone(), berth_runtime::wal_spool(state_dir, &d.name), destination))
        })
        .collect()
}
