//! Where backups live. A [`Destination`] is a [`Store`]: a local directory
//! ([`Directory`], here) or object storage (S3 and S3-compatible servers,
//! GCS, Azure), which the `berth-object-store` crate implements. The split
//! keeps this crate free of HTTP clients and TLS: whoever opens a
//! destination (the CLI) says how remote URLs are reached.
//!
//! Layout under the destination, per dependency:
//! `<dependency>/backups/<id>/…` (data files, then `manifest.json` last,
//! then `verification.json` when a restore proved it) and
//! `<dependency>/wal/<segment>.zst` for archived WAL.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;

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

/// What a destination must do. Keys are `/`-separated and relative to the
/// destination; a key that does not exist is `Ok(None)` / `Ok(false)` /
/// an empty list, never an error. Writes are whole: a reader sees the old
/// object or the new one, never a part.
pub trait Store: Send + Sync + fmt::Debug {
    fn put_bytes<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), BackupError>>;
    /// Streams `file` up (in parts, for object storage).
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: &'a Path,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), BackupError>>;
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackupError>>;
    /// Writes the object's content to the file `to`.
    fn download<'a>(
        &'a self,
        key: &'a str,
        to: &'a Path,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), BackupError>>;
    /// Every object whose key is `prefix` or lies under it, in any order.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, BackupError>>;
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, BackupError>>;
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackupError>>;
}

#[derive(Debug, Clone)]
pub struct Destination {
    store: Arc<dyn Store>,
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
    /// directory) or `file://` here, anything else (`s3://bucket/prefix`,
    /// `gs://…`, `az://…`) through `remote`, which the caller provides
    /// (`berth_object_store::open`, with credentials from its environment).
    pub fn open(
        to: &str,
        base_dir: &Path,
        remote: impl FnOnce(&url::Url) -> Result<Arc<dyn Store>, BackupError>,
    ) -> Result<Self, BackupError> {
        if let Some(dir) = local_path(to, base_dir) {
            return Self::directory(&dir);
        }
        let url = url::Url::parse(to).map_err(|e| fail("open the destination", format!("{to}: {e}")))?;
        Ok(Self { store: remote(&url)?, local: None, display: to.to_owned() })
    }

    /// A local directory, created when missing (readable by its owner
    /// alone: backups hold everything the services keep).
    pub fn directory(dir: &Path) -> Result<Self, BackupError> {
        private_dirs(dir).map_err(|e| fail("open the destination", format!("{}: {e}", dir.display())))?;
        let dir = dir.canonicalize().map_err(at("open the destination"))?;
        Ok(Self {
            store: Arc::new(Directory { root: dir.clone() }),
            display: dir.display().to_string(),
            local: Some(dir),
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// The file behind `rel` when the destination is a local directory.
    /// The directory of what `rel` belongs to (its first component: a
    /// dependency or a volume) is made readable by its owner alone, also
    /// in a destination directory the operator made with another mode.
    pub fn local_path(&self, rel: &str) -> Option<PathBuf> {
        let root = self.local.as_ref()?;
        if let Some(first) = Path::new(rel).components().next() {
            let _ = private_dirs(&root.join(first));
        }
        Some(root.join(rel))
    }

    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store.put_bytes(rel, bytes).await
    }

    /// Streams a file up in parts (multipart upload for object storage).
    pub async fn put_file(&self, rel: &str, file: &Path, progress: &dyn Progress) -> Result<(), BackupError> {
        self.store.put_file(rel, file, progress).await
    }

    /// An object's bytes, or `None` when it does not exist.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, BackupError> {
        self.store.get_bytes(rel).await
    }

    /// A local file with the object's content: the file itself for a local
    /// destination, else a download into `work`.
    pub async fn fetch(&self, rel: &str, work: &Path, progress: &dyn Progress) -> Result<PathBuf, BackupError> {
        if let Some(path) = self.local_path(rel) {
            return Ok(path);
        }
        let target = work.join(rel.replace('/', "_"));
        self.store.download(rel, &target, progress).await?;
        Ok(target)
    }

    /// Every object under `prefix`, keys relative to the destination,
    /// sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Object>, BackupError> {
        let mut out = self.store.list(prefix).await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn exists(&self, rel: &str) -> Result<bool, BackupError> {
        self.store.exists(rel).await
    }

    pub async fn delete(&self, rel: &str) -> Result<(), BackupError> {
        self.store.delete(rel).await
    }
}

/// A destination that is a directory on this machine. Objects are files;
/// a write goes to a temporary name beside its file and is renamed into
/// place, so a crash never leaves half an object under its key.
#[derive(Debug)]
pub struct Directory {
    root: PathBuf,
}

/// Temporary files of unfinished writes start with this; listings skip
/// them.
const PARTIAL: &str = ".berth-partial-";

impl Directory {
    /// The file of `key`. Keys come from manifests and listings, which an
    /// attacker with write access to the destination controls: a key that
    /// would leave the directory is refused.
    fn path(&self, key: &str) -> Result<PathBuf, BackupError> {
        let rel = Path::new(key);
        let inside = !key.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(fail("open an object", format!("`{key}` is not a key inside the destination")));
        }
        Ok(self.root.join(rel))
    }

