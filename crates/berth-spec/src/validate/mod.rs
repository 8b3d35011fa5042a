//! Checks on the typed spec that the types alone cannot express: names,
//! references between sections, port clashes and contradictions. Each check
//! names the path of what it complains about; [`Checker`] finds the text.

mod dependencies;
mod deploy;
mod edge;
mod monitoring;
mod names;
mod ranges;
mod secrets;
mod services;

use berth_diagnostics::{Code, Diagnostic, Severity, Span};

use crate::node::Node;
use crate::path::{Anchor, Path, locate};
use crate::{Spec, codes};

/// The spans whose S301 a `# berth: ignore[S301] <reason>` may accept: the
/// values of services' environment variables, judged by their value.
pub(crate) fn judged_spans(root: &Node) -> Vec<Span> {
    secrets::judged_spans(root)
}

pub fn validate(spec: &Spec, root: &Node) -> Vec<Diagnostic> {
    let mut checker = Checker { root, diagnostics: Vec::new() };
    if spec.version != crate::SPEC_VERSION {
        checker
            .report(
                codes::UNSUPPORTED_VERSION,
                Severity::Error,
                &Path::root().key("version"),
                Anchor::Value,
                format!("spec version {} is not supported", spec.version),
            )
            .with_help(format!("this berth reads `version: {}`", crate::SPEC_VERSION));
    }
    names::check(spec, &mut checker);
    ranges::check(spec, &mut checker);
    secrets::check(spec, &mut checker);
    services::check(spec, &mut checker);
    dependencies::check(spec, &mut checker);
    edge::check(spec, &mut checker);
    monitoring::check(spec, &mut checker);
    deploy::check(&spec.deploy, &Path::root().key("deploy"), &mut checker);
    checker.diagnostics
}

/// Collects diagnostics and turns spec paths into spans.
pub(crate) struct Checker<'a> {
    root: &'a Node,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub fn report(
        &mut self,
        code: Code,
        severity: Severity,
        path: &Path,
        anchor: Anchor,
        message: impl Into<String>,
    ) -> Builder<'_> {
        let mut d = Diagnostic::new(code, severity, message);
        d.span = locate(self.root, path, anchor);
        self.diagnostics.push(d);
        let root = self.root;
        Builder { root, diagnostic: self.diagnostics.last_mut() }
    }

    pub fn error(&mut self, code: Code, path: &Path, message: impl Into<String>) -> Builder<'_> {
        self.report(code, Severity::Error, path, Anchor::Value, message)
    }

    pub fn warning(&mut self, code: Code, path: &Path, message: impl Into<String>) -> Builder<'_> {
        self.report(code, Severity::Warning, path, Anchor::Value, message)
    }

    /// Reports a reference to `name` that is not among `known`.
    pub fn dangling(&mut self, path: &Path, what: &str, name: &str, known: &[&str], declare_hint: &str) {
        let mut b = self.error(codes::DANGLING_REFERENCE, path, format!("no {what} named `{name}`"));
        b = match crate::did_you_mean(name, known.iter().copied()) {
            Some(best) => b.with_label(format!("did you mean `{best}`?")),
            None => b.with_label(format!("this {what} is not declared")),
        };
        let declared =
            if known.is_empty() { "none are declared".to_owned() } else { format!("declared: {}", known.join(", ")) };
        b.with_help(format!("{declare_hint} ({declared})"));
    }
}

/// Adds detail to the diagnostic just reported.
pub(crate) struct Builder<'c> {
    root: &'c Node,
    diagnostic: Option<&'c mut Diagnostic>,
}

impl Builder<'_> {
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        if let Some(d) = self.diagnostic.as_deref_mut() {
            d.help = Some(help.into());
        }
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        if let Some(d) = self.diagnostic.as_deref_mut() {
            d.label = Some(label.into());
        }
        self
    }

    pub fn with_related(mut self, path: &Path, anchor: Anchor, message: impl Into<String>) -> Self {
        let span = locate(self.root, path, anchor);
        if let (Some(d), Some(span)) = (self.diagnostic.as_deref_mut(), span)
            && d.span != Some(span)
        {
            d.related.push(berth_diagnostics::Label { span, message: message.into() });
        }
        self
    }
}
