//! Which backups and WAL segments `berth backup prune` keeps. Pure: the
//! listing and the clock come in, the decision goes out.
//!
//! Kept: the newest complete backup of each of the last `daily` days,
//! `weekly` ISO weeks and `monthly` months that have one; always the
//! newest verified backup and the newest backup; and incomplete backups
//! younger than a day (one may still be running). WAL is kept from the
//! oldest kept physical backup's start segment on, so every kept base
//! backup can still recover to any later moment.

use std::collections::{BTreeMap, BTreeSet};

use berth_spec::Retention;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One backup as the listing shows it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    /// When it finished; for an incomplete backup, when it was started.
    pub at: Timestamp,
    /// The manifest exists.
    pub complete: bool,
    pub verified: bool,
    /// Physical backups: the first WAL segment they need.
    pub wal_start: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Kept backups with every reason they are kept.
    pub keep: BTreeMap<String, Vec<&'static str>>,
    pub delete: Vec<String>,
    /// WAL segments older than every kept base backup.
    pub delete_wal: Vec<String>,
}

const DAY: i64 = 86_400;

/// The calendar bucket (day, ISO week or month) a backup falls in.
type Bucket = fn(Timestamp) -> (i16, i16);

pub fn decide(candidates: &[Candidate], retain: &Retention, wal: &[String], now: Timestamp) -> Decision {
    let mut complete: Vec<&Candidate> = candidates.iter().filter(|c| c.complete).collect();
    complete.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    let mut keep: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut mark = |id: &str, why: &'static str| keep.entry(id.to_owned()).or_default().push(why);

    let buckets: [(&'static str, u32, Bucket); 3] = [
        ("daily", retain.daily, |t| {
            let d = t.to_zoned(TimeZone::UTC).date();
            (d.year(), d.day_of_year())
        }),
        ("weekly", retain.weekly, |t| {
            let w = t.to_zoned(TimeZone::UTC).date().iso_week_date();
            (w.year(), i16::from(w.week()))
        }),
        ("monthly", retain.monthly, |t| {
            let d = t.to_zoned(TimeZone::UTC).date();
            (d.year(), i16::from(d.month()))
        }),
    ];
    for (why, count, bucket) in buckets {
        let mut seen = BTreeSet::new();
        for c in &complete {
            if seen.len() >= count as usize {
                break;
            }
            if seen.insert(bucket(c.at)) {
                mark(&c.id, why);
            }
        }
    }
    if let Some(newest) = complete.first() {
        mark(&newest.id, "newest");
    }
    if let Some(verified) = complete.iter().find(|c| c.verified) {
        mark(&verified.id, "newest verified");
    }
    for c in candidates.iter().filter(|c| !c.complete) {
        if now.as_second() - c.at.as_second() < DAY {
            mark(&c.id, "incomplete, may still be running");
        }
    }

    let delete = candidates.iter().filter(|c| !keep.contains_key(&c.id)).map(|c| c.id.clone()).collect();
    // The oldest WAL any kept base backup needs; with no kept base backup,
    // nothing is known to be unneeded, so nothing goes.
    let oldest_needed = candidates
        .iter()
        .filter(|c| keep.contains_key(&c.id))
        .filter_map(|c| c.wal_start.as_deref())
        .min_by_key(|s| position(s));
    let delete_wal = match oldest_needed {
        Some(start) => wal.iter().filter(|w| is_segment(w) && position(w) < position(start)).cloned().collect(),
        None => Vec::new(),
    };
    Decision { keep, delete, delete_wal }
}

/// A WAL segment file name: 24 hex digits (timeline, log, segment).
pub fn is_segment(name: &str) -> bool {
    name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The position of a segment in the WAL stream, ignoring the timeline:
/// a segment of a later timeline at the same position replaces, not
/// follows, the earlier one.
fn position(name: &str) -> &str {
    name.get(8..).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn backup(id: &str, when: &str) -> Candidate {
        Candidate { id: id.to_owned(), at: at(when), complete: true, verified: true, wal_start: None }
    }

    fn kept(d: &Decision) -> Vec<&str> {
        d.keep.keys().map(String::as_str).collect()
    }

    #[test]
    fn keeps_the_newest_of_each_day_week_and_month() {
        // Two a day for 40 days, from 2026-01-01 on.
        let mut all = Vec::new();
        for day in 0..40 {
            let date = at("2026-01-01T00:00:00Z").as_second() + day * DAY;
            for hour in [2, 14] {
                let t = Timestamp::from_second(date + hour * 3600).unwrap();
                all.push(backup(&format!("{}", t.strftime("%Y%m%dT%H%M%SZ")), &t.to_string()));
            }
        }
        let retain = Retention { daily: 3, weekly: 2, monthly: 2 };
        let d = decide(&all, &retain, &[], at("2026-02-10T00:00:00Z"));
        // Days 40, 39, 38 (Feb 9, 8, 7) at 14:00; the week of Feb 9 is
        // already kept by Feb 9, the week before by Sunday Feb 8; January's
        // newest is Jan 31.
        assert_eq!(kept(&d), vec!["20260131T140000Z", "20260207T140000Z", "20260208T140000Z", "20260209T140000Z"]);
        assert_eq!(d.delete.len(), 80 - 4);
        assert_eq!(d.keep["20260209T140000Z"], vec!["daily", "weekly", "monthly", "newest", "newest verified"]);
    }

    #[test]
    fn never_deletes_the_newest_verified_backup() {
        let mut a = backup("a", "2026-03-01T00:00:00Z");
        let mut b = backup("b", "2026-03-02T00:00:00Z");
        b.verified = false;
        a.verified = true;
        let d = decide(&[a, b], &Retention { daily: 1, weekly: 0, monthly: 0 }, &[], at("2026-03-03T00:00:00Z"));
        assert_eq!(kept(&d), vec!["a", "b"]);
        assert_eq!(d.keep["a"], vec!["newest verified"]);
    }

    #[test]
    fn incomplete_backups_go_after_a_day() {
        let mut running = backup("running", "2026-03-02T23:00:00Z");
        running.complete = false;
        let mut stale = backup("stale", "2026-03-01T00:00:00Z");
        stale.complete = false;
        let d = decide(&[running, stale], &Retention::default(), &[], at("2026-03-03T00:00:00Z"));
        assert_eq!(kept(&d), vec!["running"]);
        assert_eq!(d.delete, vec!["stale"]);
    }

    #[test]
    fn keeps_wal_from_the_oldest_kept_base_backup_on() {
        let mut old = backup("old", "2026-03-01T00:00:00Z");
        old.wal_start = Some("000000010000000000000003".to_owned());
        let mut new = backup("new", "2026-03-02T00:00:00Z");
        new.wal_start = Some("000000010000000000000009".to_owned());
        let wal: Vec<String> =
            ["000000010000000000000002", "000000010000000000000003", "000000010000000000000008", "00000002.history"]
                .map(str::to_owned)
                .to_vec();
        let one = Retention { daily: 1, weekly: 0, monthly: 0 };
        let d = decide(&[old.clone(), new.clone()], &one, &wal, at("2026-03-03T00:00:00Z"));
        assert_eq!(d.delete, vec!["old"]);
        assert_eq!(
            d.delete_wal,
            vec!["000000010000000000000002", "000000010000000000000003", "000000010000000000000008"]
        );
        let two = Retention { daily: 2, weekly: 0, monthly: 0 };
        let d = decide(&[old, new], &two, &wal, at("2026-03-03T00:00:00Z"));
        assert_eq!(d.delete_wal, vec!["000000010000000000000002"]);
    }

    #[test]
    fn without_a_kept_base_backup_no_wal_is_deleted() {
        let d =
            decide(&[], &Retention::default(), &["000000010000000000000002".to_owned()], at("2026-03-03T00:00:00Z"));
        assert!(d.delete_wal.is_empty());
    }
}
