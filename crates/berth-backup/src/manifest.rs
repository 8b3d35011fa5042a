//! The manifest of a backup, written after all its data so that a backup
//! without one is known to be incomplete, and the verification record a
//! successful scratch restore adds next to it.
//!
//! A manifest's checksums prove a backup's files are the ones it lists, but
//! whoever can write the destination can rewrite both. With the spec's
//! `signing_key`, berth signs the manifest (HMAC-SHA256 over
//! [`Manifest::canonical`]) and refuses one the key did not sign.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use berth_spec::{BackupMethod, DependencyKind};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{BackupError, at};

pub const MANIFEST: &str = "manifest.json";
pub const VERIFICATION: &str = "verification.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the backup.
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The WAL a physical backup needs to be consistent, from
/// `pg_basebackup`'s own manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalRange {
    pub timeline: u32,
    pub start_lsn: String,
    pub end_lsn: String,
    /// WAL file names: everything from `start_segment` on is needed to
    /// recover past the end of this backup.
    pub start_segment: String,
    pub end_segment: String,
    /// The server's `wal_segment_size` in bytes, which WAL file names are
    /// counted in. Absent from manifests written before berth recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_size: Option<u64>,
}

impl WalRange {
    /// The segment size to read WAL file names with: the recorded one when
    /// PostgreSQL could have used it (a power of two from 1 MiB to 1 GiB),
    /// else its default, 16 MiB.
    pub fn segment_bytes(&self) -> u64 {
        self.segment_size
            .filter(|s| s.is_power_of_two() && ((1 << 20)..=(1 << 30)).contains(s))
            .unwrap_or(crate::wal::DEFAULT_SEGMENT_SIZE)
    }
}

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Postgres,
    Redis,
    /// A service's volume: its files.
    Volume,
}

impl From<DependencyKind> for Kind {
    fn from(kind: DependencyKind) -> Self {
        match kind {
            DependencyKind::Postgres => Self::Postgres,
            DependencyKind::Redis => Self::Redis,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    /// The name backups are filed under: the dependency's, or
    /// `<service>.<volume>`.
    pub dependency: String,
    /// `postgres`, `redis` or `volume`.
    pub kind: Kind,
    /// `logical`, `physical` or `snapshot`: the spec's type, read back
    /// with `snapshot` allowed (a spec cannot say it; a manifest can).
    #[serde(deserialize_with = "BackupMethod::deserialize_recorded")]
    pub method: BackupMethod,
    /// `host:port/database`, never a password.
    pub source: String,
    pub server_version: String,
    /// The client program and its version.
    pub tool: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal: Option<WalRange>,
    /// Bytes stored, the sum of `files`.
    pub size: u64,
    pub files: Vec<FileEntry>,
    /// Rows per table (`schema.table`) for logical backups, keys per
    /// database (`db0`) for Redis, as of the backup's snapshot; files,
    /// directories, links and bytes for a volume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// A volume's files: SHA-256 over every entry's path, type, mode, size
    /// and content (or link target), in archive order
    /// (`crate::volume::Tree`). Verification and restores recompute it
    /// from what they unpacked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_sha256: Option<String>,
    /// The age recipient (public key) the stored files are encrypted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_to: Option<String>,
    /// HMAC-SHA256 of [`Manifest::canonical`] under the spec's signing
    /// key, lowercase hex; absent when the policy names no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

type HmacSha256 = Hmac<Sha256>;

/// The MAC of `bytes` under `key` (HMAC takes keys of any length).
fn mac(key: &[u8], bytes: &[u8]) -> Option<HmacSha256> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).ok()?;
    Mac::update(&mut m, bytes);
    Some(m)
}

/// What a backup method found; the rest of its manifest follows from the
/// source, the id and the method.
#[derive(Debug)]
pub(crate) struct Taken {
    pub(crate) started_at: Timestamp,
    pub(crate) server_version: String,
    pub(crate) tool: String,
    pub(crate) files: Vec<FileEntry>,
    pub(crate) counts: BTreeMap<String, u64>,
    pub(crate) wal: Option<WalRange>,
    /// The age recipient the stored files are encrypted to.
    pub(crate) encrypted_to: Option<String>,
}

impl Manifest {
    /// The manifest of a backup that has just finished.
    pub(crate) fn finished(source: &crate::Source, id: &str, method: BackupMethod, taken: Taken) -> Self {
        Self {
            format: 1,
            id: id.to_owned(),
            dependency: source.dependency.clone(),
            kind: source.kind.into(),
            method,
            source: source.address(),
            server_version: taken.server_version,
            tool: taken.tool,
            started_at: taken.started_at,
            finished_at: Timestamp::now(),
            wal: taken.wal,
            size: taken.files.iter().map(|f| f.size).sum(),
            files: taken.files,
            counts: taken.counts,
            tree_sha256: None,
            encrypted_to: taken.encrypted_to,
            signature: None,
        }
    }

