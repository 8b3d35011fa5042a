//! Diagnostics as data, and the one place they are turned into text.
//!
//! Every part of berth that finds a problem (the YAML reader, the spec
//! deserializer, validation, later lint rules) returns [`Diagnostic`] values.
//! None of them formats text for people: [`render_human`] and [`render_json`]
//! do that, so every message looks the same wherever it came from.

mod code;
mod diagnostic;
mod line_index;
mod render;
mod source;

pub use code::Code;
pub use diagnostic::{Diagnostic, Label, Severity, Span};
pub use line_index::{LineCol, LineIndex};
pub use render::{ColorChoice, JsonDiagnostic, render_human, render_json, summary_line};
pub use source::SourceFile;
