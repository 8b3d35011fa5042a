//! Who a service's programs run as under `berth up`.
//!
//! Run as root (the way `berth up` faces the internet on ports 80 and
//! 443), berth up starts every replica, job and exec probe of a service as
//! the spec's `security.run_as_user`, or, when the spec names none, as a
//! user of the service's own (10001, 10002, ...: services that share a
//! uid can read each other's secrets from `/proc`), with the group of the
//! same number and no supplementary groups; root only when the spec says
//! `run_as_user: 0` (which it accepts only beside `run_as_non_root:
//! false`). Nothing started gains privileges (`no_new_privs`). PostgreSQL,
//! PgBouncer and Redis run as their packages' system users. Run as anyone
//! else, berth up can only start programs as that user, who is then the
//! most any program gets.
//!
//! The user must be able to enter the service's working directory and run
//! its program; [`preflight`] asks the kernel, as that user, before
//! anything starts, and names the directory in the way.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_plan::{Plan, ServicePlan};

use crate::RuntimeError;
use crate::process::{self, RunAs};

/// The user a service's programs run as, when berth up changes users.
pub fn service_user(plan: &Plan, service: &ServicePlan) -> Option<RunAs> {
    if !process::is_root() {
        return None;
    }
    let uid = uid_of(plan, service);
    (uid != 0).then_some(RunAs { uid, gid: uid })
}

/// A service's uid under berth up as root: the spec's `run_as_user`, or,
/// when the spec names none, a uid of its own counted up from the
/// default (10001, 10002, ... in the order of the services' names,
/// skipping every uid a spec names). Services that share a uid share
/// everything: one could read another's environment (its secrets) from
/// `/proc` and write its volumes, which containers' namespaces keep
/// apart on the other targets.
fn uid_of(plan: &Plan, service: &ServicePlan) -> u32 {
    if service.security.run_as_user_given {
        return service.security.run_as_user;
    }
    let named: Vec<u32> =
        plan.services.iter().filter(|s| s.security.run_as_user_given).map(|s| s.security.run_as_user).collect();
    let mut next = berth_plan::DEFAULT_USER;
    for s in plan.services.iter().filter(|s| !s.security.run_as_user_given) {
        while named.contains(&next) {
            next += 1;
        }
        if s.name == service.name {
            return next;
        }
        next += 1;
    }
    service.security.run_as_user
}

/// berth up's own `HOME`, `USER` and `LOGNAME` would otherwise reach a
/// program started as another user (`/root`, which it cannot write): as
/// systemd does, the user's passwd entry, else `/` for a user without one.
pub fn user_env(user: RunAs) -> Vec<(String, String)> {
    let entry = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(user.uid)).ok().flatten();
    let (name, home) =
        entry.map_or_else(|| (user.uid.to_string(), "/".to_owned()), |u| (u.name, u.dir.display().to_string()));
    vec![("HOME".to_owned(), home), ("USER".to_owned(), name.clone()), ("LOGNAME".to_owned(), name)]
}

/// Before anything starts: every service that berth up runs as another
/// user can enter its working directory and, when its program is named
/// by a path, execute it. Asked of the kernel by running `test` as that
/// user (ACLs and all), explained from the modes on the way.
pub async fn preflight(plan: &Plan, spec_dir: &Path) -> Result<(), RuntimeError> {
    for service in &plan.services {
        let (Some(user), Some(run)) = (service_user(plan, service), &service.run) else { continue };
        let workdir = run.workdir.as_ref().map_or_else(|| spec_dir.to_path_buf(), |w| spec_dir.join(w));
        let program = run.command.first().filter(|p| p.contains('/')).map(|p| workdir.join(p));
        let who = format!(
            "service `{}` runs as user {} (`security.run_as_user`{})",
            service.name,
            user.uid,
            if service.security.run_as_user_given { "" } else { ", berth up's own for it" }
        );
        if !passes(&["true"], &workdir, user).await {
            return Err(RuntimeError::Unsupported(format!(
                "{who}, which cannot enter its working directory `{}`{}; make the directories on the way \
                 searchable by that user (chmod o+x), or move the service to a directory it can read",
                workdir.display(),
                blocking(&workdir, user, 0o1).map_or_else(String::new, |why| format!(" ({why})"))
            )));
        }
        if let Some(program) = program {
            let path = program.display().to_string();
            if !passes(&["test", "-x", &path], &workdir, user).await {
                return Err(RuntimeError::Unsupported(format!(
                    "{who}, which cannot execute `{path}`{}; let that user read and execute it (chmod o+rx)",
                    blocking(&program, user, 0o1).map_or_else(String::new, |why| format!(" ({why})"))
                )));
            }
        }
    }
    Ok(())
}

async fn passes(command: &[&str], dir: &Path, user: RunAs) -> bool {
    let command: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
    process::run_probe(&command, dir, &[], Duration::from_secs(10), Some(user)).await
}

/// The first path from `/` down to `path` whose mode keeps `user` out:
/// search permission on every directory, `last` (an `rwx` bit, `0o1` for
/// execute) on `path` itself.
fn blocking(path: &Path, user: RunAs, last: u32) -> Option<String> {
    let mut at = PathBuf::from("/");
    let mut parts: Vec<_> = path.components().skip(1).collect();
    let final_part = parts.pop();
    let allows = |meta: &std::fs::Metadata, bit: u32| {
        let shift = if meta.uid() == user.uid {
            6
        } else if meta.gid() == user.gid {
            3
        } else {
            0
        };
        (meta.mode() >> shift) & bit != 0
    };
    let describe = |at: &Path, meta: &std::fs::Metadata| {
        format!("`{}` is mode {:04o}, owned by {}:{}", at.display(), meta.mode() & 0o7777, meta.uid(), meta.gid())
    };
    for part in parts {
        let meta = std::fs::metadata(&at).ok()?;
        if !allows(&meta, 0o1) {
            return Some(describe(&at, &meta));
        }
        at.push(part);
    }
    let meta = std::fs::metadata(&at).ok()?;
    if !allows(&meta, 0o1) {
        return Some(describe(&at, &meta));
    }
    at.push(final_part?);
    let meta = std::fs::metadata(&at).ok()?;
    (!allows(&meta, last)).then(|| describe(&at, &meta))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_directory_in_the_way_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("app");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(inner.join("server"), "").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(inner.join("server"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let stranger = RunAs { uid: 54321, gid: 54321 };
        let why = blocking(&inner.join("server"), stranger, 0o1).unwrap();
        assert!(why.starts_with(&format!("`{}` is mode 0700", inner.display())), "{why}");
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(blocking(&inner.join("server"), stranger, 0o1), None);
        std::fs::set_permissions(inner.join("server"), std::fs::Permissions::from_mode(0o744)).unwrap();
        assert!(blocking(&inner.join("server"), stranger, 0o1).unwrap().contains("0744"));
        let owner = RunAs { uid: std::fs::metadata(&inner).unwrap().uid(), gid: 54321 };
        assert_eq!(blocking(&inner.join("server"), owner, 0o1), None);
    }
}
