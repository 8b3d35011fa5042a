//! The one place the CLI reads its process environment.

#[allow(clippy::disallowed_methods, reason = "the single, audited point of environment access")]
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Object storage settings for backup destinations: every `AWS_*`,
/// `GOOGLE_*` and `AZURE_*` variable, keyed as object_store names them
/// (`aws_endpoint`, `aws_access_key_id`). Values are never printed.
pub fn object_store_options() -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    options.sort();
    options
}
