//! The one place berth starts and signals processes. Each replica runs in
//! its own process group so that a stop reaches everything it spawned.
//!
//! Nothing berth starts may outlive `berth up` unnoticed. Each child is
//! started through util-linux's `setpriv --pdeathsig SIGTERM`, so the
//! kernel stops it when `berth up` dies, even by `kill -9`; and every
//! process is recorded with its [`Identity`] (boot and start time), so the
//! next `berth up` or `berth down` can find and stop what is left without
//! ever signalling a PID that has since been reused.

use std::io::Write as _;
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

/// Variables a spec's secrets are read from (`env:`), registered by
/// [`hide_from_children`].
static HIDDEN: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Names variables berth reads secrets from (a spec's `secrets.<name>.env`),
/// so that no program started after this inherits them.
///
/// Also makes this process non-dumpable: its own `/proc/<pid>/environ`
/// (where those variables stay) then belongs to root, so a replica running
/// as the same user cannot read them there. Children are dumpable again
/// after their exec.
pub fn hide_from_children(names: impl IntoIterator<Item = String>) {
    let _ = nix::sys::prctl::set_dumpable(false);
    let mut hidden = HIDDEN.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    hidden.extend(names);
    hidden.sort();
    hidden.dedup();
}

/// The variables `berth up` reads its secrets from (`BERTH_SECRET_*` and
/// those [`hide_from_children`] named): no program it starts inherits
/// them. A service gets the secrets its spec names, under the names the
/// spec gives them (set after this, so a service may reuse a name), and
/// nothing else.
fn without_berth_secrets(cmd: &mut Command) -> &mut Command {
    let hidden = HIDDEN.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("BERTH_SECRET_") || hidden.iter().any(|h| *h == name) {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// A program's log, appended to and never through a link: some logs sit
/// in directories a server's user owns (PostgreSQL's set-up log), where a
/// planted link would have root append to any file.
fn open_log(log: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(log)
}

/// Replicas, jobs, probes and servers start from an empty environment
/// plus these of berth's own (then what the spec gives them): whatever
/// else the operator's shell holds (cloud credentials, tokens, root's
/// settings) is no business of a service, as under systemd.
fn only_base_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear();
    let hidden = HIDDEN.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        let kept = matches!(name.as_ref(), "PATH" | "LANG" | "LANGUAGE" | "TZ" | "HOME" | "USER" | "LOGNAME")
            || name.starts_with("LC_");
        // A secret's source variable stays hidden whatever its name.
        if kept && !hidden.iter().any(|h| *h == name) {
            cmd.env(&key, &value);
        }
    }
    cmd
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
    let out = open_log(log)?;
    let err = out.try_clone()?;
    let mut cmd = match setpriv() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            // No replica or server gains privileges through a setuid
            // binary or file capabilities (systemd's NoNewPrivileges=).
            c.args(["--pdeathsig", "TERM", "--no-new-privs", "--"]).arg(&program);
            c
        }
        None => Command::new(&program),
    };
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    only_base_env(&mut cmd)
        .args(args)
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

/// util-linux's `setpriv`, which sets the parent-death signal and then
/// executes the program (berth forbids the `unsafe` a `pre_exec` needs).
fn setpriv() -> Option<&'static Path> {
    static FOUND: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            ["/usr/bin/setpriv", "/bin/setpriv", "/usr/local/bin/setpriv"]
                .iter()
                .map(std::path::PathBuf::from)
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// Which process a PID named when it was recorded: the same PID is the
/// same process only within one boot and with the same start time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub pid: u32,
    /// Clock ticks after boot at which the process started (`/proc/<pid>/stat`, field 22).
    pub started: u64,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot: String,
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_owned())
}

fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is field 3, start time 22.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Identity {
    /// The running process `pid`, if there is one.
    pub fn of(pid: u32) -> Option<Self> {
        Some(Self { pid, started: start_ticks(pid)?, boot: boot_id()? })
    }

    /// Whether the process recorded is still the one running under its PID.
    pub fn is_running(&self) -> bool {
        alive(self.pid) && Self::of(self.pid).is_some_and(|now| now == *self)
    }
}

/// Stops the process groups of `leftovers` that are still the processes
/// recorded: SIGTERM (and SIGCONT, for a stopped one), then SIGKILL after
/// `grace`. Returns the ones it signalled.
pub async fn stop_leftovers(leftovers: &[Identity], grace: std::time::Duration) -> Vec<Identity> {
    let running: Vec<Identity> = leftovers.iter().filter(|i| i.is_running()).cloned().collect();
    for identity in &running {
        terminate_group(identity.pid, false);
        continue_group(identity.pid);
    }
    let deadline = std::time::Instant::now() + grace;
    while running.iter().any(Identity::is_running) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for identity in running.iter().filter(|i| i.is_running()) {
        terminate_group(identity.pid, true);
    }
    running
}

/// Sends SIGCONT to the process group led by `pid` (a SIGSTOPped process
/// only acts on SIGTERM once continued).
pub fn continue_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = killpg(Pid::from_raw(pid), Signal::SIGCONT);
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
///
/// Whatever is at `path` is replaced, never written through: berth writes
/// such files as root into directories PostgreSQL's or Redis's user owns,
/// and a link planted there would otherwise hand root's write (and the
/// `chown` that follows) to any file on the machine.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(std::io::Error::other(format!("{} is a directory", path.display())));
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // O_EXCL: a link planted again since the removal fails the open.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    f.write_all(bytes)
}

/// Creates `path` (and its parents) readable by its owner alone, and makes
/// an existing one so: logs hold what services print and the edge's access
/// log, which other local users have no business reading.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    // Only the directory itself: parents keep the usual mode, so the
    // servers' own users still reach their data beside it.
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// Whether berth runs as root (mounts need no user namespace then).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Sends SIGTERM to one process (not its group): how `berth down` asks
/// `berth up` to stop, so that it can drain and stop its replicas itself.
pub fn terminate(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
}

/// Runs an exec probe: exit 0 within `timeout` passes. Its own process
/// group, killed whole when the time is up.
#[allow(clippy::disallowed_methods, reason = "this module is where berth spawns processes")]
pub async fn run_probe(
    command: &[String],
    workdir: &Path,
    env: &[(String, String)],
    timeout: std::time::Duration,
    run_as: Option<RunAs>,
) -> bool {
    let Some((program, args)) = command.split_first() else { return false };
    let mut cmd = match setpriv() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--no-new-privs", "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    only_base_env(&mut cmd)
        .args(args)
        .current_dir(workdir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let Ok(mut child) = cmd.spawn() else { return false };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => {
            if let Some(pid) = child.id() {
                terminate_group(pid, true);
            }
            let _ = child.wait().await;
            false
        }
    }
}

/// A program's standard output, when it runs and exits 0 (`--version`).
#[allow(clippy::disallowed_methods, reason = "this module is where berth spawns processes")]
pub async fn output(command: &[String]) -> Option<String> {
    let (program, args) = command.split_first()?;
    let out = Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().await.ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A program's standard output when it exits 0 within `limit`; else why
/// not (the first line of its standard error, or what stopped it).
#[allow(clippy::disallowed_methods, reason = "this module is where berth spawns processes")]
pub async fn output_or_error(command: &[String], limit: std::time::Duration) -> Result<String, String> {
    let (program, args) = command.split_first().ok_or_else(|| "empty command".to_owned())?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(limit, child).await {
        Err(_) => return Err(format!("did not finish within {} s", limit.as_secs())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned())
    }
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
    let out = open_log(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(program);
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    let status = without_berth_secrets(&mut cmd)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .await?;
    Ok(status.success())
}
