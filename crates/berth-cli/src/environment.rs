//! The one place the CLI reads its process environment.

#[allow(clippy::disallowed_methods, reason = "the single, audited point of environment access")]
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
