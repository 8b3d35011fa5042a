//! `berth check`: read the files (in parallel), hand their text to the pure
//! checker, print the report in the chosen format. A baseline file is read
//! and written here; what it means is `berth_check::baseline`'s.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use berth_check::baseline::{self, Baseline};
use berth_check::format::{Format, render};
use berth_check::select::Selection;
use berth_check::{Input, Kind};
use berth_diagnostics::Severity;

use crate::cli::{CheckArgs, CheckFormat, SeverityArg};
use crate::{CliError, Outcome, output};

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

/// The `berth-check.yaml` files in the directories between where berth runs
/// and a given relative path (`berth check k8s/` from the repository root
/// reads `./berth-check.yaml`): a configuration applies to the files under
/// it, so it is read even when the walk starts below it. Nothing above the
/// current directory is read, nor anything for an absolute path: what
/// configures a check never depends on where the repository sits.
fn enclosing_configs(path: &Path) -> Vec<PathBuf> {
    if path.is_absolute() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for dir in path.ancestors().skip(1) {
        if dir.ends_with("..") {
            break;
        }
        for name in berth_check::config::NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                found.push(candidate);
            }
        }
    }
    found
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
                            // Files without an extension are read too: a
                            // shell script is known by its shebang, an env
                            // file by its lines.
                            let base = name.rsplit(['/', '\\']).next().unwrap_or(&name);
                            if !berth_check::detect::worth_reading(&name) && !explicit.contains(p) {
                                return None;
                            }
                            // An extensionless file that is large is a binary or data, never a script.
                            if !base.contains('.')
                                && !explicit.contains(p)
                                && std::fs::metadata(p).is_ok_and(|m| m.len() > 512 * 1024)
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
    // A spec's configuration files render with it, whatever their names,
    // when they lie in the tree being checked: a link to `~/.aws/credentials`
    // in a pull request must not reach a report (the walk itself follows
    // no link).
    let roots: Vec<PathBuf> = explicit
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .map(|p| if p.is_file() { p.parent().map(Path::to_path_buf).unwrap_or(p) } else { p })
        .collect();
    let read: HashSet<String> = inputs.iter().map(|i| i.path.clone()).collect();
    for path in berth_check::spec::named_paths(&inputs) {
        let inside = Path::new(&path).canonicalize().is_ok_and(|real| roots.iter().any(|r| real.starts_with(r)));
        if !read.contains(&path)
            && inside
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            inputs.push(Input { path, text });
        }
    }
    berth_check::detect::retain_needed(&mut inputs);
    inputs
}

/// Seconds one `helm template` may take.
const HELM_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// What `helm template` makes of each chart among the inputs (default
/// values, release and namespace named after the chart's directory), when helm is on
/// PATH: the objects a chart installs are then checked like any manifest,
/// under the name `<chart>/Chart.yaml → helm template`. A chart helm
/// cannot render (missing dependencies) keeps the core's note, and the
/// reason is said here.
fn render_charts(inputs: &[Input]) -> anyhow::Result<Vec<Input>> {
    let charts: Vec<&str> = inputs
        .iter()
        .filter_map(|i| {
            let dir = if i.path == "Chart.yaml" { "" } else { i.path.strip_suffix("/Chart.yaml")? };
            let templates = if dir.is_empty() { "templates/".to_owned() } else { format!("{dir}/templates/") };
            inputs.iter().any(|t| t.path.starts_with(&templates)).then_some(dir)
        })
        .collect();
    if charts.is_empty() {
        return Ok(Vec::new());
    }
    let Some(helm) = berth_process::programs::locate("helm", &[]) else { return Ok(Vec::new()) };
    let runtime = super::runtime()?;
    let mut rendered = Vec::new();
    for dir in charts {
        let shown_dir = if dir.is_empty() { "." } else { dir };
        let release = Path::new(shown_dir)
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()))
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| "release".to_owned());
        // Installed into a namespace of its own, as `helm install -n <release>`
        // does (without one, helm writes `default` into every object).
        let command = [
            helm.display().to_string(),
            "template".to_owned(),
            release.clone(),
            shown_dir.to_owned(),
            "--namespace".to_owned(),
            release,
        ];
        match runtime.block_on(berth_process::process::output_or_error(&command, HELM_TIME)) {
            Ok(text) => {
                rendered.push(Input { path: berth_check::helm_rendered_name(dir), text });
            }
            Err(why) => {
                output::stderr(&format!("{shown_dir}: helm template failed, its templates are not checked: {why}\n"))
            }
        }
    }
    Ok(rendered)
}

