//! The `berth` command line: parses arguments, runs one command, maps the
//! outcome to an exit code. All file and terminal I/O of the CLI lives in
//! this crate; `main.rs` only calls [`main`].

use std::process::ExitCode;

use clap::Parser;

/// Outcomes a command reports besides plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Findings, printed already: the spec has errors, `berth check` found
    /// problems, files differ, a deploy rolled back, `berth doctor` warns.
    Findings,
    /// `berth doctor` found failures (warnings alone are `Findings`).
    Failing,
}

/// Why a command failed. [`exit_code`] gives each its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The spec has errors (printed above the error), so nothing was done:
    /// the same code as findings.
    SpecErrors,
    /// Wrong usage, as clap's own errors: an unknown name (dependency,
    /// service, environment), a malformed flag value, conflicting flags, a
    /// missing confirmation.
    Usage,
    /// Something berth needed failed: a file could not be read or written,
    /// a server or object store reached, a process started. Also what
    /// every error not classified otherwise is.
    Io,
    /// What berth was asked to prove is false: a backup is missing,
    /// incomplete, does not restore or does not match its manifest.
    Verification,
}

/// The exit code of a finished command: the one table of them. README's
/// "Exit codes", `berth --help` (`cli::AFTER_HELP`) and `berth doctor
/// --help` say the same.
pub fn exit_code(end: Result<Outcome, ErrorKind>) -> u8 {
    match end {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Findings) | Err(ErrorKind::SpecErrors) => 1,
        // clap exits with 2 on its own usage errors; berth's agree.
        Err(ErrorKind::Usage) => 2,
        // `berth doctor` speaks as monitoring plugins do: 2 is CRITICAL.
        Ok(Outcome::Failing) => 2,
        // Monitoring plugins read 3 as UNKNOWN: the doctor could not run.
        Err(ErrorKind::Io) => 3,
        Err(ErrorKind::Verification) => 4,
    }
}

/// A failure berth itself classifies: its kind decides the exit code.
/// Carried inside `anyhow::Error`, so context added on the way up keeps it.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// Wrong usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// A failed verification (exit 4).
    pub fn verification(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Verification, message)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Returns early with a usage [`CliError`] (exit 2).
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::CliError::usage(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

pub mod cli;
mod commands;
mod environment;
pub mod generated;
mod output;
mod progress;

/// What kind of failure `error` is: the first [`CliError`] in its chain
/// says so; berth-backup's verification failures and requests it cannot
/// serve as asked (no such backup) are classified here; anything else is
/// [`ErrorKind::Io`].
pub fn error_kind(error: &anyhow::Error) -> ErrorKind {
    for cause in error.chain() {
        if let Some(classified) = cause.downcast_ref::<CliError>() {
            return classified.kind;
        }
        match cause.downcast_ref::<berth_backup::BackupError>() {
            Some(berth_backup::BackupError::Verify { .. }) => return ErrorKind::Verification,
            Some(berth_backup::BackupError::Usage(_)) => return ErrorKind::Usage,
            _ => {}
        }
    }
    ErrorKind::Io
}

/// Runs berth with the process's arguments.
pub fn main() -> ExitCode {
    // Not a command users run: how `berth up` starts a replica with its
    // volumes bound (berth_process::namespace), read before clap so it is
    // in no help, reference or completion.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(berth_runtime::namespace::COMMAND) {
        let error = match berth_runtime::namespace::parse(&args[2..]) {
            Ok(request) => berth_runtime::namespace::exec_with(&request).to_string(),
            Err(e) => e,
        };
        output::stderr(&format!("berth: cannot start the replica with its volumes: {error}\n"));
        return ExitCode::from(126);
    }
    let mut cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout and succeed; every other error
            // of clap's is wrong usage. A closed pipe is no reason to fail.
            let _ = error.print();
            let end = if error.use_stderr() { Err(ErrorKind::Usage) } else { Ok(Outcome::Ok) };
            return ExitCode::from(exit_code(end));
        }
    };
    cli.command.resolve();
    let color = output::color_enabled(cli.color);
    let end = match commands::run(cli.command, color) {
        Ok(outcome) => Ok(outcome),
        Err(error) if output::is_broken_pipe(&error) => Ok(Outcome::Ok),
        Err(error) => {
            output::print_error(&error, color);
            Err(error_kind(&error))
        }
    };
    ExitCode::from(exit_code(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_has_its_documented_code() {
        assert_eq!(exit_code(Ok(Outcome::Ok)), 0);
        assert_eq!(exit_code(Ok(Outcome::Findings)), 1);
        assert_eq!(exit_code(Err(ErrorKind::SpecErrors)), 1);
        assert_eq!(exit_code(Err(ErrorKind::Usage)), 2);
        assert_eq!(exit_code(Ok(Outcome::Failing)), 2);
        assert_eq!(exit_code(Err(ErrorKind::Io)), 3);
        assert_eq!(exit_code(Err(ErrorKind::Verification)), 4);
    }

    #[test]
    fn the_kind_survives_context() {
        use anyhow::Context as _;
        let usage: anyhow::Result<()> = Err(CliError::usage("no dependency `x`").into());
        assert_eq!(error_kind(&usage.context("backup").unwrap_err()), ErrorKind::Usage);
        let verify: Result<(), _> = Err(berth_backup::BackupError::Verify { id: "a".to_owned(), problems: Vec::new() });
        assert_eq!(error_kind(&verify.context("verify of `db`").unwrap_err()), ErrorKind::Verification);
        let io = anyhow::Error::from(std::io::Error::other("disk full"));
        assert_eq!(error_kind(&io), ErrorKind::Io);
    }
}
