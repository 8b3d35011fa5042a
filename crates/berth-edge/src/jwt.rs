//! JSON Web Tokens at the edge: HS256 with a shared secret or RS256 with a
//! public key; signature, expiry (with leeway), issuer and audience checked
//! before roles are read from a claim.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

use crate::EdgeError;

#[derive(Clone)]
pub struct Jwt {
    key: DecodingKey,
    validation: Validation,
    roles_claim: String,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("roles_claim", &self.roles_claim).finish_non_exhaustive()
    }
}

/// What a valid token says about its caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    pub subject: Option<String>,
    pub roles: Vec<String>,
}

impl Jwt {
    pub fn hs256(
        secret: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
        leeway_secs: u64,
        roles_claim: &str,
    ) -> Self {
        Self::new(DecodingKey::from_secret(secret), Algorithm::HS256, issuer, audience, leeway_secs, roles_claim)
    }

    pub fn rs256(
        public_key_pem: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
        leeway_secs: u64,
        roles_claim: &str,
    ) -> Result<Self, EdgeError> {
        let key =
            DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| EdgeError::Config(format!("JWT public key: {e}")))?;
        Ok(Self::new(key, Algorithm::RS256, issuer, audience, leeway_secs, roles_claim))
    }

    fn new(
        key: DecodingKey,
        algorithm: Algorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
        leeway: u64,
        roles_claim: &str,
    ) -> Self {
        // One algorithm only: `alg: none` and HS256 tokens signed with an
        // RS256 public key (key confusion) are refused by construction.
        let mut validation = Validation::new(algorithm);
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // A claim the spec names must be present, not merely right when
        // present: jsonwebtoken skips `aud`/`iss` checks on tokens without them.
        let mut required = vec!["exp"];
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Self { key, validation, roles_claim: roles_claim.to_owned() }
    }

    /// The caller, or `None` for a token that is malformed, forged, expired
    /// or meant for someone else.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        // RFC 7515, 4.1.11: a `crit` extension the edge does not implement
        // (it implements none) makes the token invalid.
        let header = token
            .split('.')
            .next()
            .and_then(base64url)
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())?;
        if header.get("crit").is_some() {
            return None;
        }
        let data = decode::<serde_json::Value>(token, &self.key, &self.validation).ok()?;
        let claims = data.claims;
        // jsonwebtoken skips an `nbf` that is not a number and takes an
        // `iss` list if one entry matches; RFC 7519 has neither.
        let numeric = |name: &str| claims.get(name).is_none_or(serde_json::Value::is_number);
        if !numeric("nbf") || !numeric("iat") || claims.get("iss").is_some_and(|i| !i.is_string()) {
            return None;
        }
        let roles = match &claims[self.roles_claim.as_str()] {
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Some(Caller { subject: claims["sub"].as_str().map(str::to_owned), roles })
    }
}

