//! The spec's backup policies under `berth up`: on each policy's schedule
//! (UTC), berth runs itself the way every rendered target's job does
//! ([`berth_plan::BackupJob::scheduled_steps`]: back up, verify, prune,
//! each only after the one before succeeded) against the running stack,
//! which the commands find through the state file (the server's port, the
//! volumes' directories). Output goes to `logs/backup-<name>.log`. A run
//! still going when the next is due skips that one.
//!
//! The commands get exactly the secrets their policy names (the server's
//! password, the signing key) in the variables the spec reads them from:
//! every other child of berth up has those variables taken away.

use std::path::{Path, PathBuf};

use berth_plan::{BackupJob, Plan};

use crate::jobs::log_line;
use crate::process;

/// One backup policy, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Scheduled {
    pub(crate) job: BackupJob,
    /// `(variable, value)` for each secret the commands read.
    secrets: Vec<(String, String)>,
}

/// Where the commands find the spec again.
#[derive(Debug, Clone)]
pub(crate) struct SpecRef {
    pub(crate) file: PathBuf,
    pub(crate) environment: Option<String>,
}

/// The plan's backup policies with the secrets each needs. A secret read
/// from a file is read again by the command itself.
pub(crate) fn scheduled(plan: &Plan, secrets: &crate::SecretLookup) -> Vec<Scheduled> {
    plan.backups
        .iter()
        .map(|job| {
            let password =
                plan.dependencies.iter().find(|d| d.name == job.name).and_then(|d| d.password_secret.clone());
            let needed =
                password.into_iter().chain(job.signing_key_secret.clone()).chain(job.encryption_key_secret.clone());
            let secrets = needed
                .filter_map(|name| plan.secrets.iter().find(|s| s.name == name))
                .filter_map(|s| Some((s.env.clone()?, secrets(s)?)))
                .collect();
            Scheduled { job: job.clone(), secrets }
        })
        .collect()
}

/// Runs one scheduled backup to its end; whether every step succeeded.
pub(crate) async fn run(backup: &Scheduled, spec: &SpecRef, logs: &Path) -> bool {
    let log = logs.join(format!("backup-{}.log", backup.job.name));
    let Ok(berth) = crate::volumes::berth_exe() else { return false };
    for step in backup.job.scheduled_steps() {
        let mut argv = vec![berth.display().to_string()];
        argv.extend(step);
        argv.extend(["--file".to_owned(), spec.file.display().to_string()]);
        if let Some(env) = &spec.environment {
            argv.extend(["--env".to_owned(), env.clone()]);
        }
        log_line(&log, &argv[1..].join(" "));
        let ok = process::run_to_end(&argv, &backup.secrets, &log, None).await.unwrap_or(false);
        if !ok {
            log_line(&log, "failed; the remaining steps of this run are skipped");
            return false;
        }
    }
    true
}
