//! Reading YAML text into a [`Node`] tree with serde-saphyr.
//!
//! serde-saphyr does the YAML work (YAML 1.2, anchors, aliases with limits
//! against alias bombs, merge keys, strict booleans so `no`/`y` stay text).
//! Duplicate keys are passed through to us so that we can report both places
//! instead of stopping at the first.

use std::fmt;

use berth_diagnostics::{Diagnostic, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Spanned};

use crate::codes;
use crate::node::{Entry, Key, Node, NodeKind};

/// Upper bound on input size. A spec is a few hundred lines; anything past
/// this is a mistake (or an attack) and is refused before parsing.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Parses one YAML document. Returns the tree, or the syntax error as a
/// diagnostic pointing at the place the parser gave up.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(
            codes::YAML_SYNTAX,
            format!("the file is {} bytes; berth reads specs up to {MAX_INPUT_BYTES} bytes", text.len()),
        ));
    }
    if text.trim().is_empty() {
        return Err(Diagnostic::error(codes::EMPTY_SPEC, "the spec is empty")
            .with_help("start from `berth init`, or write at least `version: 1` and `name: <project>`"));
    }
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        with_snippet: false,
    };
    let spanned: Result<Spanned<RawNode>, _> = serde_saphyr::from_str_with_options(text, options);
    match spanned {
        Ok(root) if matches!(root.value, RawNode::Null) => {
            Err(Diagnostic::error(codes::EMPTY_SPEC, "the spec is empty")
                .with_span(Span::new(0, 0))
                .with_help("start from `berth init`, or write at least `version: 1` and `name: <project>`"))
        }
        Ok(root) => Ok(convert(root, text)),
        Err(error) => Err(syntax_error(&error, text)),
    }
}

/// Parses every document of a YAML stream (`---` separated), as other
/// tools' files are written: YAML 1.1 booleans accepted, duplicate keys
/// kept as separate entries for the caller to report. Empty documents are
/// dropped. A syntax error anywhere fails the whole stream.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, Diagnostic> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(
            codes::YAML_SYNTAX,
            format!("the file is {} bytes; berth reads YAML files up to {MAX_INPUT_BYTES} bytes", text.len()),
        ));
    }
    if let Some(documents) = crate::events::documents(text) {
        return Ok(documents);
    }
    parse_documents_slow(text)
}

/// [`parse_documents`] through serde-saphyr: anchors, aliases, merge keys,
/// tags, and every error.
pub(crate) fn parse_documents_slow(text: &str) -> Result<Vec<Node>, Diagnostic> {
    // The alias-to-anchor ratio refuses compose's own idiom (getsentry's
    // self-hosted file merges 10 anchors 142 times); the limits on
    // aliases, replayed events and bytes still bound an alias bomb.
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: false,
        with_snippet: false,
        budget: serde_saphyr::budget! { enforce_alias_anchor_ratio: false },
    };
    let documents: Result<Vec<Spanned<RawNode>>, _> = serde_saphyr::from_multiple_with_options(text, options);
    match documents {
        Ok(docs) => {
            Ok(docs.into_iter().filter(|d| !matches!(d.value, RawNode::Null)).map(|d| convert(d, text)).collect())
        }
        Err(error) => Err(syntax_error(&error, text)),
    }
}

fn syntax_error(error: &serde_saphyr::Error, text: &str) -> Diagnostic {
    let message = error.to_string();
    // serde-saphyr prefixes "line L column C: "; the span carries that already.
    let message = message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line "))
        .map_or(message.as_str(), |(_, rest)| rest)
        .trim_start_matches("error: ")
        .to_owned();
    let mut diagnostic = Diagnostic::error(codes::YAML_SYNTAX, format!("invalid YAML: {message}")).with_help(
        "check the indentation and quoting around this line; YAML nests by indentation with spaces, not tabs",
    );
    if let Some(location) = error.location() {
        let start = offset_of(text, location.line(), location.column());
        let end = next_char_end(text, start);
        diagnostic = diagnostic.with_span(Span::new(start, end));
    }
    diagnostic
}

fn next_char_end(text: &str, start: usize) -> usize {
    text.get(start..).and_then(|rest| rest.chars().next()).map_or(start, |c| start + c.len_utf8())
}

/// Byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if (i as u64) + 1 == line {
            let col = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
            return offset + l.char_indices().nth(col).map_or(l.trim_end_matches('\n').len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

fn span_of(location: &serde_saphyr::Location, text: &str) -> Span {
    let s = location.span();
    match (s.byte_offset(), s.byte_len()) {
        (Some(start), Some(len)) => {
            let start = usize::try_from(start).unwrap_or(text.len()).min(text.len());
            let end = start.saturating_add(usize::try_from(len).unwrap_or(0)).min(text.len());
            Span::new(start, end)
        }
        _ => {
            let start = offset_of(text, location.line(), location.column());
            Span::new(start, start)
        }
    }
}

fn convert(node: Spanned<RawNode>, text: &str) -> Node {
    let span = span_of(&node.referenced, text);
    let kind = match node.value {
        RawNode::Null => NodeKind::Null,
        RawNode::Bool(b) => NodeKind::Bool(b),
        RawNode::Int(i) => NodeKind::Int(i),
        RawNode::Float(f) => NodeKind::Float(f),
        RawNode::Str(s) => NodeKind::Str(s),
        RawNode::Seq(items) => NodeKind::Seq(items.into_iter().map(|n| convert(n, text)).collect()),
        RawNode::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key_span = span_of(&k.referenced, text);
                    let key_node = convert(k, text);
                    let is_text = matches!(key_node.kind, NodeKind::Str(_));
                    Entry {
                        key: Key {
                            name: key_node.scalar_text().unwrap_or_else(|| "<complex key>".to_owned()),
                            span: key_span,
                            is_text,
                        },
                        value: convert(v, text),
                    }
                })
                .collect(),
        ),
    };
    Node::new(kind, span)
}

/// The untyped shape serde-saphyr fills in; [`convert`] turns it into a
/// [`Node`] with byte spans.
enum RawNode {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawNode>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawNode, E> {
        Ok(i128::try_from(v).map_or(RawNode::Float(v as f64), RawNode::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawNode, E> {
        Ok(RawNode::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(RawNode::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_byte_spans_of_keys_and_values() {
        let text = "name: demo\nports:\n  http: 8080\n";
        let root = parse(text).unwrap_or_else(|d| panic!("{d:?}"));
        let ports = root.get("ports").unwrap_or_else(|| panic!("no ports"));
        assert_eq!(&text[ports.key.span.start..ports.key.span.end], "ports");
        let http = ports.value.get("http").unwrap_or_else(|| panic!("no http"));
        assert_eq!(&text[http.value.span.start..http.value.span.end], "8080");
        assert_eq!(http.value.kind, NodeKind::Int(8080));
    }

    #[test]
    fn yaml_11_booleans_stay_text() {
        let root = parse("country: no\nflag: y\n").unwrap_or_else(|d| panic!("{d:?}"));
        let country = root.get("country").map(|e| &e.value.kind);
        assert_eq!(country, Some(&NodeKind::Str("no".into())));
    }

    #[test]
    fn duplicate_keys_are_passed_through() {
        let root = parse("a: 1\na: 2\n").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(root.as_map().map(<[Entry]>::len), Some(2));
    }

    #[test]
    fn many_merges_of_few_anchors_are_read_and_an_alias_bomb_is_not() {
        let mut text = String::from("x-defaults: &defaults\n  restart: always\nservices:\n");
        for i in 0..150 {
            text.push_str(&format!("  s{i}:\n    <<: *defaults\n    image: app:{i}\n"));
        }
        let docs = parse_documents(&text).unwrap_or_else(|d| panic!("{d:?}"));
        let services = docs[0].get("services").map(|e| &e.value);
        assert_eq!(services.and_then(Node::as_map).map(<[Entry]>::len), Some(150));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in
            ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
        }
        assert!(parse_documents(&bomb).is_err());
    }

    #[test]
    fn syntax_error_points_at_the_line() {
        let text = "a: [1, 2\nb: c\n";
        let d = parse(text).err().unwrap_or_else(|| panic!("parsed"));
        let span = d.span.unwrap_or_default();
        assert!(span.start >= 9, "{span:?}");
    }
}
