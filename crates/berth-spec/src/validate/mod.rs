use crate::{Node, Spec};
use berth_diagnostics::Diagnostic;
pub fn validate(_s: &Spec, _n: &Node) -> Vec<Diagnostic> {
    Vec::new()
}
