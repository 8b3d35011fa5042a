//! A throwaway PostgreSQL server for restores that prove a backup: a fresh
//! `initdb` for logical dumps, or a restored data directory for physical
//! backups. It listens on a free loopback port, trusts only loopback and
//! its own socket directory, never archives WAL, and skips fsync: it exists
//! to be read and thrown away.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_process::process::RunAs;
use berth_process::programs;
use berth_spec::DependencyKind;

use crate::error::{BackupError, fail};
use crate::source::{Source, pg_connect};
use crate::tool::{Server, Tool};

/// Settings for a server whose data is disposable.
const THROWAWAY: &[&str] = &[
    "archive_mode=off",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_wal_size=4GB",
    "maintenance_work_mem=256MB",
];

/// For a fresh cluster only: COPY into a table created in the same
/// transaction then skips WAL. A restored data directory keeps its level,
/// which recovery needs.
const FRESH: &[&str] = &["wal_level=minimal", "max_wal_senders=0"];

#[derive(Debug)]
pub(crate) struct Scratch {
    server: Server,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) version: String,
}

/// PostgreSQL refuses to run as root; berth then runs it as `postgres`.
pub(crate) fn run_as() -> Result<Option<RunAs>, BackupError> {
    programs::postgres_user().map_err(|e| fail("start a scratch PostgreSQL", e.to_string()))
}

pub(crate) fn program(name: &str, version: &str) -> Result<PathBuf, BackupError> {
    programs::postgres_program(name, version).map_err(|e| fail("find PostgreSQL's programs", e.to_string()))
}

/// Hands a whole tree to the server's user.
pub(crate) fn chown_tree(path: &Path, run_as: Option<RunAs>) -> Result<(), BackupError> {
    programs::chown_tree(path, run_as).map_err(|e| fail("prepare the scratch data directory", e.to_string()))
}

impl Scratch {
    /// `initdb` into `dir/data` and start it, with `user` as superuser.
    pub(crate) async fn init(dir: &Path, version: &str, user: &str) -> Result<Self, BackupError> {
        let run_as = run_as()?;
        let data = dir.join("data");
        std::fs::create_dir_all(dir).map_err(|e| fail("initdb", format!("{}: {e}", dir.display())))?;
        chown_tree(dir, run_as)?;
        Tool::new("initdb", program("initdb", version)?)
            .args(["-D", &data.display().to_string(), "-U", user, "-E", "UTF8", "--auth=trust", "--no-sync"])
            .args(["--locale=C"])
            .run_as(run_as)
            .output()
            .await?;
        Self::start(dir, &data, version, user, true, &[]).await
    }

    /// Starts a server on `data` (already owned by the right user).
    pub(crate) async fn start(
        dir: &Path,
        data: &Path,
        version: &str,
        user: &str,
        fresh: bool,
        extra: &[String],
    ) -> Result<Self, BackupError> {
        let run_as = run_as()?;
        let sockets = dir.join("run");
        std::fs::create_dir_all(&sockets).map_err(|e| fail("start a scratch PostgreSQL", e.to_string()))?;
        chown_tree(&sockets, run_as)?;
        // Only this process's loopback clients, whatever the source allowed.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\n",
        )
        .map_err(|e| fail("start a scratch PostgreSQL", e.to_string()))?;
        chown_tree(&data.join("pg_hba.conf"), run_as)?;
        let port =
            berth_process::process::free_port().map_err(|e| fail("start a scratch PostgreSQL", e.to_string()))?;
        let mut tool = Tool::new("start a scratch PostgreSQL", program("postgres", version)?)
            .args(programs::postgres_server_args(data, port, &sockets));
        for setting in THROWAWAY.iter().chain(if fresh { FRESH } else { &[] }) {
            tool = tool.args(["-c", setting]);
        }
        for setting in extra {
            tool = tool.args(["-c", setting]);
        }
        let log = dir.join("postgres.log");
        let server = tool.run_as(run_as).server(&log)?;
        let mut scratch = Self { server, port, user: user.to_owned(), version: version.to_owned() };
        scratch.wait_ready(data, Duration::from_secs(600)).await?;
        Ok(scratch)
    }

    /// The scratch server as a [`Source`] for `database`.
    pub(crate) fn source(&self, dependency: &str, database: &str) -> Source {
        Source {
            dependency: dependency.to_owned(),
            kind: DependencyKind::Postgres,
            version: self.version.clone(),
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: self.user.clone(),
            password: None,
            database: database.to_owned(),
        }
    }

    /// Waits until the server accepts queries and has left recovery (crash
    /// recovery of a base backup, or archive recovery up to a target time).
    /// A server that exits is a failure with its log. Like `pg_ctl -w`, it
    /// reads the postmaster's status from `postmaster.pid` and connects only
    /// once that says `ready`: every connection refused during a replay is
    /// a FATAL line in the log that would bury the reason a replay failed.
    async fn wait_ready(&mut self, data: &Path, timeout: Duration) -> Result<(), BackupError> {
        let deadline = Instant::now() + timeout;
        let source = self.source("scratch", "postgres");
        let pid_file = data.join("postmaster.pid");
        loop {
            if !self.server.running() {
                return Err(fail("start a scratch PostgreSQL", self.server.log_tail()));
            }
            let ready = std::fs::read_to_string(&pid_file).is_ok_and(|pid| postmaster_ready(&pid));
            if !ready {
                if Instant::now() > deadline {
                    return Err(fail(
                        "start a scratch PostgreSQL",
                        format!("not ready after {}s: {}", timeout.as_secs(), self.server.log_tail()),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if let Ok(client) = pg_connect(&source, "connect").await {
                let in_recovery = client
                    .query_one("SELECT pg_is_in_recovery()", &[])
                    .await
                    .ok()
                    .and_then(|r| r.try_get::<_, bool>(0).ok());
                if in_recovery == Some(false) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(fail(
                    "start a scratch PostgreSQL",
                    format!("not ready after {}s: {}", timeout.as_secs(), self.server.log_tail()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn stop(self) {
        self.server.stop().await;
    }
}

/// Whether `postmaster.pid` says the server accepts connections: its
/// eighth line is the status (`starting`, `stopping`, `ready`, `standby`),
/// padded with spaces, as `pg_ctl` reads it.
fn postmaster_ready(pid_file: &str) -> bool {
    pid_file.lines().nth(7).is_some_and(|status| status.trim() == "ready")
}

#[cfg(test)]
mod tests {
    use super::postmaster_ready;

    #[test]
    fn the_postmaster_is_ready_only_when_its_status_line_says_so() {
        let pid =
            |status: &str| format!("4242\n/srv/data\n1764410000\n5433\n/srv/run\n127.0.0.1\n  1234   5678\n{status}\n");
        assert!(postmaster_ready(&pid("ready   ")));
        assert!(!postmaster_ready(&pid("starting")));
        assert!(!postmaster_ready(&pid("standby ")));
        // Written in two steps: the status line may not be there yet.
        assert!(!postmaster_ready("4242\n/srv/data\n1764410000\n5433\n"));
    }
}
