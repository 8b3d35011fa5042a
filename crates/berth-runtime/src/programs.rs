//! Where berth finds the server and client programs it runs: PostgreSQL's
//! (Debian keeps them per major version) and Redis's, and the system user
//! PostgreSQL must run as when berth runs as root. Shared by `berth up` and
//! the backup commands, so both pick the same binaries.

use std::path::{Path, PathBuf};

use crate::RuntimeError;
use crate::process::RunAs;

pub fn missing(what: &str, package: &str) -> RuntimeError {
    RuntimeError::Unsupported(format!("{what} not found: install the `{package}` package (apt-get install {package})"))
}

/// A program on PATH or in one of `extra` directories.
pub fn locate(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = crate::path_dirs();
    path.into_iter().chain(extra.iter().cloned()).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Debian keeps PostgreSQL's server programs in /usr/lib/postgresql/<major>/bin.
pub fn postgres_dirs(version: &str) -> Vec<PathBuf> {
    let major = version.split('.').next().unwrap_or("");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    // The spec's major version first, then the newest.
    dirs.sort_by_key(|d| (d.parent().and_then(|p| p.file_name()).is_some_and(|n| n == major), d.clone()));
    dirs.reverse();
    dirs
}

/// A PostgreSQL program (`pg_dump`, `initdb`), the spec's major version first.
pub fn postgres_program(name: &str, version: &str) -> Result<PathBuf, RuntimeError> {
    locate(name, &postgres_dirs(version)).ok_or_else(|| missing(&format!("PostgreSQL's `{name}`"), "postgresql"))
}

/// What every PostgreSQL berth starts (`berth up`'s and the backups'
/// scratch servers) is told: its data directory, a port on loopback only,
/// and a socket directory of its own.
pub fn postgres_server_args(data: &Path, port: u16, sockets: &Path) -> Vec<String> {
    vec![
        "-D".to_owned(),
        data.display().to_string(),
        "-p".to_owned(),
        port.to_string(),
        "-k".to_owned(),
        sockets.display().to_string(),
        "-c".to_owned(),
        "listen_addresses=127.0.0.1".to_owned(),
    ]
}

/// A Redis program (`redis-server`, `redis-cli`).
pub fn redis_program(name: &str) -> Result<PathBuf, RuntimeError> {
    locate(name, &[]).ok_or_else(|| missing(name, "redis-server"))
}

/// PostgreSQL refuses to run as root; as root, berth runs it as `postgres`.
pub fn postgres_user() -> Result<Option<RunAs>, RuntimeError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .ok_or_else(|| missing("the `postgres` system user", "postgresql"))?;
    Ok(Some(RunAs { uid: user.uid.as_raw(), gid: user.gid.as_raw() }))
}

/// Hands `path` to `run_as` (no-op when berth does not switch users).
pub fn chown(path: &Path, run_as: Option<RunAs>) -> Result<(), RuntimeError> {
    if let Some(user) = run_as {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(user.uid)),
            Some(nix::unistd::Gid::from_raw(user.gid)),
        )
        .map_err(|e| RuntimeError::Io {
            what: format!("cannot hand {} to postgres", path.display()),
            source: e.into(),
        })?;
    }
    Ok(())
}
