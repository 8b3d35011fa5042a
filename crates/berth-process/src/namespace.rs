//! Running a program with directories bound at other paths, for it alone:
//! how `berth up` gives a replica its volumes. berth starts itself as
//! `berth __volumes <n> (<source> <target> <ro|rw>){n} <program> <args>...`;
//! that process enters a new mount namespace (and, unless it is root, a
//! user namespace that maps the caller to itself, so no privilege is
//! needed or gained), makes every bind mount with the mount system call
//! and then becomes the program. The program keeps the caller's user, its
//! environment and working directory; nothing is mounted on the host.

use std::path::PathBuf;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// The hidden command berth runs itself as.
pub const COMMAND: &str = "__volumes";

/// Set in the helper's environment: a process must have one thread to make
/// a user namespace, and jemalloc's purging thread would be a second. It is
/// taken out again before the program starts.
pub const ONE_THREAD: (&str, &str) = ("_RJEM_MALLOC_CONF", "background_thread:false");

/// One directory bound at another path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// The arguments after [`COMMAND`] for `binds` and `argv`.
pub fn arguments(binds: &[Bind], argv: &[String]) -> Vec<String> {
    let mut out = vec![binds.len().to_string()];
    for b in binds {
        out.push(b.source.display().to_string());
        out.push(b.target.display().to_string());
        out.push(if b.read_only { "ro" } else { "rw" }.to_owned());
    }
    out.extend(argv.iter().cloned());
    out
}

/// Reads what [`arguments`] wrote.
pub fn parse(args: &[String]) -> Result<(Vec<Bind>, Vec<String>), String> {
    let (count, rest) = args.split_first().ok_or("no mount count")?;
    let n: usize = count.parse().map_err(|_| format!("`{count}` is not a mount count"))?;
    let needed = n.checked_mul(3).and_then(|m| m.checked_add(1)).ok_or("too many mounts")?;
    if rest.len() < needed {
        return Err("fewer arguments than the mounts and a program need".to_owned());
    }
    let mut binds = Vec::with_capacity(n);
    for chunk in rest[..3 * n].chunks(3) {
        let read_only = match chunk[2].as_str() {
            "ro" => true,
            "rw" => false,
            other => return Err(format!("`{other}` is neither ro nor rw")),
        };
        binds.push(Bind { source: chunk[0].clone().into(), target: chunk[1].clone().into(), read_only });
    }
    Ok((binds, rest[3 * n..].to_vec()))
}

fn write(path: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Enters the namespaces, binds and execs `argv`. Returns only on failure.
#[allow(clippy::disallowed_methods, reason = "the process module's sibling: this is where berth becomes a replica")]
pub fn exec_with(binds: &[Bind], argv: &[String]) -> std::io::Error {
    let fail = |what: &str, e: nix::Error| std::io::Error::other(format!("{what}: {e}"));
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let root = nix::unistd::geteuid().is_root();
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, Iterator::count);
    if !root && threads > 1 {
        return std::io::Error::other(format!(
            "berth runs {threads} threads here and a user namespace needs one (is {}={} set?)",
            ONE_THREAD.0, ONE_THREAD.1
        ));
    }
    let flags = if root { CloneFlags::CLONE_NEWNS } else { CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER };
    if let Err(e) = unshare(flags) {
        return fail("cannot make a mount namespace", e);
    }
    if !root {
        // The caller, mapped to itself: the program keeps its user.
        let maps = write("/proc/self/setgroups", "deny")
            .and_then(|()| write("/proc/self/uid_map", &format!("{uid} {uid} 1\n")))
            .and_then(|()| write("/proc/self/gid_map", &format!("{gid} {gid} 1\n")));
        if let Err(e) = maps {
            return std::io::Error::other(format!("cannot map the user into its namespace: {e}"));
        }
    }
    // Nothing mounted here propagates back to the host.
    if let Err(e) = mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>) {
        return fail("cannot make the mounts private", e);
    }
    for b in binds {
        if let Err(e) =
            mount(Some(&b.source), &b.target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        {
            return fail(&format!("cannot bind {} at {}", b.source.display(), b.target.display()), e);
        }
        if b.read_only {
            // A remount keeps the flags the kernel locks in a user namespace.
            let kept =
                nix::sys::statvfs::statvfs(&b.target).map(|s| s.flags()).unwrap_or(nix::sys::statvfs::FsFlags::empty());
            let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
            for (have, add) in [
                (nix::sys::statvfs::FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (nix::sys::statvfs::FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (nix::sys::statvfs::FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            ] {
                if kept.contains(have) {
                    flags |= add;
                }
            }
            if let Err(e) = mount(None::<&str>, &b.target, None::<&str>, flags, None::<&str>) {
                return fail(&format!("cannot make {} read-only", b.target.display()), e);
            }
        }
    }
    let Some((program, args)) = argv.split_first() else {
        return std::io::Error::other("no program to run");
    };
    use std::os::unix::process::CommandExt as _;
    let mut command = std::process::Command::new(program);
    if std::env::var_os(ONE_THREAD.0).is_some_and(|v| v == ONE_THREAD.1) {
        command.env_remove(ONE_THREAD.0);
    }
    command.args(args).exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_read_back() {
        let binds = vec![
            Bind { source: "/s/a b".into(), target: "/data".into(), read_only: false },
            Bind { source: "/s/c".into(), target: "/tmp".into(), read_only: true },
        ];
        let argv = vec!["./server".to_owned(), "--port".to_owned(), "8080".to_owned()];
        assert_eq!(parse(&arguments(&binds, &argv)), Ok((binds, argv)));
        assert!(parse(&["1".into(), "/a".into(), "/b".into()]).is_err());
        assert!(parse(&["1".into(), "/a".into(), "/b".into(), "xx".into(), "p".into()]).is_err());
        assert!(parse(&["x".into()]).is_err());
        assert!(parse(&["6148914691236517206".into(), "/a".into(), "/b".into(), "rw".into(), "true".into()]).is_err());
    }
}
