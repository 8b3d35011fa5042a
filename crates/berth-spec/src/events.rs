//! The fast path of [`crate::parse_documents`]: the [`Node`] tree built
//! straight from the YAML parser's events, for the plain YAML most files
//! are (no anchors, aliases, merge keys, tags or directives).
//!
//! `berth check` spends most of its time reading YAML; going through
//! serde's data model costs about as much again as the parser itself.
//! Anything this module does not read exactly as serde-saphyr does
//! returns `None`, and the caller parses the text with serde-saphyr, so
//! the two paths cannot disagree: the tree is the same, and every syntax
//! error and resource limit is serde-saphyr's. A test compares the two on
//! every YAML file of the repository.

use std::borrow::Cow;

use berth_diagnostics::Span;
use granit_parser::{Event, Parser, ScalarStyle};

use crate::node::{Entry, Key, Node, NodeKind};

/// serde-saphyr's default budget: past this many nodes (keys included) or
/// this nesting, the text goes to serde-saphyr, which refuses it.
const MAX_NODES: usize = 250_000;
const MAX_DEPTH: usize = 64;

enum Frame {
    Seq(Span, Vec<Node>),
    /// A mapping and its key waiting for a value.
    Map(Span, Vec<Entry>, Option<Key>),
}

/// Every document of `text`, empty ones dropped; `None` when the text
/// needs serde-saphyr (see the module documentation).
pub fn documents(text: &str) -> Option<Vec<Node>> {
    let options = granit_parser::options! { emit_comments: false };
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut nodes = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        let at = || -> Option<Span> { Some(Span::new(span.start.byte_offset()?, span.end.byte_offset()?)) };
        let node = match event {
            Event::StreamStart | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_, version) => {
                if version.is_some() {
                    return None;
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                // A key is text; one YAML would read as another type
                // goes to serde-saphyr, which knows how it keys it.
                if matches!(stack.last(), Some(Frame::Map(_, _, None))) {
                    if style == ScalarStyle::Plain && (needs_resolving(&value) || value == "<<") {
                        return None;
                    }
                    if let Some(Frame::Map(_, _, key)) = stack.last_mut() {
                        *key = Some(Key { name: value.into_owned(), span: at()?, is_text: true });
                    }
                    nodes += 1;
                    continue;
                }
                Node::new(scalar(value, style)?, at()?)
            }
            Event::SequenceStart(_, anchor, tag) | Event::MappingStart(_, anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                return None;
            }
            Event::SequenceStart(..) => {
                if matches!(stack.last(), Some(Frame::Map(_, _, None))) {
                    return None;
                }
                stack.push(Frame::Seq(at()?, Vec::new()));
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                continue;
            }
            Event::MappingStart(..) => {
                if matches!(stack.last(), Some(Frame::Map(_, _, None))) {
                    return None;
                }
                stack.push(Frame::Map(at()?, Vec::new(), None));
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                continue;
            }
            Event::SequenceEnd => match stack.pop()? {
                Frame::Seq(span, items) => Node::new(NodeKind::Seq(items), span),
                Frame::Map(..) => return None,
            },
            Event::MappingEnd => match stack.pop()? {
                Frame::Map(span, entries, None) => Node::new(NodeKind::Map(entries), span),
                Frame::Map(_, _, Some(_)) | Frame::Seq(..) => return None,
            },
            _ => return None,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return None;
        }
        match stack.last_mut() {
            None if matches!(node.kind, NodeKind::Null) => {}
            None => docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, key)) => entries.push(Entry { key: key.take()?, value: node }),
        }
    }
    stack.is_empty().then_some(docs)
}

/// A plain scalar whose type YAML infers (a number, a boolean, null);
/// anything else is text.
fn needs_resolving(value: &str) -> bool {
    let Some(first) = value.bytes().next() else { return true };
    first.is_ascii_digit()
        || matches!(first, b'+' | b'-' | b'.' | b'~')
        || ["true", "false", "yes", "no", "y", "n", "on", "off", "null"].iter().any(|w| value.eq_ignore_ascii_case(w))
}

/// A scalar value: quoted and block scalars are text; a plain one YAML
/// infers a type for is resolved by serde-saphyr itself, alone.
fn scalar(value: Cow<'_, str>, style: ScalarStyle) -> Option<NodeKind> {
    if style != ScalarStyle::Plain || !needs_resolving(&value) {
        return Some(NodeKind::Str(value.into_owned()));
    }
    if value.is_empty() {
        return Some(NodeKind::Null);
    }
    if let Some(kind) = common_scalar(&value) {
        return Some(kind);
    }
    let doc = crate::yaml::parse_documents_slow(&value).ok()?;
    match doc.into_iter().next() {
        None => Some(NodeKind::Null),
        Some(node) if node.is_collection() => None,
        Some(node) => Some(node.kind),
    }
}

