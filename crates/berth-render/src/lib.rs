//! Rendering: the plan in, deployment files out. One module per target
//! behind the closed [`Target`] enum; every module is pure (data in, text
//! out) and reports what its target cannot express as warnings instead of
//! dropping it silently.

mod header;
pub mod support;
mod targets;
mod yaml;

use berth_diagnostics::{Code, Diagnostic};
use berth_plan::Plan;

pub use targets::Target;
/// The access log the nginx target writes and the host's fail2ban jail reads.
pub use targets::host::ACCESS_LOG as EDGE_ACCESS_LOG;

/// The image rendered jobs run, pinned to this berth's version; the
/// repository's `Dockerfile` builds it (a test holds the two together).
pub const BERTH_IMAGE: &str = concat!("ghcr.io/berth-dev/berth:", env!("CARGO_PKG_VERSION"));

/// Declares every render code once: the constant, its stable id and name,
/// and its meaning for the generated reference (`docs/targets.md`).
macro_rules! codes {
    ($($name:ident => $id:literal, $slug:literal, $severity:literal, $doc:literal;)*) => {
        $(
            #[doc = $doc]
            pub const $name: Code = Code::new($id, $slug);
        )*

        /// Every code with its severity and meaning.
        pub const CODES: &[(Code, &str, &str)] = &[$(($name, $severity, $doc),)*];
    };
}

codes! {
    UNSUPPORTED => "R001", "unsupported-by-target", "warning", "A target cannot express a feature of the spec; the rest renders.";
    UNENFORCED => "R002", "security-feature-unenforced", "error (info when accepted)", "A target cannot enforce a security feature the spec asks for; nothing is written.";
    APPROXIMATED => "R003", "approximated-by-target", "warning", "A target carries a feature differently, said how.";
    FILE_NOT_READ => "R004", "config-file-not-read", "error", "A service's configuration file was not read into the plan; nothing is written.";
}

/// One rendered file; `path` is relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub contents: String,
}

/// What rendering produced: files, plus diagnostics about what was left
/// out. With an error among them (a security feature a target cannot
/// enforce), the files must not be written.
#[derive(Debug, Default)]
pub struct Output {
    pub files: Vec<File>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    /// A target refused part of the spec: nothing may be written.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub(crate) fn file(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        self.files.push(File { path: path.into(), contents: contents.into() });
    }

    /// Warns that `target` cannot express `feature`; the rest still renders.
    pub(crate) fn unsupported(&mut self, target: Target, feature: impl std::fmt::Display, help: impl Into<String>) {
        self.diagnostics.push(
            Diagnostic::warning(UNSUPPORTED, format!("the {} target cannot express {feature}", target.name()))
                .with_help(help),
        );
    }
}

/// Renders `targets` into one tree, each target under a directory named after it.
/// `spec_text` is the spec the plan was built from: targets whose scheduled
/// jobs run berth themselves (Kubernetes backup CronJobs and WAL shippers)
/// ship it along.
pub fn render(plan: &Plan, spec_text: &str, targets: &[Target]) -> Output {
    let mut all = Output::default();
    // A file rendered empty would be a silent change of meaning.
    for s in &plan.services {
        for f in s.files.iter().filter(|f| f.content.is_none()) {
            all.diagnostics.push(
                Diagnostic::error(
                    FILE_NOT_READ,
                    format!("`{}` (for `{}` of service `{}`) was not read", f.source, f.path, s.name),
                )
                .with_help("read the files with `Plan::read_files` before rendering"),
            );
        }
    }
    for target in targets {
        let out = target.render(plan, spec_text);
        all.files.extend(out.files.into_iter().map(|f| File { path: format!("{}/{}", target.name(), f.path), ..f }));
        for d in support::judge(plan, *target).into_iter().chain(out.diagnostics) {
            if !all.diagnostics.contains(&d) {
                all.diagnostics.push(d);
            }
        }
    }
    all.files.sort_by(|a, b| a.path.cmp(&b.path));
    all
}
