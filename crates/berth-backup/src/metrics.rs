//! The backup state as Prometheus metrics (text exposition format), for
//! `berth backup exporter`: what the rendered alert on
//! `berth_backup_last_verified_timestamp_seconds` and dashboards read.
//! Pure: listings in, text out.

use std::fmt::Write as _;

use berth_spec::BackupMethod;
use jiff::Timestamp;

use crate::{Listed, wal};

/// What one dependency's destination showed.
#[derive(Debug, Clone)]
pub struct Observed {
    pub dependency: String,
    /// Whether the destination could be listed; the rest is empty when not.
    pub up: bool,
    pub backups: Vec<Listed>,
    /// When the newest WAL segment was shipped, for physical backups.
    pub wal_shipped: Option<Timestamp>,
    /// The names in the WAL archive (without `.zst`), for physical
    /// backups; `None` when there is none or it could not be listed.
    pub wal_archived: Option<Vec<String>>,
}

fn seconds(t: Timestamp) -> String {
    format!("{:.3}", t.as_millisecond() as f64 / 1000.0)
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders every family once, with one sample per dependency.
pub fn render(observed: &[Observed]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, sample: &dyn Fn(&Observed) -> Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for o in observed {
            for (extra, value) in sample(o) {
                let _ = writeln!(out, "{name}{{dependency=\"{}\"{extra}}} {value}", label(&o.dependency));
            }
        }
    };
    family("berth_backup_up", "gauge", "Whether the backup destination could be listed (1) or not (0).", &|o| {
        vec![(String::new(), u8::from(o.up).to_string())]
    });
    family(
        "berth_backup_last_verified_timestamp_seconds",
        "gauge",
        "When the newest backup that a scratch restore verified finished, in Unix seconds.",
        &|o| {
            let newest = o.backups.iter().rev().find(|l| l.complete() && l.verification.is_some());
            newest.and_then(Listed::at).map(|t| (String::new(), seconds(t))).into_iter().collect()
        },
    );
    family(
        "berth_backup_last_success_timestamp_seconds",
        "gauge",
        "When the newest complete backup (with a manifest) finished, in Unix seconds.",
        &|o| {
            let newest = o.backups.iter().rev().find(|l| l.complete());
            newest.and_then(Listed::at).map(|t| (String::new(), seconds(t))).into_iter().collect()
        },
    );
    family("berth_backup_last_size_bytes", "gauge", "Stored size of the newest complete backup.", &|o| {
        o.backups
            .iter()
            .rev()
            .find(|l| l.complete())
            .map(|l| (String::new(), l.stored.to_string()))
            .into_iter()
            .collect()
    });
    family("berth_backup_backups", "gauge", "Backups in the destination by state.", &|o| {
        if !o.up {
            // Unknown is not zero.
            return Vec::new();
        }
        let complete = o.backups.iter().filter(|l| l.complete()).count();
        let verified = o.backups.iter().filter(|l| l.complete() && l.verification.is_some()).count();
        let incomplete = o.backups.len() - complete;
        [("complete", complete), ("verified", verified), ("incomplete", incomplete)]
            .iter()
            .map(|(state, n)| (format!(",state=\"{state}\""), n.to_string()))
            .collect()
    });
    family(
        "berth_backup_wal_last_shipped_timestamp_seconds",
        "gauge",
        "When the newest archived WAL segment reached the destination, in Unix seconds.",
        &|o| o.wal_shipped.map(|t| (String::new(), seconds(t))).into_iter().collect(),
    );
    family(
        "berth_backup_wal_gap_segments",
        "gauge",
        "WAL files (segments, timeline history) missing from the archive after the newest physical backup's start; point-in-time recovery stops at the first. 0 when the archive is whole.",
        &|o| {
            // The newest base backup: a hole after it stops recovery to
            // the present, and a new backup is what mends it.
            let newest = o
                .backups
                .iter()
                .rev()
                .filter_map(|l| l.manifest.as_ref())
                .find(|m| m.method == BackupMethod::Physical && m.wal.is_some());
            match (newest, &o.wal_archived) {
                (Some(m), Some(archived)) => {
                    let missing: u64 = wal::backup_gaps(m, archived).iter().map(|g| g.segments.max(1)).sum();
                    vec![(String::new(), missing.to_string())]
                }
                _ => Vec::new(),
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Verification};

    fn listed(id: &str, finished: &str, verified: bool, complete: bool) -> Listed {
        let finished_at: Timestamp = finished.parse().unwrap();
        let manifest = Manifest {
            format: 1,
            id: id.into(),
            dependency: "db".into(),
            kind: crate::Kind::Postgres,
            method: BackupMethod::Logical,
            source: "127.0.0.1:5432/db".into(),
            server_version: "15.8".into(),
            tool: "pg_dump".into(),
            started_at: finished_at,
            finished_at,
            wal: None,
            size: 1024,
            files: Vec::new(),
            counts: Default::default(),
            tree_sha256: None,
            encrypted_to: None,
            signature: None,
        };
        Listed {
            id: id.into(),
            verification: verified.then(|| Verification {
                id: id.into(),
                verified_at: finished_at,
                restored_into: "scratch".into(),
                seconds: 1.0,
                counts: Default::default(),
            }),
            manifest: complete.then_some(manifest),
            stored: 1024,
        }
    }

    #[test]
    fn newest_verified_and_complete_per_dependency() {
        let observed = [
            Observed {
                dependency: "db".into(),
                up: true,
                backups: vec![
                    listed("20261120T030000Z", "2026-11-20T03:05:00Z", true, true),
                    listed("20261121T030000Z", "2026-11-21T03:05:00Z", false, true),
                    listed("20261122T030000Z", "2026-11-22T03:00:00Z", false, false),
                ],
                wal_shipped: Some("2026-11-22T10:00:00Z".parse().unwrap()),
                wal_archived: None,
            },
            Observed {
                dependency: "cache".into(),
                up: false,
                backups: Vec::new(),
                wal_shipped: None,
                wal_archived: None,
            },
        ];
        let text = render(&observed);
        assert!(
            text.contains("berth_backup_up{dependency=\"db\"} 1\nberth_backup_up{dependency=\"cache\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("berth_backup_last_verified_timestamp_seconds{dependency=\"db\"} 1795143900.000\n"),
            "{text}"
        );
        assert!(
            text.contains("berth_backup_last_success_timestamp_seconds{dependency=\"db\"} 1795230300.000\n"),
            "{text}"
        );
        assert!(text.contains("berth_backup_backups{dependency=\"db\",state=\"incomplete\"} 1\n"), "{text}");
        assert!(
            text.contains("berth_backup_wal_last_shipped_timestamp_seconds{dependency=\"db\"} 1795341600.000\n"),
            "{text}"
        );
        assert!(!text.contains("last_verified_timestamp_seconds{dependency=\"cache\"}"), "{text}");
        assert!(!text.contains("berth_backup_backups{dependency=\"cache\""), "{text}");
        // Logical backups need no WAL: no gap sample.
        assert!(!text.contains("berth_backup_wal_gap_segments{"), "{text}");
    }

    #[test]
    fn missing_wal_after_the_newest_physical_backup_is_counted() {
        let physical = |id: &str, finished: &str, start: &str| {
            let mut l = listed(id, finished, true, true);
            if let Some(m) = l.manifest.as_mut() {
                m.method = BackupMethod::Physical;
                m.wal = Some(crate::manifest::WalRange {
                    timeline: 1,
                    start_lsn: "0/1".into(),
                    end_lsn: "0/2".into(),
                    start_segment: start.into(),
                    end_segment: start.into(),
                    segment_size: Some(16 << 20),
                });
            }
            l
        };
        let observed = |archived: &[&str]| Observed {
            dependency: "db".into(),
            up: true,
            backups: vec![
                physical("20261120T030000Z", "2026-11-20T03:05:00Z", "000000010000000000000002"),
                physical("20261121T030000Z", "2026-11-21T03:05:00Z", "000000010000000000000005"),
            ],
            wal_shipped: None,
            wal_archived: Some(archived.iter().map(|n| (*n).to_owned()).collect()),
        };
        // A hole before the newest backup is no longer in the way of recovery to now.
        let text =
            render(&[observed(&["000000010000000000000002", "000000010000000000000005", "000000010000000000000006"])]);
        assert!(text.contains("berth_backup_wal_gap_segments{dependency=\"db\"} 0\n"), "{text}");
        let text = render(&[observed(&[
            "000000010000000000000005",
            "000000010000000000000008",
            "00000002.history",
            "000000020000000000000009",
        ])]);
        assert!(text.contains("berth_backup_wal_gap_segments{dependency=\"db\"} 2\n"), "{text}");
    }
}