/// The plain scalars deployment files are full of (`replicas: 3`,
/// `containerPort: 8080`, `readOnly: true`), resolved as serde-saphyr
/// resolves them without starting it once per scalar (a sixth of `berth
/// check`'s time went there). Leading zeros, signs, floats and YAML 1.1
/// spellings still go to serde-saphyr.
fn common_scalar(value: &str) -> Option<NodeKind> {
    match value {
        "true" => Some(NodeKind::Bool(true)),
        "false" => Some(NodeKind::Bool(false)),
        "null" | "~" => Some(NodeKind::Null),
        _ if value.len() <= 18
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value.len() == 1 || !value.starts_with('0')) =>
        {
            value.parse().ok().map(NodeKind::Int)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_scalars_resolve_as_serde_saphyr_resolves_them() {
        let samples = [
            "0",
            "7",
            "80",
            "5000",
            "10368",
            "999999999999999999",
            "true",
            "false",
            "null",
            "~",
            "007",
            "0x1F",
            "-1",
            "+1",
            "1e3",
            "1.5",
            ".inf",
            "True",
            "TRUE",
            "yes",
            "No",
            "on",
            "Null",
            "1_000",
            "0o17",
            "12:30",
        ];
        for value in samples {
            let Ok(docs) = crate::yaml::parse_documents_slow(value) else {
                // Refused there (`.inf`): the fast path must give up too.
                assert_eq!((common_scalar(value), scalar(Cow::Borrowed(value), ScalarStyle::Plain)), (None, None));
                continue;
            };
            // A document that is only null is dropped: the value is null.
            let slow = docs.into_iter().next().map_or(NodeKind::Null, |n| n.kind);
            if let Some(fast) = common_scalar(value) {
                assert_eq!(fast, slow, "{value}");
            }
            assert_eq!(scalar(Cow::Borrowed(value), ScalarStyle::Plain), Some(slow), "{value}");
        }
    }

    fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') && name != "target" {
                yaml_files(&path, out);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(path);
            }
        }
    }

    /// Every YAML file of the repository (and of `BERTH_YAML_CORPUS`, a
    /// directory of other people's repositories, when given) reads the
    /// same on both paths, spans included.
    #[test]
    #[allow(clippy::disallowed_methods, reason = "a test reads where an extra corpus is, not the library")]
    fn the_fast_path_reads_every_file_as_serde_saphyr_does() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        if let Some(corpus) = std::env::var_os("BERTH_YAML_CORPUS") {
            yaml_files(std::path::Path::new(&corpus), &mut files);
        }
        let (mut fast, mut slow) = (0, 0);
        for path in &files {
            let Ok(text) = std::fs::read_to_string(path) else { continue };
            if text.len() > crate::yaml::MAX_INPUT_BYTES {
                continue;
            }
            match documents(&text) {
                Some(docs) => {
                    fast += 1;
                    let reference = crate::yaml::parse_documents_slow(&text);
                    assert_eq!(Ok(docs), reference.map_err(|d| d.message), "{}", path.display());
                }
                None => slow += 1,
            }
        }
        assert!(fast > 250 && fast > slow * 4, "{fast} files on the fast path, {slow} on serde-saphyr");
    }

    #[test]
    fn what_it_leaves_to_serde_saphyr() {
        for text in [
            "a: &x 1\nb: *x\n",
            "base: &b { x: 1 }\nother:\n  <<: *b\n",
            "a: !Ref Lb\n",
            "%YAML 1.2\n---\na: 1\n",
            "1: one\n",
            "? [a]\n: b\n",
            "a: [1, 2\n",
        ] {
            assert!(documents(text).is_none(), "{text}");
        }
        let docs = documents("a: yes\nb: 0x1F\nc: '1'\nd: ~\ne:\nf: 1.5e3\ng: -7\n---\n---\nh: [x]\n");
        let docs = docs.unwrap_or_else(|| panic!("plain YAML"));
        assert_eq!(docs.len(), 2);
        let kind = |k: &str| docs[0].get(k).map(|e| e.value.kind.clone());
        assert_eq!(kind("a"), Some(NodeKind::Bool(true)));
        assert_eq!(kind("b"), Some(NodeKind::Int(31)));
        assert_eq!(kind("c"), Some(NodeKind::Str("1".into())));
        assert_eq!(kind("d"), Some(NodeKind::Null));
        assert_eq!(kind("e"), Some(NodeKind::Null));
        assert_eq!(kind("f"), Some(NodeKind::Float(1500.0)));
        assert_eq!(kind("g"), Some(NodeKind::Int(-7)));
    }
}
