//! Continuous WAL archiving. PostgreSQL's `archive_command` (set by `berth
//! up` for dependencies with physical backups) drops finished segments into
//! a local spool; [`ship`] compresses each into the destination as
//! `<dependency>/wal/<name>.zst` and only then removes it from the spool.
//! A segment already in the destination is accepted when identical and
//! refused when different: an archive is never overwritten. [`gaps`] finds
//! the holes in an archive that stop a point-in-time recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use berth_spec::BackupMethod;
use jiff::Timestamp;

use crate::error::{BackupError, at, fail};
use crate::manifest::Manifest;
use crate::retention::is_segment;
use crate::store::{Destination, Object};

/// PostgreSQL's default `wal_segment_size`: what a manifest that does not
/// record the size means.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

/// What one pass over the spool did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shipped {
    pub segments: Vec<String>,
}

pub fn wal_dir(dependency: &str) -> String {
    format!("{dependency}/wal")
}

/// Ships every finished file in `spool` (segments, `.history` and
/// `.backup` files), oldest first.
pub async fn ship(spool: &Path, destination: &Destination, dependency: &str) -> Result<Shipped, BackupError> {
    let mut names: Vec<String> = std::fs::read_dir(spool)
        .map_err(|e| fail("ship WAL", format!("{}: {e}", spool.display())))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".part") && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut shipped = Shipped::default();
    for name in names {
        let path = spool.join(&name);
        let read = path.clone();
        // Not a regular file of its own (a link, a FIFO): nothing
        // PostgreSQL archives. The spool belongs to PostgreSQL's user, and
        // root must neither read through a link planted there nor block on
        // a pipe; such an entry is left where it is.
        let Some(raw) = tokio::task::spawn_blocking(move || read_regular(&read))
            .await
            .map_err(at("ship WAL"))?
            .map_err(at("ship WAL"))?
        else {
            continue;
        };
        let key = format!("{}/{name}.zst", wal_dir(dependency));
        if let Some(existing) = destination.get_bytes(&key).await? {
            let same = zstd::stream::decode_all(existing.as_slice()).is_ok_and(|old| old == raw);
            if !same {
                return Err(fail(
                    "ship WAL",
                    format!("{key} already exists with different content; refusing to overwrite an archived segment"),
                ));
            }
        } else {
            let compressed = tokio::task::spawn_blocking(move || zstd::stream::encode_all(raw.as_slice(), 3))
                .await
                .map_err(at("ship WAL"))?
                .map_err(at("ship WAL"))?;
            destination.put_bytes(&key, compressed).await?;
        }
        tokio::fs::remove_file(&path).await.map_err(at("ship WAL"))?;
        shipped.segments.push(name);
    }
    Ok(shipped)
}

/// The content of `path` if it is a regular file, opened without
/// following a link or blocking.
fn read_regular(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
    let mut file = match std::fs::OpenOptions::new().read(true).custom_flags(flags.bits()).open(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) || e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    Ok(Some(raw))
}

/// Every file in `dependency`'s WAL archive (segments, `.history`,
/// `.backup`), by name without `.zst`, with when the store wrote it.
pub async fn archived(
    destination: &Destination,
    dependency: &str,
) -> Result<Vec<(String, Option<Timestamp>)>, BackupError> {
    Ok(archived_names(&destination.list(&wal_dir(dependency)).await?))
}

/// The names (without `.zst`) and times of a listing of the WAL archive.
pub(crate) fn archived_names(objects: &[Object]) -> Vec<(String, Option<Timestamp>)> {
    objects
        .iter()
        .filter_map(|o| Some((o.key.rsplit('/').next()?.strip_suffix(".zst")?.to_owned(), o.modified)))
        .collect()
}

/// The newest segment of `archived` (by name: names sort in WAL order
/// within a timeline, and later timelines sort after), and when the store
/// wrote it.
pub fn newest(archived: &[(String, Option<Timestamp>)]) -> Option<(String, Option<Timestamp>)> {
    archived.iter().filter(|(name, _)| is_segment(name)).max_by(|a, b| a.0.cmp(&b.0)).cloned()
}

/// The newest segment in the destination, and when the store wrote it.
pub async fn newest_shipped(
    destination: &Destination,
    dependency: &str,
) -> Result<Option<(String, Option<Timestamp>)>, BackupError> {
    Ok(newest(&archived(destination, dependency).await?))
}