    /// The bytes a signature covers: the manifest as compact JSON without
    /// its signature. Fields come in declaration order and maps sorted, so
    /// a manifest read back gives the same bytes it was signed with.
    pub fn canonical(&self) -> Vec<u8> {
        let unsigned = Self { signature: None, ..self.clone() };
        serde_json::to_vec(&unsigned).unwrap_or_default()
    }

    /// Signs the manifest with `key` (replacing any signature).
    pub fn sign(&mut self, key: &[u8]) {
        self.signature = mac(key, &self.canonical()).map(|m| hex(&Mac::finalize(m).into_bytes()));
    }

    /// Whether `key` signed this very manifest; the problem otherwise. A
    /// manifest rewritten after signing (its files' checksums included)
    /// or signed with another key does not match, and an unsigned one is
    /// refused: removing the signature must not be a way around it.
    pub fn check_signature(&self, key: &[u8]) -> Result<(), String> {
        let Some(signature) = &self.signature else {
            return Err("the manifest is not signed, but the backup policy names a signing key: it was written \
                        without the key, or its signature was removed"
                .to_owned());
        };
        let matches = unhex(signature)
            .zip(mac(key, &self.canonical()))
            .is_some_and(|(tag, m)| Mac::verify_slice(m, &tag).is_ok());
        if matches {
            Ok(())
        } else {
            Err("the manifest's signature does not match the signing key: the manifest (or a checksum in it) \
                 changed after berth signed it, or another key signed it"
                .to_owned())
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn from_json(id: &str, bytes: &[u8]) -> Result<Self, BackupError> {
        serde_json::from_slice(bytes).map_err(|e| BackupError::Step {
            step: "read the manifest",
            detail: format!("manifest of {id} is not valid: {e}"),
        })
    }
}

/// What a scratch restore of one backup showed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub id: String,
    pub verified_at: Timestamp,
    /// How the copy was brought up (`scratch PostgreSQL 15.8 on 127.0.0.1:41234`).
    pub restored_into: String,
    pub seconds: f64,
    /// What the restored copy holds, counted the same way as the manifest.
    pub counts: BTreeMap<String, u64>,
}

impl Verification {
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string; `None` for anything else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// sha256 and size of a file, read in large blocks.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| BackupError::Step { step: "checksum", detail: format!("{}: {e}", path.display()) })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(at("checksum"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

/// A reader that hashes what passes through it, so a restore checks a
/// file's checksum in the same pass that decompresses it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    pub(crate) size: u64,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new(), size: 0 }
    }

