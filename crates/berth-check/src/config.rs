//! `berth-check.yaml`: how `berth check` reads a repository, kept beside
//! the code. It applies to the files under the directory holding it; a
//! configuration deeper in the tree is read after (and wins over) one
//! above it, and `--select`/`--ignore` on the command line win over both
//! (see [`crate::select`]).
//!
//! ```yaml
//! # Which rules run: codes, names or code prefixes (`K`, `X01`, `ALL`).
//! select: [K, D, X]               # only these (default: every rule)
//! ignore_rules: [K013, D003]      # never these
//! rules:
//!   K004: off                     # the same as listing it in ignore_rules
//!   mutable-image-tag: error      # a severity of its own: error, warning or info
//! exclude:                        # never reported on: globs relative to this file
//!   - vendor/**
//!   - third_party                 # a directory excludes everything under it
//! ignore:                         # findings accepted, each with a reason; they stay in the report
//!   - rule: K002                  # a code or a rule name
//!     paths: ["legacy/**"]        # globs relative to this file; all files if absent
//!     object: Deployment/worker   # only findings about this object (optional)
//!     reason: the legacy worker runs as root until it moves to the new image (#412)
//! ```
//!
//! `ignore` keeps a finding in the report as suppressed, with its reason;
//! a rule turned off by `select`, `ignore_rules` or `rules: off` reports
//! nothing at all. Only rules can be selected, turned off or given another
//! severity: a file that does not parse (`E001`) and a malformed
//! configuration (`E002`) always count, and a berth spec's own diagnostics
//! are accepted in the spec (`# berth: ignore[<CODE>] <reason>`).

use berth_diagnostics::{Code, Diagnostic, Severity};
use berth_spec::{Node, NodeKind};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::graph::yaml::{at, seq, str_at};
use crate::registry;
use crate::select::{Selector, SelectorError};

pub const CONFIG_ERROR: Code = Code::new("E002", "check-config");

/// The names a configuration file may have, in the order they are looked for.
pub const NAMES: [&str; 4] = ["berth-check.yaml", "berth-check.yml", ".berth-check.yaml", ".berth-check.yml"];

/// The top-level keys of a configuration.
const KEYS: [&str; 5] = ["select", "ignore_rules", "rules", "exclude", "ignore"];

/// True for the names a configuration file may have.
pub fn is_config(name: &str) -> bool {
    NAMES.contains(&name)
}

#[derive(Debug)]
pub struct Ignore {
    pub code: &'static str,
    pub paths: Option<GlobSet>,
    /// `Kind/name`.
    pub object: Option<String>,
    pub reason: String,
}

/// What `rules:` says about one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSetting {
    /// Turned off: the rule reports nothing under this configuration.
    Off,
    /// Reported with this severity instead of the rule's own.
    Severity(Severity),
}

#[derive(Debug, Default)]
pub struct Config {
    /// The directory the configuration applies to (`""` for the root).
    pub dir: String,
    pub ignores: Vec<Ignore>,
    /// `select:`; `None` when absent (every rule, or what a configuration
    /// above selects).
    pub select: Option<Vec<Selector>>,
    /// `ignore_rules:`.
    pub ignore_rules: Vec<Selector>,
    /// `rules:`, by rule code.
    pub rules: Vec<(&'static str, RuleSetting)>,
    /// `exclude:`.
    pub exclude: Option<GlobSet>,
}

impl Config {
    /// `path` relative to this configuration's directory, when the file
    /// lies under it. A file rendered from a spec (`berth.yaml →
    /// kubernetes/web.yaml`) is judged by the spec's path.
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        let path = path.split(" → ").next().unwrap_or(path);
        if self.dir.is_empty() {
            return Some(path);
        }
        path.strip_prefix(self.dir.as_str())?.strip_prefix('/')
    }

    /// The reason of the first entry that suppresses `code` in `path`
    /// (about `object`, when the finding is about one).
    pub fn reason(&self, code: &str, path: &str, object: Option<&str>) -> Option<&str> {
        let relative = self.relative(path)?;
        self.ignores
            .iter()
            .find(|i| {
                i.code == code
                    && i.paths.as_ref().is_none_or(|p| p.is_match(relative))
                    && i.object.as_deref().is_none_or(|o| object.is_some_and(|have| o.eq_ignore_ascii_case(have)))
            })
            .map(|i| i.reason.as_str())
    }