/// A hole in the WAL archive that a recovery from a base backup runs into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The first missing file: a segment, or a timeline's `.history` file.
    pub first: String,
    /// The last missing segment of the run (`first` for a single segment
    /// or a history file).
    pub last: String,
    /// Segments missing in this run; 0 for a history file.
    pub segments: u64,
    /// The archived segment just before the hole, whose end is as far as
    /// recovery gets; `None` when the hole starts at the base backup's
    /// first segment.
    pub after: Option<String>,
}

impl Gap {
    /// What the hole means for a recovery, naming the first missing file.
    pub fn describe(&self) -> String {
        let stop = match &self.after {
            Some(after) => format!("at the end of {after}"),
            None => "at the end of the base backup's own WAL".to_owned(),
        };
        match self.segments {
            0 => format!(
                "timeline history file {} is missing from the WAL archive: recovery cannot follow that timeline and stops {stop}",
                self.first
            ),
            1 => format!(
                "WAL segment {} is missing from the archive: point-in-time recovery stops before it, {stop}",
                self.first
            ),
            n => format!(
                "WAL segments {} to {} ({n}) are missing from the archive: point-in-time recovery stops before {}, {stop}",
                self.first, self.last, self.first
            ),
        }
    }
}

/// The holes a recovery from a base backup whose WAL starts at
/// `start_segment` would run into, oldest first: every segment position
/// from that start to the newest archived segment must be archived on the
/// backup's timeline or a later one (the newest timeline at a position is
/// the one recovery follows), and every later timeline that has segments
/// needs its `.history` file, or recovery does not switch to it. `archived`
/// are file names without `.zst`; `.backup` and `.partial` files are not
/// needed. Segment numbers carry across log ids by `segment_size`: with
/// 16 MiB segments, `000000010000000100000000` follows
/// `0000000100000000000000FF`.
pub fn gaps(archived: &[String], start_segment: &str, segment_size: u64) -> Vec<Gap> {
    let Some((base_timeline, start)) = segment_number(start_segment, segment_size) else { return Vec::new() };
    let histories: BTreeSet<u32> = archived
        .iter()
        .filter_map(|n| n.strip_suffix(".history"))
        .filter(|t| t.len() == 8)
        .filter_map(|t| u32::from_str_radix(t, 16).ok())
        .collect();
    // The newest timeline archived at each position from the start on.
    let mut positions: BTreeMap<u64, u32> = BTreeMap::new();
    for name in archived.iter().filter(|n| is_segment(n)) {
        if let Some((timeline, number)) = segment_number(name, segment_size)
            && timeline >= base_timeline
            && number >= start
        {
            let newest = positions.entry(number).or_insert(timeline);
            *newest = (*newest).max(timeline);
        }
    }
    let mut out = Vec::new();
    let (mut expected, mut timeline, mut after) = (start, base_timeline, None::<String>);
    for (&number, &on) in &positions {
        if number > expected {
            out.push(Gap {
                first: file_name(timeline, expected, segment_size),
                last: file_name(timeline, number - 1, segment_size),
                segments: number - expected,
                after: after.clone(),
            });
        }
        if on > timeline {
            let history = format!("{on:08X}.history");
            if !histories.contains(&on) {
                out.push(Gap { first: history.clone(), last: history, segments: 0, after: after.clone() });
            }
            timeline = on;
        }
        after = Some(file_name(on, number, segment_size));
        expected = number + 1;
    }
    out
}

/// [`gaps`] after a backup: for a physical backup from its first WAL
/// segment on, with the segment size its manifest records; none for other
/// backups, which need no WAL.
pub fn backup_gaps(manifest: &Manifest, archived: &[String]) -> Vec<Gap> {
    match (manifest.method, &manifest.wal) {
        (BackupMethod::Physical, Some(wal)) => gaps(archived, &wal.start_segment, wal.segment_bytes()),
        (BackupMethod::Physical, None)
        | (BackupMethod::Logical | BackupMethod::Snapshot | BackupMethod::Archive, _) => Vec::new(),
    }
}

/// The hole a recovery to `target` cannot pass, if it must reach one:
/// recovery stops at the first commit after `target`, and every commit in
/// the segment before a hole happened before the store received that
/// segment, so a target at or after that moment needs what follows the
/// hole. A hole at the backup's first segment is always reached; one after
/// a segment the store gave no time for is left to recovery to find.
/// Returns the first hole, where recovery stops.
pub fn blocking<'g>(gaps: &'g [Gap], archived: &[(String, Option<Timestamp>)], target: Timestamp) -> Option<&'g Gap> {
    let reached = |gap: &Gap| match &gap.after {
        None => true,
        Some(after) => {
            archived.iter().find(|(name, _)| name == after).and_then(|(_, at)| *at).is_some_and(|at| at <= target)
        }
    };
    if gaps.iter().any(reached) { gaps.first() } else { None }
}

