//! Backup destinations in object storage: `s3://` (AWS and S3-compatible
//! servers such as MinIO), `gs://` and `az://`, through the `object_store`
//! crate. It lives apart from `berth-backup` so that the backup logic, and
//! everything that links it, carries no HTTP client or TLS stack; the CLI
//! hands [`open`] to `berth_backup::Destination::open`.

use std::path::Path;
use std::sync::Arc;

use berth_backup::BackupError;
use berth_backup::progress::Progress;
use berth_backup::store::{Object, Store};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A bucket (or container) and the prefix inside it the destination names.
#[derive(Debug)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    root: String,
}

/// Opens the bucket `url` names. `options` are object_store settings
/// (`aws_endpoint`, `aws_region`, credentials), which the CLI takes from
/// the environment.
pub fn open(url: &url::Url, options: &[(String, String)]) -> Result<Arc<dyn Store>, BackupError> {
    let (store, root) = object_store::parse_url_opts(url, options.iter().map(|(k, v)| (k.as_str(), v.clone())))
        .map_err(|e| fail("open the destination", format!("{url}: {e}")))?;
    Ok(Arc::new(Bucket { store: Arc::from(store), root: root.to_string() }))
}

fn fail(step: &'static str, detail: impl Into<String>) -> BackupError {
    BackupError::Step { step, detail: detail.into() }
}

fn at<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> BackupError {
    move |e| fail(step, e.to_string())
}

impl Bucket {
    fn key(&self, rel: &str) -> ObjPath {
        if self.root.is_empty() { ObjPath::from(rel) } else { ObjPath::from(format!("{}/{rel}", self.root)) }
    }
}

impl Store for Bucket {
    fn put_bytes<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            self.store.put(&self.key(key), PutPayload::from(bytes)).await.map_err(at("upload"))?;
            Ok(())
        })
    }

    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: &'a Path,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            let mut input = tokio::fs::File::open(file).await.map_err(at("upload"))?;
            let mut writer = BufWriter::with_capacity(self.store.clone(), self.key(key), 16 << 20);
            let mut buf = vec![0u8; 8 << 20];
            loop {
                let n = input.read(&mut buf).await.map_err(at("upload"))?;
                if n == 0 {
                    break;
                }
                if let Err(e) = writer.write_all(&buf[..n]).await {
                    let _ = writer.abort().await;
                    return Err(fail("upload", format!("{key}: {e}")));
                }
                progress.advance(n as u64);
            }
            writer.shutdown().await.map_err(|e| fail("upload", format!("{key}: {e}")))
        })
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackupError>> {
        Box::pin(async move {
            match self.store.get(&self.key(key)).await {
                Ok(got) => Ok(Some(got.bytes().await.map_err(at("download"))?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
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
            let got = self.store.get(&self.key(key)).await.map_err(|e| fail("download", format!("{key}: {e}")))?;
            let mut stream = got.into_stream();
            let mut out = tokio::fs::File::create(to).await.map_err(at("download"))?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| fail("download", format!("{key}: {e}")))?;
                out.write_all(&chunk).await.map_err(at("download"))?;
                progress.advance(chunk.len() as u64);
            }
            out.flush().await.map_err(at("download"))
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, BackupError>> {
        Box::pin(async move {
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
            Ok(out)
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, BackupError>> {
        Box::pin(async move {
            match self.store.head(&self.key(key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(fail("list the destination", format!("{key}: {e}"))),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackupError>> {
        Box::pin(async move {
            match self.store.delete(&self.key(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(fail("delete", format!("{key}: {e}"))),
            }
        })
    }
}
