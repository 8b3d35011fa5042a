//! Deploy progress: on a terminal, a spinner with the running step and its
//! elapsed time, finished steps printed above it; otherwise one plain line
//! per step, for logs and CI.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output;

#[derive(Debug)]
pub enum Steps {
    Live { bar: ProgressBar, current: Option<String> },
    Plain,
}

impl Steps {
    pub fn new() -> Self {
        if !std::io::stderr().is_terminal() || crate::environment::var("TERM").is_some_and(|t| t == "dumb") {
            return Self::Plain;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self::Live { bar, current: None }
    }

    /// The step now running; the one before it is done.
    pub fn step(&mut self, line: &str) -> std::io::Result<()> {
        match self {
            Self::Plain => output::stdout(&format!("{line}\n")),
            Self::Live { bar, current } => {
                if let Some(done) = current.replace(line.to_owned()) {
                    bar.println(format!("  ✓ {done} ({:.1}s)", bar.elapsed().as_secs_f64()));
                }
                // The clock shows how long this step has run, such as a health wait.
                bar.reset_elapsed();
                bar.set_message(line.to_owned());
                Ok(())
            }
        }
    }

    /// Ends the display; `ok` marks the last step done or failed.
    pub fn finish(self, ok: bool) {
        if let Self::Live { bar, current } = self {
            if let Some(last) = current {
                bar.println(format!("  {} {last} ({:.1}s)", if ok { "✓" } else { "✗" }, bar.elapsed().as_secs_f64()));
            }
            bar.finish_and_clear();
        }
    }
}