    /// A fresh temporary path beside `path`, and the directory made.
    fn partial(path: &Path) -> Result<PathBuf, BackupError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = path.parent().unwrap_or(Path::new("."));
        private_dirs(dir).map_err(|e| fail("upload", format!("{}: {e}", dir.display())))?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(dir.join(format!("{PARTIAL}{}-{n}", std::process::id())))
    }

    async fn commit(partial: &Path, path: &Path) -> Result<(), BackupError> {
        let file = tokio::fs::File::open(partial).await.map_err(at("upload"))?;
        file.sync_all().await.map_err(at("upload"))?;
        tokio::fs::rename(partial, path).await.map_err(|e| fail("upload", format!("{}: {e}", path.display())))
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }

    fn walk(&self, dir: &Path, out: &mut Vec<Object>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(PARTIAL) {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                // Deleted while we walked.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                self.walk(&entry.path(), out)?;
            } else if meta.is_file()
                && let Some(key) = self.key_of(&entry.path())
            {
                let modified = meta.modified().ok().and_then(|t| jiff::Timestamp::try_from(t).ok());
                out.push(Object { key, size: meta.len(), modified });
            }
        }
        Ok(())
    }
}

fn missing(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

impl Store for Directory {
    fn put_bytes<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let partial = Self::partial(&path)?;
            tokio::fs::write(&partial, bytes).await.map_err(|e| fail("upload", format!("{key}: {e}")))?;
            Self::commit(&partial, &path).await
        })
    }

    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: &'a Path,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if path == file {
                return Ok(());
            }
            let partial = Self::partial(&path)?;
            let copied = tokio::fs::copy(file, &partial).await.map_err(|e| fail("upload", format!("{key}: {e}")))?;
            progress.advance(copied);
            Self::commit(&partial, &path).await
        })
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackupError>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(key)?).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if missing(&e) => Ok(None),
                Err(e) => Err(fail("download", format!("{key}: {e}"))),
            }
        })
    }

    fn download<'a>(
        &'a self,
        key: &'a str,
        to: &'a Path,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            let copied =
                tokio::fs::copy(self.path(key)?, to).await.map_err(|e| fail("download", format!("{key}: {e}")))?;
            progress.advance(copied);
            Ok(())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, BackupError>> {
        Box::pin(async move {
            let prefix = prefix.trim_end_matches('/');
            let start = if prefix.is_empty() { self.root.clone() } else { self.path(prefix)? };
            let this = Directory { root: self.root.clone() };
            let listed = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                match std::fs::metadata(&start) {
                    Ok(meta) if meta.is_file() => {
                        let modified = meta.modified().ok().and_then(|t| jiff::Timestamp::try_from(t).ok());
                        out.extend(this.key_of(&start).map(|key| Object { key, size: meta.len(), modified }));
                        Ok(out)
                    }
                    Ok(_) => this.walk(&start, &mut out).map(|()| out),
                    Err(e) if missing(&e) => Ok(out),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(at("list the destination"))?;
            listed.map_err(at("list the destination"))
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, BackupError>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path(key)?).await {
                Ok(meta) => Ok(meta.is_file()),
                Err(e) if missing(&e) => Ok(false),
                Err(e) => Err(fail("list the destination", format!("{key}: {e}"))),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Ok(()) => Ok(()),
                Err(e) if missing(&e) => Ok(()),
                Err(e) => Err(fail("delete", format!("{key}: {e}"))),
            }
        })
    }
}

