//! Backups of a service's volume: its files as one tar archive (modes,
//! owners, times and symbolic links kept), compressed with zstd, under
//! `<service>.<volume>/backups/<id>/` like any dependency's.
//!
//! The manifest records the archive's checksum and a [`Tree`]: counts of
//! files, directories, links and bytes, and a SHA-256 over every entry's
//! path, type, mode, size and content (or link target), taken from the
//! bytes that went into the archive. Verification unpacks the archive into
//! a scratch directory, walks what it unpacked and compares; a restore
//! does the same beside the live directory and then swaps the contents:
//! the current files move to `<volume>.before-<time>` next to it and the
//! restored ones into the volume's own directory, whose inode (and so
//! every bind mount of it in a running replica) stays.
//!
//! A file that changes while it is archived is cut or padded with zeros
//! to the size it had when opened, and counted in the manifest as
//! `changed_while_read`: the archive stays consistent with its digest,
//! and the operator learns the service was writing. Sockets, FIFOs and
//! devices are not data and are skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_spec::BackupMethod;
use jiff::Timestamp;
use sha2::{Digest as _, Sha256};

use crate::crypt::{self, Sink};
use crate::error::{BackupError, at, fail};
use crate::manifest::{self, Kind, Manifest, Verification, hex};
use crate::progress::Progress;
use crate::store::Destination;
use crate::{WorkDir, authenticate_with, backup_dir, new_id, pick_in, store_files_in};

/// The setuid and setgid bits: not data, never archived or restored.
const SETID: u32 = 0o6000;

/// The one file a volume backup stores.
pub const ARCHIVE: &str = "volume.tar.zst";
/// The same, encrypted with age.
pub const ENCRYPTED: &str = "volume.tar.zst.age";

pub use crate::crypt::EncryptionKey;

/// What every volume operation works with.
pub struct Volume<'a> {
    /// What its backups are filed under: `<service>.<volume>`.
    pub name: String,
    /// The volume's live directory.
    pub dir: PathBuf,
    pub destination: Destination,
    /// Staging and scratch space.
    pub work_dir: PathBuf,
    pub signing_key: Option<Vec<u8>>,
    /// The policy's age identity: archives are encrypted to it.
    pub encryption: Option<EncryptionKey>,
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for Volume<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("destination", &self.destination.display())
            .field("signs", &self.signing_key.is_some())
            .finish_non_exhaustive()
    }
}

/// What a walk over a volume found, in the order entries are archived.
#[derive(Debug, Default)]
pub struct Tree {
    hasher: Sha256,
    pub files: u64,
    pub directories: u64,
    pub links: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub changed_while_read: u64,
}

impl Tree {
    fn record(&mut self, kind: u8, path: &Path, mode: u32, size: u64, content: &[u8]) {
        for part in [
            &[kind][..],
            path.as_os_str().as_bytes(),
            format!("{mode:o}").as_bytes(),
            size.to_string().as_bytes(),
            content,
        ] {
            self.hasher.update(part);
            self.hasher.update([0]);
        }
        self.hasher.update(b"\n");
    }

