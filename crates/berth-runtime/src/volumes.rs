//! A service's `volumes` under `berth up`. Replicas are plain processes, so
//! each one that has volumes starts through berth itself
//! ([`crate::namespace`]: a mount namespace of its own, with a user
//! namespace mapping the caller to itself when berth up is not root) where
//! every volume's directory is bind-mounted at its path, as the systemd
//! target's `BindPaths=` does. Nothing is mounted on the host.
//!
//! - persistent: `<state>/volumes/<service>/<volume>`, kept across
//!   restarts and deploys and shared by the service's replicas (the
//!   systemd target's `StateDirectory=`; Kubernetes gives each replica its
//!   own claim);
//! - scratch: `<state>/volumes/<service>/.scratch/<replica>/<volume>`,
//!   emptied on every start of that replica;
//! - `read_only`: remounted read-only inside the namespace.
//!
//! Probes run outside the namespace: an exec probe sees the host's paths.

use std::path::{Path, PathBuf};

use berth_plan::VolumePlan;

use crate::RuntimeError;

pub use crate::namespace::Bind as Mount;

/// Where a service's volumes live in the state directory.
pub fn service_dir(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join("volumes").join(service)
}

/// The mounts for one start of `instance` (a replica's index, or a job's
/// name): persistent directories made if missing, scratch ones emptied.
pub fn prepare(state_dir: &Path, service: &str, instance: &str, volumes: &[VolumePlan]) -> std::io::Result<Vec<Mount>> {
    // Dependencies and services without volumes have nothing to prepare
    // (and servers have no state directory of this kind).
    if volumes.is_empty() {
        return Ok(Vec::new());
    }
    // The volumes' data is the services' alone, whatever the mode of the
    // paths they are mounted at.
    crate::process::create_private_dir(&state_dir.join("volumes"))?;
    let dir = service_dir(state_dir, service);
    let mut mounts = Vec::new();
    for volume in volumes {
        let source = if volume.persistent {
            dir.join(&volume.name)
        } else {
            let scratch = dir.join(".scratch").join(instance).join(&volume.name);
            match std::fs::remove_dir_all(&scratch) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            scratch
        };
        std::fs::create_dir_all(&source)?;
        mounts.push(Mount { source, target: PathBuf::from(&volume.path), read_only: volume.read_only });
    }
    Ok(mounts)
}

/// Removes the scratch volumes of `instance` (a replica that stopped, a
/// job run that ended): scratch data does not outlive what used it.
pub fn remove_scratch(state_dir: &Path, service: &str, instance: &str) {
    let _ = std::fs::remove_dir_all(service_dir(state_dir, service).join(".scratch").join(instance));
}

/// `argv` started by berth (`exe`, the running binary) in its own mount
/// namespace with `mounts` in place; unchanged without mounts.
pub fn wrap(argv: Vec<String>, mounts: &[Mount], exe: &Path) -> Vec<String> {
    if mounts.is_empty() {
        return argv;
    }
    let mut out = vec![exe.display().to_string(), crate::namespace::COMMAND.to_owned()];
    out.extend(crate::namespace::arguments(mounts, &argv));
    out
}

/// What the helper's environment needs besides the replica's.
pub fn helper_env() -> Vec<(String, String)> {
    vec![(crate::namespace::ONE_THREAD.0.to_owned(), crate::namespace::ONE_THREAD.1.to_owned())]
}

/// The berth binary replicas with volumes start through.
pub fn berth_exe() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}

