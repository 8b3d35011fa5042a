//! Typed deserialization from a [`Node`] tree that reports every problem, not
//! only the first.
//!
//! serde's derived code stops at the first error. To collect them all we run
//! it in rounds: each round records its problems as diagnostics, and when a
//! value cannot be built, the entry holding it is taken out of a working copy
//! of the tree and the next round starts. Unknown keys are skipped with a
//! diagnostic and never stop a round. A spec has hundreds of nodes, so the
//! few extra rounds cost microseconds.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use berth_diagnostics::{Diagnostic, Span};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::codes;
use crate::node::{Entry, Node, NodeKind};
use crate::path::{Path, Segment};
use crate::suggest::did_you_mean;

/// Separates a message from its hint inside a serde error string, so custom
/// `Deserialize` impls (durations, quantities) can give a hint too.
pub const HELP_SEPARATOR: &str = "\n= help: ";

const MAX_ROUNDS: usize = 256;

/// The result of [`from_node`].
pub struct Deserialized<T> {
    /// The value, when one could be built.
    pub value: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
    /// True when no entry had to be dropped to build the value, so checks on
    /// the value see everything the user wrote (unknown keys aside).
    pub complete: bool,
}

/// Deserializes `root` into `T`, returning the value (when it could be built)
/// and every diagnostic found on the way.
pub fn from_node<T: DeserializeOwned>(root: &Node, root_anchor: Span) -> Deserialized<T> {
    let mut tree = root.clone();
    let mut removed: BTreeSet<(Path, String)> = BTreeSet::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut dropped_item = false;
    for _ in 0..MAX_ROUNDS {
        let ctx = Ctx { diagnostics: RefCell::new(Vec::new()), failed_at: RefCell::new(None), removed: &removed };
        let result = T::deserialize(NodeDe { node: &tree, anchor: root_anchor, path: Path::root(), ctx: &ctx });
        for d in ctx.diagnostics.into_inner() {
            if !diagnostics.contains(&d) {
                diagnostics.push(d);
            }
        }
        match (result, ctx.failed_at.into_inner()) {
            (Ok(value), _) => {
                return Deserialized { value: Some(value), diagnostics, complete: removed.is_empty() && !dropped_item };
            }
            (Err(_), Some(path)) => {
                let Some((parent, Segment::Key(key))) = path.parent().map(|(p, s)| (p, s.clone())) else {
                    dropped_item = true;
                    if !remove(&mut tree, &path) {
                        break;
                    }
                    continue;
                };
                removed.insert((parent, key));
                if !remove(&mut tree, &path) {
                    break;
                }
            }
            (Err(error), None) => {
                if !error.reported {
                    diagnostics.push(Diagnostic::error(codes::INVALID_VALUE, error.message).with_span(root_anchor));
                }
                break;
            }
        }
    }
    Deserialized { value: None, diagnostics, complete: false }
}

