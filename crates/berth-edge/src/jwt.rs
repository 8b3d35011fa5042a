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
        let mut validation = Validation::new(algorithm);
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = issuer {
            validation.set_issuer(&[iss]);
        }
        Self { key, validation, roles_claim: roles_claim.to_owned() }
    }

    /// The caller, or `None` for a token that is malformed, forged, expired
    /// or meant for someone else.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let data = decode::<serde_json::Value>(token, &self.key, &self.validation).ok()?;
        let claims = data.claims;
        let roles = match &claims[self.roles_claim.as_str()] {
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Some(Caller { subject: claims["sub"].as_str().map(str::to_owned), roles })
    }
}
