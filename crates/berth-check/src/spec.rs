//! A berth spec in the checked tree: its own diagnostics, plus the files it
//! renders (Kubernetes manifests and the compose file), which go through the
//! same rules as hand-written ones.

use berth_render::Target;

use crate::{Finding, Input};

/// Validates the spec (diagnostics land on `file`) and returns what it
/// renders for the targets the rules understand.
pub fn expand(input: &Input, environment: Option<&str>, file: usize, findings: &mut Vec<Finding>) -> Vec<Input> {
    let loaded = berth_spec::load(&input.text, environment);
    findings.extend(loaded.diagnostics.into_iter().map(|diagnostic| Finding { file, diagnostic, suppressed: None }));
    let Some(spec) = loaded.spec else { return Vec::new() };
    let plan = berth_plan::build(&spec, environment);
    berth_render::render(
        &plan,
        &input.text,
        &[Target::Kubernetes, Target::Compose, Target::Nginx, Target::Systemd, Target::Prometheus],
    )
    .files
    .into_iter()
    .map(|f| Input { path: format!("{} → {}", input.path, f.path), text: f.contents })
    .collect()
}
