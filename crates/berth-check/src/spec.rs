//! A berth spec in the checked tree: its own diagnostics, plus the files it
//! renders (Kubernetes manifests and the compose file), which go through the
//! same rules as hand-written ones.

use std::collections::{HashMap, HashSet};

use berth_render::Target;

use crate::{Finding, Input, Note};

/// The configuration files specs among `inputs` name (`services.*.files`),
/// by normalized path, with their text: the specs are rendered with them.
/// Cheap for a tree without specs that name files: only YAML that says
/// `files:` is looked at.
pub fn named_files(inputs: &[Input]) -> HashMap<String, String> {
    let wanted = named_paths(inputs);
    if wanted.is_empty() {
        return HashMap::new();
    }
    inputs
        .iter()
        .filter_map(|i| {
            let path = join("", &i.path)?;
            wanted.contains(&path).then(|| (path, i.text.clone()))
        })
        .collect()
}

/// The normalized paths of the configuration files specs among `inputs`
/// name: a tree walk reads them whatever their names (`config/api.toml`).
pub fn named_paths(inputs: &[Input]) -> HashSet<String> {
    let mut wanted = HashSet::new();
    for input in inputs {
        let yaml = input.path.ends_with(".yaml") || input.path.ends_with(".yml");
        if !yaml
            || !input.text.contains("files:")
            || crate::detect::kind(&input.path, &input.text) != crate::Kind::BerthSpec
        {
            continue;
        }
        let Some(spec) = berth_spec::load(&input.text, None).spec else { continue };
        let dir = input.path.rsplit_once(['/', '\\']).map_or("", |(d, _)| d);
        for service in spec.services.values() {
            wanted.extend(service.files.values().filter_map(|f| join(dir, f)));
        }
    }
    wanted
}

/// `dir/relative` without `.` and `..` steps, absolute when `dir` is
/// (as the walker names files: relative to where berth runs, or absolute).
pub(crate) fn join(dir: &str, relative: &str) -> Option<String> {
    let joined = if dir.is_empty() { relative.to_owned() } else { format!("{dir}/{relative}") };
    let clean = crate::graph::units::normalize(&joined)?;
    Some(if joined.starts_with('/') { format!("/{clean}") } else { clean })
}

/// The targets whose files the rules understand.
pub const TARGETS: [Target; 5] =
    [Target::Kubernetes, Target::Compose, Target::Nginx, Target::Systemd, Target::Prometheus];

/// Validates the spec (diagnostics land on `file`) and returns what it
/// renders for [`TARGETS`], except targets whose files for this project are
/// already among the checked ones (`present`, see [`crate::generated`]):
/// those files are checked instead, and a note on `file` says so.
#[allow(clippy::too_many_arguments, reason = "the check's state, passed down from one loop")]
pub fn expand(
    input: &Input,
    environment: Option<&str>,
    file: usize,
    present: &HashSet<(String, String)>,
    tree: &HashMap<String, String>,
    findings: &mut Vec<Finding>,
    notes: &mut Vec<Note>,
) -> Vec<Input> {
    let loaded = berth_spec::load(&input.text, environment);
    findings.extend(loaded.diagnostics.into_iter().map(|diagnostic| Finding { file, diagnostic, suppressed: None }));
    let Some(spec) = loaded.spec else { return Vec::new() };
    let mut plan = berth_plan::build(&spec, environment);
    // A configuration file outside the checked files renders without its
    // content: the rest of the spec is still worth checking.
    let dir = input.path.rsplit_once(['/', '\\']).map_or("", |(d, _)| d);
    let _unread = plan.read_files(|relative| {
        join(dir, relative).and_then(|path| tree.get(&path).cloned()).ok_or("not among the checked files")
    });
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