/// Removes the entry or item at `path`; false when there is nothing to remove.
fn remove(tree: &mut Node, path: &Path) -> bool {
    let Some((last, parents)) = path.0.split_last() else {
        return false;
    };
    let mut node = tree;
    for segment in parents {
        let next = match (segment, &mut node.kind) {
            (Segment::Key(k), NodeKind::Map(entries)) => {
                entries.iter_mut().find(|e| &e.key.name == k).map(|e| &mut e.value)
            }
            (Segment::Index(i), NodeKind::Seq(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(child) => node = child,
            None => return false,
        }
    }
    match (last, &mut node.kind) {
        (Segment::Key(k), NodeKind::Map(entries)) => {
            let before = entries.len();
            entries.retain(|e| &e.key.name != k);
            entries.len() != before
        }
        (Segment::Index(i), NodeKind::Seq(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

struct Ctx<'r> {
    diagnostics: RefCell<Vec<Diagnostic>>,
    failed_at: RefCell<Option<Path>>,
    removed: &'r BTreeSet<(Path, String)>,
}

#[derive(Debug)]
pub struct Error {
    message: String,
    /// Already recorded as a diagnostic; callers only unwind.
    reported: bool,
    missing_field: Option<&'static str>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self { message: msg.to_string(), reported: false, missing_field: None }
    }

    fn missing_field(field: &'static str) -> Self {
        Self { message: format!("missing required key `{field}`"), reported: false, missing_field: Some(field) }
    }
}

impl Error {
    fn reported() -> Self {
        Self { message: String::new(), reported: true, missing_field: None }
    }
}

struct NodeDe<'a, 'r> {
    node: &'a Node,
    /// Where to point for this value: its own span for scalars, the key that
    /// introduced it for collections.
    anchor: Span,
    path: Path,
    ctx: &'a Ctx<'r>,
}

impl<'a, 'r> NodeDe<'a, 'r> {
    fn span(&self) -> Span {
        if self.node.is_collection() { self.anchor } else { self.node.span }
    }

    fn child(&self, node: &'a Node, anchor: Span, segment: Segment) -> Self {
        let mut path = self.path.clone();
        path.0.push(segment);
        NodeDe { node, anchor, path, ctx: self.ctx }
    }

    fn fail(&self, diagnostic: Diagnostic) -> Error {
        self.ctx.diagnostics.borrow_mut().push(diagnostic);
        self.ctx.failed_at.borrow_mut().get_or_insert_with(|| self.path.clone());
        Error::reported()
    }

    fn wrong_type(&self, expected: &str) -> Error {
        let found = self.node.type_name();
        let mut d = Diagnostic::error(codes::WRONG_TYPE, format!("expected {expected}, found {found}"))
            .with_span(self.span())
            .with_label(format!("this is {found}"));
        if let (NodeKind::Str(s), true) = (&self.node.kind, expected.contains("integer") || expected.contains("number"))
            && s.trim().parse::<f64>().is_ok()
        {
            d = d.with_help(format!("remove the quotes: `{}`", s.trim()));
        }
        self.fail(d)
    }

    /// Turns an error from a visitor into a diagnostic unless it already is one.
    fn check<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        match result {
            Ok(v) => Ok(v),
            Err(e) if e.reported => Err(e),
            Err(e) => {
                if let Some(field) = e.missing_field {
                    if self.ctx.removed.contains(&(self.path.clone(), field.to_owned())) {
                        // Its bad value was reported in an earlier round.
                        self.ctx.failed_at.borrow_mut().get_or_insert_with(|| self.path.clone());
                        return Err(Error::reported());
                    }
                    let what = self.path.0.last().map_or("the spec".to_owned(), |_| format!("`{}`", self.path));
                    return Err(self.fail(
                        Diagnostic::error(codes::MISSING_KEY, format!("{what} needs the key `{field}`"))
                            .with_span(self.anchor)
                            .with_label(format!("`{field}` missing here"))
                            .with_help(format!("add `{field}:` under this key")),
                    ));
                }
                let (message, help) = match e.message.split_once(HELP_SEPARATOR) {
                    Some((m, h)) => (m.to_owned(), Some(h.to_owned())),
                    None => (e.message, None),
                };
                let (code, message) = codes::split_prefix(&message);
                // A value out of range names its key, so the message says
                // which setting, its value and the maximum on its own.
                let message = if code == codes::OUT_OF_RANGE && !self.path.0.is_empty() {
                    format!("{}: {message}", self.key_name())
                } else {
                    message
                };
                let mut d = Diagnostic::error(code, message).with_span(self.span());
                if let Some(help) = help {
                    d = d.with_help(help);
                }
                Err(self.fail(d))
            }
        }
    }

    fn integer<T: TryFrom<i128>>(&self, kind: &str, min: i128, max: i128) -> Result<T, Error> {
        match self.node.kind {
            NodeKind::Int(i) => T::try_from(i).map_err(|_| {
                let bound =
                    if i < min { format!("below the minimum, {min}") } else { format!("above the maximum, {max}") };
                self.fail(
                    Diagnostic::error(codes::OUT_OF_RANGE, format!("{} is {i}, {bound}", self.key_name()))
                        .with_span(self.span())
                        .with_label(format!("must be between {min} and {max}")),
                )
            }),
            _ => Err(self.wrong_type(kind)),
        }
    }

    /// The key being read, for messages that name it: `` `services.api.replicas` ``.
    fn key_name(&self) -> String {
        if self.path.0.is_empty() { "the value".to_owned() } else { format!("`{}`", self.path) }
    }

    fn text(&self) -> Result<String, Error> {
        match &self.node.kind {
            NodeKind::Str(s) => Ok(s.clone()),
            // Unquoted numbers and booleans read as text where text is wanted
            // (`version: 16`, `DEBUG: true`), as people expect.
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                Ok(self.node.scalar_text().unwrap_or_default())
            }
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn entries(&self) -> Result<Option<&'a [Entry]>, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => Ok(Some(entries)),
            // `edge:` with nothing under it means "all defaults".
            NodeKind::Null => Ok(None),
            _ => Err(self.wrong_type("a mapping")),
        }
    }

    /// Reports non-text and repeated keys; returns the entries to use.
    fn checked_entries(&self, entries: &'a [Entry]) -> Vec<&'a Entry> {
        let mut seen: Vec<&Entry> = Vec::new();
        for entry in entries {
            if !entry.key.is_text {
                self.ctx.diagnostics.borrow_mut().push(
                    Diagnostic::error(codes::WRONG_TYPE, format!("keys must be text, found `{}`", entry.key.name))
                        .with_span(entry.key.span)
                        .with_help(format!("quote the key: `\"{}\":`", entry.key.name)),
                );
                continue;
            }
            if let Some(first) = seen.iter().find(|e| e.key.name == entry.key.name) {
                self.ctx.diagnostics.borrow_mut().push(
                    Diagnostic::error(codes::DUPLICATE_KEY, format!("the key `{}` appears twice", entry.key.name))
                        .with_span(entry.key.span)
                        .with_label("repeated here")
                        .with_related(first.key.span, "first written here")
                        .with_help("YAML tools disagree on which one wins; keep one and delete the other"),
                );
                continue;
            }
            seen.push(entry);
        }
        seen
    }
}

macro_rules! integer_methods {
    ($($method:ident $visit:ident $ty:ty, $kind:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let v: $ty = self.integer($kind, <$ty>::MIN.into(), <$ty>::MAX.into())?;
            self.check(visitor.$visit(v))
        }
    )*};
}

impl<'de, 'a, 'r> de::Deserializer<'de> for NodeDe<'a, 'r> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => match i64::try_from(*i) {
                Ok(v) => visitor.visit_i64(v),
                Err(_) => visitor.visit_i128(*i),
            },
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str(s) => visitor.visit_str(s),
            NodeKind::Seq(_) => return self.deserialize_seq(visitor),
            NodeKind::Map(_) => return self.deserialize_map(visitor),
        };
        self.check(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Bool(b) => self.check(visitor.visit_bool(b)),
            _ => Err(self.wrong_type("true or false")),
        }
    }

    integer_methods! {
        deserialize_i8 visit_i8 i8, "an integer (-128..127)";
        deserialize_i16 visit_i16 i16, "an integer (-32768..32767)";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "an integer (0..255)";
        deserialize_u16 visit_u16 u16, "an integer (0..65535)";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Float(f) => self.check(visitor.visit_f64(f)),
            NodeKind::Int(i) => self.check(visitor.visit_f64(i as f64)),
            _ => Err(self.wrong_type("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.text()?;
        self.check(visitor.visit_string(text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.text()?;
        self.check(visitor.visit_bytes(text.as_bytes()))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => self.check(visitor.visit_none()),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => self.check(visitor.visit_unit()),
            _ => Err(self.wrong_type("nothing (null)")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => {
                let access = SeqDe { parent: &self, items: items.iter().enumerate() };
                self.check(visitor.visit_seq(access))
            }
            NodeKind::Null => self.check(visitor.visit_seq(SeqDe { parent: &self, items: [].iter().enumerate() })),
            _ => Err(self.wrong_type("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = self.entries()?.unwrap_or_default();
        let entries = self.checked_entries(entries);
        let access = MapDe { parent: &self, entries: entries.into_iter(), value: None };
        self.check(visitor.visit_map(access))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries = self.entries()?.unwrap_or_default();
        let mut known = Vec::new();
        for entry in self.checked_entries(entries) {
            if fields.contains(&entry.key.name.as_str()) {
                known.push(entry);
                continue;
            }
            // A secret declaration has `env` and `file`; `value:` there is a secret pasted in.
            if entry.key.name == "value" && fields.contains(&"file") {
                self.ctx.diagnostics.borrow_mut().push(
                    Diagnostic::error(codes::SECRET_IN_SPEC, "a secret's value never goes into the spec")
                        .with_span(entry.key.span)
                        .with_label("remove this, and rotate the secret if this file was ever committed")
                        .with_help("berth reads the value at run time from `BERTH_SECRET_<NAME>`, or from `env:`/`file:` if set"),
                );
                continue;
            }
            let mut d = Diagnostic::error(codes::UNKNOWN_KEY, format!("unknown key `{}`", entry.key.name))
                .with_span(entry.key.span);
            let where_ =
                if self.path.0.is_empty() { "at the top level".to_owned() } else { format!("in `{}`", self.path) };
            d = match did_you_mean(&entry.key.name, fields.iter().copied()) {
                Some(best) => d
                    .with_label(format!("did you mean `{best}`?"))
                    .with_help(format!("valid keys {where_}: {}", fields.join(", "))),
                None => d
                    .with_label("not a key berth knows here")
                    .with_help(format!("valid keys {where_}: {}", fields.join(", "))),
            };
            self.ctx.diagnostics.borrow_mut().push(d);
        }
        let access = MapDe { parent: &self, entries: known.into_iter(), value: None };
        self.check(visitor.visit_map(access))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Str(s) if variants.contains(&s.as_str()) => {
                self.check(visitor.visit_enum(s.as_str().into_deserializer()))
            }
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Bool(_) | NodeKind::Float(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                let mut d =
                    Diagnostic::error(codes::INVALID_VALUE, format!("`{text}` is not one of: {}", variants.join(", ")))
                        .with_span(self.span());
                if let Some(best) = did_you_mean(&text, variants.iter().copied()) {
                    d = d.with_label(format!("did you mean `{best}`?"));
                }
                Err(self.fail(d))
            }
            _ => Err(self.wrong_type(&format!("one of: {}", variants.join(", ")))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqDe<'p, 'a, 'r, I> {
    parent: &'p NodeDe<'a, 'r>,
    items: I,
}

impl<'de, 'a, 'r, I: Iterator<Item = (usize, &'a Node)>> de::SeqAccess<'de> for SeqDe<'_, 'a, 'r, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some((i, node)) => {
                let anchor = if node.is_collection() { self.parent.anchor } else { node.span };
                seed.deserialize(self.parent.child(node, anchor, Segment::Index(i))).map(Some)
            }
            None => Ok(None),
        }
    }
}

struct MapDe<'p, 'a, 'r, I> {
    parent: &'p NodeDe<'a, 'r>,
    entries: I,
    value: Option<&'a Entry>,
}

impl<'de, 'a, 'r, I: Iterator<Item = &'a Entry>> de::MapAccess<'de> for MapDe<'_, 'a, 'r, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let key = Node::new(NodeKind::Str(entry.key.name.clone()), entry.key.span);
        let de = NodeDe { node: &key, anchor: entry.key.span, path: self.parent.path.clone(), ctx: self.parent.ctx };
        seed.deserialize(de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.value.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(self.parent.child(&entry.value, entry.key.span, Segment::Key(entry.key.name.clone())))
    }
}
