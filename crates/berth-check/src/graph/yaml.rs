//! Small readers over the span-keeping YAML tree.

use berth_diagnostics::Span;
use berth_spec::{Node, NodeKind};

/// The value at `path` of nested mappings.
pub fn at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(node, |n, key| n.get(key).map(|e| &e.value))
}

pub fn str_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    at(node, path).and_then(Node::as_str)
}

pub fn int_at(node: &Node, path: &[&str]) -> Option<i64> {
    match &at(node, path)?.kind {
        NodeKind::Int(i) => i64::try_from(*i).ok(),
        NodeKind::Str(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn bool_at(node: &Node, path: &[&str]) -> Option<bool> {
    match &at(node, path)?.kind {
        NodeKind::Bool(b) => Some(*b),
        NodeKind::Str(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn seq(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items,
        _ => &[],
    }
}

/// The span of the key `key` in `node`, else of the node itself: where a
/// finding about that field points.
pub fn key_span(node: &Node, key: &str) -> Span {
    node.get(key).map_or(node.span, |e| e.key.span)
}

/// A string-to-string mapping such as labels or a selector.
pub fn labels(node: Option<&Node>) -> Vec<(String, String)> {
    node.and_then(Node::as_map)
        .map(|entries| entries.iter().filter_map(|e| Some((e.key.name.clone(), e.value.scalar_text()?))).collect())
        .unwrap_or_default()
}
