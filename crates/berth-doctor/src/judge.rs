//! The judgments, pure: facts in, a status and a sentence out. Everything
//! here is unit-tested without a server, a clock or a disk.

use std::str::FromStr as _;

use berth_backup::wal::Gap;
use berth_plan::Replicas;
use jiff::{SignedDuration, Timestamp};

use crate::report::Status;

/// A status with its sentence and, when something is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub status: Status,
    pub message: String,
    pub hint: Option<String>,
}

impl Judged {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), hint: None }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// `3 d 4 h`, `2 h 5 min`, `12 min`, `40 s`: the two largest units.
pub fn span(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `2026-11-22 03:00 UTC`.
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// Running replicas against the spec: none is a failure, fewer than asked
/// (or outside the autoscaler's range) a warning.
pub fn replicas(expected: &Replicas, running: u32) -> Judged {
    let (low, high, wanted) = match expected {
        Replicas::Fixed { count } => (*count, *count, count.to_string()),
        Replicas::Autoscaled { min, max, .. } => (*min, *max, format!("{min}-{max}")),
    };
    let message = format!("{running} of {wanted} replicas running");
    match running {
        0 if low > 0 => Judged::new(Status::Fail, message).hint("see `berth status` and the replicas' logs"),
        n if n < low => Judged::new(Status::Warn, message).hint("see `berth status`: a replica stopped or crashes"),
        n if n > high => {
            Judged::new(Status::Warn, message).hint("more replicas than the spec allows: a deploy did not finish?")
        }
        _ => Judged::new(Status::Ok, message),
    }
}

/// A certificate's remaining validity: expired fails, under 30 days warns.
pub fn certificate(not_after: Timestamp, now: Timestamp) -> Judged {
    let left = now.duration_until(not_after);
    if left.is_negative() {
        return Judged::new(Status::Fail, format!("expired {} ago ({})", span(left), when(not_after)))
            .hint("renew the certificate; clients refuse it");
    }
    let message = format!("valid until {} ({} left)", when(not_after), span(left));
    if left < SignedDuration::from_hours(30 * 24) {
        Judged::new(Status::Warn, message).hint("renew it within the month")
    } else {
        Judged::new(Status::Ok, message)
    }
}

/// Free space of one filesystem: under 5% (or 512 MiB) fails, under 15%
/// (or 2 GiB) warns. A database that cannot write stops taking writes.
pub fn disk(free: u64, total: u64) -> Judged {
    const MIB: u64 = 1 << 20;
    let percent = if total == 0 { 100.0 } else { free as f64 * 100.0 / total as f64 };
    let message = format!("{} free of {} ({percent:.0}%)", bytes(free), bytes(total));
    if percent < 5.0 || free < 512 * MIB {
        Judged::new(Status::Fail, message)
            .hint("free space now: prune backups (`berth backup prune`), logs or old data")
    } else if percent < 15.0 || free < 2048 * MIB {
        Judged::new(Status::Warn, message).hint("plan more space before it runs out")
    } else {
        Judged::new(Status::Ok, message)
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A secret file readable by anyone but its owner fails.
pub fn secret_mode(mode: u32) -> Judged {
    let mode = mode & 0o7777;
    if mode & 0o077 == 0 {
        Judged::new(Status::Ok, format!("mode {mode:04o}"))
    } else {
        Judged::new(Status::Fail, format!("mode {mode:04o}: readable beyond its owner"))
            .hint("chmod 600 it (and rotate the secret if others could read it)")
    }
}

/// The newest backup against its schedule: the last scheduled run should
/// have produced one (allowing it time to finish); one missed run warns,
/// two fail.
pub fn backup_age(schedule: &str, now: Timestamp, newest: Option<Timestamp>, what: &str) -> Judged {
    let Some(newest) = newest else {
        return Judged::new(Status::Fail, format!("no {what} backup yet (schedule `{schedule}` UTC)"))
            .hint("take one now: berth backup, then berth backup verify");
    };
    let age = newest.duration_until(now);
    let message = format!("newest {what} backup finished {} ({} ago)", when(newest), span(age));
    let Some((last, before)) = last_two_runs(schedule, now) else {
        return Judged::new(Status::Warn, format!("{message}; schedule `{schedule}` not understood"));
    };
    let interval = before.duration_until(last);
    let grace = (interval / 2).min(SignedDuration::from_hours(6));
    if newest >= last || (newest >= before && last.checked_add(grace).is_ok_and(|deadline| now < deadline)) {
        Judged::new(Status::Ok, message)
    } else if newest >= before {
        Judged::new(Status::Warn, format!("{message}; the run due {} left none", when(last)))
            .hint("look at the backup job's last run (CronJob, systemd timer) and its log")
    } else {
        Judged::new(Status::Fail, format!("{message}; the runs due {} and {} left none", when(before), when(last)))
            .hint("backups are not running: check the backup job's schedule, logs and destination")
    }
}

/// The two most recent times `schedule` fired at or before `now`.
fn last_two_runs(schedule: &str, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
    let cron = croner::Cron::from_str(schedule).ok()?;
    let now = now.to_zoned(jiff::tz::TimeZone::UTC);
    let last = cron.find_previous_occurrence(&now, true).ok()?;
    let before = cron.find_previous_occurrence(&last, false).ok()?;
    Some((last.timestamp(), before.timestamp()))
}

/// What the server said about WAL archiving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archiver {
    pub archive_mode: String,
    /// The segment being written now.
    pub current: String,
    pub segment_size: u64,
    pub last_archived: Option<(String, Timestamp)>,
    pub last_failed: Option<(String, Timestamp)>,
}

/// Whether the archive keeps the recovery point: every finished segment
/// shipped, or the newest shipped one younger than the recovery point.
pub fn wal(
    now: Timestamp,
    recovery_point: SignedDuration,
    shipped: Option<(&str, Timestamp)>,
    server: Option<&Archiver>,
) -> Judged {
    let rpo = span(recovery_point);
    if let Some(server) = server {
        if server.archive_mode == "off" {
            return Judged::new(
                Status::Fail,
                format!("archive_mode is off: no WAL is archived, the recovery point of {rpo} cannot hold"),
            )
            .hint("start the server with archive_mode=on and berth's archive_command (berth up does)");
        }
        if let Some((segment, failed_at)) = &server.last_failed
            && server.last_archived.as_ref().is_none_or(|(_, at)| at < failed_at)
        {
            return Judged::new(
                Status::Fail,
                format!("archive_command fails: segment {segment} at {}", when(*failed_at)),
            )
            .hint("see the server's log for the archive_command error (disk full? spool missing?)");
        }
    }
    let Some((segment, shipped_at)) = shipped else {
        return Judged::new(Status::Fail, "no WAL segment in the destination: point-in-time recovery is impossible")
            .hint("check that archiving runs and that the WAL shipper (berth up, or berth backup wal-ship) does");
    };
    let age = shipped_at.duration_until(now);
    let message = format!("newest shipped segment {segment}, {} ago", span(age));
    if let Some(server) = server {
        let pending = match (
            berth_backup::wal::segment_number(segment, server.segment_size),
            berth_backup::wal::segment_number(&server.current, server.segment_size),
        ) {
            (Some((shipped_tl, shipped_no)), Some((current_tl, current_no))) if shipped_tl == current_tl => {
                current_no.saturating_sub(shipped_no + 1)
            }
            // Another timeline, or a name we cannot read: judge by age alone.
            _ => u64::MAX,
        };
        if pending == 0 {
            return Judged::new(Status::Ok, format!("{message}; every finished segment is shipped"));
        }
        if age <= recovery_point {
            return Judged::new(Status::Ok, format!("{message}, within the recovery point of {rpo}"));
        }
        let behind =
            if pending == u64::MAX { String::new() } else { format!("{pending} finished segments not shipped; ") };
        return Judged::new(Status::Fail, format!("{behind}{message}: the recovery point of {rpo} is not met"))
            .hint("the WAL shipper is behind or stopped: see berth up's output or run berth backup wal-ship");
    }
    if age <= recovery_point {
        Judged::new(Status::Ok, format!("{message}, within the recovery point of {rpo}"))
    } else {
        // An idle server writes no WAL, so an old segment alone proves nothing.
        Judged::new(
            Status::Warn,
            format!("{message}, older than the recovery point of {rpo}; the server could not be asked"),
        )
    }
}

/// Holes in the WAL archive, from each physical backup's first segment on
/// (`bases` oldest first, each with its gaps). One after the newest
/// backup's start fails: recovery to the present stops at it, and only a
/// new base backup mends that. One only older backups run into warns:
/// some moments before the newest backup are lost, until prune removes
/// those backups.
pub fn wal_gaps(dependency: &str, bases: &[(String, Vec<Gap>)]) -> Judged {
    let Some((newest, after_newest)) = bases.last() else {
        return Judged::new(Status::Skip, "no physical backup yet: no WAL it needs");
    };
    if let Some(gap) = after_newest.first() {
        let missing: u64 = after_newest.iter().map(|g| g.segments.max(1)).sum();
        let more = if missing > 1 { format!("; {missing} files missing in all") } else { String::new() };
        return Judged::new(Status::Fail, format!("{} (after backup {newest}, the newest{more})", gap.describe()))
            .hint(format!(
                "take a physical backup now (berth backup {dependency}): recovery to later moments starts from it; \
                 then find what removed the file from the archive"
            ));
    }
    if let Some((id, gap)) = bases.iter().find_map(|(id, gaps)| gaps.first().map(|g| (id, g))) {
        let message = format!("{} (after backup {id}; the newest, {newest}, is not affected)", gap.describe());
        return Judged::new(Status::Warn, message).hint(
            "moments between the gap and the newest backup cannot be recovered; this clears when prune removes \
             the older backups",
        );
    }
    let oldest = bases.first().map_or(newest, |(id, _)| id);
    Judged::new(Status::Ok, format!("no gap in the archived WAL since backup {oldest}"))
}

/// Whether a running server's setting equals the spec's, reading the units
/// PostgreSQL prints (`1GB` is `1024MB`, `30s` is `30000ms`), without
/// knowing the parameter (Redis directives, settings `pg_settings` lacks).
pub fn same_setting(spec: &str, running: &str) -> bool {
    same_pg_setting(spec, running, PgParameter::default())
}

/// What `pg_settings` says of a parameter: its base `unit` (`ms`, `s`,
/// `min`, `kB`, `8kB`, `MB`; none for unitless ones) and its `vartype`
/// (`bool`, `integer`, `real`, `enum`, `string`). Either may be unknown
/// (a setting of an extension that is not loaded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgParameter<'a> {
    pub unit: Option<&'a str>,
    pub vartype: Option<&'a str>,
}

/// A setting's value as PostgreSQL reads it, so that the spellings of one
/// value compare equal: `1000` (in a parameter counted in ms), `1s` and
/// `1000ms` are one duration; `8GB`, `8192MB` and `1048576` (in 8kB pages)
/// one size; `on`, `true`, `yes` and `1` (in a boolean) one truth value.
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    Bool(bool),
    /// A size, in bytes (PostgreSQL's `kB` is 1024 bytes).
    Bytes(f64),
    /// A duration, in microseconds.
    Micros(f64),
    /// A number without a unit.
    Number(f64),
    /// Anything else: an enum's value in lower case, a string as written
    /// (list items without the spaces around their commas).
    Text(String),
}

