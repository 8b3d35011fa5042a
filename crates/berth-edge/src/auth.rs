//! Edge authentication with API keys. Keys are kept only as SHA-256 hashes;
//! a presented key is hashed and compared in constant time.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub name: String,
    pub sha256: [u8; 32],
    pub roles: Vec<String>,
    /// Last valid day as (year, month, day), UTC.
    pub expires: Option<(u32, u32, u32)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The caller may pass; carries the key's name for the access log.
    Allowed(String),
    /// No credentials, or unknown ones: 401.
    Unauthenticated,
    /// Known key, but expired or without a required role: 403.
    Forbidden(&'static str),
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Today's date (UTC) as (year, month, day), from seconds since the epoch.
pub fn civil_date(unix_seconds: u64) -> (u32, u32, u32) {
    // Howard Hinnant's days-from-civil, inverted.
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (u32::try_from(year).unwrap_or(0), u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Checks a presented key against the known ones and the route's roles.
pub fn check(keys: &[ApiKey], presented: Option<&str>, roles: &[String], today: (u32, u32, u32)) -> Verdict {
    let Some(presented) = presented.filter(|k| !k.is_empty()) else { return Verdict::Unauthenticated };
    let digest = hash(presented);
    let Some(key) = keys.iter().find(|k| constant_time_eq(&k.sha256, &digest)) else { return Verdict::Unauthenticated };
    if key.expires.is_some_and(|last| today > last) {
        return Verdict::Forbidden("the API key has expired");
    }
    if !roles.is_empty() && !roles.iter().any(|r| key.roles.contains(r)) {
        return Verdict::Forbidden("the API key lacks a required role");
    }
    Verdict::Allowed(key.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expires: Option<(u32, u32, u32)>) -> ApiKey {
        ApiKey { name: "ci".into(), sha256: hash("s3cret"), roles: vec!["admin".into()], expires }
    }

    #[test]
    fn keys_roles_and_expiry() {
        let today = (2026, 11, 22);
        assert_eq!(check(&[key(None)], Some("s3cret"), &["admin".into()], today), Verdict::Allowed("ci".into()));
        assert_eq!(check(&[key(None)], Some("wrong"), &[], today), Verdict::Unauthenticated);
        assert_eq!(check(&[key(None)], None, &[], today), Verdict::Unauthenticated);
        assert!(matches!(check(&[key(None)], Some("s3cret"), &["ops".into()], today), Verdict::Forbidden(_)));
        assert!(matches!(check(&[key(Some((2026, 11, 21)))], Some("s3cret"), &[], today), Verdict::Forbidden(_)));
        assert_eq!(check(&[key(Some((2026, 11, 22)))], Some("s3cret"), &[], today), Verdict::Allowed("ci".into()));
    }

    #[test]
    fn dates_from_unix_time() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_795_305_600), (2026, 11, 22));
    }
}