/// Timeline and segment number of a segment file name.
pub fn segment_number(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    if name.len() != 24 {
        return None;
    }
    let part = |r: std::ops::Range<usize>| name.get(r).and_then(|h| u64::from_str_radix(h, 16).ok());
    let per_id = segments_per_id(segment_size);
    let timeline = u32::try_from(part(0..8)?).ok()?;
    Some((timeline, part(8..16)? * per_id + part(16..24)?))
}

/// Segments per log id (the middle eight hex digits of a name); at least
/// one, whatever size a manifest claims.
fn segments_per_id(segment_size: u64) -> u64 {
    (0x1_0000_0000 / segment_size.max(1)).max(1)
}

/// The file name of segment `number` on `timeline`.
fn file_name(timeline: u32, number: u64, segment_size: u64) -> String {
    let per_id = segments_per_id(segment_size);
    format!("{timeline:08X}{:08X}{:08X}", number / per_id, number % per_id)
}

/// The WAL file holding `lsn` (`0/3000028`) on `timeline`.
pub fn segment_name(timeline: u32, lsn: &str, segment_size: u64) -> Option<String> {
    let (hi, lo) = lsn.split_once('/')?;
    let lsn = (u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?;
    let segment = lsn / segment_size.max(1);
    let per_id = segments_per_id(segment_size);
    Some(format!("{timeline:08X}{:08X}{:08X}", segment / per_id, segment % per_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_follow_postgres() {
        // pg_walfile_name('0/3000028') on timeline 1 with 16 MB segments.
        assert_eq!(segment_name(1, "0/3000028", 16 << 20).as_deref(), Some("000000010000000000000003"));
        assert_eq!(segment_name(2, "1/A0000000", 16 << 20).as_deref(), Some("0000000200000001000000A0"));
        assert_eq!(segment_name(1, "0/3000028", 64 << 20).as_deref(), Some("000000010000000000000000"));
        assert_eq!(segment_name(1, "nonsense", 16 << 20), None);
    }

    #[test]
    fn segment_numbers_invert_names() {
        for (timeline, lsn) in [(1, "0/3000028"), (2, "1/A0000000"), (7, "3F/FF000000")] {
            let name = segment_name(timeline, lsn, 16 << 20).unwrap();
            let (hi, lo) = lsn.split_once('/').unwrap();
            let lsn = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
            assert_eq!(segment_number(&name, 16 << 20), Some((timeline, lsn / (16 << 20))));
        }
        assert_eq!(segment_number("00000001000000000000000G", 16 << 20), None);
        assert_eq!(segment_number("short", 16 << 20), None);
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    const MIB16: u64 = 16 << 20;

    #[test]
    fn a_whole_archive_has_no_gaps() {
        let archived = names(&[
            "000000010000000000000002",
            "000000010000000000000003",
            "000000010000000000000003.00000028.backup",
            "000000010000000000000004",
        ]);
        assert_eq!(gaps(&archived, "000000010000000000000003", MIB16), Vec::<Gap>::new());
        // Segments before the backup's start are not its concern.
        assert_eq!(gaps(&archived[1..], "000000010000000000000003", MIB16), Vec::<Gap>::new());
        // Nothing archived from the start on yet: nothing to miss.
        assert_eq!(gaps(&archived[..1], "000000010000000000000003", MIB16), Vec::<Gap>::new());
    }

    #[test]
    fn a_missing_segment_between_the_start_and_the_newest_is_a_gap() {
        let archived = names(&["000000010000000000000003", "000000010000000000000005", "000000010000000000000006"]);
        let found = gaps(&archived, "000000010000000000000003", MIB16);
        assert_eq!(
            found,
            vec![Gap {
                first: "000000010000000000000004".into(),
                last: "000000010000000000000004".into(),
                segments: 1,
                after: Some("000000010000000000000003".into()),
            }]
        );
        assert_eq!(
            found[0].describe(),
            "WAL segment 000000010000000000000004 is missing from the archive: point-in-time recovery stops before it, at the end of 000000010000000000000003"
        );
        // The backup's own first segment missing: a gap with nothing before it.
        let found = gaps(&archived[1..], "000000010000000000000004", MIB16);
        assert_eq!((found[0].first.as_str(), found[0].after.as_deref()), ("000000010000000000000004", None));
    }

    #[test]
    fn runs_carry_across_log_ids_by_the_segment_size() {
        // 16 MiB: segment 0xFF of log 0 is followed by segment 0 of log 1.
        let archived = names(&["0000000100000000000000FE", "000000010000000100000001"]);
        assert_eq!(
            gaps(&archived, "0000000100000000000000FE", MIB16),
            vec![Gap {
                first: "0000000100000000000000FF".into(),
                last: "000000010000000100000000".into(),
                segments: 2,
                after: Some("0000000100000000000000FE".into()),
            }]
        );
        // 64 MiB: a log id holds 0x40 segments, so 0x3F is followed by 1/00.
        let archived = names(&["00000001000000000000003F", "000000010000000100000000"]);
        assert_eq!(gaps(&archived, "00000001000000000000003E", 64 << 20).len(), 1);
        assert_eq!(gaps(&archived, "00000001000000000000003F", 64 << 20), Vec::<Gap>::new());
        // Read with the wrong size, the same names look like a long hole.
        assert_eq!(gaps(&archived, "00000001000000000000003F", MIB16)[0].segments, 0xC0);
    }

    #[test]
    fn a_later_timeline_continues_the_archive_with_its_history() {
        // Timeline 2 branched off in segment 0x14: its copy of 0x14 and on.
        let mut archived = names(&[
            "000000010000000000000012",
            "000000010000000000000013",
            "000000010000000000000014.partial",
            "000000020000000000000014",
            "000000020000000000000015",
        ]);
        archived.push("00000002.history".into());
        assert_eq!(gaps(&archived, "000000010000000000000012", MIB16), Vec::<Gap>::new());
        // Without the history file, recovery never switches to timeline 2.
        archived.pop();
        assert_eq!(
            gaps(&archived, "000000010000000000000012", MIB16),
            vec![Gap {
                first: "00000002.history".into(),
                last: "00000002.history".into(),
                segments: 0,
                after: Some("000000010000000000000013".into()),
            }]
        );
        // A hole on the new timeline is named on it.
        let archived = names(&[
            "000000010000000000000013",
            "000000020000000000000014",
            "000000020000000000000016",
            "00000002.history",
        ]);
        assert_eq!(gaps(&archived, "000000010000000000000013", MIB16)[0].first, "000000020000000000000015");
        // Segments of an older timeline than the backup's do not count.
        let archived = names(&["000000020000000000000013", "000000010000000000000014", "000000020000000000000015"]);
        assert_eq!(gaps(&archived, "000000020000000000000013", MIB16)[0].first, "000000020000000000000014");
    }

    #[test]
    fn a_recovery_target_reaches_a_gap_once_the_segment_before_it_was_archived() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let archived = vec![
            ("000000010000000000000003".to_owned(), Some(at("2026-11-22T10:00:00Z"))),
            ("000000010000000000000005".to_owned(), Some(at("2026-11-22T10:10:00Z"))),
        ];
        let listed: Vec<String> = archived.iter().map(|(n, _)| n.clone()).collect();
        let found = gaps(&listed, "000000010000000000000003", MIB16);
        assert_eq!(
            blocking(&found, &archived, at("2026-11-22T10:05:00Z")).map(|g| g.first.as_str()),
            Some("000000010000000000000004")
        );
        assert_eq!(
            blocking(&found, &archived, at("2026-11-22T10:00:00Z")).map(|g| g.first.as_str()),
            Some("000000010000000000000004")
        );
        // Before that, recovery may stop in the segment before the hole.
        assert_eq!(blocking(&found, &archived, at("2026-11-22T09:59:00Z")), None);
        // Without the store's time, recovery itself finds out.
        let untimed = vec![("000000010000000000000003".to_owned(), None), archived[1].clone()];
        assert_eq!(blocking(&found, &untimed, at("2026-11-22T10:05:00Z")), None);
        assert_eq!(blocking(&[], &archived, at("2026-11-22T10:05:00Z")), None);
    }

    #[test]
    fn the_newest_segment_ignores_other_files() {
        let archived = vec![
            ("000000010000000000000003".to_owned(), None),
            ("00000002.history".to_owned(), None),
            ("000000010000000000000004.00000028.backup".to_owned(), None),
            ("000000010000000000000004".to_owned(), None),
        ];
        assert_eq!(newest(&archived).map(|(n, _)| n), Some("000000010000000000000004".to_owned()));
    }
}
