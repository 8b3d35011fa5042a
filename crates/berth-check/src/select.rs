//! Which rules report, and how loud, file by file: `select`,
//! `ignore_rules`, `rules` and `exclude` of every `berth-check.yaml` above
//! a file (see [`crate::config`]), then `--select` and `--ignore` from the
//! command line. Applied to a finished report: rules still run over every
//! file (a cross-file rule needs the whole graph, and configurations
//! differ by directory), and what is not selected is dropped afterwards.
//!
//! Resolution follows ruff's. The layers, weakest first, are the
//! configurations from the root down to the file's directory, then the
//! command line.
//!
//! - The rules that may run are the `select` of the strongest layer that
//!   has one (`--select` replaces every file's `select`); with none, every
//!   rule.
//! - `ignore_rules`, `rules: { <CODE>: off }` and `--ignore` turn rules off.
//! - For each rule the entry of the strongest layer that names it decides;
//!   within a layer the more specific entry decides (`select: [K001]` beats
//!   `ignore_rules: [K]`), and turning off beats selecting when both are
//!   as specific. So `--ignore` always wins over the files, and `--select
//!   K` brings back a `K` rule a file turned off, as ruff's does.
//! - `rules: { <CODE>: <severity> }` of the deepest configuration that sets
//!   one replaces the rule's severity.
//!
//! Only rules are selected: the codes that report on the input itself
//! (`E001` a file that does not parse, `E002` a malformed configuration)
//! and a berth spec's own diagnostics always stay, at their severity.
//! `exclude` drops every finding and note in the files it names (except on
//! configuration files themselves, whose mistakes always show), and lists
//! those files as [`Kind::Other`]: not checked.

use std::collections::HashSet;

use berth_diagnostics::Severity;

use crate::config::{Config, RuleSetting};
use crate::{Kind, Report, registry};

/// A rule code (`K002`), a rule name (`runs-as-root`), a prefix of codes
/// (`K`, `X01`) or `ALL`, as the code prefix it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Upper case; a whole code for a rule named by code or name; empty for `ALL`.
    prefix: String,
}

/// Why a selector names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("an empty rule selector")]
    Empty,
    #[error(
        "`{0}` always counts: a file that does not parse and a malformed berth-check.yaml cannot be turned off or made less severe"
    )]
    Always(String),
    #[error("no rule or code prefix `{text}`")]
    Unknown { text: String, suggestion: Option<&'static str> },
}

impl SelectorError {
    /// What to write instead.
    pub fn help(&self) -> String {
        const FORMS: &str =
            "name a rule code (`K002`), a rule name (`runs-as-root`), a code prefix (`K`, `X01`) or `ALL`";
        match self {
            Self::Empty => FORMS.to_owned(),
            Self::Always(_) => "fix the file, or leave it out of the check with `exclude:`".to_owned(),
            Self::Unknown { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            Self::Unknown { text, suggestion: None } if text.starts_with(['S', 's', 'R', 'r']) => format!(
                "{FORMS}; a berth spec's own diagnostics are not rules: accept one in the spec with \
                 `# berth: ignore[<CODE>] <reason>`"
            ),
            Self::Unknown { .. } => format!("{FORMS}; the codes are in docs/rules.md"),
        }
    }
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SelectorError::Empty);
        }
        if text.eq_ignore_ascii_case("all") {
            return Ok(Self { prefix: String::new() });
        }
        if let Some(entry) = registry::find(text) {
            return Ok(Self { prefix: entry.info.code.id.to_owned() });
        }
        let upper = text.to_ascii_uppercase();
        let input_codes = [crate::graph::PARSE_ERROR, crate::config::CONFIG_ERROR];
        let is_input_code = upper.strip_prefix('E').is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
            || input_codes.iter().any(|c| c.name == text);
        if is_input_code {
            return Err(SelectorError::Always(text.to_owned()));
        }
        if registry::RULES.iter().any(|e| e.info.code.id.starts_with(upper.as_str())) {
            return Ok(Self { prefix: upper });
        }
        let names = registry::RULES.iter().flat_map(|e| [e.info.code.id, e.info.code.name]);
        Err(SelectorError::Unknown { text: text.to_owned(), suggestion: berth_spec::did_you_mean(text, names) })
    }

    /// The code prefix: a whole code, a family (`K`), or empty for every rule.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn matches(&self, code: &str) -> bool {
        code.starts_with(self.prefix.as_str())
    }

    /// How much of a code the selector names: a longer prefix is more specific.
    fn specificity(&self) -> usize {
        self.prefix.len()
    }
}

/// `--select` and `--ignore`: the strongest layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Replaces the `select` of every configuration when given.
    pub select: Option<Vec<Selector>>,
    pub ignore: Vec<Selector>,
}

