//! A service's jobs under `berth up`: deploy gates run before replicas of a
//! new version start (their failure stops the deploy, the old version keeps
//! serving), scheduled jobs run on their cron schedule (UTC; a run still
//! going when the next is due skips that one, like Kubernetes' `Forbid`),
//! and `berth run NAME` runs any job now. Every run gets the service's
//! environment (settings, secrets, dependency URLs) without replica ports,
//! plus `BERTH_JOB` and the version; its output is appended to
//! `logs/<service>-<job>.log`.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_plan::JobPlan;

use crate::{RuntimeError, Template, process};

/// Time a job gets after SIGTERM, once its timeout has passed.
const KILL_AFTER: Duration = Duration::from_secs(10);

/// Runs `job` to completion, `retries` more times after a failure.
pub(crate) async fn run(
    template: &Template,
    job: &JobPlan,
    version: Option<&str>,
    extra: &BTreeMap<String, String>,
) -> Result<(), RuntimeError> {
    let mut last = None;
    for _ in 0..=job.retries {
        match once(template, job, version, extra).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| RuntimeError::Deploy(format!("job `{}` did not run", job.name))))
}

/// Removes a job run's scratch volumes when the run ends, however it ends.
struct ScratchGuard {
    dir: std::path::PathBuf,
    service: String,
    instance: String,
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        crate::volumes::remove_scratch(&self.dir, &self.service, &self.instance);
    }
}

/// Appends one line of berth's own (stamped) to a program's log.
pub(crate) fn log_line(log: &std::path::Path, line: &str) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "berth: {} {line}", jiff::Timestamp::now());
    }
}

async fn once(
    template: &Template,
    job: &JobPlan,
    version: Option<&str>,
    extra: &BTreeMap<String, String>,
) -> Result<(), RuntimeError> {
    let service = &template.service.name;
    let log = template.logs.join(format!("{}.log", job.workload(service)));
    let mut env: Vec<(String, String)> =
        template.env.iter().chain(extra.iter()).map(|(k, v)| (k.clone(), v.clone())).collect();
    env.push(("BERTH_JOB".to_owned(), job.name.clone()));
    if let Some(v) = version {
        env.push(("BERTH_VERSION".to_owned(), v.to_owned()));
    }
    let failed = |reason: String| RuntimeError::Job {
        job: job.name.clone(),
        service: service.clone(),
        reason,
        log: log.display().to_string(),
    };
    log_line(&log, &format!("job {} starts", job.name));
    // A job sees its service's volumes; each run its own scratch ones (a
    // `berth run` may overlap a scheduled run of the same job).
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let instance = format!("job-{}-{}", job.name, RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let user = template.user;
    let mounts = crate::volumes::prepare(&template.state_dir, service, &instance, &template.service.volumes, user)
        .map_err(|e| failed(format!("cannot prepare the volumes: {e}")))?;
    let _scratch = ScratchGuard { dir: template.state_dir.clone(), service: service.clone(), instance };
    let spawn =
        crate::volumes::Launch { user, mounts }.command(job.command.clone()).map_err(|e| failed(e.to_string()))?;
    env.extend(spawn.env);
    let mut child =
        process::spawn(&spawn.argv, &template.workdir, &env, &log, spawn.user).map_err(|e| failed(e.to_string()))?;
    let pid = child.id().unwrap_or(0);
    let status = match tokio::time::timeout(job.timeout.0, child.wait()).await {
        Ok(status) => status.map_err(|e| failed(e.to_string()))?,
        Err(_) => {
            process::terminate_group(pid, false);
            if tokio::time::timeout(KILL_AFTER, child.wait()).await.is_err() {
                process::terminate_group(pid, true);
                let _ = child.wait().await;
            }
            log_line(&log, &format!("job {} stopped after its timeout of {}", job.name, job.timeout));
            return Err(failed(format!("it ran longer than its timeout of {}", job.timeout)));
        }
    };
    log_line(&log, &format!("job {} ended: {status}", job.name));
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(signal)) => format!("it was killed by signal {signal}"),
        (None, None) => format!("it ended: {status}"),
    };
    Err(failed(how))
}

/// The next minute after `now` (UTC) at which `schedule` fires, searched
/// day by day over nine years (February 29th comes back within eight);
/// `None` for a schedule that never fires (February 30th).
pub fn next_run(schedule: &berth_spec::model::units::Schedule, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let utc = jiff::tz::TimeZone::UTC;
    let start = now.to_zoned(utc.clone());
    let mut date = start.date();
    let mut after = Some((start.hour().unsigned_abs().into(), start.minute().unsigned_abs().into()));
    for _ in 0..9 * 366 {
        let weekday = u32::from(date.weekday().to_sunday_zero_offset().unsigned_abs());
        let (day, month) = (date.day().unsigned_abs().into(), date.month().unsigned_abs().into());
        if schedule.matches_day(day, month, weekday)
            && let Some((h, m)) = schedule.next_time_in_day(after)
        {
            let at = date.at(i8::try_from(h).ok()?, i8::try_from(m).ok()?, 0, 0);
            return at.to_zoned(utc).ok().map(|z| z.timestamp());
        }
        date = date.tomorrow().ok()?;
        after = None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::next_run;
    use berth_spec::model::units::Schedule;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn next_runs_are_whole_minutes_after_now() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(next_run(&s, at("2026-11-28T17:14:59Z")), Some(at("2026-11-28T17:15:00Z")));
        assert_eq!(next_run(&s, at("2026-11-28T17:15:00Z")), Some(at("2026-11-28T17:30:00Z")));
        let monday = Schedule::parse("30 2 * * 1").unwrap();
        assert_eq!(next_run(&monday, at("2026-11-28T17:00:00Z")), Some(at("2026-11-30T02:30:00Z")));
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(next_run(&leap, at("2026-11-28T00:00:00Z")), Some(at("2028-02-29T00:00:00Z")));
        assert_eq!(
            next_run(&leap, at("2096-03-01T00:00:00Z")),
            Some(at("2104-02-29T00:00:00Z")),
            "2100 is no leap year"
        );
        let or = Schedule::parse("0 0 1 * 1").unwrap();
        assert_eq!(next_run(&or, at("2026-11-28T00:00:00Z")), Some(at("2026-11-30T00:00:00Z")), "a Monday");
        assert_eq!(next_run(&or, at("2026-11-30T00:00:00Z")), Some(at("2026-12-01T00:00:00Z")), "the 1st");
        assert_eq!(next_run(&Schedule::parse("0 0 31 2 *").unwrap(), at("2026-01-01T00:00:00Z")), None);
    }
}
