//! Continuous WAL archiving. PostgreSQL's `archive_command` (set by `berth
//! up` for dependencies with physical backups) drops finished segments into
//! a local spool; [`ship`] compresses each into the destination as
//! `<dependency>/wal/<name>.zst` and only then removes it from the spool.
//! A segment already in the destination is accepted when identical and
//! refused when different: an archive is never overwritten.

use std::path::Path;

use crate::error::{BackupError, at, fail};
use crate::store::Destination;

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
        let raw = tokio::fs::read(&path).await.map_err(at("ship WAL"))?;
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

/// The newest segment in the destination (by name: names sort in WAL
/// order within a timeline, and later timelines sort after), and when the
/// store wrote it.
pub async fn newest_shipped(
    destination: &Destination,
    dependency: &str,
) -> Result<Option<(String, Option<jiff::Timestamp>)>, BackupError> {
    let prefix = format!("{}/", wal_dir(dependency));
    let newest = destination
        .list(&wal_dir(dependency))
        .await?
        .into_iter()
        .filter_map(|o| {
            let name = o.key.strip_prefix(&prefix)?.strip_suffix(".zst")?.to_owned();
            (name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit())).then_some((name, o.modified))
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    Ok(newest)
}

/// Timeline and segment number of a segment file name.
pub fn segment_number(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    if name.len() != 24 {
        return None;
    }
    let part = |r: std::ops::Range<usize>| name.get(r).and_then(|h| u64::from_str_radix(h, 16).ok());
    let per_id = 0x1_0000_0000 / segment_size.max(1);
    let timeline = u32::try_from(part(0..8)?).ok()?;
    Some((timeline, part(8..16)? * per_id + part(16..24)?))
}

/// The WAL file holding `lsn` (`0/3000028`) on `timeline`.
pub fn segment_name(timeline: u32, lsn: &str, segment_size: u64) -> Option<String> {
    let (hi, lo) = lsn.split_once('/')?;
    let lsn = (u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?;
    let segment = lsn / segment_size.max(1);
    let per_id = 0x1_0000_0000 / segment_size.max(1);
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
}
