//! Where backups live: a local directory or object storage (S3 and
//! S3-compatible servers, GCS, Azure), through the `object_store` crate.
//!
//! Layout under the destination, per dependency:
//! `<dependency>/backups/<id>/…` (data files, then `manifest.json` last,
//! then `verification.json` when a restore proved it) and
//! `<dependency>/wal/<segment>.zst` for archived WAL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt as _;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::{BackupError, at, fail};
use crate::progress::Progress;

/// An object in a destination, by its key relative to the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
    /// When the store last wrote it.
    pub modified: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    root: String,
    /// The directory, for a local destination: data is written in place.
    local: Option<PathBuf>,
    display: String,
}

/// A local destination: a path, or `file://`.
fn local_path(to: &str, base_dir: &Path) -> Option<PathBuf> {
    let path = match to.split_once("://") {
        Some(("file", rest)) => rest,
        Some(_) => return None,
        None => to,
    };
    Some(base_dir.join(path))
}

impl Destination {
    /// Opens `to` from the spec: a directory (relative to the spec's
    /// directory), `file://`, `s3://bucket/prefix`, `gs://…` or `az://…`.
    /// `options` are object_store settings (`aws_endpoint`, `aws_region`,
    /// credentials), which the CLI takes from the environment.
    pub fn open(to: &str, base_dir: &Path, options: &[(String, String)]) -> Result<Self, BackupError> {
        if let Some(dir) = local_path(to, base_dir) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| fail("open the destination", format!("{}: {e}", dir.display())))?;
            let dir = dir.canonicalize().map_err(at("open the destination"))?;
            let store = LocalFileSystem::new_with_prefix(&dir).map_err(at("open the destination"))?;
            return Ok(Self {
                store: Arc::new(store),
                root: String::new(),
                display: dir.display().to_string(),
                local: Some(dir),
            });
        }
        let url = url::Url::parse(to).map_err(|e| fail("open the destination", format!("{to}: {e}")))?;
        let (store, root) = object_store::parse_url_opts(&url, options.iter().map(|(k, v)| (k.as_str(), v.clone())))
            .map_err(|e| fail("open the destination", format!("{to}: {e}")))?;
        Ok(Self { store: Arc::from(store), root: root.to_string(), local: None, display: to.to_owned() })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.root.is_empty() { ObjPath::from(rel) } else { ObjPath::from(format!("{}/{rel}", self.root)) }
    }

    /// The file behind `rel` when the destination is a local directory.
    pub fn local_path(&self, rel: &str) -> Option<PathBuf> {
        self.local.as_ref().map(|d| d.join(rel))
    }

    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store.put(&self.key(rel), PutPayload::from(bytes)).await.map_err(at("upload"))?;
        Ok(())
    }

    /// Streams a file up in parts (multipart upload for object storage).
    pub async fn put_file(&self, rel: &str, file: &Path, progress: &dyn Progress) -> Result<(), BackupError> {
        let mut input = tokio::fs::File::open(file).await.map_err(at("upload"))?;
        let mut writer = BufWriter::with_capacity(self.store.clone(), self.key(rel), 16 << 20);
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = input.read(&mut buf).await.map_err(at("upload"))?;
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write_all(&buf[..n]).await {
                let _ = writer.abort().await;
                return Err(fail("upload", format!("{rel}: {e}")));
            }
            progress.advance(n as u64);
        }
        writer.shutdown().await.map_err(|e| fail("upload", format!("{rel}: {e}")))
    }

    /// An object's bytes, or `None` when it does not exist.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, BackupError> {
        match self.store.get(&self.key(rel)).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(at("download"))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(fail("download", format!("{rel}: {e}"))),
        }
    }

    /// A local file with the object's content: the file itself for a local
    /// destination, else a download into `work`.
    pub async fn fetch(&self, rel: &str, work: &Path, progress: &dyn Progress) -> Result<PathBuf, BackupError> {
        if let Some(path) = self.local_path(rel) {
            return Ok(path);
        }
        let target = work.join(rel.replace('/', "_"));
        let got = self.store.get(&self.key(rel)).await.map_err(|e| fail("download", format!("{rel}: {e}")))?;
        let mut stream = got.into_stream();
        let mut out = tokio::fs::File::create(&target).await.map_err(at("download"))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail("download", format!("{rel}: {e}")))?;
            out.write_all(&chunk).await.map_err(at("download"))?;
            progress.advance(chunk.len() as u64);
        }
        out.flush().await.map_err(at("download"))?;
        Ok(target)
    }

    /// Every object under `prefix`, keys relative to the destination.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Object>, BackupError> {
        let key = self.key(prefix);
        let mut stream = self.store.list(Some(&key));
        let mut out = Vec::new();
        let root = if self.root.is_empty() { String::new() } else { format!("{}/", self.root) };
        while let Some(meta) = stream.next().await {
            match meta {
                Ok(meta) => {
                    let full = meta.location.to_string();
                    let rel = full.strip_prefix(&root).unwrap_or(&full).to_owned();
                    let modified = jiff::Timestamp::from_millisecond(meta.last_modified.timestamp_millis()).ok();
                    out.push(Object { key: rel, size: meta.size, modified });
                }
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(fail("list the destination", e.to_string())),
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn exists(&self, rel: &str) -> Result<bool, BackupError> {
        match self.store.head(&self.key(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(fail("list the destination", format!("{rel}: {e}"))),
        }
    }

    pub async fn delete(&self, rel: &str) -> Result<(), BackupError> {
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(fail("delete", format!("{rel}: {e}"))),
        }
    }
}