pub fn run(args: &CheckArgs, color: bool) -> anyhow::Result<Outcome> {
    let selection = Selection::parse(args.select.as_deref(), &args.ignore)
        .map_err(|e| CliError::usage(format!("--select/--ignore: {e}; {}", e.help())))?;
    // Read before checking: a wrong baseline path fails at once, not after the check.
    let known = match (&args.baseline, &args.write_baseline) {
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the baseline {}", path.display()))?;
            let parsed = baseline::parse(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
            Some((path, parsed))
        }
        _ => None,
    };
    let mut paths = Vec::new();
    for p in &args.paths {
        walk(p, &mut paths)?;
        if let Some(chart) = enclosing_chart(p)
            && !paths.contains(&chart)
        {
            paths.push(chart);
        }
    }
    // A configuration above a given path, unless the walk found it already
    // (under another spelling: `./berth-check.yaml` and `berth-check.yaml`).
    let mut seen: HashSet<String> = paths.iter().map(|p| shown(p)).collect();
    for p in &args.paths {
        for config in enclosing_configs(p) {
            if seen.insert(shown(&config)) {
                paths.push(config);
            }
        }
    }
    let mut inputs = read_all(paths, &args.paths);
    if let Some(env) = &args.env {
        environment_declared(&inputs, env)?;
    }
    if !args.no_helm {
        let rendered = render_charts(&inputs)?;
        inputs.extend(rendered);
    }
    if inputs.is_empty() {
        output::stderr(
            "no deployment files found (berth.yaml, Kubernetes YAML, compose files, Dockerfiles, nginx, Prometheus, systemd units, shell scripts, CloudFormation, env files)\n",
        );
        // A machine format still gets its document (an empty one), so a
        // CI step that uploads SARIF or parses JSON reads what happened.
        let format = match args.output {
            CheckFormat::Human => None,
            CheckFormat::Json => Some(Format::Json),
            CheckFormat::Sarif => Some(Format::Sarif),
            CheckFormat::Junit => Some(Format::Junit),
        };
        if let Some(format) = format {
            let empty = berth_check::check_with(Vec::new(), None, &selection);
            output::stdout(&render(format, &empty, Severity::Info, false))?;
        }
        return Ok(Outcome::Findings);
    }
    let mut report = berth_check::check_with(inputs, args.env.as_deref(), &selection);
    if let Some(path) = &args.write_baseline {
        return write_baseline(&report, path);
    }
    let stale = match &known {
        Some((_, known)) => {
            let applied = baseline::apply(&mut report, known);
            // An entry for a file this run did not look at is not fixed.
            let roots: Vec<String> = args.paths.iter().map(|p| shown(p)).collect();
            applied.stale.into_iter().filter(|e| baseline::covers(&roots, &e.path)).count()
        }
        None => 0,
    };
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
    if let Some((path, _)) = known
        && stale > 0
    {
        let line = format!(
            "note: {stale} baseline {} fixed; rewrite the baseline: berth check --write-baseline {}\n",
            if stale == 1 { "entry is" } else { "entries are" },
            path.display()
        );
        // Beside the summary for people; never inside a machine format's document.
        if format == Format::Human {
            output::stdout(&line)?;
        } else {
            output::stderr(&line);
        }
    }
    Ok(if report.active(threshold).next().is_some() { Outcome::Findings } else { Outcome::Ok })
}

/// `--env` names an environment every berth spec among the inputs must
/// declare: one that does not is wrong usage (exit 2), as for every other
/// command, not a finding.
fn environment_declared(inputs: &[Input], env: &str) -> Result<(), CliError> {
    for input in inputs {
        if berth_check::detect::kind(&input.path, &input.text) == Kind::BerthSpec
            && !berth_spec::environments(&input.text).iter().any(|declared| declared == env)
        {
            super::known_environment(&input.path, &berth_spec::load(&input.text, Some(env)).diagnostics)?;
        }
    }
    Ok(())
}

/// `--write-baseline`: every finding that can be baselined, whatever the
/// threshold, so a later run at a lower `--severity` finds none of them new.
fn write_baseline(report: &berth_check::Report, path: &Path) -> anyhow::Result<Outcome> {
    let recorded = Baseline::of(report);
    std::fs::write(path, recorded.to_json())
        .with_context(|| format!("cannot write the baseline {}", path.display()))?;
    output::stderr(&format!("wrote {} finding(s) to {}\n", recorded.findings.len(), path.display()));
    let left = report.findings.iter().filter(|f| f.suppressed.is_none() && !baseline::can_baseline(f)).count();
    if left > 0 {
        output::stderr(&format!(
            "note: {left} finding(s) cannot be baselined: files that do not parse (E001) and berth-check.yaml mistakes \
             (E002) always count; run `berth check` to see them\n"
        ));
    }
    Ok(Outcome::Ok)
}