    /// Whether `exclude:` names `path` or a directory above it (so
    /// `vendor` excludes `vendor/chart/values.yaml` as `vendor/**` does).
    pub fn excludes(&self, path: &str) -> bool {
        let (Some(set), Some(mut candidate)) = (&self.exclude, self.relative(path)) else { return false };
        loop {
            if set.is_match(candidate) {
                return true;
            }
            match candidate.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => candidate = parent,
                _ => return false,
            }
        }
    }

    /// What `rules:` says about `code`.
    pub fn setting(&self, code: &str) -> Option<RuleSetting> {
        self.rules.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
    }
}

/// Reads one configuration; problems come back as diagnostics on it.
pub fn parse(path: &str, text: &str) -> (Config, Vec<Diagnostic>) {
    let dir = path.rsplit_once(['/', '\\']).map_or_else(String::new, |(d, _)| d.to_owned());
    let mut config = Config { dir, ..Config::default() };
    let mut problems = Vec::new();
    let docs = match berth_spec::parse_documents(text) {
        Ok(docs) => docs,
        Err(mut d) => {
            d.code = CONFIG_ERROR;
            return (config, vec![d]);
        }
    };
    let Some(doc) = docs.first() else { return (config, problems) };
    match &doc.kind {
        NodeKind::Null => return (config, problems),
        NodeKind::Map(entries) => {
            for entry in entries.iter().filter(|e| !KEYS.contains(&e.key.name.as_str())) {
                let help = berth_spec::did_you_mean(&entry.key.name, KEYS)
                    .map_or_else(|| format!("the keys are {}", KEYS.join(", ")), |s| format!("did you mean `{s}`?"));
                problems.push(
                    Diagnostic::error(CONFIG_ERROR, format!("unknown key `{}`", entry.key.name))
                        .with_span(entry.key.span)
                        .with_help(help),
                );
            }
        }
        _ => {
            problems.push(
                Diagnostic::error(
                    CONFIG_ERROR,
                    "expected a mapping of `select`, `ignore_rules`, `rules`, `exclude` and `ignore`",
                )
                .with_span(doc.span)
                .with_help(
                    "write `ignore:` followed by entries with `rule:` and `reason:`, or `rules:` with `<CODE>: off`",
                ),
            );
            return (config, problems);
        }
    }
    // An empty `select:` (null) is no selection; `select: []` selects nothing.
    config.select = at(doc, &["select"])
        .filter(|n| !matches!(n.kind, NodeKind::Null))
        .map(|n| selectors(n, "select", &mut problems));
    if let Some(node) = at(doc, &["ignore_rules"]) {
        config.ignore_rules = selectors(node, "ignore_rules", &mut problems);
    }
    if let Some(node) = at(doc, &["rules"]) {
        config.rules = rule_settings(node, &mut problems);
    }
    if let Some(node) = at(doc, &["exclude"]) {
        config.exclude = globs(node, &mut problems);
    }
    for entry in seq(at(doc, &["ignore"])) {
        if let Some(i) = entry_of(entry, &mut problems) {
            config.ignores.push(i);
        }
    }
    (config, problems)
}

/// The scalars of a list, or of one comma-separated string (`select: K, X`).
fn items(node: &Node) -> Vec<(String, &Node)> {
    let list: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Null => Vec::new(),
        _ => vec![node],
    };
    list.into_iter()
        .flat_map(|n| match n.scalar_text() {
            Some(text) if matches!(n.kind, NodeKind::Str(_)) && text.contains(',') => {
                text.split(',').map(|piece| (piece.trim().to_owned(), n)).filter(|(p, _)| !p.is_empty()).collect()
            }
            Some(text) => vec![(text.trim().to_owned(), n)],
            // A nested list or mapping: reported by the caller as no rule.
            None => vec![(String::new(), n)],
        })
        .collect()
}

fn selectors(node: &Node, key: &str, problems: &mut Vec<Diagnostic>) -> Vec<Selector> {
    let mut out = Vec::new();
    for (text, item) in items(node) {
        match Selector::parse(&text) {
            Ok(s) => out.push(s),
            Err(e) => problems.push(selector_problem(&e, key, item)),
        }
    }
    out
}

fn selector_problem(error: &SelectorError, key: &str, item: &Node) -> Diagnostic {
    Diagnostic::error(CONFIG_ERROR, format!("`{key}`: {error}")).with_span(item.span).with_help(error.help())
}

