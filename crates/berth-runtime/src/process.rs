//! The one place berth starts and signals processes. Each replica runs in
//! its own process group so that a stop reaches everything it spawned.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// A loopback port nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A system user to run a program as (PostgreSQL refuses to run as root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// Starts `command` in its own process group with output to `log`.
#[allow(clippy::disallowed_methods, reason = "this module is where berth spawns processes")]
pub fn spawn(
    command: &[String],
    workdir: &Path,
    env: &[(String, String)],
    log: &Path,
    run_as: Option<RunAs>,
) -> std::io::Result<Child> {
    let (program, args) =
        command.split_first().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
    let program = if program.contains('/') && !program.starts_with('/') {
        workdir.join(program).display().to_string()
    } else {
        program.clone()
    };
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(&program);
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd.args(args)
        .current_dir(workdir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {program}: {e}")))
}

/// Sends SIGTERM (or SIGKILL) to the process group led by `pid`.
pub fn terminate_group(pid: u32, kill: bool) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = killpg(Pid::from_raw(pid), if kill { Signal::SIGKILL } else { Signal::SIGTERM });
}

/// Whether a process with `pid` runs. A zombie (exited, not yet reaped by
/// its parent) does not count.
pub fn alive(pid: u32) -> bool {
    let exists = i32::try_from(pid).is_ok_and(|p| nix::sys::signal::kill(Pid::from_raw(p), None).is_ok());
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false);
    exists && !zombie
}

/// Writes a file readable by its owner only (private keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

/// Sends SIGTERM to one process (not its group): how `berth down` asks
/// `berth up` to stop, so that it can drain and stop its replicas itself.
pub fn terminate(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
}

/// Runs a helper program to completion (initdb, createdb, psql), output to `log`.
#[allow(clippy::disallowed_methods, reason = "this module is where berth spawns processes")]
pub async fn run_to_end(
    command: &[String],
    env: &[(String, String)],
    log: &Path,
    run_as: Option<RunAs>,
) -> std::io::Result<bool> {
    let (program, args) =
        command.split_first().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(program);
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    let status = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .await?;
    Ok(status.success())
}
