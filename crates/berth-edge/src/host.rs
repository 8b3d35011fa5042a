//! Which host a request is for, and whether the edge answers for it.
//!
//! HTTP/1.1 requires exactly one `Host`; an absolute-form target
//! (`GET http://a/ HTTP/1.1`) or HTTP/2's `:authority` names the host
//! instead, and then wins over `Host` (RFC 9112, 3.2.2). The name is
//! compared in its normal form: lower case, no port, no trailing dot.

use hyper::header::{self, HeaderMap};
use hyper::{Uri, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the request has no Host header")]
    Missing,
    #[error("the request has more than one Host header")]
    Duplicate,
    #[error("the Host header is not a valid host name")]
    Invalid,
}

/// The request's host in normal form, `None` for an HTTP/1.0 request
/// without one.
pub fn of(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<Option<String>, HostError> {
    let mut values = headers.get_all(header::HOST).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(HostError::Duplicate);
    }
    if let Some(authority) = uri.authority() {
        return normal(authority.as_str()).map(Some);
    }
    match first {
        Some(value) => normal(value.to_str().map_err(|_| HostError::Invalid)?).map(Some),
        None if version == Version::HTTP_10 || version == Version::HTTP_09 => Ok(None),
        None => Err(HostError::Missing),
    }
}

/// `Example.COM.:8443` → `example.com`; brackets of IPv6 literals are kept.
pub fn normal(raw: &str) -> Result<String, HostError> {
    if raw.contains('@') {
        return Err(HostError::Invalid);
    }
    let name = if raw.starts_with('[') {
        let end = raw.find(']').ok_or(HostError::Invalid)?;
        let rest = &raw[end + 1..];
        if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(valid_port)) {
            return Err(HostError::Invalid);
        }
        &raw[..=end]
    } else {
        match raw.split_once(':') {
            Some((h, port)) if valid_port(port) => h,
            Some(_) => return Err(HostError::Invalid),
            None => raw,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '[' | ']' | ':');
    if name.is_empty() || name.len() > 253 || !name.chars().all(allowed) {
        return Err(HostError::Invalid);
    }
    Ok(name.to_ascii_lowercase())
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// Whether `host` is one of `hosts`; `*.example.com` covers one level of
/// subdomain. An empty list answers for any host.
pub fn served(hosts: &[String], host: Option<&str>) -> bool {
    if hosts.is_empty() {
        return true;
    }
    let Some(host) = host else { return false };
    hosts.iter().any(|want| match want.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .and_then(|sub| sub.strip_suffix('.'))
            .is_some_and(|sub| !sub.is_empty() && !sub.contains('.')),
        None => want.eq_ignore_ascii_case(host),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(hosts: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(header::HOST, HeaderValue::from_str(v).unwrap_or_else(|_| panic!()));
        }
        h
    }

    #[test]
    fn normal_forms() {
        assert_eq!(normal("Example.COM.:8443"), Ok("example.com".into()));
        assert_eq!(normal("[::1]:80"), Ok("[::1]".into()));
        assert_eq!(normal("127.0.0.1"), Ok("127.0.0.1".into()));
        assert_eq!(normal("a b"), Err(HostError::Invalid));
        assert_eq!(normal("evil.com:x"), Err(HostError::Invalid));
        assert_eq!(normal("localhost:99999"), Err(HostError::Invalid));
        assert_eq!(normal("localhost:0"), Err(HostError::Invalid));
        assert_eq!(normal("user@evil.com"), Err(HostError::Invalid));
        assert_eq!(normal(""), Err(HostError::Invalid));
        assert_eq!(normal("a/b"), Err(HostError::Invalid));
    }

    #[test]
    fn host_header_rules() {
        let uri: Uri = "/x".parse().unwrap_or_else(|_| panic!());
        assert_eq!(of(Version::HTTP_11, &uri, &headers(&[])), Err(HostError::Missing));
        assert_eq!(of(Version::HTTP_10, &uri, &headers(&[])), Ok(None));
        assert_eq!(of(Version::HTTP_11, &uri, &headers(&["a", "b"])), Err(HostError::Duplicate));
        assert_eq!(of(Version::HTTP_11, &uri, &headers(&["A.example"])), Ok(Some("a.example".into())));
        let absolute: Uri = "http://evil.example/x".parse().unwrap_or_else(|_| panic!());
        assert_eq!(of(Version::HTTP_11, &absolute, &headers(&["good.example"])), Ok(Some("evil.example".into())));
    }

    #[test]
    fn served_hosts() {
        let hosts = vec!["example.com".to_owned(), "*.apps.example.com".to_owned()];
        assert!(served(&hosts, Some("example.com")));
        assert!(served(&hosts, Some("a.apps.example.com")));
        assert!(!served(&hosts, Some("a.b.apps.example.com")));
        assert!(!served(&hosts, Some("apps.example.com")));
        assert!(!served(&hosts, Some("evil.com")));
        assert!(!served(&hosts, None));
        assert!(served(&[], Some("anything")));
    }
}
