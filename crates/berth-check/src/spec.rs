//! A berth spec in the checked tree: its own diagnostics, plus the files it
//! renders (Kubernetes manifests and the compose file), which go through the
//! same rules as hand-written ones.

use std::collections::HashSet;

use berth_render::Target;

use crate::{Finding, Input, Note};

/// The targets whose files the rules understand.
pub const TARGETS: [Target; 5] =
    [Target::Kubernetes, Target::Compose, Target::Nginx, Target::Systemd, Target::Prometheus];

/// Validates the spec (diagnostics land on `file`) and returns what it
/// renders for [`TARGETS`], except targets whose files for this project are
/// already among the checked ones (`present`, see [`crate::generated`]):
/// those files are checked instead, and a note on `file` says so.
pub fn expand(
    input: &Input,
    environment: Option<&str>,
    file: usize,
    present: &HashSet<(String, String)>,
    findings: &mut Vec<Finding>,
    notes: &mut Vec<Note>,
) -> Vec<Input> {
    let loaded = berth_spec::load(&input.text, environment);
    findings.extend(loaded.diagnostics.into_iter().map(|diagnostic| Finding { file, diagnostic, suppressed: None }));
    let Some(spec) = loaded.spec else { return Vec::new() };
    let plan = berth_plan::build(&spec, environment);
    let (here, targets): (Vec<Target>, Vec<Target>) =
        TARGETS.into_iter().partition(|t| present.contains(&(plan.project.clone(), t.name().to_owned())));
    if !here.is_empty() {
        let names: Vec<&str> = here.iter().map(|t| t.name()).collect();
        notes.push(Note {
            file,
            message: format!(
                "not rendered again for {}: files berth rendered for project `{}` are among the checked files, and \
                 those are checked instead",
                names.join(", "),
                plan.project
            ),
        });
    }
    if targets.is_empty() {
        return Vec::new();
    }
    berth_render::render(&plan, &input.text, &targets)
        .files
        .into_iter()
        .map(|f| Input { path: format!("{} → {}", input.path, f.path), text: f.contents })
        .collect()
}
