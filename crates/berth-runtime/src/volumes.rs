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
//! Volume directories belong to the user the service runs as
//! ([`crate::users`]); an exec probe runs in the same mounts as its
//! replica ([`Launch`]).

use std::path::{Path, PathBuf};

use berth_plan::VolumePlan;

use crate::RuntimeError;
use crate::process::RunAs;

pub use crate::namespace::Bind as Mount;

/// Where a service's volumes live in the state directory.
pub fn service_dir(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join("volumes").join(service)
}

/// The mounts of `instance` (a replica's index, or a job run's name),
/// without touching the disk: what [`prepare`] makes, and what an exec
/// probe of a running replica is given.
pub fn mounts(state_dir: &Path, service: &str, instance: &str, volumes: &[VolumePlan]) -> Vec<Mount> {
    let dir = service_dir(state_dir, service);
    volumes
        .iter()
        .map(|volume| Mount {
            source: if volume.persistent {
                dir.join(&volume.name)
            } else {
                dir.join(".scratch").join(instance).join(&volume.name)
            },
            target: PathBuf::from(&volume.path),
            read_only: volume.read_only,
        })
        .collect()
}

/// The mounts for one start of `instance`: persistent directories made if
/// missing, scratch ones emptied, each handed to `owner` (the user the
/// service runs as, when berth up is root).
pub fn prepare(
    state_dir: &Path,
    service: &str,
    instance: &str,
    volumes: &[VolumePlan],
    owner: Option<RunAs>,
) -> std::io::Result<Vec<Mount>> {
    // Dependencies and services without volumes have nothing to prepare
    // (and servers have no state directory of this kind).
    if volumes.is_empty() {
        return Ok(Vec::new());
    }
    // The volumes' data is the services' alone, whatever the mode of the
    // paths they are mounted at. The directories above the volumes stay
    // root's: the replica reaches its volumes only through the mounts.
    crate::process::create_private_dir(&state_dir.join("volumes"))?;
    let mounts = mounts(state_dir, service, instance, volumes);
    for (volume, mount) in volumes.iter().zip(&mounts) {
        if !volume.persistent {
            match std::fs::remove_dir_all(&mount.source) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::create_dir_all(&mount.source)?;
        if let Some(owner) = owner {
            // A volume made for another user (the spec changed the
            // service's user, or berth gave it its own) becomes wholly
            // this one's; otherwise only its directory is handed over and
            // files keep the owners the service gave them.
            let dir_owner = std::os::unix::fs::MetadataExt::uid(&std::fs::symlink_metadata(&mount.source)?);
            let tree = dir_owner != owner.uid;
            let handed = if tree {
                crate::programs::chown_tree(&mount.source, Some(owner))
            } else {
                crate::programs::chown(&mount.source, Some(owner))
            };
            handed.map_err(std::io::Error::other)?;
        }
    }
    Ok(mounts)
}

/// How a service's program starts: as which user, with which volumes.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The user to become; `None` keeps berth up's.
    pub user: Option<RunAs>,
    pub mounts: Vec<Mount>,
}

impl Launch {
    /// The command line to spawn for `argv`, what to add to its
    /// environment, and the user to spawn it as. With volumes the program
    /// starts through berth's helper, which mounts as root and then drops
    /// to the user itself.
    pub fn command(&self, argv: Vec<String>) -> std::io::Result<Spawn> {
        let mut env = self.user.map(crate::users::user_env).unwrap_or_default();
        if self.mounts.is_empty() {
            return Ok(Spawn { argv, env, user: self.user });
        }
        env.extend(helper_env());
        let exe = berth_exe()?;
        let mut out = vec![exe.display().to_string(), crate::namespace::COMMAND.to_owned()];
        out.extend(crate::namespace::arguments(self.user, &self.mounts, &argv));
        Ok(Spawn { argv: out, env, user: None })
    }
}

/// What [`Launch::command`] gives `process::spawn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawn {
    pub argv: Vec<String>,
    /// Added to the program's own environment.
    pub env: Vec<(String, String)>,
    /// The user to spawn as.
    pub user: Option<RunAs>,
}

/// Removes the scratch volumes of `instance` (a replica that stopped, a
/// job run that ended): scratch data does not outlive what used it.
pub fn remove_scratch(state_dir: &Path, service: &str, instance: &str) {
    let _ = std::fs::remove_dir_all(service_dir(state_dir, service).join(".scratch").join(instance));
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
    let launch = Launch { user: None, mounts: vec![mount] };
    let log = probe.join("namespace.log");
    let ok = match launch.command(vec!["true".to_owned()]) {
        Ok(spawn) => crate::process::run_to_end(&spawn.argv, &spawn.env, &log, spawn.user).await.unwrap_or(false),
        Err(_) => false,
    };
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
            backup: None,
        }
    }

    #[test]
    fn scratch_is_emptied_per_start_and_persistent_kept() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = [volume("data", "/srv/data", true, false), volume("tmp", "/tmp", false, false)];
        let first = prepare(dir.path(), "api", "0", &volumes, None).unwrap();
        std::fs::write(first[0].source.join("kept"), "x").unwrap();
        std::fs::write(first[1].source.join("junk"), "x").unwrap();
        let again = prepare(dir.path(), "api", "0", &volumes, None).unwrap();
        assert_eq!(again, first);
        assert!(again[0].source.join("kept").exists());
        assert!(!again[1].source.join("junk").exists(), "scratch survived a restart");
        let other = prepare(dir.path(), "api", "1", &volumes, None).unwrap();
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
        assert!(prepare(&dir.path().join("state"), "db", "0", &[], None).unwrap().is_empty());
        assert!(!dir.path().join("state").exists());
    }

    #[test]
    fn without_volumes_the_command_is_unchanged() {
        let argv = vec!["./server".to_owned(), "--port".to_owned(), "8080".to_owned()];
        let same = Launch::default().command(argv.clone()).unwrap();
        assert_eq!(same, Spawn { argv: argv.clone(), env: Vec::new(), user: None });
        let user = Some(RunAs { uid: 4242, gid: 4242 });
        let same = Launch { user, mounts: Vec::new() }.command(argv.clone()).unwrap();
        assert_eq!((&same.argv, same.user), (&argv, user));
        assert!(same.env.contains(&("HOME".to_owned(), "/".to_owned())), "{:?}", same.env);
        // With volumes the helper starts as berth up's user and drops to
        // the service's own after mounting.
        let mounts = vec![Mount { source: "/s/a b".into(), target: "/data".into(), read_only: false }];
        let wrapped = Launch { user, mounts: mounts.clone() }.command(argv.clone()).unwrap();
        assert_eq!(wrapped.user, None);
        assert_eq!(wrapped.argv[1], "__volumes");
        let request = crate::namespace::parse(&wrapped.argv[2..]).unwrap();
        assert_eq!((request.user, request.binds, request.argv), (user, mounts, argv));
    }

    #[test]
    fn probes_get_the_mounts_a_start_prepared() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = [volume("data", "/srv/data", true, false), volume("tmp", "/tmp", false, true)];
        let prepared = prepare(dir.path(), "api", "3", &volumes, None).unwrap();
        assert_eq!(mounts(dir.path(), "api", "3", &volumes), prepared);
    }
}
