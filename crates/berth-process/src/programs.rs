//! Where berth finds the server and client programs it runs: PostgreSQL's
//! (Debian keeps them per major version) and Redis's, and the system user
//! PostgreSQL must run as when berth runs as root. Shared by `berth up` and
//! the backup commands, so both pick the same binaries.

use std::path::{Path, PathBuf};

use crate::ProcessError;
use crate::process::RunAs;

pub fn missing(what: &str, package: &str) -> ProcessError {
    ProcessError::Unsupported(format!("{what} not found: install the `{package}` package (apt-get install {package})"))
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
pub fn postgres_program(name: &str, version: &str) -> Result<PathBuf, ProcessError> {
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
        // Local connections are trusted (berth's own set-up runs over the
        // socket): only the server's user, and root, may open it.
        "-c".to_owned(),
        "unix_socket_permissions=0700".to_owned(),
    ]
}

/// The major version a PostgreSQL server program reports (`15`, `9.6`).
async fn reported_major(program: &Path) -> Option<String> {
    let text = crate::process::output(&[program.display().to_string(), "--version".to_owned()]).await?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let version = text.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = version.split('.');
    let first = parts.next()?;
    Some(if first.parse::<u32>().is_ok_and(|m| m < 10) {
        format!("{first}.{}", parts.next().unwrap_or("0"))
    } else {
        first.to_owned()
    })
}

/// A PostgreSQL installation of one major version: its programs, and where
/// its extensions and libraries live (when berth can tell).
#[derive(Debug, Clone)]
pub struct PostgresInstall {
    pub bin: PathBuf,
    pub major: String,
    /// The directory of `*.control` files, if found.
    pub extensions: Option<PathBuf>,
    /// The directory of server libraries (`*.so`), if found.
    pub libraries: Option<PathBuf>,
}

/// The installed PostgreSQL of the spec's major version, never another:
/// a 15 server started for a spec that says 16 would run, silently, on a
/// version the other targets do not.
pub async fn postgres_install(version: &str, dependency: &str) -> Result<PostgresInstall, ProcessError> {
    let major = version.split('.').next().unwrap_or(version).to_owned();
    let mut found = Vec::new();
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    let mut candidates = vec![debian];
    candidates.extend(crate::path_dirs());
    for bin in candidates {
        let (postgres, initdb) = (bin.join("postgres"), bin.join("initdb"));
        if !postgres.is_file() || !initdb.is_file() {
            continue;
        }
        match reported_major(&postgres).await {
            Some(m) if m == major => {
                let share = [
                    PathBuf::from(format!("/usr/share/postgresql/{major}/extension")),
                    bin.join("../share/postgresql/extension"),
                    bin.join("../share/extension"),
                ];
                let libs = [
                    PathBuf::from(format!("/usr/lib/postgresql/{major}/lib")),
                    bin.join("../lib/postgresql"),
                    bin.join("../lib"),
                ];
                // A directory counts only if it holds what every install has.
                let extensions = share.into_iter().find(|d| d.join("plpgsql.control").is_file());
                let libraries = libs.into_iter().find(|d| d.join("plpgsql.so").is_file());
                return Ok(PostgresInstall { bin, major, extensions, libraries });
            }
            Some(other) => found.push(format!("{other} in {}", bin.display())),
            None => {}
        }
    }
    found.dedup();
    let seen = if found.is_empty() { "none found".to_owned() } else { format!("found {}", found.join(", ")) };
    Err(ProcessError::Unsupported(format!(
        "PostgreSQL {major} (dependency `{dependency}`) is not installed ({seen}): install `postgresql-{major}` \
         (apt-get install postgresql-{major}), or set `dependencies.{dependency}.version` to the installed major"
    )))
}

/// The Debian (PGDG) package that provides a PostgreSQL extension.
pub fn extension_package(extension: &str, major: &str) -> String {
    match extension {
        "timescaledb" => format!("timescaledb-2-postgresql-{major}"),
        "postgis" | "postgis_topology" | "postgis_raster" => format!("postgresql-{major}-postgis-3"),
        "vector" | "pgvector" => format!("postgresql-{major}-pgvector"),
        "pg_cron" => format!("postgresql-{major}-cron"),
        "pg_partman" => format!("postgresql-{major}-partman"),
        "pgaudit" => format!("postgresql-{major}-pgaudit"),
        "pg_repack" => format!("postgresql-{major}-repack"),
        "hypopg" => format!("postgresql-{major}-hypopg"),
        // contrib (pgcrypto, pg_stat_statements, hstore, citext, ...) ships with the server.
        _ => format!("postgresql-{major} (or postgresql-{major}-{extension})"),
    }
}

