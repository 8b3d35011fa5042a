//! Log files under the state directory, kept to a bounded size: the edge's
//! access log, each replica's and server's output, and `berth up`'s own.
//!
//! Rotation copies a file that grew past [`MAX_BYTES`] to `<name>.1`
//! (shifting older copies up to `<name>.<KEEP>`) and truncates it in place
//! (logrotate's `copytruncate`): every writer holds the file open in append
//! mode, processes berth did not write included, so renaming would leave
//! them writing to the rotated copy. Lines written between the copy and the
//! truncation are lost; at one check every [`CHECK_EVERY`] that is a small
//! window. An external logrotate (rename, then SIGHUP to `berth up`) works
//! too: the edge reopens its access log on SIGHUP.

use std::path::Path;
use std::time::Duration;

pub const MAX_BYTES: u64 = 100 << 20;
pub const KEEP: u32 = 5;
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// Rotates every `*.log` in `dir` that is larger than `max_bytes`; returns
/// the files rotated.
pub fn rotate(dir: &Path, max_bytes: u64, keep: u32) -> Vec<std::path::PathBuf> {
    let mut rotated = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return rotated };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        if entry.metadata().map_or(0, |m| m.len()) <= max_bytes {
            continue;
        }
        if rotate_one(&path, keep).is_ok() {
            rotated.push(path);
        }
    }
    rotated
}

fn numbered(path: &Path, n: u32) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    name.into()
}

fn rotate_one(path: &Path, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::OpenOptions::new().write(true).open(path)?.set_len(0);
    }
    let _ = std::fs::remove_file(numbered(path, keep));
    for n in (1..keep).rev() {
        let from = numbered(path, n);
        if from.exists() {
            std::fs::rename(&from, numbered(path, n + 1))?;
        }
    }
    std::fs::copy(path, numbered(path, 1))?;
    std::fs::OpenOptions::new().write(true).open(path)?.set_len(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn big_logs_rotate_and_old_copies_are_dropped() {
        let dir = std::env::temp_dir().join(format!("berth-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let log = dir.join("web-0.log");
        // A writer that keeps its append-mode handle across rotations, as a replica does.
        let mut writer =
            std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap_or_else(|e| panic!("{e}"));
        for round in 0..4u8 {
            writer.write_all(&[b'a' + round; 100]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rotate(&dir, 50, 2), vec![log.clone()]);
        }
        writer.write_all(b"after").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read(&log).unwrap_or_default(),
            b"after",
            "the writer goes on at the start of the emptied file"
        );
        assert_eq!(std::fs::read(numbered(&log, 1)).unwrap_or_default(), vec![b'd'; 100]);
        assert_eq!(std::fs::read(numbered(&log, 2)).unwrap_or_default(), vec![b'c'; 100]);
        assert!(!numbered(&log, 3).exists(), "only `keep` copies");
        assert!(rotate(&dir, 50, 2).is_empty(), "small files stay");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
