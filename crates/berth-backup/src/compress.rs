//! zstd in and out of files (through age when the policy encrypts),
//! spread over threads, with checksums taken in the same pass.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::crypt::{self, EncryptionKey, Sink};
use crate::error::{BackupError, at, fail};
use crate::manifest::{FileEntry, HashingReader, check_entry};

/// zstd's default: about pg_dump's gzip ratio at many times its speed.
const LEVEL: i32 = 3;
/// Files larger than this get zstd's own worker threads as well.
const BIG: u64 = 64 << 20;

/// Compresses each `(source, target)` pair, `jobs` files at a time, and
/// encrypts them to `key` when given.
pub(crate) async fn compress_all(
    pairs: Vec<(PathBuf, PathBuf)>,
    jobs: usize,
    key: Option<EncryptionKey>,
) -> Result<(), BackupError> {
    run_parallel(pairs, jobs, move |(src, dst)| compress(&src, &dst, jobs, key.as_ref())).await.map(|_| ())
}

fn compress(src: &PathBuf, dst: &PathBuf, jobs: usize, key: Option<&EncryptionKey>) -> Result<(), BackupError> {
    let input = File::open(src).map_err(|e| fail("compress", format!("{}: {e}", src.display())))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let output = File::create(dst).map_err(|e| fail("compress", format!("{}: {e}", dst.display())))?;
    let sink = Sink::new(BufWriter::with_capacity(1 << 20, output), key)?;
    let mut encoder = zstd::stream::write::Encoder::new(sink, LEVEL).map_err(at("compress"))?;
    if size > BIG && jobs > 1 {
        encoder.multithread(u32::try_from(jobs).unwrap_or(1)).map_err(at("compress"))?;
    }
    std::io::copy(&mut BufReader::with_capacity(1 << 20, input), &mut encoder).map_err(at("compress"))?;
    let sink = encoder.finish().map_err(at("compress"))?;
    sink.finish().map_err(at("compress"))?.sync_all().map_err(at("compress"))
}

/// Decompresses `src` into `dst` (decrypting it with `key` when given),
/// checking `src` against its manifest entry in the same pass. A mismatch
/// is returned as a problem; the caller decides (a verification collects
/// every problem).
pub(crate) fn decompress_checked(
    src: &PathBuf,
    dst: &PathBuf,
    entry: &FileEntry,
    key: Option<&EncryptionKey>,
) -> Result<Option<String>, BackupError> {
    let input = File::open(src).map_err(|e| fail("download", format!("{}: {e}", src.display())))?;
    let mut hashing = HashingReader::new(BufReader::with_capacity(1 << 20, input));
    let output = File::create(dst).map_err(|e| fail("decompress", format!("{}: {e}", dst.display())))?;
    let mut out = BufWriter::with_capacity(1 << 20, output);
    // A file that does not decrypt (another key, a flipped byte: age
    // authenticates every chunk) is a problem of this backup, not an error.
    let decoded = crypt::reader(&mut hashing, key)
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|mut plain| zstd::stream::copy_decode(&mut plain, &mut out));
    // Read what zstd left unread so the checksum covers the whole file.
    let _ = std::io::copy(&mut hashing, &mut std::io::sink());
    out.flush().map_err(at("decompress"))?;
    let (size, sha) = hashing.finish();
    if let Some(problem) = check_entry(entry, size, &sha) {
        return Ok(Some(problem));
    }
    match decoded {
        Ok(()) => Ok(None),
        Err(e) => Ok(Some(format!("{}: cannot be read back: {e}", entry.name))),
    }
}

/// Decompresses many files; returns every checksum problem found.
pub(crate) async fn decompress_all(
    items: Vec<(PathBuf, PathBuf, FileEntry)>,
    jobs: usize,
    key: Option<EncryptionKey>,
) -> Result<Vec<String>, BackupError> {
    let results =
        run_parallel(items, jobs, move |(src, dst, entry)| decompress_checked(&src, &dst, &entry, key.as_ref()))
            .await?;
    Ok(results.into_iter().flatten().collect())
}

/// Runs `work` over `items` on `jobs` blocking threads; the first error wins.
async fn run_parallel<T, R, F>(items: Vec<T>, jobs: usize, work: F) -> Result<Vec<R>, BackupError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Result<R, BackupError> + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || {
        let queue = Mutex::new(items.into_iter());
        let results = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..jobs.max(1) {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some(item) = next else { break };
                        let result = work(item);
                        let failed = result.is_err();
                        if let Ok(mut r) = results.lock() {
                            r.push(result);
                        }
                        if failed {
                            break;
                        }
                    }
                });
            }
        });
        results.into_inner().unwrap_or_default().into_iter().collect::<Result<Vec<R>, BackupError>>()
    })
    .await
    .map_err(at("compress"))?
}
