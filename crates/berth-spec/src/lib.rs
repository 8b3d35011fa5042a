//! `berth.yaml`: reading, merging environment overlays, typed
//! deserialization with every problem reported, and validation.
//!
//! This crate is pure: it takes text and returns data plus diagnostics. It
//! never touches the file system, the network or the clock.

pub mod codes;
mod de;
pub mod model;
mod node;
mod overlay;
mod path;
pub mod reference;
pub mod schema;
mod suggest;
mod validate;
mod yaml;

use berth_diagnostics::{Diagnostic, Severity, Span};

pub use model::*;
pub use node::{Entry, Key, Node, NodeKind};
pub use path::{Anchor, Path, Segment, locate};
pub use suggest::did_you_mean;
pub use yaml::parse_documents;

/// A spec read for one environment.
#[derive(Debug)]
pub struct Loaded {
    /// The typed spec, when it has no errors (warnings allowed).
    pub spec: Option<Spec>,
    /// The environment the overlay came from, if any.
    pub environment: Option<String>,
    /// Every problem found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads `text` as a spec for `environment` (the base when `None`).
pub fn load(text: &str, environment: Option<&str>) -> Loaded {
    let mut loaded = Loaded { spec: None, environment: environment.map(str::to_owned), diagnostics: Vec::new() };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(d) => {
            loaded.diagnostics.push(d);
            return loaded;
        }
    };
    let (merged, overlay_diagnostics) = match overlay::apply(&root, environment) {
        Ok(merged) => merged,
        Err(d) => {
            loaded.diagnostics.push(d);
            return loaded;
        }
    };
    loaded.diagnostics.extend(overlay_diagnostics);
    let root_anchor = Span::new(0, 0);
    let typed = de::from_node::<Spec>(&merged, root_anchor);
    loaded.diagnostics.extend(typed.diagnostics.iter().cloned());
    // Overlay sections are not typed with the base, so check their shape here too.
    if environment.is_none() {
        let env_shape = de::from_node::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>(
            &root.get("environments").map_or(Node::new(NodeKind::Null, root_anchor), |e| e.value.clone()),
            root.get("environments").map_or(root_anchor, |e| e.key.span),
        );
        loaded.diagnostics.extend(env_shape.diagnostics);
    }
    // Checks across sections need every value the user wrote; after a value
    // had to be dropped they would report its absence as a second problem.
    if let (Some(spec), true) = (&typed.value, typed.complete) {
        loaded.diagnostics.extend(validate::validate(spec, &merged));
    }
    suppress(text, &mut loaded.diagnostics);
    sort(&mut loaded.diagnostics);
    if !loaded.has_errors() {
        loaded.spec = typed.value;
    }
    loaded
}

/// `# berth: ignore[CODE] reason` on a diagnostic's line or the line above
/// accepts it: it stays in the output as information with the reason. Only
/// warnings and the value-judging secret check can be accepted, and only
/// with a reason; a spec that cannot be read cannot be argued with.
fn suppress(text: &str, diagnostics: &mut [Diagnostic]) {
    let lines: Vec<&str> = text.lines().collect();
    for d in diagnostics.iter_mut() {
        let acceptable = d.severity == Severity::Warning || d.code == codes::SECRET_IN_SPEC;
        let Some(span) = d.span.filter(|_| acceptable) else { continue };
        let line = text[..span.start.min(text.len())].matches('\n').count();
        let marker = format!("# berth: ignore[{}]", d.code.id);
        let reason = [Some(line), line.checked_sub(1)].into_iter().flatten().find_map(|l| {
            let found = lines.get(l)?;
            let at = found.find(&marker)?;
            Some(found[at + marker.len()..].trim().to_owned()).filter(|r| !r.is_empty())
        });
        if let Some(reason) = reason {
            d.severity = Severity::Info;
            d.message = format!("{} (accepted: {reason})", d.message);
        }
    }
}

/// Checks the base and every declared environment, reporting each problem
/// once. This is what `berth validate` runs without `--env`.
pub fn check_all(text: &str) -> Vec<Diagnostic> {
    let base = load(text, None);
    let mut diagnostics = base.diagnostics;
    if let Ok(root) = yaml::parse(text) {
        for (name, _) in overlay::declared(&root) {
            for d in load(text, Some(&name)).diagnostics {
                if !diagnostics.contains(&d) {
                    diagnostics.push(d);
                }
            }
        }
    }
    sort(&mut diagnostics);
    diagnostics
}

/// The environments `text` declares, in file order; empty when it does not parse.
pub fn environments(text: &str) -> Vec<String> {
    yaml::parse(text).map(|root| overlay::declared(&root).into_iter().map(|(n, _)| n).collect()).unwrap_or_default()
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.span.map_or(0, |s| s.start), std::cmp::Reverse(d.severity == Severity::Error)));
}
