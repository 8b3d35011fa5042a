//! Free space of the filesystems that hold data and backups.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// The filesystem, so that paths on one filesystem are reported once.
    pub device: u64,
    /// Bytes an unprivileged writer can still use.
    pub free: u64,
    pub total: u64,
}

pub fn space(path: &Path) -> Result<Space, String> {
    let device = std::fs::metadata(path).map_err(|e| e.to_string())?.dev();
    let stat = nix::sys::statvfs::statvfs(path).map_err(|e| e.desc().to_lowercase())?;
    #[allow(clippy::unnecessary_cast, reason = "the field types are c_ulong and fsblkcnt_t, u32 on some targets")]
    let (block, available, blocks) =
        (stat.fragment_size() as u64, stat.blocks_available() as u64, stat.blocks() as u64);
    Ok(Space { device, free: available.saturating_mul(block), total: blocks.saturating_mul(block) })
}