/// `rules:`: one rule per key (a code or a name), `off` or a severity.
fn rule_settings(node: &Node, problems: &mut Vec<Diagnostic>) -> Vec<(&'static str, RuleSetting)> {
    let Some(entries) = node.as_map() else {
        if !matches!(node.kind, NodeKind::Null) {
            problems.push(
                Diagnostic::error(CONFIG_ERROR, "`rules` is a mapping of rules to settings")
                    .with_span(node.span)
                    .with_help("write `rules:` followed by lines like `K004: off` or `mutable-image-tag: error`"),
            );
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.key.name.trim();
        let Some(found) = registry::find(name) else {
            // A prefix or an E code: say what `rules:` takes instead.
            let message = match Selector::parse(name) {
                Ok(_) => format!(
                    "`rules` takes one rule per key, not the prefix `{name}`; use `select` or `ignore_rules` for prefixes"
                ),
                Err(e) => format!("`rules`: {e}"),
            };
            let help = Selector::parse(name).err().map_or_else(
                || "name a rule code (`K004`) or a rule name (`writable-root-filesystem`)".to_owned(),
                |e| e.help(),
            );
            problems.push(Diagnostic::error(CONFIG_ERROR, message).with_span(entry.key.span).with_help(help));
            continue;
        };
        let code = found.info.code.id;
        let setting = match &entry.value.kind {
            // YAML 1.1 reads `off`, `no` and `false` as false.
            NodeKind::Bool(false) => Some(RuleSetting::Off),
            NodeKind::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "off" => Some(RuleSetting::Off),
                "error" => Some(RuleSetting::Severity(Severity::Error)),
                "warning" => Some(RuleSetting::Severity(Severity::Warning)),
                "info" => Some(RuleSetting::Severity(Severity::Info)),
                _ => None,
            },
            _ => None,
        };
        let Some(setting) = setting else {
            let written = entry.value.scalar_text().unwrap_or_else(|| entry.value.type_name().to_owned());
            problems.push(
                Diagnostic::error(CONFIG_ERROR, format!("`{written}` is no setting for {code}"))
                    .with_span(entry.value.span)
                    .with_help("write `off`, `error`, `warning` or `info`"),
            );
            continue;
        };
        if out.iter().any(|(c, _)| *c == code) {
            problems.push(
                Diagnostic::error(CONFIG_ERROR, format!("{code} is set twice in `rules`"))
                    .with_span(entry.key.span)
                    .with_help("keep one line per rule (a code and its name are the same rule)"),
            );
            continue;
        }
        out.push((code, setting));
    }
    out
}

/// A list of globs (or one); problems for those that do not parse. A
/// list of none matches nothing, so a mistake never widens what an entry
/// covers.
fn globs(node: &Node, problems: &mut Vec<Diagnostic>) -> Option<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for (pattern, item) in items(node) {
        match Glob::new(&pattern) {
            Ok(g) if !pattern.is_empty() => {
                builder.add(g);
            }
            Ok(_) => problems.push(
                Diagnostic::error(CONFIG_ERROR, "expected a glob")
                    .with_span(item.span)
                    .with_help("globs look like `k8s/**/*.yaml`"),
            ),
            Err(e) => problems.push(
                Diagnostic::error(CONFIG_ERROR, format!("`{pattern}` is not a glob: {e}"))
                    .with_span(item.span)
                    .with_help("globs look like `k8s/**/*.yaml`"),
            ),
        }
    }
    builder.build().ok()
}

