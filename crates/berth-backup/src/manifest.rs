//! The manifest of a backup, written after all its data so that a backup
//! without one is known to be incomplete, and the verification record a
//! successful scratch restore adds next to it.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{BackupError, at};

pub const MANIFEST: &str = "manifest.json";
pub const VERIFICATION: &str = "verification.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `pg_dump`, directory format, every file compressed with zstd.
    Logical,
    /// `pg_basebackup` (tar, zstd) plus archived WAL.
    Physical,
    /// A Redis RDB snapshot, compressed with zstd.
    Snapshot,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logical => "logical",
            Self::Physical => "physical",
            Self::Snapshot => "snapshot",
        }
    }

    /// The plan's method name (`BackupJob::method`).
    pub fn from_plan(name: &str) -> Option<Self> {
        match name {
            "logical" => Some(Self::Logical),
            "physical" => Some(Self::Physical),
            "snapshot" => Some(Self::Snapshot),
            _ => None,
        }
    }
}

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub dependency: String,
    /// `postgres` or `redis`.
    pub kind: String,
    pub method: Method,
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
    /// database (`db0`) for Redis, as of the backup's snapshot.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
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
}

impl Manifest {
    /// The manifest of a backup that has just finished.
    pub(crate) fn finished(source: &crate::Source, id: &str, method: Method, taken: Taken) -> Self {
        Self {
            format: 1,
            id: id.to_owned(),
            dependency: source.dependency.clone(),
            kind: source.kind.as_str().to_owned(),
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
