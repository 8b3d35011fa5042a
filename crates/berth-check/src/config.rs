//! `berth-check.yaml`: suppressions that live beside the code instead of in
//! it, for files that cannot carry a comment or annotation (generated
//! manifests, vendored charts) or for a rule a team has decided against.
//! Every entry needs a reason; it applies to the files under the
//! directory holding the configuration.
//!
//! ```yaml
//! ignore:
//!   - rule: K002                  # a code or a rule name
//!     paths: ["legacy/**"]        # globs relative to this file; all files if absent
//!     object: Deployment/worker   # only findings about this object (optional)
//!     reason: the legacy worker runs as root until it moves to the new image (#412)
//! ```

use berth_diagnostics::{Code, Diagnostic};
use berth_spec::Node;
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::graph::yaml::{at, seq, str_at};
use crate::registry;

pub const CONFIG_ERROR: Code = Code::new("E002", "check-config");

/// True for the names a configuration file may have.
pub fn is_config(name: &str) -> bool {
    matches!(name, "berth-check.yaml" | "berth-check.yml" | ".berth-check.yaml" | ".berth-check.yml")
}

#[derive(Debug)]
pub struct Ignore {
    pub code: &'static str,
    pub paths: Option<GlobSet>,
    /// `Kind/name`.
    pub object: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Config {
    /// The directory the configuration applies to (`""` for the root).
    pub dir: String,
    pub ignores: Vec<Ignore>,
}

impl Config {
    /// The reason of the first entry that suppresses `code` in `path`
    /// (about `object`, when the finding is about one).
    pub fn reason(&self, code: &str, path: &str, object: Option<&str>) -> Option<&str> {
        // A file rendered from a spec is judged by the spec's path.
        let path = path.split(" → ").next().unwrap_or(path);
        let relative = if self.dir.is_empty() { Some(path) } else { path.strip_prefix(&format!("{}/", self.dir)) }?;
        self.ignores
            .iter()
            .find(|i| {
                i.code == code
                    && i.paths.as_ref().is_none_or(|p| p.is_match(relative))
                    && i.object.as_deref().is_none_or(|o| object.is_some_and(|have| o.eq_ignore_ascii_case(have)))
            })
            .map(|i| i.reason.as_str())
    }
}

/// Reads one configuration; problems come back as diagnostics on it.
pub fn parse(path: &str, text: &str) -> (Config, Vec<Diagnostic>) {
    let dir = path.rsplit_once(['/', '\\']).map_or_else(String::new, |(d, _)| d.to_owned());
    let mut config = Config { dir, ignores: Vec::new() };
    let mut problems = Vec::new();
    let docs = match berth_spec::parse_documents(text) {
        Ok(docs) => docs,
        Err(mut d) => {
            d.code = CONFIG_ERROR;
            return (config, vec![d]);
        }
    };
    let Some(doc) = docs.first() else { return (config, problems) };
    let ignore = at(doc, &["ignore"]);
    if ignore.is_none() && !matches!(doc.kind, berth_spec::NodeKind::Null) {
        problems.push(
            Diagnostic::error(CONFIG_ERROR, "expected a top-level `ignore:` list")
                .with_span(doc.span)
                .with_help("write `ignore:` followed by entries with `rule:` and `reason:`"),
        );
    }
    for entry in seq(ignore) {
        if let Some(i) = entry_of(entry, &mut problems) {
            config.ignores.push(i);
        }
    }
    (config, problems)
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
    let mut paths = None;
    if let Some(list) = at(entry, &["paths"]) {
        let mut builder = GlobSetBuilder::new();
        for p in seq(Some(list)) {
            let pattern = p.scalar_text().unwrap_or_default();
            match Glob::new(&pattern) {
                Ok(g) => {
                    builder.add(g);
                }
                Err(e) => problems.push(
                    Diagnostic::error(CONFIG_ERROR, format!("`{pattern}` is not a glob: {e}"))
                        .with_span(p.span)
                        .with_help("globs look like `k8s/**/*.yaml`"),
                ),
            }
        }
        paths = builder.build().ok();
    }
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
}
