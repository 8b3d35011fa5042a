//! The berth commands that rendered jobs run, shared so that every target
//! backs up, proves restores and applies retention the same way.

use berth_plan::{BackupJob, Plan};

/// `--spec PATH`, plus `--env E` when the plan is an environment's: what a
/// job needs to rebuild this very plan from the spec it ships with.
pub(crate) fn spec_flags(plan: &Plan, path: &str) -> String {
    match &plan.environment {
        Some(env) => format!("--spec {path} --env {env}"),
        None => format!("--spec {path}"),
    }
}

/// A scheduled backup, in order: take it, restore it into a scratch server
/// and compare (unless the spec turned verification off), then delete what
/// the retention policy no longer keeps. Each step runs only when the one
/// before succeeded, so a failed verification never prunes. A volume's
/// backup names the directory the target keeps the volume in (`dir`).
pub(crate) fn backup_commands(plan: &Plan, job: &BackupJob, berth: &str, spec: &str, dir: Option<&str>) -> Vec<String> {
    let flags = spec_flags(plan, spec);
    let dep = &job.name;
    let from = dir.map(|d| format!(" --dir {d}")).unwrap_or_default();
    let mut commands = vec![format!("{berth} backup {dep} {flags}{from}")];
    if job.verify {
        commands.push(format!("{berth} backup verify {dep} {flags}"));
    }
    commands.push(format!("{berth} backup prune {dep} {flags}"));
    commands
}
