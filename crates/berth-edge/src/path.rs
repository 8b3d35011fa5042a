//! Request paths as the services behind the edge will read them.
//!
//! A route's allowlist or auth protects a prefix. If the edge matched the raw
//! path while the service normalised it, `/x/../metrics`, `//metrics` or
//! `/%6detrics` would reach `/metrics` through the catch-all route. So the
//! edge normalises first, routes on the result and forwards the result:
//! the service sees exactly the path that was judged.
//!
//! - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are
//!   decoded; other escapes are kept, with upper-case hex;
//! - `.` and `..` segments are resolved (RFC 3986, 5.2.4); `..` above the
//!   root is refused, as nginx does;
//! - repeated slashes become one;
//! - what has no single safe reading is refused: an encoded `/` or `\`
//!   (`%2F`, `%5C`) or `;` (`%3B`), a raw `\`, NUL, an escape that decodes to invalid
//!   UTF-8, a malformed escape, and `.`/`..` segments with path parameters
//!   (`/..;/`, which Java servers read as `..`).

use std::borrow::Cow;

/// Why a path was refused (answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path must start with `/`")]
    NotAbsolute,
    #[error("malformed percent-encoding")]
    BadEscape,
    #[error("an encoded `/` or `\\` in the path")]
    EncodedSeparator,
    #[error("an encoded `;` in the path")]
    EncodedSemicolon,
    #[error("a backslash in the path")]
    Backslash,
    #[error("NUL in the path")]
    Nul,
    #[error("the path is not valid UTF-8")]
    InvalidUtf8,
    #[error("`..` goes above the root")]
    AboveRoot,
    #[error("a dot segment with parameters (`..;`)")]
    DotParameters,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Already normal: nothing to decode, no empty or dot segments. Most
/// requests take this path and allocate nothing.
fn is_plain(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    if bytes.iter().any(|b| matches!(b, b'%' | b'\\' | 0)) {
        return false;
    }
    // Every segment non-empty (except a trailing one) and not `.`/`..`, and
    // no `;` right after a dot segment.
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let name = segment.split(';').next().unwrap_or(segment);
        if (segment.is_empty() && !last) || name == "." || name == ".." {
            return false;
        }
    }
    true
}

/// The normal form of `path` (no query), or why it has none.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    if is_plain(path) {
        return Ok(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    // Pass 1: decode unreserved escapes, refuse unsafe ones, and check that
    // the fully decoded path would be UTF-8 (what a service would see).
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut fully = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(h), Some(l)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                else {
                    return Err(PathError::BadEscape);
                };
                let b = h << 4 | l;
                match b {
                    0 => return Err(PathError::Nul),
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    // An encoded `;` is a segment end to some servers and
                    // data to others: `/metrics%3Bx` has no single reading.
                    b';' => return Err(PathError::EncodedSemicolon),
                    b if is_unreserved(b) => decoded.push(b),
                    b => {
                        decoded.push(b'%');
                        decoded.push(b"0123456789ABCDEF"[usize::from(h)]);
                        decoded.push(b"0123456789ABCDEF"[usize::from(l)]);
                        fully.push(b);
                        i += 3;
                        continue;
                    }
                }
                fully.push(b);
                i += 3;
            }
            0 => return Err(PathError::Nul),
            b'\\' => return Err(PathError::Backslash),
            b => {
                decoded.push(b);
                fully.push(b);
                i += 1;
            }
        }
    }
    if std::str::from_utf8(&fully).is_err() {
        return Err(PathError::InvalidUtf8);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::InvalidUtf8)?;
    // Pass 2: segments. Empty segments (repeated slashes) are dropped, `.`
    // dropped, `..` pops; a trailing slash survives.
    let mut out: Vec<&str> = Vec::new();
    let mut segments = decoded[1..].split('/').peekable();
    let mut trailing_slash = false;
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let name = segment.split(';').next().unwrap_or(segment);
        if name != segment && (name == "." || name == "..") {
            return Err(PathError::DotParameters);
        }
        match segment {
            "" => trailing_slash = last && !out.is_empty(),
            "." => trailing_slash = last && !out.is_empty(),
            ".." => {
                if out.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                trailing_slash = last && !out.is_empty();
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut normal = String::with_capacity(decoded.len());
    for s in &out {
        normal.push('/');
        normal.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        normal.push('/');
    }
    Ok(Cow::Owned(normal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, PathError> {
        normalize(p).map(Cow::into_owned)
    }

    #[test]
    fn plain_paths_are_borrowed() {
        for p in ["/", "/metrics", "/api/v1/", "/a;b/c", "/a.b/..c/.d"] {
            assert!(matches!(normalize(p), Ok(Cow::Borrowed(_))), "{p}");
        }
    }

    #[test]
    fn the_bypasses_the_edge_must_see_through() {
        for p in ["/x/../metrics", "//metrics", "/./metrics", "/%6detrics", "/%6Detrics", "/x/%2e%2e/metrics"] {
            assert_eq!(n(p).as_deref(), Ok("/metrics"), "{p}");
        }
        assert_eq!(n("/api//v1///x/"), Ok("/api/v1/x/".into()));
        assert_eq!(n("/a/b/./../c"), Ok("/a/c".into()));
        assert_eq!(n("/a/."), Ok("/a/".into()));
        assert_eq!(n("/a/.."), Ok("/".into()));
        assert_eq!(n("//"), Ok("/".into()));
        assert_eq!(n("/%7euser"), Ok("/~user".into()));
    }

    #[test]
    fn reserved_escapes_are_kept_in_upper_case() {
        assert_eq!(n("/a%20b%3f"), Ok("/a%20b%3F".into()));
        assert_eq!(n("/caf%c3%a9"), Ok("/caf%C3%A9".into()));
    }

    #[test]
    fn what_has_no_safe_reading_is_refused() {
        assert_eq!(n("/%2e%2e/metrics"), Err(PathError::AboveRoot));
        assert_eq!(n("/../metrics"), Err(PathError::AboveRoot));
        assert_eq!(n("/a%2fmetrics"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a%5Cmetrics"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/metrics%3Bx"), Err(PathError::EncodedSemicolon));
        assert_eq!(n("/x/..%3b/metrics"), Err(PathError::EncodedSemicolon));
        assert_eq!(n("/a\\metrics"), Err(PathError::Backslash));
        assert_eq!(n("/a%00"), Err(PathError::Nul));
        assert_eq!(n("/a%ff"), Err(PathError::InvalidUtf8));
        assert_eq!(n("/a%c3"), Err(PathError::InvalidUtf8));
        assert_eq!(n("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(n("/a%4"), Err(PathError::BadEscape));
        assert_eq!(n("/x/..;/metrics"), Err(PathError::DotParameters));
        assert_eq!(n("/.;/metrics"), Err(PathError::DotParameters));
        assert_eq!(n("metrics"), Err(PathError::NotAbsolute));
        assert_eq!(n("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for p in ["/x/../metrics", "//a//b/", "/%41%2f", "/a%20b", "/./.", "/a/b/../../c/./d//"] {
            if let Ok(once) = n(p) {
                assert_eq!(n(&once), Ok(once.clone()), "{p}");
            }
        }
    }
}
