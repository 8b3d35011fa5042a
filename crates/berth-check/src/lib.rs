//! `berth check`: production readiness across deployment files.
//!
//! Pure: the caller reads files and passes their text; [`check`] parses each
//! one (a file that does not parse becomes a finding, the rest go on),
//! builds one [`graph::Graph`] of the deployment (workloads, containers,
//! ports, Services, selectors, NetworkPolicies, autoscalers, Dockerfiles),
//! runs every rule in [`registry::RULES`] over it, and applies suppressions.
//! What it sees but cannot check (a Helm chart's templates) becomes a
//! [`Note`], never a finding. Output formats live in [`format`].

pub mod baseline;
pub mod config;
pub mod detect;
pub mod format;
mod generated;
pub mod graph;
pub mod helm;
pub mod registry;
mod rule;
pub mod rules;
pub mod select;
pub mod spec;
pub mod suppress;

use berth_diagnostics::{Diagnostic, Severity, SourceFile};

pub use detect::Kind;
pub use rule::{Context, Rule, RuleInfo};

/// Appended to a chart's `Chart.yaml` path to name what `helm template`
/// rendered of it: the caller runs helm (I/O) and passes the output in as
/// one more input; its objects are checked like any manifest, and the
/// chart's templates need no note.
pub const HELM_RENDERED: &str = " → helm template";

/// The input name for what `helm template` rendered of the chart in `dir`
/// (`""` or `"."` for the root).
pub fn helm_rendered_name(dir: &str) -> String {
    match dir {
        "" | "." => format!("Chart.yaml{HELM_RENDERED}"),
        dir => format!("{dir}/Chart.yaml{HELM_RENDERED}"),
    }
}

/// One file given to the check.
#[derive(Debug, Clone)]
pub struct Input {
    /// As the user should see it (relative to where they ran the check).
    pub path: String,
    pub text: String,
}

/// A finding in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index into [`Report::files`].
    pub file: usize,
    pub diagnostic: Diagnostic,
    /// Set when a suppression matched: the reason given for it.
    pub suppressed: Option<String>,
}

/// Something the check saw and did not check, said so a clean report is
/// not read as covering it: a Helm chart's templates (helm is not run), a
/// spec's targets already rendered beside it. Not a finding: it never
/// counts, fails a run or needs a suppression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Index into [`Report::files`]: the file it is about.
    pub file: usize,
    pub message: String,
}

#[derive(Debug)]
pub struct Report {
    pub files: Vec<SourceFile>,
    pub kinds: Vec<Kind>,
    /// Sorted by file, then position.
    pub findings: Vec<Finding>,
    /// Sorted by file.
    pub notes: Vec<Note>,
}

impl Report {
    /// Findings that count: not suppressed, at or above `threshold`.
    pub fn active(&self, threshold: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.suppressed.is_none() && f.diagnostic.severity >= threshold)
    }
}

/// Checks `inputs` as one deployment. A berth spec among them is validated
/// and what it renders for Kubernetes is checked with the rest, under names
/// like `berth.yaml → kubernetes/web.yaml`, unless those renders are among
/// the inputs already. `environment` selects the spec's overlay. The
/// templates of a Helm chart (a directory with `Chart.yaml`) are skipped
/// with a note, and a spec in a chart's `files/` is chart data.
pub fn check(inputs: Vec<Input>, environment: Option<&str>) -> Report {
    check_with(inputs, environment, &select::Selection::default())
}

