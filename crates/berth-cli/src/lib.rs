//! The `berth` command line: parses arguments, runs one command, maps the
//! outcome to an exit code. All file and terminal I/O of the CLI lives in
//! this crate; `main.rs` only calls [`main`].

use std::process::ExitCode;

use clap::Parser;

/// Outcomes a command reports besides plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The spec has problems; they were printed.
    Findings,
    /// `berth doctor` found failures (warnings alone are `Findings`).
    Failing,
}

pub const EXIT_FINDINGS: u8 = 1;
/// Wrong usage, as clap's own: an unknown name, a malformed value.
pub const EXIT_USAGE: u8 = 2;
/// `berth doctor` found failures (Nagios' CRITICAL).
pub const EXIT_FAILING: u8 = 2;
pub const EXIT_IO: u8 = 3;
/// What berth was asked to prove is false: a backup failed verification.
pub const EXIT_VERIFY_FAILED: u8 = 4;

/// A mistake in how berth was called (exit 2): a name the spec does not
/// have, a malformed flag value, an overwrite without `--force`.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`].
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::UsageError(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

pub mod cli;
mod commands;
mod environment;
pub mod generated;
mod output;
mod progress;

/// The exit code of a failed command, from what failed.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return EXIT_USAGE;
        }
        match cause.downcast_ref::<berth_backup::BackupError>() {
            Some(berth_backup::BackupError::Verify { .. }) => return EXIT_VERIFY_FAILED,
            Some(berth_backup::BackupError::Usage(_)) => return EXIT_USAGE,
            _ => {}
        }
    }
    EXIT_IO
}

/// Runs berth with the process's arguments.
pub fn main() -> ExitCode {
    let mut cli = cli::Cli::parse();
    cli.command.resolve();
    let color = output::color_enabled(cli.color);
    match commands::run(cli.command, color) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(EXIT_FINDINGS),
        Ok(Outcome::Failing) => ExitCode::from(EXIT_FAILING),
        Err(error) => {
            if output::is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            output::print_error(&error, color);
            ExitCode::from(exit_code(&error))
        }
    }
}