/// Whether the spec's value of a PostgreSQL parameter is the server's,
/// compared as [`PgValue`]s.
pub fn same_pg_setting(spec: &str, running: &str, parameter: PgParameter<'_>) -> bool {
    match (pg_value(spec, parameter), pg_value(running, parameter)) {
        (PgValue::Bytes(a), PgValue::Bytes(b))
        | (PgValue::Micros(a), PgValue::Micros(b))
        | (PgValue::Number(a), PgValue::Number(b)) => close(a, b),
        (a, b) => a == b,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= f64::EPSILON * 16.0 * a.abs().max(b.abs()).max(1.0)
}

/// Reads `text` as PostgreSQL reads a value of `parameter`: a bare number
/// counts in the parameter's unit, an integer parameter rounds to its unit,
/// a boolean takes every spelling PostgreSQL does (`on`, `off`, `true`,
/// `false`, `yes`, `no`, `1`, `0` and unique prefixes).
pub fn pg_value(text: &str, parameter: PgParameter<'_>) -> PgValue {
    let text = unquote(text);
    let vartype = parameter.vartype.map(str::to_ascii_lowercase);
    match vartype.as_deref() {
        Some("bool") => {
            if let Some(b) = pg_bool(&text, true) {
                return PgValue::Bool(b);
            }
        }
        Some("string") => return PgValue::Text(list_items(&text)),
        Some("enum") => return PgValue::Text(text.to_ascii_lowercase()),
        // Without the type, only words read as booleans: `1` may be a count.
        None => {
            if let Some(b) = pg_bool(&text, false) {
                return PgValue::Bool(b);
            }
        }
        Some(_) => {}
    }
    let base = parameter.unit.and_then(unit_scale);
    let Some((number, unit)) = split_number(&text) else {
        return PgValue::Text(text.to_ascii_lowercase());
    };
    let value = if unit.is_empty() {
        match base {
            Some((kind, scale)) => kind.value(number * scale),
            None => PgValue::Number(number),
        }
    } else {
        match unit_scale(unit) {
            Some((kind, scale)) => kind.value(number * scale),
            None => return PgValue::Text(text.to_ascii_lowercase()),
        }
    };
    // PostgreSQL rounds an integer parameter to its unit (`1500us` in a
    // parameter counted in ms is 2ms).
    match (value, base, vartype.as_deref()) {
        (PgValue::Bytes(v), Some((UnitKind::Bytes, scale)), Some("integer")) => {
            PgValue::Bytes((v / scale).round() * scale)
        }
        (PgValue::Micros(v), Some((UnitKind::Time, scale)), Some("integer")) => {
            PgValue::Micros((v / scale).round() * scale)
        }
        (value, _, _) => value,
    }
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(t);
    let t = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(t);
    t.trim().to_owned()
}

/// `a, b ,c` as `a,b,c`: `shared_preload_libraries` and other lists.
fn list_items(text: &str) -> String {
    text.split(',').map(str::trim).collect::<Vec<_>>().join(",")
}

/// PostgreSQL's boolean spellings: `on`, `off`, and unique prefixes of
/// `true`, `false`, `yes`, `no`; `1` and `0` only when the parameter is
/// known to be a boolean.
fn pg_bool(text: &str, digits: bool) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    match t.as_str() {
        "on" => return Some(true),
        "off" | "of" => return Some(false),
        "1" if digits => return Some(true),
        "0" if digits => return Some(false),
        "" => return None,
        _ => {}
    }
    if "true".starts_with(&t) || "yes".starts_with(&t) {
        Some(true)
    } else if "false".starts_with(&t) || "no".starts_with(&t) {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitKind {
    Bytes,
    Time,
}

impl UnitKind {
    fn value(self, v: f64) -> PgValue {
        match self {
            Self::Bytes => PgValue::Bytes(v),
            Self::Time => PgValue::Micros(v),
        }
    }
}

/// A leading number (`-1`, `0.5`, `1048576`) and the unit text after it.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    let number: f64 = text.get(..end)?.parse().ok()?;
    number.is_finite().then_some((number, text.get(end..)?.trim()))
}

/// A unit PostgreSQL knows (`B`, `kB`, `MB`, `GB`, `TB`; `us`, `ms`, `s`,
/// `min`, `h`, `d`), with a count in front as `pg_settings` gives some
/// (`8kB`, `16MB`), in bytes or microseconds.
fn unit_scale(unit: &str) -> Option<(UnitKind, f64)> {
    let unit = unit.trim();
    let digits = unit.find(|c: char| !c.is_ascii_digit()).unwrap_or(unit.len());
    let count: f64 = if digits == 0 { 1.0 } else { unit[..digits].parse().ok()? };
    let (kind, scale) = match unit[digits..].trim().to_ascii_lowercase().as_str() {
        "b" => (UnitKind::Bytes, 1.0),
        "kb" => (UnitKind::Bytes, 1024.0),
        "mb" => (UnitKind::Bytes, 1024.0 * 1024.0),
        "gb" => (UnitKind::Bytes, 1024.0 * 1024.0 * 1024.0),
        "tb" => (UnitKind::Bytes, 1024.0 * 1024.0 * 1024.0 * 1024.0),
        "us" => (UnitKind::Time, 1.0),
        "ms" => (UnitKind::Time, 1_000.0),
        "s" => (UnitKind::Time, 1_000_000.0),
        "min" => (UnitKind::Time, 60_000_000.0),
        "h" => (UnitKind::Time, 3_600_000_000.0),
        "d" => (UnitKind::Time, 86_400_000_000.0),
        _ => return None,
    };
    Some((kind, count * scale))
}

/// Whether a server's version (`15.8 (Debian 15.8-0+deb12u1)`, `7.0.15`)
/// is the one the spec names (`15`, `7.0`): every part the spec gives must match.
pub fn version_matches(spec: &str, server: &str) -> bool {
    let server = server.split_whitespace().next().unwrap_or_default();
    let server: Vec<&str> = server.split('.').collect();
    spec.split('.').enumerate().all(|(i, part)| server.get(i) == Some(&part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(SignedDuration::from_secs(40)), "40 s");
        assert_eq!(span(SignedDuration::from_secs(12 * 60 + 5)), "12 min");
        assert_eq!(span(SignedDuration::from_hours(2)), "2 h");
        assert_eq!(span(SignedDuration::from_secs(2 * 3600 + 5 * 60)), "2 h 5 min");
        assert_eq!(span(SignedDuration::from_hours(76)), "3 d 4 h");
        assert_eq!(span(SignedDuration::from_hours(-48)), "2 d");
    }

    #[test]
    fn replica_counts() {
        let fixed = Replicas::Fixed { count: 3 };
        assert_eq!(replicas(&fixed, 3).status, Status::Ok);
        assert_eq!(replicas(&fixed, 2).status, Status::Warn);
        assert_eq!(replicas(&fixed, 0).status, Status::Fail);
        assert_eq!(replicas(&fixed, 4).status, Status::Warn);
        let auto = Replicas::Autoscaled {
            min: 2,
            max: 5,
            cpu: None,
            memory: None,
            metric: None,
            scale_up: None,
            scale_down: None,
        };
        assert_eq!(replicas(&auto, 4).status, Status::Ok);
        assert_eq!(replicas(&auto, 4).message, "4 of 2-5 replicas running");
        assert_eq!(replicas(&auto, 1).status, Status::Warn);
    }

    #[test]
    fn certificates_warn_under_thirty_days() {
        let now = at("2026-11-22T12:00:00Z");
        assert_eq!(certificate(at("2027-02-01T00:00:00Z"), now).status, Status::Ok);
        let soon = certificate(at("2026-12-10T12:00:00Z"), now);
        assert_eq!(
            (soon.status, soon.message.as_str()),
            (Status::Warn, "valid until 2026-12-10 12:00 UTC (18 d left)")
        );
        let gone = certificate(at("2026-11-20T12:00:00Z"), now);
        assert_eq!((gone.status, gone.message.as_str()), (Status::Fail, "expired 2 d ago (2026-11-20 12:00 UTC)"));
    }

    #[test]
    fn disk_thresholds() {
        const GIB: u64 = 1 << 30;
        assert_eq!(disk(50 * GIB, 100 * GIB).status, Status::Ok);
        assert_eq!(disk(10 * GIB, 100 * GIB).status, Status::Warn);
        assert_eq!(disk(4 * GIB, 100 * GIB).status, Status::Fail);
        // Small volumes: absolute floors.
        assert_eq!(disk(GIB, 2 * GIB).status, Status::Warn);
        assert_eq!(disk(GIB / 4, GIB).status, Status::Fail);
        assert_eq!(disk(50 * GIB, 100 * GIB).message, "50.0 GiB free of 100.0 GiB (50%)");
    }

    #[test]
    fn secret_modes() {
        assert_eq!(secret_mode(0o100600).status, Status::Ok);
        assert_eq!(secret_mode(0o400).status, Status::Ok);
        assert_eq!(secret_mode(0o640).status, Status::Fail);
        assert_eq!(secret_mode(0o100644).message, "mode 0644: readable beyond its owner");
    }

    #[test]
    fn backup_age_against_a_daily_schedule() {
        let now = at("2026-11-22T12:00:00Z");
        let daily = "0 3 * * *";
        assert_eq!(backup_age(daily, now, Some(at("2026-11-22T03:20:00Z")), "verified").status, Status::Ok);
        let missed = backup_age(daily, now, Some(at("2026-11-21T03:20:00Z")), "verified");
        assert_eq!(missed.status, Status::Warn);
        assert!(missed.message.contains("the run due 2026-11-22 03:00 UTC left none"), "{}", missed.message);
        assert_eq!(backup_age(daily, now, Some(at("2026-11-20T03:20:00Z")), "verified").status, Status::Fail);
        assert_eq!(backup_age(daily, now, None, "verified").status, Status::Fail);
        // Right after the scheduled time, yesterday's backup is still fine: today's is running.
        let early = at("2026-11-22T04:00:00Z");
        assert_eq!(backup_age(daily, early, Some(at("2026-11-21T03:20:00Z")), "verified").status, Status::Ok);
    }

    #[test]
    fn backup_age_with_shorthand_and_hourly_schedules() {
        let now = at("2026-11-22T12:10:00Z");
        assert_eq!(backup_age("@hourly", now, Some(at("2026-11-22T11:05:00Z")), "complete").status, Status::Ok);
        // Half an hour after the run was due, it should have finished.
        let later = at("2026-11-22T12:40:00Z");
        assert_eq!(backup_age("@hourly", later, Some(at("2026-11-22T11:05:00Z")), "complete").status, Status::Warn);
        assert_eq!(backup_age("0 * * * *", now, Some(at("2026-11-22T10:05:00Z")), "complete").status, Status::Fail);
        assert_eq!(backup_age("@daily", now, Some(at("2026-11-22T00:30:00Z")), "complete").status, Status::Ok);
    }

    fn archiver(current: &str) -> Archiver {
        Archiver {
            archive_mode: "on".into(),
            current: current.into(),
            segment_size: 16 << 20,
            last_archived: None,
            last_failed: None,
        }
    }

    #[test]
    fn wal_judged_by_pending_segments_then_age() {
        let now = at("2026-11-22T12:00:00Z");
        let rpo = SignedDuration::from_mins(5);
        let old = at("2026-11-22T11:00:00Z");
        // Everything before the segment being written is shipped: fine however old.
        let idle = wal(now, rpo, Some(("000000010000000000000009", old)), Some(&archiver("00000001000000000000000A")));
        assert_eq!(idle.status, Status::Ok, "{}", idle.message);
        let behind =
            wal(now, rpo, Some(("000000010000000000000007", old)), Some(&archiver("00000001000000000000000A")));
        assert_eq!(behind.status, Status::Fail);
        assert!(behind.message.starts_with("2 finished segments not shipped"), "{}", behind.message);
        let recent = at("2026-11-22T11:58:00Z");
        assert_eq!(
            wal(now, rpo, Some(("000000010000000000000007", recent)), Some(&archiver("00000001000000000000000A")))
                .status,
            Status::Ok
        );
        // Segment numbers carry across the log id: 0/FF then 1/00.
        assert_eq!(
            wal(now, rpo, Some(("0000000100000000000000FF", old)), Some(&archiver("000000010000000100000000"))).status,
            Status::Ok
        );
        assert_eq!(wal(now, rpo, None, Some(&archiver("00000001000000000000000A"))).status, Status::Fail);
        let mut off = archiver("00000001000000000000000A");
        off.archive_mode = "off".into();
        assert_eq!(wal(now, rpo, Some(("000000010000000000000009", old)), Some(&off)).status, Status::Fail);
        let mut failing = archiver("00000001000000000000000A");
        failing.last_archived = Some(("000000010000000000000008".into(), at("2026-11-22T11:00:00Z")));
        failing.last_failed = Some(("000000010000000000000009".into(), at("2026-11-22T11:59:00Z")));
        let judged = wal(now, rpo, Some(("000000010000000000000008", old)), Some(&failing));
        assert_eq!(judged.status, Status::Fail);
        assert!(judged.message.contains("archive_command fails"));
        // Without the server, only the age speaks, and only as a warning.
        assert_eq!(wal(now, rpo, Some(("000000010000000000000009", old)), None).status, Status::Warn);
        assert_eq!(wal(now, rpo, Some(("000000010000000000000009", recent)), None).status, Status::Ok);
    }

    fn gap(first: &str, after: &str) -> Gap {
        Gap { first: first.into(), last: first.into(), segments: 1, after: Some(after.into()) }
    }

    #[test]
    fn wal_gaps_fail_after_the_newest_backup_and_warn_before_it() {
        let base = |id: &str, gaps: Vec<Gap>| (id.to_owned(), gaps);
        let whole = wal_gaps("db", &[base("a", Vec::new()), base("b", Vec::new())]);
        assert_eq!((whole.status, whole.message.as_str()), (Status::Ok, "no gap in the archived WAL since backup a"));
        let hole = gap("000000010000000000000009", "000000010000000000000008");
        let broken = wal_gaps("db", &[base("a", vec![hole.clone()]), base("b", vec![hole.clone()])]);
        assert_eq!(broken.status, Status::Fail);
        assert!(broken.message.starts_with("WAL segment 000000010000000000000009 is missing"), "{}", broken.message);
        assert!(broken.hint.unwrap().contains("berth backup db"));
        // The newest backup starts after the hole: only older moments are lost.
        let older = wal_gaps("db", &[base("a", vec![hole]), base("b", Vec::new())]);
        assert_eq!(older.status, Status::Warn);
        assert!(older.message.contains("after backup a; the newest, b, is not affected"), "{}", older.message);
        assert_eq!(wal_gaps("db", &[]).status, Status::Skip);
    }

    #[test]
    fn settings_compare_by_quantity() {
        assert!(same_setting("256MB", "256MB"));
        assert!(same_setting("1024MB", "1GB"));
        assert!(same_setting("30s", "30000ms"));
        assert!(same_setting("'on'", "on"));
        assert!(same_setting("true", "on"));
        assert!(same_setting("100", "100"));
        assert!(!same_setting("128MB", "256MB"));
        assert!(!same_setting("1s", "1MB"));
        assert!(!same_setting("replica", "logical"));
        // Without the parameter's type, `1` is a number, not `on`.
        assert!(!same_setting("1", "on"));
    }

    const MS: PgParameter<'static> = PgParameter { unit: Some("ms"), vartype: Some("integer") };
    const SECONDS: PgParameter<'static> = PgParameter { unit: Some("s"), vartype: Some("integer") };
    const PAGES: PgParameter<'static> = PgParameter { unit: Some("8kB"), vartype: Some("integer") };
    const KB: PgParameter<'static> = PgParameter { unit: Some("kB"), vartype: Some("integer") };
    const BOOL: PgParameter<'static> = PgParameter { unit: None, vartype: Some("bool") };

    #[test]
    fn durations_count_in_the_parameters_unit() {
        // log_min_duration_statement and statement_timeout count in ms.
        assert!(same_pg_setting("1000", "1s", MS));
        assert!(same_pg_setting("1s", "1s", MS));
        assert!(same_pg_setting("1000ms", "1s", MS));
        assert!(same_pg_setting("0", "0", MS));
        assert!(same_pg_setting("-1", "-1", MS));
        assert!(!same_pg_setting("500", "1s", MS));
        assert!(!same_pg_setting("1000", "1min", MS));
        // checkpoint_timeout counts in seconds: a bare 300 is 5min, not 300ms.
        assert!(same_pg_setting("300", "5min", SECONDS));
        assert!(same_pg_setting("5min", "5min", SECONDS));
        assert!(!same_pg_setting("300", "300ms", SECONDS));
        assert!(same_pg_setting("0.5s", "500ms", MS));
        // An integer parameter rounds to its unit, as PostgreSQL does.
        assert!(same_pg_setting("1500us", "2ms", MS));
        assert_eq!(pg_value("1000", MS), PgValue::Micros(1_000_000.0));
        assert_eq!(pg_value("1000", SECONDS), PgValue::Micros(1_000_000_000.0));
    }

    #[test]
    fn sizes_count_in_the_parameters_unit() {
        // shared_buffers counts in 8kB pages: 1048576 pages are 8GB.
        assert!(same_pg_setting("8GB", "8GB", PAGES));
        assert!(same_pg_setting("1048576", "8GB", PAGES));
        assert!(same_pg_setting("8192MB", "8GB", PAGES));
        assert!(same_pg_setting("16384", "128MB", PAGES));
        assert!(!same_pg_setting("8GB", "4GB", PAGES));
        assert!(!same_pg_setting("1048576", "8MB", PAGES));
        // work_mem counts in kB.
        assert!(same_pg_setting("4096", "4MB", KB));
        assert!(same_pg_setting("64MB", "65536kB", KB));
        assert!(!same_pg_setting("4096", "4GB", KB));
        // A duration is never a size.
        assert!(!same_pg_setting("1s", "1MB", KB));
        assert_eq!(pg_value("1048576", PAGES), PgValue::Bytes(8.0 * 1024.0 * 1024.0 * 1024.0));
    }

    #[test]
    fn booleans_in_every_spelling() {
        for on in ["on", "ON", "true", "t", "yes", "y", "1", "'on'"] {
            assert!(same_pg_setting(on, "on", BOOL), "{on}");
            assert!(!same_pg_setting(on, "off", BOOL), "{on}");
        }
        for off in ["off", "false", "f", "no", "n", "0"] {
            assert!(same_pg_setting(off, "off", BOOL), "{off}");
            assert!(!same_pg_setting(off, "on", BOOL), "{off}");
        }
        assert_eq!(pg_value("maybe", BOOL), PgValue::Text("maybe".to_owned()));
    }

    #[test]
    fn enums_and_strings() {
        let enumerated = PgParameter { unit: None, vartype: Some("enum") };
        assert!(same_pg_setting("Replica", "replica", enumerated));
        assert!(!same_pg_setting("logical", "replica", enumerated));
        let string = PgParameter { unit: None, vartype: Some("string") };
        assert!(same_pg_setting("pg_stat_statements, timescaledb", "pg_stat_statements,timescaledb", string));
        assert!(!same_pg_setting("timescaledb,pg_stat_statements", "pg_stat_statements,timescaledb", string));
        // A number in a parameter without a unit is a plain number.
        let count = PgParameter { unit: None, vartype: Some("integer") };
        assert!(same_pg_setting("200", "200", count));
        assert!(!same_pg_setting("200", "100", count));
    }

    #[test]
    fn versions_match_by_the_parts_the_spec_gives() {
        assert!(version_matches("15", "15.8 (Debian 15.8-0+deb12u1)"));
        assert!(version_matches("7.0", "7.0.15"));
        assert!(!version_matches("16", "15.8"));
        assert!(!version_matches("7.2", "7.0.15"));
        assert!(!version_matches("150", "15.8"));
    }
}