    /// The counts a manifest records and a verification compares.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("files".to_owned(), self.files),
            ("directories".to_owned(), self.directories),
            ("links".to_owned(), self.links),
            ("bytes".to_owned(), self.bytes),
        ])
    }

    pub fn digest(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// One entry of a walk, opened without following a link.
enum Found {
    Dir(File),
    /// Opened non-blocking: a FIFO swapped in after the listing cannot
    /// hang the backup (it is then no regular file, and skipped).
    File(File),
    Link {
        target: PathBuf,
        stat: nix::sys::stat::FileStat,
    },
    Other,
}

/// Every entry under the open directory `dir`, depth first, each
/// directory before what it holds, names in byte order (the same order
/// for the archive and for any later walk of what it unpacked to). Each
/// entry is opened relative to its directory's descriptor and never
/// through a link: a replica that swaps a directory for a link to `/etc`
/// while root archives its volume gets the link archived, not `/etc`.
fn visit(
    dir: &File,
    rel: &Path,
    f: &mut dyn FnMut(&Path, Found) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
    use nix::sys::stat::{Mode, SFlag, fstatat};
    use std::os::fd::AsRawFd as _;
    let step = "read the volume";
    let listed = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .map_err(|e| fail(step, format!("{}: {e}", rel.display())))?;
    let mut names: Vec<std::ffi::OsString> =
        listed.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>().map_err(at(step))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = rel.join(&name);
        let gone = |e: nix::Error| e == nix::Error::ENOENT;
        let stat = match fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Removed since the listing: not part of this backup.
            Err(e) if gone(e) => continue,
            Err(e) => return Err(fail(step, format!("{}: {e}", path.display()))),
        };
        let open =
            |flags: OFlag| openat(dir, name.as_os_str(), flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty());
        let found = match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => match open(OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                Ok(fd) => Found::Dir(File::from(fd)),
                Err(e) if gone(e) || e == nix::Error::ELOOP || e == nix::Error::ENOTDIR => Found::Other,
                Err(e) => return Err(fail(step, format!("{}: {e}", path.display()))),
            },
            SFlag::S_IFREG => match open(OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
                Ok(fd) => Found::File(File::from(fd)),
                Err(e) if gone(e) || e == nix::Error::ELOOP => Found::Other,
                Err(e) => return Err(fail(step, format!("{}: {e}", path.display()))),
            },
            SFlag::S_IFLNK => match readlinkat(dir, name.as_os_str()) {
                Ok(target) => Found::Link { target: target.into(), stat },
                Err(e) if gone(e) || e == nix::Error::EINVAL => Found::Other,
                Err(e) => return Err(fail(step, format!("{}: {e}", path.display()))),
            },
            _ => Found::Other,
        };
        match found {
            Found::Dir(sub) => {
                let again = sub.try_clone().map_err(at(step))?;
                f(&path, Found::Dir(sub))?;
                visit(&again, &path, f)?;
            }
            other => f(&path, other)?,
        }
    }
    Ok(())
}

/// `dir` opened for [`visit`], refusing a link.
fn open_dir(dir: &Path) -> Result<File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_NOFOLLOW).bits())
        .open(dir)
        .map_err(|e| fail("read the volume", format!("{}: {e}", dir.display())))
}

