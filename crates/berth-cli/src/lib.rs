//! The `berth` command line: parses arguments, runs one command, maps the
//! outcome to an exit code. All file and terminal I/O of the CLI lives in
//! this crate; `main.rs` only calls [`main`].

pub mod cli;
mod commands;
mod environment;
pub mod generated;
mod output;
mod progress;

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
pub const EXIT_FAILING: u8 = 2;
pub const EXIT_IO: u8 = 3;

/// Runs berth with the process's arguments.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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
            ExitCode::from(EXIT_IO)
        }
    }
}