/// [`check`] with the command line's `--select` / `--ignore` on top of the
/// configurations' rule settings ([`select::apply`]).
pub fn check_with(inputs: Vec<Input>, environment: Option<&str>, selection: &select::Selection) -> Report {
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let charts = helm::Charts::find(inputs.iter().map(|i| i.path.as_str()));
    let present = generated::present(&inputs);
    let spec_files = spec::named_files(&inputs);
    // Per chart: the index of its Chart.yaml in `files`, and its templates skipped.
    let mut chart_files: Vec<(Option<usize>, usize)> = vec![(None, 0); charts.len()];
    let mut files = Vec::with_capacity(inputs.len());
    let mut kinds = Vec::with_capacity(inputs.len());
    for input in inputs {
        // What helm rendered is Kubernetes objects, whatever its name says.
        let mut kind =
            if input.path.ends_with(HELM_RENDERED) { Kind::Kubernetes } else { detect::kind(&input.path, &input.text) };
        match charts.part(&input.path) {
            Some((chart, helm::Part::Template)) => {
                kind = Kind::HelmTemplate;
                if let Some((_, templates)) = chart_files.get_mut(chart) {
                    *templates += 1;
                }
            }
            // The spec a chart ships is what its templates mount for the
            // jobs, not a second deployment beside the chart.
            Some((_, helm::Part::Data)) if kind == Kind::BerthSpec => kind = Kind::Other,
            Some((_, helm::Part::Values)) if kind != Kind::Other => kind = Kind::Yaml,
            _ => {}
        }
        if kind == Kind::HelmChart
            && let Some(chart) = charts.chart_of(&input.path)
            && let Some((file, _)) = chart_files.get_mut(chart)
        {
            *file = Some(files.len());
        }
        let rendered = if kind == Kind::BerthSpec {
            spec::expand(&input, environment, files.len(), &present, &spec_files, &mut findings, &mut notes)
        } else {
            Vec::new()
        };
        files.push(SourceFile::new(input.path, input.text));
        kinds.push(kind);
        for r in rendered {
            kinds.push(detect::kind(&r.path, &r.text));
            files.push(SourceFile::new(r.path, r.text));
        }
    }
    for (chart, &(file, templates)) in chart_files.iter().enumerate() {
        let dir = charts.dir(chart);
        let rendered = helm_rendered_name(dir);
        if files.iter().any(|f| f.name == rendered) {
            continue;
        }
        if let Some(file) = file
            && templates > 0
        {
            notes.push(Note {
                file,
                message: format!(
                    "Helm chart not rendered: its {templates} template(s) were not checked (helm is not on PATH, or \
                     `helm template` failed); to check what it installs, run `helm template {dir}` with your values and \
                     check the output"
                ),
            });
        }
    }
    let mut configs = Vec::new();
    for (index, kind) in kinds.iter().enumerate() {
        if *kind == Kind::CheckConfig {
            let (config, problems) = config::parse(&files[index].name, &files[index].text);
            findings.extend(problems.into_iter().map(|diagnostic| Finding {
                file: index,
                diagnostic,
                suppressed: None,
            }));
            configs.push(config);
        }
    }
    detect::environment_files(&files, &mut kinds);
    let parsed = graph::Parsed::read(&files, &kinds, &mut findings);
    let namespaced: Vec<graph::units::Namespaced<'_>> = parsed
        .yaml
        .iter()
        .flat_map(|(file, docs)| {
            docs.iter().filter_map(move |d| {
                use graph::yaml::str_at;
                Some((
                    *file,
                    str_at(d, &["metadata", "namespace"])?,
                    str_at(d, &["kind"]).unwrap_or(""),
                    str_at(d, &["metadata", "name"]).unwrap_or(""),
                ))
            })
        })
        .collect();
    let graph = graph::Graph::build(&parsed, &files, graph::units::assign(&files, &kinds, &namespaced));
    let cx = Context { graph: &graph, files: &files };
    findings.extend(run_rules(&cx).into_iter().flatten());
    suppress::apply(&graph, &files, &configs, &mut findings);
    drop(graph);
    // Freeing every parsed node took as long as building the graph; the
    // report needs none of them, so they are freed beside the rest.
    std::thread::spawn(move || drop(parsed));
    findings.sort_by_key(|f| (f.file, f.diagnostic.span.map(|s| s.start), f.diagnostic.code.id));
    findings.dedup();
    notes.sort_by_key(|n| n.file);
    let mut report = Report { files, kinds, findings, notes };
    select::apply(&mut report, &configs, selection);
    report
}

/// Every rule's findings, in registry order whatever thread ran it (so the
/// report is the same on every run). Rules only read the graph: they run
/// on as many threads as there are cores, each taking the next rule.
fn run_rules(cx: &Context<'_>) -> Vec<Vec<Finding>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let rules = registry::RULES;
    let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(entry) = rules.get(next.fetch_add(1, Ordering::Relaxed)) {
            let mut out = Vec::new();
            entry.rule.check(cx, &mut rule::Sink { info: entry.info, out: &mut out });
            done.push((entry.info.code.id, out));
        }
        done
    };
    let mut slots: Vec<Vec<Finding>> = rules.iter().map(|_| Vec::new()).collect();
    let mut place = |done: Vec<(&str, Vec<Finding>)>| {
        for (code, out) in done {
            if let Some(i) = rules.iter().position(|e| e.info.code.id == code) {
                slots[i] = out;
            }
        }
    };
    if threads == 1 {
        place(work());
        return slots;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => place(done),
                // A rule that panics is a bug, as it was on one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots
}
