//! How long-running steps report progress. The CLI draws a bar on a
//! terminal; scheduled jobs and tests pass [`Quiet`].

pub trait Progress: Send + Sync {
    /// A step begins; `total` is its size in bytes when known.
    fn step(&self, name: &str, total: Option<u64>);
    /// `bytes` more of the current step are done.
    fn advance(&self, bytes: u64);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}
