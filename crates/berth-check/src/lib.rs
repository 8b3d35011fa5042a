//! `berth check`: production readiness across deployment files.
//!
//! Pure: the caller reads files and passes their text; [`check`] parses each
//! one (a file that does not parse becomes a finding, the rest go on),
//! builds one [`graph::Graph`] of the deployment (workloads, containers,
//! ports, Services, selectors, NetworkPolicies, autoscalers, Dockerfiles),
//! runs every rule in [`registry::RULES`] over it, and applies suppressions.
//! Output formats live in [`format`].

pub mod config;
pub mod detect;
pub mod format;
pub mod graph;
pub mod registry;
mod rule;
pub mod rules;
mod spec;
pub mod suppress;

use berth_diagnostics::{Diagnostic, Severity, SourceFile};

pub use detect::Kind;
pub use rule::{Context, Rule, RuleInfo};

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

#[derive(Debug)]
pub struct Report {
    pub files: Vec<SourceFile>,
    pub kinds: Vec<Kind>,
    /// Sorted by file, then position.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Findings that count: not suppressed, at or above `threshold`.
    pub fn active(&self, threshold: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.suppressed.is_none() && f.diagnostic.severity >= threshold)
    }
}

/// Checks `inputs` as one deployment. A berth spec among them is validated
/// and what it renders for Kubernetes is checked with the rest, under names
/// like `berth.yaml → kubernetes/web.yaml`. `environment` selects the
/// spec's overlay.
pub fn check(inputs: Vec<Input>, environment: Option<&str>) -> Report {
    let mut findings = Vec::new();
    let mut files = Vec::with_capacity(inputs.len());
    let mut kinds = Vec::with_capacity(inputs.len());
    for input in inputs {
        let kind = detect::kind(&input.path, &input.text);
        let rendered = if kind == Kind::BerthSpec {
            spec::expand(&input, environment, files.len(), &mut findings)
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
    let parsed = graph::Parsed::read(&files, &kinds, &mut findings);
    let graph = graph::Graph::build(&parsed);
    let cx = Context { graph: &graph, files: &files };
    for entry in registry::RULES {
        entry.rule.check(&cx, &mut rule::Sink { info: entry.info, out: &mut findings });
    }
    suppress::apply(&graph, &files, &configs, &mut findings);
    findings.sort_by_key(|f| (f.file, f.diagnostic.span.map(|s| s.start), f.diagnostic.code.id));
    findings.dedup();
    Report { files, kinds, findings }
}
