//! Terminal concerns: color, error printing, quiet exit on a closed pipe.

use std::io::{IsTerminal, Write};

use crate::cli::Color;

pub fn color_enabled(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && crate::environment::var("NO_COLOR").is_none_or(|v| v.is_empty())
                && crate::environment::var("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

pub fn color_choice(color: bool) -> berth_diagnostics::ColorChoice {
    if color { berth_diagnostics::ColorChoice::Always } else { berth_diagnostics::ColorChoice::Never }
}

pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

pub fn print_error(error: &anyhow::Error, color: bool) {
    let mut stderr = std::io::stderr().lock();
    let prefix = if color { "\x1b[1;31merror\x1b[0m" } else { "error" };
    let _ = write!(stderr, "{prefix}: {error}");
    for cause in error.chain().skip(1) {
        let _ = write!(stderr, ": {cause}");
    }
    let _ = writeln!(stderr);
}

/// Writes to stdout, surfacing errors (a closed pipe among them) to the caller.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

pub fn stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
