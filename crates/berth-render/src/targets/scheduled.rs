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

/// A scheduled backup ([`BackupJob::scheduled_steps`]) as command lines.
/// A volume's backup names the directory the target keeps the volume in
/// (`dir`).
pub(crate) fn backup_commands(plan: &Plan, job: &BackupJob, berth: &str, spec: &str, dir: Option<&str>) -> Vec<String> {
    let flags = spec_flags(plan, spec);
    let from = dir.map(|d| format!(" --dir {d}")).unwrap_or_default();
    job.scheduled_steps()
        .into_iter()
        .enumerate()
        .map(|(i, step)| format!("{berth} {} {flags}{}", step.join(" "), if i == 0 { from.as_str() } else { "" }))
        .collect()
}
