//! zstd in and out of files, spread over threads, with checksums taken in
//! the same pass.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{BackupError, at, fail};
use crate::manifest::{FileEntry, HashingReader, check_entry};

/// zstd's default: about pg_dump's gzip ratio at many times its speed.
const LEVEL: i32 = 3;
/// Files larger than this get zstd's own worker threads as well.
const BIG: u64 = 64 << 20;

/// Compresses each `(source, target)` pair; `jobs` files at a time.
pub(crate) async fn compress_all(pairs: Vec<(PathBuf, PathBuf)>, jobs: usize) -> Result<(), BackupError> {
    run_parallel(pairs, jobs, move |(src, dst)| compress(&src, &dst, jobs)).await.map(|_| ())
}

fn compress(src: &PathBuf, dst: &PathBuf, jobs: usize) -> Result<(), BackupError> {
    let input = File::open(src).map_err(|e| fail("compress", format!("{}: {e}", src.display())))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let output = File::create(dst).map_err(|e| fail("compress", format!("{}: {e}", dst.display())))?;
    let mut encoder =
        zstd::stream::write::Encoder::new(BufWriter::with_capacity(1 << 20, output), LEVEL).map_err(at("compress"))?;
    if size > BIG && jobs > 1 {
        encoder.multithread(u32::try_from(jobs).unwrap_or(1)).map_err(at("compress"))?;
    }
    std::io::copy(&mut BufReader::with_capacity(1 << 20, input), &mut encoder).map_err(at("compress"))?;
    let mut out = encoder.finish().map_err(at("compress"))?;
    out.flush().map_err(at("compress"))?;
    out.into_inner().map_err(|e| fail("compress", e.to_string()))?.sync_all().map_err(at("compress"))
}

/// Decompresses `src` into `dst`, checking `src` against its manifest
/// entry in the same pass. A mismatch is returned as a problem; the
/// caller decides (a verification collects every problem).
pub(crate) fn decompress_checked(
    src: &PathBuf,
    dst: &PathBuf,
    entry: &FileEntry,
) -> Result<Option<String>, BackupError> {
    let input = File::open(src).map_err(|e| fail("download", format!("{}: {e}", src.display())))?;
    let mut hashing = HashingReader::new(BufReader::with_capacity(1 << 20, input));
    let output = File::create(dst).map_err(|e| fail("decompress", format!("{}: {e}", dst.display())))?;
    let mut out = BufWriter::with_capacity(1 << 20, output);
    let decoded = zstd::stream::copy_decode(&mut hashing, &mut out);
    // Read what zstd left unread so the checksum covers the whole file.
    let _ = std::io::copy(&mut hashing, &mut std::io::sink());
    out.flush().map_err(at("decompress"))?;
    let (size, sha) = hashing.finish();
    if let Some(problem) = check_entry(entry, size, &sha) {
        return Ok(Some(problem));
    }
    match decoded {
        Ok(()) => Ok(None),
        Err(e) => Ok(Some(format!("{}: not valid zstd: {e}", entry.name))),
    }
}

/// Decompresses many files; returns every checksum problem found.
pub(crate) async fn decompress_all(
    items: Vec<(PathBuf, PathBuf, FileEntry)>,
    jobs: usize,
) -> Result<Vec<String>, BackupError> {
    let results = run_parallel(items, jobs, |(src, dst, entry)| decompress_checked(&src, &dst, &entry)).await?;
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
