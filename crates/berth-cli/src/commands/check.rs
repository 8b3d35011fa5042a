//! `berth check`: read the files (in parallel), hand their text to the pure
//! checker, print the report in the chosen format.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use berth_check::format::{Format, render};
use berth_check::{Input, Kind};
use berth_diagnostics::Severity;

use crate::Outcome;
use crate::cli::{CheckArgs, CheckFormat, SeverityArg};
use crate::output;

const SKIPPED_DIRS: [&str; 6] = [".git", "target", "node_modules", ".berth", ".tools", "vendor"];

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<_> =
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(&entry.path(), out)?;
            }
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The `Chart.yaml` of the Helm chart whose `templates/` or `files/` a given
/// path lies in (`berth check chart/templates`): the checker knows a chart
/// by that file, and without it would read the templates as plain YAML.
fn enclosing_chart(path: &Path) -> Option<PathBuf> {
    path.ancestors().skip(1).find_map(|dir| {
        let first = path.strip_prefix(dir).ok()?.components().next()?;
        let chart = dir.join("Chart.yaml");
        (["templates", "files"].iter().any(|part| first.as_os_str() == *part) && chart.is_file()).then_some(chart)
    })
}

/// Shown relative to where the user ran berth, as they typed it.
fn shown(path: &Path) -> String {
    path.strip_prefix("./").unwrap_or(path).display().to_string()
}

/// Reads every candidate file; a file that is not UTF-8 or cannot be read is
/// skipped only when it is not a deployment file by name.
fn read_all(paths: Vec<PathBuf>, explicit: &[PathBuf]) -> Vec<Input> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from).min(8);
    let chunk = paths.len().div_ceil(threads).max(1);
    let mut inputs: Vec<Input> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|p| {
                            let name = shown(p);
                            // Cheap name test first: most files in a tree are not deployment files.
                            if berth_check::detect::kind(&name, "") == Kind::Other
                                && ![".yaml", ".yml", ".conf", ".env", ".types"].iter().any(|e| name.ends_with(e))
                                && !explicit.contains(p)
                            {
                                return None;
                            }
                            let text = std::fs::read_to_string(p).ok()?;
                            Some(Input { path: name, text })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    // Other files stay when an include or EnvironmentFile= may name them.
    inputs.retain(|i| {
        berth_check::detect::kind(&i.path, &i.text) != Kind::Other
            || i.path.ends_with(".conf")
            || i.path.ends_with(".env")
            || i.path.ends_with(".types")
    });
    inputs
}

pub fn run(args: &CheckArgs, color: bool) -> anyhow::Result<Outcome> {
    let mut paths = Vec::new();
    for p in &args.paths {
        walk(p, &mut paths)?;
        if let Some(chart) = enclosing_chart(p)
            && !paths.contains(&chart)
        {
            paths.push(chart);
        }
    }
    let inputs = read_all(paths, &args.paths);
    if inputs.is_empty() {
        output::stderr(
            "no deployment files found (berth.yaml, Kubernetes YAML, compose files, Dockerfiles, nginx, Prometheus, systemd units)\n",
        );
        return Ok(Outcome::Findings);
    }
    let report = berth_check::check(inputs, args.env.as_deref());
    let threshold = match args.severity {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Warning => Severity::Warning,
        SeverityArg::Error => Severity::Error,
    };
    let format = match args.output {
        CheckFormat::Human => Format::Human,
        CheckFormat::Json => Format::Json,
        CheckFormat::Sarif => Format::Sarif,
        CheckFormat::Junit => Format::Junit,
    };
    output::stdout(&render(format, &report, threshold, color && format == Format::Human))?;
    Ok(if report.active(threshold).next().is_some() { Outcome::Findings } else { Outcome::Ok })
}