impl PostgresInstall {
    /// Every extension the spec asks for and every preloaded library is
    /// installed; else the error names the package. Silent where berth
    /// cannot see the directories (a build in an unusual layout).
    pub fn check(&self, dependency: &str, extensions: &[String], preload: Option<&str>) -> Result<(), ProcessError> {
        if let Some(dir) = &self.extensions {
            for extension in extensions {
                if !dir.join(format!("{extension}.control")).is_file() {
                    return Err(ProcessError::Unsupported(format!(
                        "PostgreSQL extension `{extension}` (dependency `{dependency}`) is not installed for PostgreSQL {}: install {}",
                        self.major,
                        extension_package(extension, &self.major)
                    )));
                }
            }
        }
        if let (Some(dir), Some(preload)) = (&self.libraries, preload) {
            for library in preload.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                let name = library.trim_start_matches("$libdir/");
                if !dir.join(format!("{name}.so")).is_file() {
                    return Err(ProcessError::Unsupported(format!(
                        "`shared_preload_libraries` of `{dependency}` names `{library}`, which PostgreSQL {} does not have (the server would not start): install {}",
                        self.major,
                        extension_package(name, &self.major)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A Redis program (`redis-server`, `redis-cli`).
pub fn redis_program(name: &str) -> Result<PathBuf, ProcessError> {
    locate(name, &[]).ok_or_else(|| missing(name, "redis-server"))
}

/// PostgreSQL refuses to run as root; as root, berth runs it as `postgres`.
pub fn postgres_user() -> Result<Option<RunAs>, ProcessError> {
    system_user("postgres", "postgresql")
}

/// Redis runs as root if asked to, and `CONFIG SET dir` + `SAVE` from any
/// client that knows the password writes a file anywhere root can: as
/// root, berth runs it as `redis`, the user its package makes.
pub fn redis_user() -> Result<Option<RunAs>, ProcessError> {
    system_user("redis", "redis-server")
}

/// `name`'s uid and gid when berth runs as root (`None` otherwise: a
/// program then runs as berth's own user); an error naming `package`,
/// which makes the user, when it is missing.
fn system_user(name: &str, package: &str) -> Result<Option<RunAs>, ProcessError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| missing(&format!("the `{name}` system user"), package))?;
    Ok(Some(RunAs { uid: user.uid.as_raw(), gid: user.gid.as_raw() }))
}

/// Hands a whole tree to `run_as` (no-op when berth does not switch
/// users). Symbolic links are changed themselves and never followed, and
/// directories are walked through descriptors opened without following a
/// link: the tree may belong to a running program of the user it is
/// handed to, which could swap a directory for a link mid-walk.
pub fn chown_tree(path: &Path, run_as: Option<RunAs>) -> Result<(), ProcessError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let Some(user) = run_as else { return Ok(()) };
    let fail = |e: std::io::Error| ProcessError::Io {
        what: format!("cannot hand {} to user {}", path.display(), user.uid),
        source: e,
    };
    let meta = std::fs::symlink_metadata(path).map_err(fail)?;
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(fail)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_NOFOLLOW).bits())
        .open(path)
        .map_err(fail)?;
    chown_entries(&dir, user).map_err(|e| fail(e.into()))
}

/// [`chown_tree`] below an open directory.
fn chown_entries(dir: &std::fs::File, user: RunAs) -> Result<(), nix::Error> {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::{Mode, SFlag, fstatat};
    use nix::unistd::{Gid, Uid, fchownat};
    use std::os::fd::AsRawFd as _;
    let no_follow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    // The entries of this very directory, whatever its path now leads to.
    let entries = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())).map_err(|_| nix::Error::EBADF)?;
    for entry in entries {
        let name = entry.map_err(|_| nix::Error::EIO)?.file_name();
        fchownat(dir, name.as_os_str(), Some(Uid::from_raw(user.uid)), Some(Gid::from_raw(user.gid)), no_follow)?;
        let stat = fstatat(dir, name.as_os_str(), no_follow)?;
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let sub = std::fs::File::from(openat(dir, name.as_os_str(), flags, Mode::empty())?);
            chown_entries(&sub, user)?;
        }
    }
    Ok(())
}

/// Hands `path` to `run_as` (no-op when berth does not switch users).
/// A link is changed itself, never followed: `path` may sit in a
/// directory that user owns.
pub fn chown(path: &Path, run_as: Option<RunAs>) -> Result<(), ProcessError> {
    if let Some(user) = run_as {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(|e| ProcessError::Io {
            what: format!("cannot hand {} to user {}", path.display(), user.uid),
            source: e,
        })?;
    }
    Ok(())
}