/// Base64url without padding, as JWT segments are; `None` for anything else.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.bytes() {
        bits = bits << 6 | u32::from(value(c)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"an HS256 secret of thirty-two bytes!";
    const PRIVATE: &[u8] = include_bytes!("../tests/fixtures/jwt-rs256.key.pem");
    const PUBLIC: &[u8] = include_bytes!("../tests/fixtures/jwt-rs256.pub.pem");

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }

    fn hs(claims: &serde_json::Value) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET)).unwrap_or_default()
    }

    fn b64(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }

    fn full() -> serde_json::Value {
        json!({"sub": "ann", "aud": "api", "iss": "https://id.example", "exp": now() + 300, "roles": ["admin"]})
    }

    fn edge_hs() -> Jwt {
        Jwt::hs256(SECRET, Some("https://id.example"), Some("api"), 0, "roles")
    }

    #[test]
    fn a_good_token_passes() {
        let caller = edge_hs().verify(&hs(&full()));
        assert_eq!(caller, Some(Caller { subject: Some("ann".into()), roles: vec!["admin".into()] }));
    }

    #[test]
    fn claims_the_spec_names_are_required() {
        let jwt = edge_hs();
        for missing in ["aud", "iss", "exp"] {
            let mut claims = full();
            claims.as_object_mut().map(|c| c.remove(missing));
            assert_eq!(jwt.verify(&hs(&claims)), None, "a token without `{missing}` passed");
        }
        let mut neither = full();
        neither.as_object_mut().map(|c| {
            c.remove("aud");
            c.remove("iss")
        });
        assert_eq!(jwt.verify(&hs(&neither)), None, "a token without `aud` and `iss` passed");
        let unconfigured = Jwt::hs256(SECRET, None, None, 0, "roles");
        assert!(unconfigured.verify(&hs(&neither)).is_some(), "claims the spec does not name are not required");
    }

    #[test]
    fn wrong_claims_expiry_and_keys_fail() {
        let jwt = edge_hs();
        let with = |k: &str, v: serde_json::Value| {
            let mut c = full();
            c[k] = v;
            hs(&c)
        };
        assert_eq!(jwt.verify(&with("aud", json!("other"))), None, "wrong audience");
        assert_eq!(jwt.verify(&with("iss", json!("https://evil.example"))), None, "wrong issuer");
        assert_eq!(jwt.verify(&with("exp", json!(now() - 60))), None, "expired");
        assert_eq!(jwt.verify(&with("nbf", json!(now() + 600))), None, "not yet valid");
        let other_key = encode(&Header::new(Algorithm::HS256), &full(), &EncodingKey::from_secret(b"another secret"))
            .unwrap_or_default();
        assert_eq!(jwt.verify(&other_key), None, "wrong key");
        let token = hs(&full());
        let (head, rest) = token.split_once('.').unwrap_or_default();
        let (_, signature) = rest.split_once('.').unwrap_or_default();
        let mut forged = full();
        forged["roles"] = json!(["root"]);
        let tampered = format!("{head}.{}.{signature}", b64(forged.to_string().as_bytes()));
        assert_eq!(jwt.verify(&tampered), None, "payload changed under the signature");
    }

    #[test]
    fn the_algorithm_is_pinned() {
        let payload = b64(full().to_string().as_bytes());
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#, r#"{"alg":"NONE"}"#] {
            let token = format!("{}.{payload}.", b64(header.as_bytes()));
            assert_eq!(edge_hs().verify(&token), None, "{header}");
        }
        let rs =
            Jwt::rs256(PUBLIC, Some("https://id.example"), Some("api"), 0, "roles").unwrap_or_else(|e| panic!("{e}"));
        let signed = encode(
            &Header::new(Algorithm::RS256),
            &full(),
            &EncodingKey::from_rsa_pem(PRIVATE).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_default();
        assert!(rs.verify(&signed).is_some(), "a real RS256 token passes");
        // Key confusion: HS256 with the public key as the shared secret.
        let confused =
            encode(&Header::new(Algorithm::HS256), &full(), &EncodingKey::from_secret(PUBLIC)).unwrap_or_default();
        assert_eq!(rs.verify(&confused), None, "HS256 signed with the RS256 public key");
        assert_eq!(edge_hs().verify(&signed), None, "an RS256 token where HS256 is configured");
        let rs384 = encode(
            &Header::new(Algorithm::RS384),
            &full(),
            &EncodingKey::from_rsa_pem(PRIVATE).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_default();
        assert_eq!(rs.verify(&rs384), None, "another RSA algorithm");
    }

    #[test]
    fn claims_of_the_wrong_type_and_unknown_critical_headers_are_refused() {
        let jwt = edge_hs();
        let mut string_nbf = full();
        string_nbf["nbf"] = json!("9999999999");
        assert_eq!(jwt.verify(&hs(&string_nbf)), None, "an nbf that is not a number");
        let mut listed_iss = full();
        listed_iss["iss"] = json!(["https://evil.example", "https://id.example"]);
        assert_eq!(jwt.verify(&hs(&listed_iss)), None, "an issuer list");
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        let token = encode(&header, &full(), &EncodingKey::from_secret(SECRET)).unwrap_or_default();
        let (_, rest) = token.split_once('.').unwrap_or_default();
        let crit_header = b64(br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
        let (payload, _) = rest.split_once('.').unwrap_or_default();
        let signing_input = format!("{crit_header}.{payload}");
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256)
                .unwrap_or_default();
        let critical = format!("{signing_input}.{signature}");
        assert_eq!(jwt.verify(&critical), None, "a crit header");
        assert!(base64url("e30").is_some_and(|b| b == b"{}"));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for token in ["", ".", "..", "a.b.c", "e30.e30.", "\u{0}.\u{0}.\u{0}", &"A".repeat(10_000)] {
            assert_eq!(edge_hs().verify(token), None, "{token:?}");
        }
    }
}