fn entry_of(entry: &Node, problems: &mut Vec<Diagnostic>) -> Option<Ignore> {
    let Some(rule_node) = at(entry, &["rule"]) else {
        problems.push(
            Diagnostic::error(CONFIG_ERROR, "this entry names no `rule`")
                .with_span(entry.span)
                .with_help("add `rule: <CODE>` (for example `rule: K002`)"),
        );
        return None;
    };
    let rule = rule_node.scalar_text().unwrap_or_default();
    let Some(found) = registry::find(&rule) else {
        let names = registry::RULES.iter().flat_map(|e| [e.info.code.id, e.info.code.name]);
        let help = berth_spec::did_you_mean(&rule, names)
            .map_or_else(|| "see docs/rules.md for the codes".to_owned(), |s| format!("did you mean `{s}`?"));
        problems.push(
            Diagnostic::error(CONFIG_ERROR, format!("no rule `{rule}`")).with_span(rule_node.span).with_help(help),
        );
        return None;
    };
    let reason = str_at(entry, &["reason"]).map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        problems.push(
            Diagnostic::error(CONFIG_ERROR, format!("ignoring {} needs a `reason`", found.info.code.id))
                .with_span(rule_node.span)
                .with_help("say why the finding does not apply here; it is shown wherever the finding is"),
        );
        return None;
    }
    let paths = at(entry, &["paths"]).and_then(|list| globs(list, problems));
    Some(Ignore {
        code: found.info.code.id,
        paths,
        object: str_at(entry, &["object"]).map(str::to_owned),
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_matching() {
        let (config, problems) = parse(
            "repo/berth-check.yaml",
            "ignore:\n  - rule: runs-as-root\n    paths: ['legacy/**']\n    reason: moving soon\n  - rule: K005\n    object: Deployment/worker\n    reason: sized by VPA\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.reason("K002", "repo/legacy/a.yaml", None), Some("moving soon"));
        assert_eq!(config.reason("K002", "repo/new/a.yaml", None), None);
        assert_eq!(config.reason("K002", "other/legacy/a.yaml", None), None);
        assert_eq!(config.reason("K005", "repo/x.yaml", Some("Deployment/worker")), Some("sized by VPA"));
        assert_eq!(config.reason("K005", "repo/x.yaml", Some("Deployment/web")), None);
    }

    #[test]
    fn problems_point_at_the_entry() {
        let (_, problems) = parse("berth-check.yaml", "ignore:\n  - rule: K02\n    reason: x\n  - rule: K001\n");
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("no rule `K02`"));
        assert!(problems[1].message.contains("needs a `reason`"));
        assert!(problems.iter().all(|p| p.span.is_some()));
    }

    #[test]
    fn selection_keys() {
        let (config, problems) = parse(
            "repo/berth-check.yaml",
            "select: [K, x01]\nignore_rules: K013, add-instead-of-copy\nrules:\n  K004: off\n  mutable-image-tag: error\n  D002: info\nexclude: ['vendor/**', third_party]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let select: Vec<&str> = config.select.iter().flatten().map(Selector::prefix).collect();
        assert_eq!(select, ["K", "X01"]);
        let ignored: Vec<&str> = config.ignore_rules.iter().map(Selector::prefix).collect();
        assert_eq!(ignored, ["K013", "D003"]);
        assert_eq!(config.setting("K004"), Some(RuleSetting::Off));
        assert_eq!(config.setting("K008"), Some(RuleSetting::Severity(Severity::Error)));
        assert_eq!(config.setting("D002"), Some(RuleSetting::Severity(Severity::Info)));
        assert_eq!(config.setting("K001"), None);
        assert!(config.excludes("repo/vendor/chart/a.yaml"));
        assert!(config.excludes("repo/third_party/x/Dockerfile"));
        assert!(!config.excludes("repo/k8s/a.yaml"));
        assert!(!config.excludes("other/vendor/a.yaml"));
        assert!(!config.excludes("repo/third_party_notes/a.yaml"));
    }

    #[test]
    fn absent_and_empty_select_differ() {
        let (absent, _) = parse("berth-check.yaml", "select:\nrules: {}\n");
        assert!(absent.select.is_none());
        let (empty, problems) = parse("berth-check.yaml", "select: []\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(empty.select.as_deref().map(<[Selector]>::len), Some(0));
    }

    #[test]
    fn selection_mistakes_are_reported_with_suggestions() {
        let (_, problems) = parse(
            "berth-check.yaml",
            "selct: [K]\nselect: [K02, E001]\nignore_rules: [S301]\nrules:\n  K: off\n  K004: loud\n  privileged-containr: error\n  E001: warning\n  writable-root-filesystem: info\n  K004: error\nexclude: ['[']\n",
        );
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
        assert!(has("unknown key `selct`"), "{messages:?}");
        assert!(has("no rule or code prefix `K02`"), "{messages:?}");
        assert!(has("`E001` always counts"), "{messages:?}");
        assert!(has("no rule or code prefix `S301`"), "{messages:?}");
        assert!(has("not the prefix `K`"), "{messages:?}");
        assert!(has("`loud` is no setting for K004"), "{messages:?}");
        assert!(has("no rule or code prefix `privileged-containr`"), "{messages:?}");
        assert!(has("K004 is set twice"), "{messages:?}");
        assert!(has("is not a glob"), "{messages:?}");
        assert!(problems.iter().all(|p| p.span.is_some() && p.code == CONFIG_ERROR));
        let help = problems
            .iter()
            .find(|p| p.message.contains("privileged-containr"))
            .and_then(|p| p.help.as_deref())
            .unwrap_or_default();
        assert!(help.contains("did you mean `privileged-container`?"), "{help}");
        let first = problems.iter().find(|p| p.message.contains("`K02`")).and_then(|p| p.help.as_deref());
        assert!(first.is_some_and(|h| h.starts_with("did you mean")), "{first:?}");
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_reported() {
        let (_, problems) = parse("berth-check.yaml", "- rule: K001\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("expected a mapping"));
    }
}