    pub(crate) fn finish(self) -> (u64, String) {
        (self.size, hex(&self.hasher.finalize()))
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Compares a file's size and sha256 with its manifest entry.
pub(crate) fn check_entry(entry: &FileEntry, size: u64, sha256: &str) -> Option<String> {
    if entry.size != size {
        Some(format!("{}: {size} bytes, the manifest says {}", entry.name, entry.size))
    } else if entry.sha256 != sha256 {
        Some(format!("{}: sha256 {sha256}, the manifest says {}", entry.name, entry.sha256))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let at: Timestamp = "2026-11-22T03:05:00.123456789Z".parse().unwrap();
        Manifest {
            format: 1,
            id: "20261122T030000Z".into(),
            dependency: "db".into(),
            kind: Kind::Postgres,
            method: BackupMethod::Logical,
            source: "127.0.0.1:5432/shop".into(),
            server_version: "15.8".into(),
            tool: "pg_dump (PostgreSQL) 15.8".into(),
            started_at: at,
            finished_at: at,
            wal: None,
            size: 3,
            files: vec![FileEntry { name: "dump/toc.dat.zst".into(), size: 3, sha256: "a".repeat(64) }],
            counts: BTreeMap::from([("public.orders".to_owned(), 7)]),
            tree_sha256: None,
            encrypted_to: None,
            signature: None,
        }
    }

    #[test]
    fn a_signed_manifest_checks_after_a_round_trip_through_its_file() {
        let mut m = manifest();
        m.sign(b"the key");
        assert_eq!(m.signature.as_ref().map(String::len), Some(64));
        let read = Manifest::from_json(&m.id, &m.to_json()).unwrap();
        assert_eq!(read.check_signature(b"the key"), Ok(()));
        // Signing is deterministic and does not cover the signature itself.
        let mut again = read.clone();
        again.sign(b"the key");
        assert_eq!(again.signature, m.signature);
    }

    #[test]
    fn rewritten_checksums_another_key_or_no_signature_are_refused() {
        let mut m = manifest();
        m.sign(b"the key");
        // A dump rewritten and its checksum recomputed: consistent, but not what berth signed.
        let mut rewritten = m.clone();
        rewritten.files[0].sha256 = "b".repeat(64);
        rewritten.counts.insert("public.orders".into(), 8);
        let problem = rewritten.check_signature(b"the key").unwrap_err();
        assert!(problem.contains("does not match"), "{problem}");
        assert!(m.check_signature(b"another key").unwrap_err().contains("does not match"));
        let mut unsigned = m.clone();
        unsigned.signature = None;
        assert!(unsigned.check_signature(b"the key").unwrap_err().contains("not signed"));
        let mut garbled = m.clone();
        garbled.signature = Some("not hex at all".into());
        assert!(garbled.check_signature(b"the key").is_err());
    }

    #[test]
    fn kind_and_method_keep_their_spelling_on_disk() {
        let mut m = manifest();
        m.kind = Kind::Redis;
        m.method = BackupMethod::Snapshot;
        let json: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!((json["kind"].as_str(), json["method"].as_str()), (Some("redis"), Some("snapshot")));
        let read = Manifest::from_json(&m.id, &m.to_json()).unwrap();
        assert_eq!((read.kind, read.method), (Kind::Redis, BackupMethod::Snapshot));
        // A spec cannot ask for a snapshot; a manifest records one.
        assert!(serde_json::from_str::<BackupMethod>("\"snapshot\"").is_err());
        let mut bad = json;
        bad["method"] = "incremental".into();
        assert!(Manifest::from_json(&m.id, &serde_json::to_vec(&bad).unwrap()).is_err());
    }

    #[test]
    fn segment_sizes_postgres_cannot_use_read_as_the_default() {
        let range = |size| WalRange {
            timeline: 1,
            start_lsn: "0/3000028".into(),
            end_lsn: "0/3000100".into(),
            start_segment: "000000010000000000000003".into(),
            end_segment: "000000010000000000000003".into(),
            segment_size: size,
        };
        assert_eq!(range(Some(64 << 20)).segment_bytes(), 64 << 20);
        assert_eq!(range(None).segment_bytes(), 16 << 20);
        assert_eq!(range(Some(3 << 20)).segment_bytes(), 16 << 20);
        assert_eq!(range(Some(1 << 40)).segment_bytes(), 16 << 20);
    }
}