/// `dir` and its missing parents, each made mode 0700.
fn private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Quiet;

    fn destination() -> (tempfile::TempDir, Destination) {
        let dir = tempfile::tempdir().unwrap();
        let destination = Destination::directory(dir.path()).unwrap();
        (dir, destination)
    }

    #[tokio::test]
    async fn objects_round_trip_and_list_under_their_prefix_only() {
        let (_dir, d) = destination();
        d.put_bytes("db/backups/1/manifest.json", b"{}".to_vec()).await.unwrap();
        d.put_bytes("db/backups/2/data", vec![7; 10]).await.unwrap();
        d.put_bytes("db/backupsX/3", vec![1]).await.unwrap();
        assert_eq!(d.get_bytes("db/backups/2/data").await.unwrap(), Some(vec![7; 10]));
        assert_eq!(d.get_bytes("db/backups/9/data").await.unwrap(), None);
        let keys: Vec<_> = d.list("db/backups").await.unwrap().into_iter().map(|o| (o.key, o.size)).collect();
        assert_eq!(keys, [("db/backups/1/manifest.json".to_owned(), 2), ("db/backups/2/data".to_owned(), 10)]);
        assert!(d.list("db/backups").await.unwrap().iter().all(|o| o.modified.is_some()));
        assert!(d.list("nothing/here").await.unwrap().is_empty());
        assert!(d.exists("db/backups/1/manifest.json").await.unwrap());
        d.delete("db/backups/1/manifest.json").await.unwrap();
        d.delete("db/backups/1/manifest.json").await.unwrap();
        assert!(!d.exists("db/backups/1/manifest.json").await.unwrap());
    }

    #[tokio::test]
    async fn files_upload_whole_and_download() {
        let (dir, d) = destination();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, vec![3; 4096]).unwrap();
        d.put_file("db/wal/000000010000000000000001.zst", &src, &Quiet).await.unwrap();
        let work = tempfile::tempdir().unwrap();
        let remote = Destination { local: None, ..d.clone() };
        let got = remote.fetch("db/wal/000000010000000000000001.zst", work.path(), &Quiet).await.unwrap();
        assert_eq!(std::fs::read(got).unwrap(), vec![3; 4096]);
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("db/wal")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no partial file is left behind: {names:?}");
    }

    #[tokio::test]
    async fn keys_that_leave_the_directory_are_refused() {
        let (_dir, d) = destination();
        for key in ["../escape", "db/../../etc/passwd", "/etc/passwd", ""] {
            assert!(d.put_bytes(key, vec![1]).await.is_err(), "{key}");
            assert!(d.get_bytes(key).await.is_err(), "{key}");
        }
    }

    #[tokio::test]
    async fn remote_urls_go_to_the_opener_and_paths_stay_local() {
        let base = tempfile::tempdir().unwrap();
        let local = Destination::open("backups", base.path(), |_| unreachable!()).unwrap();
        assert!(local.local_path("x").unwrap().starts_with(base.path().canonicalize().unwrap()));
        let mut asked = None;
        let remote = Destination::open("s3://bucket/prefix", base.path(), |url| {
            asked = Some(url.to_string());
            Ok(Arc::new(Directory { root: base.path().to_owned() }))
        })
        .unwrap();
        assert_eq!(asked.as_deref(), Some("s3://bucket/prefix"));
        assert_eq!(remote.local_path("x"), None);
        assert_eq!(remote.display(), "s3://bucket/prefix");
    }
}
