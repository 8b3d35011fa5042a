use berth_spec::{Node, NodeKind};

use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// YAML parsers keep the last of two equal keys without a word: a
    /// second `env:` or `resources:` silently replaces the first, and the
    /// file no longer says what it looks like it says.
    DuplicateKey {
        code: "Y001",
        name: "duplicate-key",
        severity: Error,
        fix: "merge the two entries into one",
    }
}

fn walk(node: &Node, file: usize, sink: &mut Sink<'_>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (i, e) in entries.iter().enumerate() {
                if let Some(first) = entries[..i].iter().find(|f| f.key.name == e.key.name) {
                    sink.report(file, e.key.span, format!("`{}` is given twice; this one silently wins", e.key.name))
                        .related
                        .push(berth_diagnostics::Label { span: first.key.span, message: "first given here".into() });
                }
                walk(&e.value, file, sink);
            }
        }
        NodeKind::Seq(items) => items.iter().for_each(|n| walk(n, file, sink)),
        _ => {}
    }
}

impl Rule for DuplicateKey {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for (file, doc) in &cx.graph.documents {
            walk(doc, *file, sink);
        }
    }
}