/// A file's content as archived: exactly `size` bytes (the size when it
/// was opened), hashed as they pass; zeros if the file shrank meanwhile.
struct Exact<R> {
    inner: R,
    remaining: u64,
    hasher: Sha256,
    short: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
        let mut n = if self.short { 0 } else { self.inner.read(&mut buf[..want])? };
        if n == 0 {
            self.short = true;
            buf[..want].fill(0);
            n = want;
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Archives `dir` into `out` (encrypted to `key` when given) and returns
/// what it holds.
fn archive(dir: &Path, out: &Path, key: Option<&EncryptionKey>) -> Result<Tree, BackupError> {
    let step = "archive the volume";
    let file = File::create(out).map_err(|e| fail(step, format!("{}: {e}", out.display())))?;
    let sink = Sink::new(BufWriter::with_capacity(1 << 20, file), key)?;
    let encoder = zstd::stream::write::Encoder::new(sink, 3).map_err(at(step))?;
    let mut builder = tar::Builder::new(encoder);
    builder.follow_symlinks(false);
    let mut tree = Tree::default();
    let root = open_dir(dir)?;
    visit(&root, Path::new(""), &mut |rel, found| {
        let mut header = tar::Header::new_gnu();
        match found {
            Found::Dir(opened) => {
                let meta = opened.metadata().map_err(at(step))?;
                let mode = meta.mode() & 0o7777 & !SETID;
                header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
                header.set_mode(mode);
                header.set_size(0);
                builder.append_data(&mut header, rel, std::io::empty()).map_err(at(step))?;
                tree.directories += 1;
                tree.record(b'd', rel, mode, 0, b"");
            }
            Found::Link { target, stat } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_uid(u64::from(stat.st_uid));
                header.set_gid(u64::from(stat.st_gid));
                header.set_mtime(u64::try_from(stat.st_mtime).unwrap_or(0));
                header.set_size(0);
                builder.append_link(&mut header, rel, &target).map_err(at(step))?;
                tree.links += 1;
                tree.record(b'l', rel, 0, 0, target.as_os_str().as_bytes());
            }
            Found::File(opened) => {
                let meta = opened.metadata().map_err(at(step))?;
                if !meta.is_file() {
                    tree.skipped += 1;
                    return Ok(());
                }
                header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
                header.set_mode(meta.mode() & 0o7777 & !SETID);
                let size = meta.len();
                let mut content =
                    Exact { inner: BufReader::new(opened), remaining: size, hasher: Sha256::new(), short: false };
                builder.append_data(&mut header, rel, &mut content).map_err(at(step))?;
                // Grew while read: what is archived is what it had when opened.
                let grew = content.inner.read(&mut [0u8; 1]).is_ok_and(|n| n > 0);
                if content.short || grew {
                    tree.changed_while_read += 1;
                }
                tree.files += 1;
                tree.bytes += size;
                tree.record(b'f', rel, meta.mode() & 0o7777 & !SETID, size, hex(&content.hasher.finalize()).as_bytes());
            }
            Found::Other => tree.skipped += 1,
        }
        Ok(())
    })?;
    let encoder = builder.into_inner().map_err(at(step))?;
    let sink = encoder.finish().map_err(at(step))?;
    sink.finish().map_err(at(step))?.sync_all().map_err(at(step))?;
    Ok(tree)
}

/// Walks an unpacked copy the way [`archive`] walked the volume.
fn walk(dir: &Path) -> Result<Tree, BackupError> {
    let step = "read the unpacked files";
    let mut tree = Tree::default();
    let root = open_dir(dir)?;
    visit(&root, Path::new(""), &mut |rel, found| {
        match found {
            Found::Dir(opened) => {
                let mode = opened.metadata().map_err(at(step))?.mode() & 0o7777 & !SETID;
                tree.directories += 1;
                tree.record(b'd', rel, mode, 0, b"");
            }
            Found::Link { target, .. } => {
                tree.links += 1;
                tree.record(b'l', rel, 0, 0, target.as_os_str().as_bytes());
            }
            Found::File(opened) => {
                let meta = opened.metadata().map_err(at(step))?;
                let mut hashing = manifest::HashingReader::new(BufReader::new(opened));
                std::io::copy(&mut hashing, &mut std::io::sink()).map_err(at(step))?;
                let (size, sha) = hashing.finish();
                tree.files += 1;
                tree.bytes += size;
                tree.record(b'f', rel, meta.mode() & 0o7777 & !SETID, size, sha.as_bytes());
            }
            Found::Other => tree.skipped += 1,
        }
        Ok(())
    })?;
    Ok(tree)
}

/// Unpacks a checked archive into `into` (which must not exist),
/// decrypting it with `key` when given, as the owners it records when
/// berth runs as root.
fn unpack(archive: &Path, into: &Path, key: Option<&EncryptionKey>) -> Result<(), BackupError> {
    let step = "unpack the archive";
    std::fs::create_dir_all(into).map_err(|e| fail(step, format!("{}: {e}", into.display())))?;
    let file = BufReader::new(File::open(archive).map_err(|e| fail(step, format!("{}: {e}", archive.display())))?);
    let input = crypt::reader(file, key)?;
    let decoder = zstd::stream::read::Decoder::new(input).map_err(at(step))?;
    let mut tar = tar::Archive::new(decoder);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    // Never setuid or setgid files, never the archive's owners (a forged
    // archive's root-owned setuid copy of a shell would be root for the
    // service): a restore hands every file to the volume's owner.
    tar.set_mask(SETID);
    tar.set_preserve_ownerships(false);
    tar.set_unpack_xattrs(false);
    tar.unpack(into).map_err(at(step))
}

/// Takes a backup of the volume and writes its manifest.
pub async fn backup(v: &Volume<'_>) -> Result<Manifest, BackupError> {
    if !v.dir.is_dir() {
        return Err(BackupError::Usage(format!(
            "volume `{}` has no directory at {}: is the service running here?",
            v.name,
            v.dir.display()
        )));
    }
    std::fs::create_dir_all(&v.work_dir).map_err(at("prepare the work directory"))?;
    let started_at = Timestamp::now();
    let id = new_id(&v.destination, &v.name).await?;
    let rel = backup_dir(&v.name, &id);
    let staging = match v.destination.local_path(&rel) {
        Some(dir) => dir,
        None => v.work_dir.join(format!("{id}-volume")),
    };
    std::fs::create_dir_all(&staging).map_err(at("prepare the backup directory"))?;
    v.progress.step("archive the volume", None);
    let name = if v.encryption.is_some() { ENCRYPTED } else { ARCHIVE };
    let (dir, out, key) = (v.dir.clone(), staging.join(name), v.encryption.clone());
    let taken = tokio::task::spawn_blocking(move || archive(&dir, &out, key.as_ref()))
        .await
        .map_err(at("archive the volume"))?;
    let tree = match taken {
        Ok(tree) => tree,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let files = store_files_in(&v.destination, v.progress, &rel, &staging, vec![name.to_owned()]).await?;
    let mut counts = tree.counts();
    if tree.changed_while_read > 0 {
        counts.insert("changed_while_read".to_owned(), tree.changed_while_read);
    }
    let mut manifest = Manifest {
        format: 1,
        id: id.clone(),
        dependency: v.name.clone(),
        kind: Kind::Volume,
        method: BackupMethod::Archive,
        source: v.dir.display().to_string(),
        server_version: String::new(),
        tool: format!("berth {} (tar, zstd)", env!("CARGO_PKG_VERSION")),
        started_at,
        finished_at: Timestamp::now(),
        wal: None,
        size: files.iter().map(|f| f.size).sum(),
        files,
        counts,
        tree_sha256: Some(tree.digest()),
        encrypted_to: v.encryption.as_ref().map(EncryptionKey::recipient),
        signature: None,
    };
    if let Some(key) = &v.signing_key {
        manifest.sign(key);
    }
    v.progress.step("write the manifest", None);
    v.destination.put_bytes(&format!("{rel}/{}", manifest::MANIFEST), manifest.to_json()).await?;
    Ok(manifest)
}

/// Fetches backup `manifest`'s archive, checks its checksum, unpacks it
/// into `into` and compares what it unpacked with the manifest. Returns
/// the counts found.
async fn unpack_checked(
    v: &Volume<'_>,
    manifest: &Manifest,
    into: &Path,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let problem = |p: String| BackupError::Verify { id: manifest.id.clone(), problems: vec![p] };
    if manifest.kind != Kind::Volume {
        return Err(BackupError::Usage(format!(
            "backup `{}` of `{}` is a {} backup, not a volume's",
            manifest.id, manifest.dependency, manifest.method
        )));
    }
    let key = crypt::key_for(manifest, v.encryption.as_ref())?;
    let name = if key.is_some() { ENCRYPTED } else { ARCHIVE };
    let entry = manifest
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| problem(format!("the manifest lists no {name}")))?;
    let rel = format!("{}/{name}", backup_dir(&manifest.dependency, &manifest.id));
    if !v.destination.exists(&rel).await? {
        return Err(problem(format!("{name} is missing from the destination")));
    }
    v.progress.step("download", Some(entry.size));
    let download = into.with_extension("download");
    std::fs::create_dir_all(&download).map_err(at("download"))?;
    let archive_path = v.destination.fetch(&rel, &download, v.progress).await?;
    v.progress.step("check the checksum", Some(entry.size));
    let path = archive_path.clone();
    let (size, sha) =
        tokio::task::spawn_blocking(move || manifest::hash_file(&path)).await.map_err(at("checksum"))??;
    if let Some(p) = manifest::check_entry(entry, size, &sha) {
        return Err(problem(p));
    }
    v.progress.step("unpack", None);
    let (archive, target) = (archive_path, into.to_path_buf());
    let tree =
        tokio::task::spawn_blocking(move || unpack(&archive, &target, key.as_ref()).and_then(|()| walk(&target)))
            .await
            .map_err(at("unpack the archive"))??;
    let _ = std::fs::remove_dir_all(&download);
    let counts = tree.counts();
    let mut expected = manifest.counts.clone();
    expected.remove("changed_while_read");
    let mut problems = crate::postgres::catalog::compare(&expected, &counts, "count");
    let digest = tree.digest();
    match &manifest.tree_sha256 {
        Some(recorded) if *recorded == digest => {}
        Some(recorded) => problems.push(format!(
            "the unpacked files differ from the backup's (tree sha256 {digest}, the manifest says {recorded})"
        )),
        None => problems.push("the manifest records no tree digest to compare the files with".to_owned()),
    }
    if problems.is_empty() { Ok(counts) } else { Err(BackupError::Verify { id: manifest.id.clone(), problems }) }
}

/// Unpacks backup `id` (or the newest complete one) into a scratch
/// directory, checks its checksum, compares every file with the manifest
/// and records the verification next to the backup.
pub async fn verify(v: &Volume<'_>, id: Option<&str>) -> Result<Verification, BackupError> {
    let started = Instant::now();
    let manifest = pick_in(&v.destination, &v.name, id).await?;
    authenticate_with(v.signing_key.as_deref(), &manifest)?;
    std::fs::create_dir_all(&v.work_dir).map_err(at("prepare the work directory"))?;
    let work = WorkDir::in_dir(&v.work_dir, &format!("verify-{}-{}", v.name, manifest.id))?;
    let scratch = work.0.join("files");
    let counts = unpack_checked(v, &manifest, &scratch).await?;
    let verification = Verification {
        id: manifest.id.clone(),
        verified_at: Timestamp::now(),
        restored_into: format!("a scratch directory ({} files unpacked and compared)", counts["files"]),
        seconds: started.elapsed().as_secs_f64(),
        counts,
    };
    let rel = backup_dir(&manifest.dependency, &manifest.id);
    v.destination.put_bytes(&format!("{rel}/{}", manifest::VERIFICATION), verification.to_json()).await?;
    Ok(verification)
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoredVolume {
    pub backup: Manifest,
    pub counts: BTreeMap<String, u64>,
    /// Where the files the volume held before now are.
    pub previous: PathBuf,
}

/// Restores backup `id` (or the newest complete one) into the volume:
/// unpacked and compared beside it first, then the current files are
/// moved to `<volume>.before-<time>` beside the volume and the restored
/// ones into it. A backup that fails its comparison touches nothing.
pub async fn restore(v: &Volume<'_>, id: Option<&str>) -> Result<RestoredVolume, BackupError> {
    let manifest = pick_in(&v.destination, &v.name, id).await?;
    authenticate_with(v.signing_key.as_deref(), &manifest)?;
    let live = &v.dir;
    if !live.is_dir() {
        return Err(BackupError::Usage(format!("volume `{}` has no directory at {}", v.name, live.display())));
    }
    let parent = live.parent().ok_or_else(|| fail("restore", format!("{} has no parent", live.display())))?;
    let base = live.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let owner = std::fs::metadata(live).map_err(at("restore"))?;
    if berth_process::process::is_root() {
        // Root renames and writes beside the volume: a directory another
        // user can write there could redirect that anywhere.
        let holder = std::fs::metadata(parent).map_err(at("restore"))?;
        if holder.uid() != 0 || holder.mode() & 0o022 != 0 {
            return Err(BackupError::Usage(format!(
                "{} belongs to user {} (or others may write it): restore as the volume's owner, not as root \
                 (such as `sudo -u '#{}' berth restore {} ...`)",
                parent.display(),
                holder.uid(),
                owner.uid(),
                v.name
            )));
        }
    }
    // Beside the volume, on its file system: the swap is renames only.
    let staging = parent.join(format!(".{base}.restore-{}", manifest.id));
    let _ = std::fs::remove_dir_all(&staging);
    let unpacked = unpack_checked(v, &manifest, &staging).await.and_then(|counts| {
        // Every restored file is the volume owner's.
        let user = berth_process::process::RunAs { uid: owner.uid(), gid: owner.gid() };
        let user = berth_process::process::is_root().then_some(user);
        berth_process::programs::chown_tree(&staging, user).map_err(|e| fail("restore", e.to_string()))?;
        Ok(counts)
    });
    let counts = match unpacked {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let previous = parent.join(format!("{base}.before-{}", Timestamp::now().strftime("%Y%m%dT%H%M%SZ")));
    v.progress.step("swap the files in", None);
    let swapped = swap_contents(live, &staging, &previous);
    let _ = std::fs::remove_dir(&staging);
    swapped.map_err(|e| fail("swap the files in", e.to_string()))?;
    Ok(RestoredVolume { backup: manifest, counts, previous })
}

/// Moves `live`'s entries into `previous` (made with `live`'s mode and
/// owner), then `restored`'s into `live`.
fn swap_contents(live: &Path, restored: &Path, previous: &Path) -> std::io::Result<()> {
    std::fs::create_dir(previous)?;
    let meta = std::fs::metadata(live)?;
    std::fs::set_permissions(previous, meta.permissions())?;
    if berth_process::process::is_root() {
        std::os::unix::fs::chown(previous, Some(meta.uid()), Some(meta.gid()))?;
    }
    for entry in std::fs::read_dir(live)? {
        let name = entry?.file_name();
        std::fs::rename(live.join(&name), previous.join(&name))?;
    }
    for entry in std::fs::read_dir(restored)? {
        let name = entry?.file_name();
        std::fs::rename(restored.join(&name), live.join(&name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn fill(dir: &Path) {
        std::fs::create_dir_all(dir.join("uploads/2026/11")).unwrap();
        std::fs::write(dir.join("uploads/2026/11/cat.jpg"), vec![7u8; 300_000]).unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        std::fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("uploads/2026", dir.join("latest")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", dir.join("dangling")).unwrap();
        std::fs::write(dir.join("name with spaces and é"), "x").unwrap();
    }

    #[test]
    fn an_archive_unpacks_to_the_same_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, out, copy) = (tmp.path().join("vol"), tmp.path().join("a.tar.zst"), tmp.path().join("copy"));
        fill(&dir);
        // Setuid and setgid bits are not data: dropped on the way.
        std::fs::write(dir.join("suid"), "").unwrap();
        std::fs::set_permissions(dir.join("suid"), std::fs::Permissions::from_mode(0o6755)).unwrap();
        let tree = archive(&dir, &out, None).unwrap();
        assert_eq!((tree.files, tree.directories, tree.links, tree.bytes), (5, 3, 2, 300_011));
        let digest = tree.digest();
        unpack(&out, &copy, None).unwrap();
        let again = walk(&copy).unwrap();
        assert_eq!(again.digest(), digest);
        assert_eq!(std::fs::read_link(copy.join("latest")).unwrap(), Path::new("uploads/2026"));
        assert_eq!(std::fs::metadata(copy.join("run.sh")).unwrap().mode() & 0o7777, 0o750);
        assert_eq!(std::fs::metadata(copy.join("suid")).unwrap().mode() & 0o7777, 0o755);
        // Any change to the files changes the digest.
        std::fs::write(copy.join("empty"), "!").unwrap();
        assert_ne!(walk(&copy).unwrap().digest(), digest);
    }

    /// Without a signing key a manifest can be rewritten with the archive
    /// left alone: the unpacked files then disagree with its digest and
    /// counts, and verification says so.
    #[tokio::test]
    async fn files_that_differ_from_the_manifest_fail_verification() {
        let tmp = tempfile::tempdir().unwrap();
        let live = tmp.path().join("vol");
        fill(&live);
        let v = Volume {
            name: "api.uploads".to_owned(),
            dir: live.clone(),
            destination: Destination::directory(&tmp.path().join("dest")).unwrap(),
            work_dir: tmp.path().join("work"),
            signing_key: None,
            encryption: None,
            progress: &crate::progress::Quiet,
        };
        let taken = backup(&v).await.unwrap();
        assert_eq!(verify(&v, None).await.unwrap().counts, taken.counts);
        let path = tmp.path().join("dest").join(backup_dir(&v.name, &taken.id)).join(manifest::MANIFEST);
        let mut rewritten = taken.clone();
        rewritten.tree_sha256 = Some("0".repeat(64));
        rewritten.counts.insert("files".to_owned(), 5);
        std::fs::write(&path, rewritten.to_json()).unwrap();
        let Err(BackupError::Verify { problems, .. }) = verify(&v, None).await else { panic!("verified") };
        assert!(problems.iter().any(|p| p.contains("the unpacked files differ")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("files")), "{problems:?}");
        // A restore of it leaves the volume as it was.
        std::fs::write(live.join("new"), "x").unwrap();
        assert!(restore(&v, None).await.is_err());
        assert!(live.join("new").exists() && live.join("run.sh").exists(), "a refused restore touched the volume");
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".restore-") || n.contains(".before-")), "{names:?}");
    }

    /// A FIFO (which a plain open would block on for ever) and a socket
    /// are skipped; a link to a directory is archived as the link, never
    /// as what it points to.
    #[test]
    fn fifos_are_skipped_and_links_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, out) = (tmp.path().join("vol"), tmp.path().join("a.tar.zst"));
        std::fs::create_dir_all(&dir).unwrap();
        nix::unistd::mkfifo(&dir.join("pipe"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
        let tree = archive(&dir, &out, None).unwrap();
        assert_eq!((tree.files, tree.links, tree.skipped), (0, 1, 1));
        let copy = tmp.path().join("copy");
        unpack(&out, &copy, None).unwrap();
        assert_eq!(std::fs::read_link(copy.join("etc")).unwrap(), Path::new("/etc"));
    }

    /// A forged archive's root-owned setuid file is restored as neither.
    #[test]
    fn a_forged_setuid_entry_is_unpacked_plain_and_owned_by_the_restorer() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("forged.tar.zst");
        let encoder = zstd::stream::write::Encoder::new(File::create(&out).unwrap(), 3).unwrap();
        let mut builder = tar::Builder::new(encoder);
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        header.set_mode(0o4755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, "sh", &b"#!/x"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let into = tmp.path().join("into");
        unpack(&out, &into, None).unwrap();
        let meta = std::fs::metadata(into.join("sh")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o755);
        assert_eq!(meta.uid(), nix_uid());
    }

    fn nix_uid() -> u32 {
        std::fs::metadata("/proc/self").unwrap().uid()
    }

    #[test]
    fn a_file_that_shrinks_while_read_keeps_the_archive_consistent() {
        let data = [1u8; 10];
        let mut short = Exact { inner: &data[..4], remaining: 10, hasher: Sha256::new(), short: false };
        let mut out = Vec::new();
        short.read_to_end(&mut out).unwrap();
        assert_eq!(out, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
        assert!(short.short);
    }
}
