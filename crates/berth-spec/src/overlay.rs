//! Environment overlays, merged over the base at the tree level so that every
//! merged value keeps the span of the line that set it.

use berth_diagnostics::{Diagnostic, Span};

use crate::codes;
use crate::node::{Entry, Node, NodeKind};
use crate::suggest::did_you_mean;

/// Keys an overlay may not set: they identify the project, not an environment.
const FIXED_KEYS: &[&str] = &["version", "name", "environments"];

/// The environments a spec declares, with the span of each name.
pub fn declared(root: &Node) -> Vec<(String, Span)> {
    root.get("environments")
        .and_then(|e| e.value.as_map())
        .map(|entries| entries.iter().map(|e| (e.key.name.clone(), e.key.span)).collect())
        .unwrap_or_default()
}

/// Where `environment`'s overlay is written: the span of its key (`prod:`)
/// and the span from that key to the end of the last thing under it.
pub fn place(root: &Node, environment: &str) -> Option<(Span, Span)> {
    let entry = root.get("environments")?.value.as_map()?.iter().find(|e| e.key.name == environment)?;
    let end = last_end(&entry.value).max(entry.key.span.end);
    Some((entry.key.span, Span::new(entry.key.span.start, end)))
}

/// The end of the last span in `node`.
fn last_end(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Map(entries) => {
            entries.iter().map(|e| e.key.span.end.max(last_end(&e.value))).max().unwrap_or(node.span.end)
        }
        NodeKind::Seq(items) => items.iter().map(last_end).max().unwrap_or(node.span.end),
        _ => node.span.end,
    }
}

/// The base tree with `environment`'s overlay merged over it, without the
/// `environments` section. Unknown environments are an error.
pub fn apply(root: &Node, environment: Option<&str>) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut base = root.clone();
    let overlays = match &mut base.kind {
        NodeKind::Map(entries) => {
            let position = entries.iter().position(|e| e.key.name == "environments");
            position.map(|i| entries.remove(i))
        }
        _ => None,
    };
    let Some(name) = environment else {
        return Ok((base, Vec::new()));
    };
    let declared: Vec<&Entry> =
        overlays.as_ref().and_then(|o| o.value.as_map()).map(|m| m.iter().collect()).unwrap_or_default();
    let Some(overlay) = declared.iter().find(|e| e.key.name == name) else {
        let names: Vec<&str> = declared.iter().map(|e| e.key.name.as_str()).collect();
        let mut d = Diagnostic::error(codes::UNKNOWN_ENVIRONMENT, format!("the spec has no environment `{name}`"));
        if let Some(section) = &overlays {
            d = d.with_span(section.key.span).with_label("environments are declared here");
        }
        d = match (names.is_empty(), did_you_mean(name, names.iter().copied())) {
            (true, _) => d.with_help("add an `environments:` section with an overlay for it, or leave out `--env`"),
            (false, Some(best)) => d.with_help(format!("did you mean `{best}`? declared: {}", names.join(", "))),
            (false, None) => d.with_help(format!("declared environments: {}", names.join(", "))),
        };
        return Err(d);
    };
    let mut diagnostics = Vec::new();
    let mut overlay_value = overlay.value.clone();
    if let NodeKind::Map(entries) = &mut overlay_value.kind {
        entries.retain(|e| {
            let fixed = FIXED_KEYS.contains(&e.key.name.as_str());
            if fixed {
                diagnostics.push(
                    Diagnostic::error(codes::NOT_APPLICABLE, format!("an environment overlay cannot set `{}`", e.key.name))
                        .with_span(e.key.span)
                        .with_help("`version`, `name` and `environments` are the same in every environment; set them at the top level"),
                );
            }
            !fixed
        });
    } else if !matches!(overlay_value.kind, NodeKind::Null) {
        diagnostics.push(
            Diagnostic::error(
                codes::WRONG_TYPE,
                format!("the overlay for `{name}` must be a mapping, found {}", overlay_value.type_name()),
            )
            .with_span(overlay.key.span),
        );
        return Ok((base, diagnostics));
    }
    merge(&mut base, overlay_value);
    Ok((base, diagnostics))
}

/// Mappings merge key by key; anything else replaces; `null` removes. A
/// replaced value takes its key's place in the overlay with it, so a
/// diagnostic about it (or about the list or mapping it is) points at the
/// overlay's line, not at the base's.
fn merge(base: &mut Node, overlay: Node) {
    match (&mut base.kind, overlay.kind) {
        (NodeKind::Map(base_entries), NodeKind::Map(overlay_entries)) => {
            for entry in overlay_entries {
                let existing = base_entries.iter().position(|e| e.key.name == entry.key.name);
                match (existing, &entry.value.kind) {
                    (Some(i), NodeKind::Null) => {
                        base_entries.remove(i);
                    }
                    (Some(i), NodeKind::Map(_)) if matches!(base_entries[i].value.kind, NodeKind::Map(_)) => {
                        merge(&mut base_entries[i].value, entry.value);
                    }
                    (Some(i), _) => base_entries[i] = entry,
                    (None, NodeKind::Null) => {}
                    (None, _) => base_entries.push(entry),
                }
            }
        }
        (_, kind) => {
            base.kind = kind;
            base.span = overlay.span;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn tree(text: &str) -> Node {
        parse(text).unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn overlay_merges_maps_and_replaces_scalars() {
        let root = tree("a: {b: 1, c: 2}\nl: [1]\nenvironments:\n  prod:\n    a: {c: 3}\n    l: [2, 3]\n");
        let (merged, diags) = apply(&root, Some("prod")).unwrap_or_else(|d| panic!("{d:?}"));
        assert!(diags.is_empty());
        let a = merged.get("a").map(|e| &e.value).unwrap_or_else(|| panic!());
        assert_eq!(a.get("b").map(|e| &e.value.kind), Some(&NodeKind::Int(1)));
        assert_eq!(a.get("c").map(|e| &e.value.kind), Some(&NodeKind::Int(3)));
        assert!(merged.get("environments").is_none());
        match &merged.get("l").map(|e| &e.value.kind) {
            Some(NodeKind::Seq(items)) => assert_eq!(items.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_removes_a_key() {
        let root = tree("a: {b: 1, c: 2}\nenvironments:\n  dev:\n    a: {c: null}\n");
        let (merged, _) = apply(&root, Some("dev")).unwrap_or_else(|d| panic!("{d:?}"));
        let a = merged.get("a").map(|e| &e.value).unwrap_or_else(|| panic!());
        assert!(a.get("c").is_none());
    }

    #[test]
    fn unknown_environment_suggests_a_declared_one() {
        let root = tree("environments:\n  production: {}\n");
        let d = apply(&root, Some("prodution")).err().unwrap_or_else(|| panic!());
        assert!(d.help.unwrap_or_default().contains("production"));
    }
}
