//! A YAML document as a tree that remembers where every key and value was
//! written. Everything after parsing (overlays, typed deserialization,
//! validation) works on this tree, so every diagnostic can point at text.

use berth_diagnostics::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Where the value was written. For mappings and sequences this is the
    /// position of the first entry (an empty span); diagnostics about a whole
    /// collection point at the key that introduced it instead.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub value: Node,
}

/// Mapping keys are always text in a berth spec; a non-text key (`1: x`,
/// `[a]: b`) keeps its rendered text and is rejected by the deserializer.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
    pub is_text: bool,
}

impl Node {
    pub fn new(kind: NodeKind, span: Span) -> Self {
        Self { kind, span }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key.name == key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_collection(&self) -> bool {
        matches!(self.kind, NodeKind::Map(_) | NodeKind::Seq(_))
    }

    /// A short name of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The scalar as YAML text, for keys and messages.
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            NodeKind::Null => "null".to_owned(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Str(s) => s.clone(),
            NodeKind::Seq(_) | NodeKind::Map(_) => return None,
        })
    }
}