impl Selection {
    /// From the command line's values: each a code, name or prefix, or
    /// several separated by commas.
    pub fn parse(select: Option<&[String]>, ignore: &[String]) -> Result<Self, SelectorError> {
        fn list(values: &[String]) -> Result<Vec<Selector>, SelectorError> {
            values.iter().flat_map(|v| v.split(',')).filter(|t| !t.trim().is_empty()).map(Selector::parse).collect()
        }
        let select = match select {
            Some(values) => {
                let selectors = list(values)?;
                // `--select ""` is a slip, not a wish to run nothing.
                if selectors.is_empty() {
                    return Err(SelectorError::Empty);
                }
                Some(selectors)
            }
            None => None,
        };
        Ok(Self { select, ignore: list(ignore)? })
    }

    fn is_empty(&self) -> bool {
        self.select.is_none() && self.ignore.is_empty()
    }
}

/// One entry that names a rule: its layer, how specific it is, and whether
/// it turns the rule off. The greatest decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Vote {
    layer: usize,
    specificity: usize,
    off: bool,
}

/// Whether rule `code` reports in a file under the configurations `chain`
/// (root first), with `selection` from the command line over them.
fn enabled(code: &str, chain: &[&Config], selection: &Selection) -> bool {
    let cli = chain.len();
    let mut votes = Vec::new();
    let base = match &selection.select {
        Some(list) => Some((cli, list.as_slice())),
        None => chain.iter().enumerate().rev().find_map(|(layer, c)| c.select.as_deref().map(|s| (layer, s))),
    };
    match base {
        Some((layer, list)) => votes.extend(list.iter().filter(|s| s.matches(code)).map(|s| Vote {
            layer,
            specificity: s.specificity(),
            off: false,
        })),
        // No `select` anywhere: every rule, as weakly as can be.
        None => votes.push(Vote { layer: 0, specificity: 0, off: false }),
    }
    for (layer, config) in chain.iter().enumerate() {
        votes.extend(config.ignore_rules.iter().filter(|s| s.matches(code)).map(|s| Vote {
            layer,
            specificity: s.specificity(),
            off: true,
        }));
        if config.setting(code) == Some(RuleSetting::Off) {
            votes.push(Vote { layer, specificity: code.len(), off: true });
        }
    }
    votes.extend(selection.ignore.iter().filter(|s| s.matches(code)).map(|s| Vote {
        layer: cli,
        specificity: s.specificity(),
        off: true,
    }));
    votes.into_iter().max().is_some_and(|v| !v.off)
}

/// The severity the deepest configuration in `chain` gives rule `code`.
fn severity(code: &str, chain: &[&Config]) -> Option<Severity> {
    chain.iter().rev().find_map(|c| match c.setting(code) {
        Some(RuleSetting::Severity(s)) => Some(s),
        _ => None,
    })
}

/// The configurations that apply to `path`, root first.
fn chain<'c>(configs: &'c [Config], path: &str) -> Vec<&'c Config> {
    let mut chain: Vec<&Config> = configs.iter().filter(|c| c.relative(path).is_some()).collect();
    // Stable: two configurations in one directory keep the order they were read in.
    chain.sort_by_key(|c| if c.dir.is_empty() { 0 } else { c.dir.split(['/', '\\']).count() });
    chain
}

