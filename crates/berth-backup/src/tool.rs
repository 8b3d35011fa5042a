//! The one place this crate runs programs: PostgreSQL's and Redis's client
//! tools to completion, and scratch servers in their own process groups.
//! Passwords travel in the environment only, so neither `ps` nor an error
//! message shows them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use berth_process::process::RunAs;
use tokio::process::{Child, Command};

use crate::error::{BackupError, fail};

/// A program to run, with the step it performs.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    step: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    run_as: Option<RunAs>,
}

impl Tool {
    pub(crate) fn new(step: &'static str, program: impl Into<PathBuf>) -> Self {
        Self { step, program: program.into(), args: Vec::new(), env: Vec::new(), run_as: None }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, env: Vec<(String, String)>) -> Self {
        self.env.extend(env);
        self
    }

    pub(crate) fn run_as(mut self, run_as: Option<RunAs>) -> Self {
        self.run_as = run_as;
        self
    }

    #[allow(clippy::disallowed_methods, reason = "this module is where the backup crate runs programs")]
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        if let Some(user) = self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.args(&self.args).envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    fn name(&self) -> String {
        self.program.file_name().map_or_else(|| self.program.display().to_string(), |n| n.to_string_lossy().into())
    }

    /// Runs to completion; returns stdout. A non-zero exit is a failure of
    /// the step with the end of the program's stderr as the detail.
    pub(crate) async fn output(&self) -> Result<String, BackupError> {
        let out = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|e| fail(self.step, format!("cannot start {}: {e}", self.program.display())))?;
        if !out.status.success() {
            return Err(fail(self.step, format!("{} exited with {}: {}", self.name(), out.status, tail(&out.stderr))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts a server in its own process group, output appended to `log`.
    pub(crate) fn server(&self, log: &Path) -> Result<Server, BackupError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| fail(self.step, format!("cannot open {}: {e}", log.display())))?;
        let err = out.try_clone().map_err(|e| fail(self.step, e.to_string()))?;
        let child = self
            .command()
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| fail(self.step, format!("cannot start {}: {e}", self.program.display())))?;
        Ok(Server { child, log: log.to_path_buf() })
    }
}

/// The last lines of a program's stderr, for an error message.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(6);
    let tail = lines[start..].join("\n    ");
    if tail.is_empty() { "(no output)".to_owned() } else { tail }
}

/// What PostgreSQL logs when a client connects before it is ready; berth's
/// readiness check is that client.
const POLLING_NOISE: &[&str] = &[
    "the database system is not accepting connections",
    "the database system is starting up",
    "Hot standby mode is disabled",
    "the database system is not yet accepting connections",
    "Consistent recovery state has not been yet reached",
];

/// A scratch server berth started; stopped by PID on [`Server::stop`] or drop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pub(crate) log: PathBuf,
}

impl Server {
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM to the process group, SIGKILL after 30 s.
    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            berth_process::process::terminate_group(pid, false);
            if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
                berth_process::process::terminate_group(pid, true);
                let _ = self.child.wait().await;
            }
        }
    }

    /// The end of the server's log, for an error message.
    /// The end of the server's log without the lines berth's own polling
    /// caused: a recovery that failed is named by its startup process a few
    /// lines before the end, and a connection refused every 100 ms during
    /// a long replay would push that line out of any fixed tail.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&log);
        let kept: Vec<&str> = text.lines().filter(|line| !POLLING_NOISE.iter().any(|n| line.contains(n))).collect();
        tail(kept.join("\n").as_bytes())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.child.try_wait(), self.child.id()) {
            berth_process::process::terminate_group(pid, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_replay_is_named_even_after_many_refused_polls() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("postgres.log");
        let mut text = String::from("LOG:  starting point-in-time recovery to 2026-11-29 10:11:40+00\n");
        text.push_str("FATAL:  recovery ended before configured recovery target was reached\n");
        for _ in 0..20 {
            text.push_str(
                "FATAL:  the database system is not accepting connections\nDETAIL:  Hot standby mode is disabled.\n",
            );
        }
        text.push_str("LOG:  startup process (PID 27766) exited with exit code 1\n");
        std::fs::write(&log, text).unwrap();
        let child = Command::new("true").spawn().unwrap();
        let server = Server { child, log };
        let tail = server.log_tail();
        assert!(tail.contains("recovery ended before configured recovery target"), "{tail}");
        assert!(!tail.contains("not accepting connections"), "{tail}");
    }
}
