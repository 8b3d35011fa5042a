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

/// Backup progress: on a terminal, a bar with bytes and rate for steps of
/// known size and a spinner otherwise, finished steps printed above it;
/// elsewhere one line per step on stderr, for job logs.
#[derive(Debug)]
pub struct Transfer {
    bar: Option<ProgressBar>,
    label: String,
    current: std::sync::Mutex<Option<String>>,
}

impl Transfer {
    pub fn new(label: &str) -> Self {
        let live = std::io::stderr().is_terminal() && crate::environment::var("TERM").is_none_or(|t| t != "dumb");
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self { bar, label: label.to_owned(), current: std::sync::Mutex::new(None) }
    }

    /// Ends the display; `ok` marks the last step done or failed.
    pub fn finish(&self, ok: bool) {
        if let Some(bar) = &self.bar {
            if let Some(last) = self.current.lock().ok().and_then(|mut c| c.take()) {
                bar.println(format!("  {} {last} ({:.1}s)", if ok { "✓" } else { "✗" }, bar.elapsed().as_secs_f64()));
            }
            bar.finish_and_clear();
        }
    }
}

impl berth_backup::progress::Progress for Transfer {
    fn step(&self, name: &str, total: Option<u64>) {
        let line = format!("{}: {name}", self.label);
        let Some(bar) = &self.bar else {
            output::stderr(&format!("{line}\n"));
            return;
        };
        if let Some(done) = self.current.lock().ok().and_then(|mut c| c.replace(line.clone())) {
            bar.println(format!("  ✓ {done} ({:.1}s)", bar.elapsed().as_secs_f64()));
        }
        bar.reset();
        let template = match total {
            Some(_) => "{spinner:.cyan} {msg} [{bar:30.cyan/dim}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed:.dim}",
            None => "{spinner:.cyan} {msg} {elapsed:.dim}",
        };
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_length(total.unwrap_or(0));
        bar.set_position(0);
        bar.set_message(line);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }
}