/// Applies the configurations' and the command line's selection to
/// `report`: drops the findings of rules turned off and everything in
/// excluded files, and gives rules their configured severity.
pub fn apply(report: &mut Report, configs: &[Config], selection: &Selection) {
    if selection.is_empty()
        && configs
            .iter()
            .all(|c| c.select.is_none() && c.ignore_rules.is_empty() && c.rules.is_empty() && c.exclude.is_none())
    {
        return;
    }
    let chains: Vec<Vec<&Config>> = report.files.iter().map(|f| chain(configs, &f.name)).collect();
    let excluded: Vec<bool> = report
        .files
        .iter()
        .zip(&report.kinds)
        .zip(&chains)
        .map(|((file, kind), chain)| *kind != Kind::CheckConfig && chain.iter().any(|c| c.excludes(&file.name)))
        .collect();
    let is_excluded = |file: usize| excluded.get(file).copied().unwrap_or(false);
    for (kind, out) in report.kinds.iter_mut().zip(&excluded) {
        if *out {
            *kind = Kind::Other;
        }
    }
    report.notes.retain(|n| !is_excluded(n.file));
    let rules: HashSet<&str> = registry::RULES.iter().map(|e| e.info.code.id).collect();
    report.findings.retain_mut(|finding| {
        if is_excluded(finding.file) {
            return false;
        }
        let code = finding.diagnostic.code.id;
        // Input and spec diagnostics are not rules: they always stay.
        if !rules.contains(code) {
            return true;
        }
        let chain = chains.get(finding.file).map_or(&[][..], Vec::as_slice);
        if !enabled(code, chain, selection) {
            return false;
        }
        if let Some(level) = severity(code, chain) {
            finding.diagnostic.severity = level;
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use berth_diagnostics::{Diagnostic, SourceFile, Span};

    use super::*;
    use crate::config::parse;
    use crate::{Finding, Note};

    fn selection(select: Option<&[&str]>, ignore: &[&str]) -> Selection {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        Selection::parse(select.map(owned).as_deref(), &owned(ignore)).unwrap()
    }

    fn config(path: &str, text: &str) -> Config {
        let (config, problems) = parse(path, text);
        assert!(problems.is_empty(), "{problems:?}");
        config
    }

    #[test]
    fn selectors_name_codes_names_and_prefixes() {
        assert_eq!(Selector::parse("k002").unwrap().prefix(), "K002");
        assert_eq!(Selector::parse("runs-as-root").unwrap().prefix(), "K002");
        assert_eq!(Selector::parse("x01").unwrap().prefix(), "X01");
        assert_eq!(Selector::parse("D").unwrap().prefix(), "D");
        assert_eq!(Selector::parse("ALL").unwrap().prefix(), "");
        assert!(Selector::parse("K").unwrap().matches("K013"));
        assert!(!Selector::parse("K01").unwrap().matches("K002"));
        assert_eq!(Selector::parse(" "), Err(SelectorError::Empty));
        assert!(matches!(Selector::parse("E001"), Err(SelectorError::Always(_))));
        assert!(matches!(Selector::parse("E"), Err(SelectorError::Always(_))));
        assert!(matches!(Selector::parse("parse-error"), Err(SelectorError::Always(_))));
        let Err(SelectorError::Unknown { suggestion, .. }) = Selector::parse("runs-as-rot") else {
            panic!("runs-as-rot is no rule")
        };
        assert_eq!(suggestion, Some("runs-as-root"));
        let spec = Selector::parse("S301").unwrap_err();
        assert!(spec.help().contains("# berth: ignore[<CODE>]"), "{}", spec.help());
    }

    #[test]
    fn command_line_values_split_on_commas() {
        let s = selection(Some(&["K,X01", "D003"]), &["K013,"]);
        let select: Vec<&str> = s.select.iter().flatten().map(Selector::prefix).collect();
        assert_eq!(select, ["K", "X01", "D003"]);
        assert_eq!(s.ignore.iter().map(Selector::prefix).collect::<Vec<_>>(), ["K013"]);
        assert_eq!(Selection::parse(Some(&[String::new()]), &[]), Err(SelectorError::Empty));
        assert!(Selection::parse(None, &["K02".to_owned()]).is_err());
    }

    #[test]
    fn every_rule_runs_by_default() {
        assert!(enabled("K001", &[], &Selection::default()));
        let root = config("berth-check.yaml", "ignore: []\n");
        assert!(enabled("K001", &[&root], &Selection::default()));
    }

    #[test]
    fn select_ignore_and_rules_off_in_one_file() {
        let root =
            config("berth-check.yaml", "select: [K, D001]\nignore_rules: [K00]\nrules:\n  K005: off\n  K001: error\n");
        let chain = [&root];
        let none = Selection::default();
        // K00 is more specific than K: off.
        assert!(!enabled("K002", &chain, &none));
        // K01.. is selected by K and not ignored.
        assert!(enabled("K013", &chain, &none));
        assert!(enabled("D001", &chain, &none));
        // Not selected at all.
        assert!(!enabled("D002", &chain, &none));
        assert!(!enabled("X001", &chain, &none));
        assert!(!enabled("K005", &chain, &none));
        // A severity is no selection: K001 stays off under K00.
        assert!(!enabled("K001", &chain, &none));
        // A whole code beats a prefix within a layer.
        let narrow = config("berth-check.yaml", "ignore_rules: [K]\nselect: [K001, D]\n");
        assert!(enabled("K001", &[&narrow], &none));
        assert!(!enabled("K002", &[&narrow], &none));
        assert!(enabled("D003", &[&narrow], &none));
        // As specific: turning off wins.
        let tie = config("berth-check.yaml", "select: [K001]\nrules: { K001: off }\n");
        assert!(!enabled("K001", &[&tie], &none));
    }

    #[test]
    fn the_command_line_wins() {
        let root = config("berth-check.yaml", "select: [C]\nrules:\n  K004: off\n");
        let chain = [&root];
        // --select replaces the file's select...
        let k = selection(Some(&["K"]), &[]);
        assert!(enabled("K001", &chain, &k));
        assert!(!enabled("C001", &chain, &k));
        // ...and brings back what the file turned off, as ruff's does.
        assert!(enabled("K004", &chain, &k));
        // --ignore wins over the file's select, whatever its specificity.
        let ignore = selection(None, &["C"]);
        let narrow = config("berth-check.yaml", "select: [C001]\n");
        assert!(!enabled("C001", &[&narrow], &ignore));
        // Within the command line, the more specific decides.
        let both = selection(Some(&["K"]), &["K004"]);
        assert!(!enabled("K004", &chain, &both));
        assert!(enabled("K005", &chain, &both));
    }

    #[test]
    fn deeper_configurations_win() {
        let root = config("berth-check.yaml", "select: [K]\nrules:\n  K008: error\n");
        let legacy = config("legacy/berth-check.yaml", "select: [D]\nrules:\n  K008: info\n");
        let configs = [legacy, root];
        let here = chain(&configs, "legacy/deploy.yaml");
        assert_eq!(here.iter().map(|c| c.dir.as_str()).collect::<Vec<_>>(), ["", "legacy"]);
        let none = Selection::default();
        assert!(enabled("D001", &here, &none));
        assert!(!enabled("K001", &here, &none));
        assert_eq!(severity("K008", &here), Some(Severity::Info));
        let top = chain(&configs, "deploy.yaml");
        assert_eq!(top.len(), 1);
        assert!(enabled("K001", &top, &none));
        assert!(!enabled("D001", &top, &none));
        assert_eq!(severity("K008", &top), Some(Severity::Error));
        // A file rendered from a spec is judged by the spec's path.
        assert_eq!(chain(&configs, "legacy/berth.yaml → kubernetes/web.yaml").len(), 2);
    }

    fn finding(file: usize, code: berth_diagnostics::Code, severity: Severity) -> Finding {
        Finding { file, diagnostic: Diagnostic::new(code, severity, "m").with_span(Span::new(0, 1)), suppressed: None }
    }

    #[test]
    fn apply_drops_changes_and_keeps() {
        let k001 = registry::find("K001").unwrap().info.code;
        let k008 = registry::find("K008").unwrap().info.code;
        let d001 = registry::find("D001").unwrap().info.code;
        let mut report = Report {
            files: vec![
                SourceFile::new("berth-check.yaml", ""),
                SourceFile::new("k8s/web.yaml", "x"),
                SourceFile::new("vendor/chart/x.yaml", "x"),
                SourceFile::new("Dockerfile", "x"),
            ],
            kinds: vec![Kind::CheckConfig, Kind::Kubernetes, Kind::Kubernetes, Kind::Dockerfile],
            findings: vec![
                finding(0, crate::config::CONFIG_ERROR, Severity::Error),
                finding(1, k001, Severity::Error),
                finding(1, k008, Severity::Warning),
                finding(1, crate::graph::PARSE_ERROR, Severity::Error),
                finding(2, k001, Severity::Error),
                finding(2, crate::graph::PARSE_ERROR, Severity::Error),
                finding(3, d001, Severity::Warning),
            ],
            notes: vec![Note { file: 2, message: "not rendered".into() }, Note { file: 1, message: "kept".into() }],
        };
        let configs = [config("berth-check.yaml", "exclude: [vendor]\nrules:\n  K008: error\n  K001: off\n")];
        apply(&mut report, &configs, &selection(None, &["D"]));
        let left: Vec<(usize, &str, Severity)> =
            report.findings.iter().map(|f| (f.file, f.diagnostic.code.id, f.diagnostic.severity)).collect();
        assert_eq!(
            left,
            [(0, "E002", Severity::Error), (1, "K008", Severity::Error), (1, "E001", Severity::Error)],
            "K001 off, vendor excluded, D ignored on the command line; E codes stay"
        );
        assert_eq!(report.kinds[2], Kind::Other);
        assert_eq!(report.kinds[1], Kind::Kubernetes);
        assert_eq!(report.notes.len(), 1);
        assert_eq!(report.notes[0].message, "kept");
    }

    #[test]
    fn a_configuration_never_excludes_itself() {
        let mut report = Report {
            files: vec![SourceFile::new("berth-check.yaml", "")],
            kinds: vec![Kind::CheckConfig],
            findings: vec![finding(0, crate::config::CONFIG_ERROR, Severity::Error)],
            notes: Vec::new(),
        };
        let configs = [config("berth-check.yaml", "exclude: ['**']\n")];
        apply(&mut report, &configs, &Selection::default());
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.kinds[0], Kind::CheckConfig);
    }
}
