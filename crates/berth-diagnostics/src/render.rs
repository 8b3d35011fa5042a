use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::{Diagnostic, LineCol, Severity, SourceFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Always,
    Never,
}

/// Renders diagnostics the way rustc does: `error[S102]: ...`, then
/// `--> file:line:col`, the offending line with the span underlined, and the
/// hint. One blank line separates diagnostics.
pub fn render_human(file: &SourceFile, diagnostics: &[Diagnostic], color: ColorChoice) -> String {
    let renderer = match color {
        ColorChoice::Always => Renderer::styled(),
        ColorChoice::Never => Renderer::plain(),
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&renderer.render(&report(file, diagnostic)));
        out.push_str("\n\n");
    }
    out
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

fn report<'a>(file: &'a SourceFile, diagnostic: &'a Diagnostic) -> Vec<Group<'a>> {
    let title = level(diagnostic.severity).primary_title(diagnostic.message.as_str()).id(diagnostic.code.id);
    let mut group = Group::with_title(title);
    if let Some(span) = diagnostic.span {
        let mut primary = AnnotationKind::Primary.span(clamp(&file.text, span));
        if let Some(label) = &diagnostic.label {
            primary = primary.label(label.as_str());
        }
        let mut snippet = Snippet::source(file.text.as_str()).path(file.name.as_str()).annotation(primary);
        for related in &diagnostic.related {
            snippet = snippet.annotation(
                AnnotationKind::Context.span(clamp(&file.text, related.span)).label(related.message.as_str()),
            );
        }
        group = group.element(snippet);
    } else {
        group = group.element(Level::NOTE.message(format!("in {}", file.name)));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    vec![group]
}

/// Keeps a span inside the text and on character boundaries, so a stale or
/// synthetic span can never make rendering fail.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    let end = floor(span.end.max(start));
    start..end
}

/// `2 errors, 1 warning` style summary, or `ok` when there is nothing.
pub fn summary_line(diagnostics: &[Diagnostic]) -> String {
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    for (severity, word) in [(Severity::Error, "error"), (Severity::Warning, "warning"), (Severity::Info, "note")] {
        let n = count(severity);
        if n > 0 {
            parts.push(plural(n, word));
        }
    }
    if parts.is_empty() { "ok".to_owned() } else { parts.join(", ") }
}

/// One diagnostic in the JSON form, borrowing from it: serialize it
/// directly (or inside a larger document) without building a value tree.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    file: &'a str,
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    start: Option<LineCol>,
    end: Option<LineCol>,
    label: Option<&'a str>,
    help: Option<&'a str>,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonRelated<'a> {
    start: LineCol,
    end: LineCol,
    message: &'a str,
}

impl<'a> JsonDiagnostic<'a> {
    pub fn new(file: &'a SourceFile, d: &'a Diagnostic) -> Self {
        JsonDiagnostic {
            file: &file.name,
            code: d.code.id,
            name: d.code.name,
            severity: d.severity,
            message: &d.message,
            start: d.span.map(|s| file.line_col(s.start)),
            end: d.span.map(|s| file.line_col(s.end)),
            label: d.label.as_deref(),
            help: d.help.as_deref(),
            related: d
                .related
                .iter()
                .map(|r| JsonRelated {
                    start: file.line_col(r.span.start),
                    end: file.line_col(r.span.end),
                    message: &r.message,
                })
                .collect(),
        }
    }
}

/// Machine-readable form: one JSON object per diagnostic, positions as
/// 1-based line/column pairs.
pub fn render_json(file: &SourceFile, diagnostics: &[Diagnostic]) -> Vec<serde_json::Value> {
    diagnostics
        .iter()
        .map(|d| serde_json::to_value(JsonDiagnostic::new(file, d)).unwrap_or(serde_json::Value::Null))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const CODE: Code = Code::new("T001", "test-code");

    #[test]
    fn renders_snippet_with_location_and_help() {
        let file = SourceFile::new("berth.yaml", "name: demo\nreplicas: three\n");
        let d = Diagnostic::error(CODE, "expected an integer")
            .with_span(Span::new(21, 26))
            .with_label("found a string")
            .with_help("write a number, like `replicas: 3`");
        insta::assert_snapshot!(render_human(&file, &[d], ColorChoice::Never));
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let file = SourceFile::new("x.yaml", "é");
        let d = Diagnostic::error(CODE, "m").with_span(Span::new(1, 99));
        assert!(render_human(&file, &[d], ColorChoice::Never).contains("x.yaml"));
    }

    #[test]
    fn summary_counts_by_severity() {
        let e = Diagnostic::error(CODE, "e");
        let w = Diagnostic::warning(CODE, "w");
        assert_eq!(summary_line(&[e.clone(), e, w]), "2 errors, 1 warning");
        assert_eq!(summary_line(&[]), "ok");
    }
}
