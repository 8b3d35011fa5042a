//! Running a program with directories bound at other paths, for it alone:
//! how `berth up` gives a replica its volumes. berth starts itself as
//! `berth __volumes <uid:gid|-> <n> (<source> <target> <ro|rw>){n} <program> <args>...`;
//! that process enters a new mount namespace (and, unless it is root, a
//! user namespace that maps the caller to itself, so no privilege is
//! needed or gained), makes every bind mount with the mount system call
//! and then becomes the program. A root caller names the service's user:
//! the mounts are made as root, then the helper drops to that user (no
//! supplementary groups) before the program starts, so the program never
//! holds a privilege. The program keeps its environment and working
//! directory; nothing is mounted on the host.

use std::path::PathBuf;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use crate::process::RunAs;

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

/// What the helper was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The user the program runs as, when the helper starts as root.
    pub user: Option<RunAs>,
    pub binds: Vec<Bind>,
    pub argv: Vec<String>,
}

/// The arguments after [`COMMAND`] for `binds` and `argv`.
pub fn arguments(user: Option<RunAs>, binds: &[Bind], argv: &[String]) -> Vec<String> {
    let user = user.map_or_else(|| "-".to_owned(), |u| format!("{}:{}", u.uid, u.gid));
    let mut out = vec![user, binds.len().to_string()];
    for b in binds {
        out.push(b.source.display().to_string());
        out.push(b.target.display().to_string());
        out.push(if b.read_only { "ro" } else { "rw" }.to_owned());
    }
    out.extend(argv.iter().cloned());
    out
}

/// Reads what [`arguments`] wrote.
pub fn parse(args: &[String]) -> Result<Request, String> {
    let (user, args) = args.split_first().ok_or("no user")?;
    let user = match user.as_str() {
        "-" => None,
        pair => {
            let (uid, gid) = pair.split_once(':').ok_or_else(|| format!("`{pair}` is not uid:gid"))?;
            let number = |n: &str| n.parse::<u32>().map_err(|_| format!("`{pair}` is not uid:gid"));
            Some(RunAs { uid: number(uid)?, gid: number(gid)? })
        }
    };
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
    Ok(Request { user, binds, argv: rest[3 * n..].to_vec() })
}

/// `path` (absolute) opened as an `O_PATH` descriptor, walking from `/`
/// one component at a time and refusing any that is a link.
fn open_no_links(path: &std::path::Path) -> Result<std::os::fd::OwnedFd, nix::Error> {
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut at = open("/", flags, Mode::empty())?;
    for part in path.components() {
        match part {
            std::path::Component::RootDir => {}
            std::path::Component::Normal(name) => at = openat(&at, name, flags, Mode::empty())?,
            _ => return Err(nix::Error::EINVAL),
        }
    }
    Ok(at)
}

fn write(path: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Enters the namespaces, binds, drops to the request's user and execs
/// its program. Returns only on failure.
#[allow(clippy::disallowed_methods, reason = "the process module's sibling: this is where berth becomes a replica")]
pub fn exec_with(request: &Request) -> std::io::Error {
    let Request { user, binds, argv } = request;
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
        // The target is reached one component at a time without following
        // a link, and mounted through its descriptor: a directory on the
        // way that the replica can write (another volume, a world-writable
        // one) must not redirect root's mount elsewhere.
        let target = match open_no_links(&b.target) {
            Ok(fd) => fd,
            Err(e) => return fail(&format!("cannot reach {} without following a link", b.target.display()), e),
        };
        let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&target));
        if let Err(e) =
            mount(Some(&b.source), at.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        {
            return fail(&format!("cannot bind {} at {}", b.source.display(), b.target.display()), e);
        }
        // Data, never programs that gain privileges or devices: nosuid and
        // nodev always, read-only when asked. A remount keeps the flags
        // the kernel locks in a user namespace.
        // Walked again, the path now ends on the new mount (or on nothing
        // berth mounted, which the remount then refuses).
        let mounted = match open_no_links(&b.target) {
            Ok(fd) => fd,
            Err(e) => return fail(&format!("cannot reach {} without following a link", b.target.display()), e),
        };
        let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&mounted));
        let kept =
            nix::sys::statvfs::fstatvfs(&mounted).map(|s| s.flags()).unwrap_or(nix::sys::statvfs::FsFlags::empty());
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if b.read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        if kept.contains(nix::sys::statvfs::FsFlags::ST_NOEXEC) {
            flags |= MsFlags::MS_NOEXEC;
        }
        if let Err(e) = mount(None::<&str>, at.as_str(), None::<&str>, flags, None::<&str>) {
            return fail(&format!("cannot restrict the mount at {}", b.target.display()), e);
        }
    }
    let Some((program, args)) = argv.split_first() else {
        return std::io::Error::other("no program to run");
    };
    if let Some(user) = user
        && let Err(e) = drop_to(*user)
    {
        return e;
    }
    // No program started from here gains privileges (setuid binaries,
    // file capabilities), as the systemd target's `NoNewPrivileges=yes`.
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        return fail("cannot set no_new_privs", e);
    }
    use std::os::unix::process::CommandExt as _;
    let mut command = std::process::Command::new(program);
    if std::env::var_os(ONE_THREAD.0).is_some_and(|v| v == ONE_THREAD.1) {
        command.env_remove(ONE_THREAD.0);
    }
    command.args(args).exec()
}

/// Becomes `user` for good: no supplementary groups, group then user (a
/// non-root process could no longer change its group), and the
/// parent-death signal again, which the kernel clears on a change of user.
fn drop_to(user: RunAs) -> Result<(), std::io::Error> {
    let fail = |what: &str, e: nix::Error| std::io::Error::other(format!("cannot {what} (user {}): {e}", user.uid));
    if !nix::unistd::geteuid().is_root() {
        return Err(std::io::Error::other(format!("only root can start a program as user {}", user.uid)));
    }
    let parent = nix::unistd::getppid();
    nix::unistd::setgroups(&[]).map_err(|e| fail("drop the supplementary groups", e))?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(user.gid)).map_err(|e| fail("set the group", e))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(user.uid)).map_err(|e| fail("set the user", e))?;
    if nix::unistd::geteuid().is_root() || nix::unistd::setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return Err(std::io::Error::other("still root after dropping privileges"));
    }
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .map_err(|e| fail("set the parent-death signal", e))?;
    // berth up may have died between the two: then nobody would stop us.
    if nix::unistd::getppid() != parent {
        return Err(std::io::Error::other("berth up exited while the replica started"));
    }
    Ok(())
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
        let request = Request { user: None, binds: binds.clone(), argv: argv.clone() };
        assert_eq!(parse(&arguments(None, &binds, &argv)), Ok(request));
        let user = Some(RunAs { uid: 10001, gid: 10002 });
        let request = Request { user, binds: binds.clone(), argv: argv.clone() };
        assert_eq!(parse(&arguments(user, &binds, &argv)), Ok(request));
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(parse(&args(&["-", "1", "/a", "/b"])).is_err());
        assert!(parse(&args(&["-", "1", "/a", "/b", "xx", "p"])).is_err());
        assert!(parse(&args(&["-", "x"])).is_err());
        assert!(parse(&args(&["1", "0", "p"])).is_err(), "a user needs a group");
        assert!(parse(&args(&["a:b", "0", "p"])).is_err());
        assert!(parse(&args(&["-", "6148914691236517206", "/a", "/b", "rw", "true"])).is_err());
    }
}
