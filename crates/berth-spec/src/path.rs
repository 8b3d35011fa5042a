//! Paths into the spec tree (`services.api.ports.http`) and finding the text
//! they point at, so validation of typed values can still underline source.

use std::fmt;

use berth_diagnostics::Span;

use crate::node::{Node, NodeKind};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A location in the spec, built with [`Path::key`] and [`Path::index`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.into()));
        next
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn parent(&self) -> Option<(Self, &Segment)> {
        let (last, rest) = self.0.split_last()?;
        Some((Self(rest.to_vec()), last))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What of a path's text a diagnostic underlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The key (`replicas` in `replicas: 3`).
    Key,
    /// The value; for a mapping or list, its key, since collections have no
    /// single token to underline.
    Value,
}

/// Finds the span of `path` in `root`. When the path goes deeper than the
/// text (a default that was never written), the deepest written ancestor's
/// key is used, so the diagnostic still lands near the cause.
pub fn locate(root: &Node, path: &Path, anchor: Anchor) -> Option<Span> {
    let mut node = root;
    let mut key_span: Option<Span> = None;
    for segment in &path.0 {
        let next = match (segment, &node.kind) {
            (Segment::Key(k), NodeKind::Map(entries)) => {
                entries.iter().rev().find(|e| &e.key.name == k).map(|e| (e.key.span, &e.value))
            }
            (Segment::Index(i), NodeKind::Seq(items)) => items.get(*i).map(|n| (n.span, n)),
            _ => None,
        };
        match next {
            Some((span, child)) => {
                key_span = Some(span);
                node = child;
            }
            None => return key_span,
        }
    }
    match anchor {
        Anchor::Key => key_span,
        Anchor::Value if node.is_collection() => key_span.or(Some(node.span)),
        Anchor::Value => Some(node.span),
    }
}
