//! What a client controls in a request, through the edge's readers: the
//! path normaliser, the Host header, Accept-Encoding and a bearer token
//! checked as a JWT. Shared by the cargo-fuzz target `edge` and the test
//! that replays its corpus on stable. Nothing may panic, and the normal
//! form of a path must be one the edge can route on safely: absolute, no
//! empty or dot segments, no encoded separator or dot, and normal again
//! when normalised.

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Uri, Version};

use crate::jwt::Jwt;
use crate::{body, host, path};

/// Runs one input (path, then a line of tab-separated header values, then
/// a token) through every reader and checks what must hold.
pub fn request_readers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (p, h, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));

    if let Ok(normal) = path::normalize(p) {
        assert!(normal.starts_with('/'), "{p:?} -> {normal:?}");
        assert!(!normal.contains("//"), "{p:?} -> {normal:?}");
        for segment in normal.split('/') {
            let name = segment.split(';').next().unwrap_or("");
            assert!(name != "." && name != "..", "{p:?} -> {normal:?}");
        }
        let lower = normal.to_ascii_lowercase();
        for forbidden in ["%2f", "%5c", "%3b", "%00", "%2e", "\\"] {
            assert!(!lower.contains(forbidden), "{p:?} -> {normal:?}");
        }
        assert_eq!(path::normalize(&normal).as_deref(), Ok(&*normal), "not idempotent on {p:?}");
    }

    let _ = host::normal(h);
    let mut headers = HeaderMap::new();
    for value in h.split('\t') {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(header::HOST, v.clone());
            headers.append(header::ACCEPT_ENCODING, v);
        }
    }
    let uri = p.parse::<Uri>().unwrap_or_default();
    for version in [Version::HTTP_10, Version::HTTP_11, Version::HTTP_2] {
        if let Ok(Some(name)) = host::of(version, &uri, &headers) {
            assert_eq!(host::normal(&name).as_deref(), Ok(name.as_str()), "a normal host is normal");
            let _ = host::served(&["example.com".to_owned(), "*.example.com".to_owned()], Some(&name));
        }
    }
    let _ = body::accepts_gzip(&headers);

    thread_local! {
        static JWT: Jwt = Jwt::hs256(b"fuzz secret", Some("issuer"), Some("audience"), 30, "roles");
    }
    JWT.with(|jwt| assert!(jwt.verify(token).is_none(), "a forged token passed: {token:?}"));
}