/// Before anything starts: every volume's path exists (made if missing,
/// as systemd makes a `BindPaths=` mount point) and this machine lets
/// berth up make a mount namespace; otherwise an error naming the volume
/// and what to do, never a replica writing to the host's directory.
pub async fn preflight(plan: &berth_plan::Plan, state_dir: &Path) -> Result<(), RuntimeError> {
    let mut any = false;
    for s in &plan.services {
        for v in &s.volumes {
            any = true;
            let path = Path::new(&v.path);
            if !path.is_absolute() {
                return Err(RuntimeError::Unsupported(format!(
                    "volume `{}` of service `{}`: `{}` is not an absolute path",
                    v.name, s.name, v.path
                )));
            }
            if !path.is_dir() {
                std::fs::create_dir_all(path).map_err(|e| {
                    RuntimeError::Unsupported(format!(
                        "volume `{}` of service `{}` is mounted at `{}`, which does not exist and cannot be made ({e}); \
                         berth up binds the volume there in the replica's own mount namespace: create the directory \
                         (`sudo mkdir -p {}`) or run berth up as root",
                        v.name, s.name, v.path, v.path
                    ))
                })?;
            }
        }
    }
    if !any {
        return Ok(());
    }
    // The same operation a replica's start makes: a directory bound onto
    // another in a new mount namespace.
    let probe = state_dir.join("volumes").join(".probe");
    std::fs::create_dir_all(&probe)
        .map_err(|e| RuntimeError::Unsupported(format!("cannot make {}: {e}", probe.display())))?;
    let mount = Mount { source: probe.clone(), target: probe.clone(), read_only: true };
    let exe = berth_exe().map_err(|e| RuntimeError::Unsupported(format!("cannot find the berth binary: {e}")))?;
    let args = wrap(vec!["true".to_owned()], &[mount], &exe);
    let log = probe.join("namespace.log");
    let ok = crate::process::run_to_end(&args, &helper_env(), &log, None).await.unwrap_or(false);
    let detail = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&probe);
    if ok {
        return Ok(());
    }
    Err(RuntimeError::Unsupported(format!(
        "the spec gives services volumes, which berth up binds at their paths in a mount namespace of each replica, \
         but this machine refuses one ({}){}",
        detail.trim(),
        if crate::process::is_root() {
            ""
        } else {
            "; run berth up as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, \
             or on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0)"
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(name: &str, path: &str, persistent: bool, read_only: bool) -> VolumePlan {
        VolumePlan {
            name: name.to_owned(),
            path: path.to_owned(),
            size: berth_spec::model::units::ByteSize(1 << 30),
            persistent,
            read_only,
        }
    }

    #[test]
    fn scratch_is_emptied_per_start_and_persistent_kept() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = [volume("data", "/srv/data", true, false), volume("tmp", "/tmp", false, false)];
        let first = prepare(dir.path(), "api", "0", &volumes).unwrap();
        std::fs::write(first[0].source.join("kept"), "x").unwrap();
        std::fs::write(first[1].source.join("junk"), "x").unwrap();
        let again = prepare(dir.path(), "api", "0", &volumes).unwrap();
        assert_eq!(again, first);
        assert!(again[0].source.join("kept").exists());
        assert!(!again[1].source.join("junk").exists(), "scratch survived a restart");
        let other = prepare(dir.path(), "api", "1", &volumes).unwrap();
        assert_eq!(other[0].source, first[0].source, "replicas share a persistent volume");
        assert_ne!(other[1].source, first[1].source, "each replica has its own scratch");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("volumes")).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o700);
        remove_scratch(dir.path(), "api", "0");
        assert!(!first[1].source.exists() && first[0].source.exists());
    }

    #[test]
    fn nothing_is_made_without_volumes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(prepare(&dir.path().join("state"), "db", "0", &[]).unwrap().is_empty());
        assert!(!dir.path().join("state").exists());
    }

    #[test]
    fn without_volumes_the_command_is_unchanged() {
        let argv = vec!["./server".to_owned(), "--port".to_owned(), "8080".to_owned()];
        let exe = Path::new("/usr/bin/berth");
        assert_eq!(wrap(argv.clone(), &[], exe), argv);
        let mounts = [Mount { source: "/s/a b".into(), target: "/data".into(), read_only: false }];
        let wrapped = wrap(argv.clone(), &mounts, exe);
        assert_eq!(&wrapped[..2], &["/usr/bin/berth", "__volumes"]);
        assert_eq!(crate::namespace::parse(&wrapped[2..]).unwrap(), (mounts.to_vec(), argv));
    }
}
