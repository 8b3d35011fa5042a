//! What a rule is: a stable code, a severity, the user documentation (the
//! rule struct's doc comment, captured by [`crate::declare_rule!`]), and a
//! check over the graph.

use berth_diagnostics::{Code, Diagnostic, Severity, SourceFile, Span};

use crate::Finding;
use crate::graph::Graph;

#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: Code,
    pub severity: Severity,
    /// The rule's doc comment: what it finds and why it matters.
    pub why: &'static str,
    /// How to fix it, shown under every finding.
    pub fix: &'static str,
}

/// What every rule reads.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub graph: &'a Graph<'a>,
    pub files: &'a [SourceFile],
}

/// Collects one rule's findings, stamped with its code and severity.
#[derive(Debug)]
pub struct Sink<'a> {
    pub info: RuleInfo,
    pub out: &'a mut Vec<Finding>,
}

impl Sink<'_> {
    pub fn report(&mut self, file: usize, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        let diagnostic =
            Diagnostic::new(self.info.code, self.info.severity, message).with_span(span).with_help(self.info.fix);
        self.out.push(Finding { file, diagnostic, suppressed: None });
        let last = self.out.len() - 1;
        &mut self.out[last].diagnostic
    }
}

pub trait Rule: Sync + std::fmt::Debug {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>);
}

/// Declares a rule struct whose doc comment is its documentation.
#[macro_export]
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])* $name:ident { code: $id:literal, name: $slug:literal, severity: $severity:ident, fix: $fix:literal $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $name;

        impl $name {
            pub const INFO: $crate::RuleInfo = $crate::RuleInfo {
                code: berth_diagnostics::Code::new($id, $slug),
                severity: berth_diagnostics::Severity::$severity,
                why: concat!($($doc, "\n"),*),
                fix: $fix,
            };
        }
    };
}
