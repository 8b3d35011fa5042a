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
/// before succeeded, so a failed verification never prunes.
pub(crate) fn backup_commands(plan: &Plan, job: &BackupJob, berth: &str, spec: &str) -> Vec<String> {
    let flags = spec_flags(plan, spec);
    let dep = &job.dependency;
    let mut commands = vec![format!("{berth} backup {dep} {flags}")];
    if job.verify {
        commands.push(format!("{berth} backup verify {dep} {flags}"));
    }
    commands.push(format!("{berth} backup prune {dep} {flags}"));
    commands
}
