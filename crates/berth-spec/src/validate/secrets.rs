//! Secrets are declared once and referenced by name. This checks every
//! reference, flags declared secrets nothing uses, and catches values that
//! look like secrets written as plain environment variables.

use std::collections::BTreeSet;

use super::Checker;
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

/// Every place the spec names a secret, with its path.
pub(crate) fn references(spec: &Spec) -> Vec<(Path, String)> {
    let mut refs = Vec::new();
    let root = Path::root();
    for (name, service) in &spec.services {
        for (var, secret) in &service.secrets {
            refs.push((root.key("services").key(name).key("secrets").key(var), secret.clone()));
        }
    }
    for (name, dep) in &spec.dependencies {
        if let Some(password) = &dep.password {
            refs.push((root.key("dependencies").key(name).key("password").key("secret"), password.secret.clone()));
        }
        if let Some(key) = dep.backup.as_ref().and_then(|b| b.signing_key.as_ref()) {
            refs.push((
                root.key("dependencies").key(name).key("backup").key("signing_key").key("secret"),
                key.secret.clone(),
            ));
        }
    }
    if let Some(auth) = spec.edge.as_ref().and_then(|e| e.auth.as_ref()) {
        let auth_path = root.key("edge").key("auth");
        for (i, key) in auth.api_keys.iter().enumerate() {
            if let Some(secret) = &key.secret {
                refs.push((auth_path.key("api_keys").index(i).key("secret"), secret.clone()));
            }
        }
        if let Some(secret) = auth.jwt.as_ref().and_then(|j| j.secret.as_ref()) {
            refs.push((auth_path.key("jwt").key("secret"), secret.clone()));
        }
    }
    for (name, receiver) in &spec.monitoring.receivers {
        let path = root.key("monitoring").key("receivers").key(name);
        if let Some(s) = receiver.webhook.as_ref().and_then(|w| w.url_secret.as_ref()) {
            refs.push((path.key("webhook").key("url_secret"), s.clone()));
        }
        if let Some(slack) = &receiver.slack {
            refs.push((path.key("slack").key("webhook_secret"), slack.webhook_secret.clone()));
        }
        if let Some(s) = receiver.email.as_ref().and_then(|e| e.password_secret.as_ref()) {
            refs.push((path.key("email").key("password_secret"), s.clone()));
        }
    }
    refs
}

const SECRET_WORDS: &[&str] =
    &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"];

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    let declared: Vec<&str> = spec.secrets.keys().map(String::as_str).collect();
    let mut used = BTreeSet::new();
    for (path, name) in references(spec) {
        used.insert(name.clone());
        if !spec.secrets.contains_key(&name) {
            checker.dangling(
                &path,
                "secret",
                &name,
                &declared,
                &format!("declare it under `secrets:` as `{name}: {{}}`"),
            );
        }
    }
    for (name, secret) in &spec.secrets {
        let path = Path::root().key("secrets").key(name);
        if !used.contains(name) {
            checker
                .report(
                    codes::UNUSED,
                    berth_diagnostics::Severity::Warning,
                    &path,
                    Anchor::Key,
                    format!("secret `{name}` is declared but nothing uses it"),
                )
                .with_help("reference it from a service's `secrets:`, or remove it");
        }
        if secret.env.is_some() && secret.file.is_some() {
            checker
                .error(codes::CONTRADICTION, &path, format!("secret `{name}` names both `env` and `file`"))
                .with_help("pick one place berth reads the value from");
        }
    }
    for (service_name, service) in &spec.services {
        for (var, value) in &service.env {
            let path = Path::root().key("services").key(service_name).key("env").key(var);
            match judge(var, value) {
                Verdict::Plain => {}
                Verdict::Credential => {
                    checker
                        .error(codes::SECRET_IN_SPEC, &path, format!("`{var}` holds what looks like a credential"))
                        .with_label("this value would end up in every rendered file")
                        .with_help(format!(
                            "declare a secret and move it to `secrets: {{ {var}: <secret-name> }}`; if it is not one, say why with `# berth: ignore[S301] <reason>` above it"
                        ));
                }
                Verdict::Maybe => {
                    checker
                        .warning(codes::SECRET_IN_SPEC, &path, format!("`{var}` is named like a secret and set in the spec"))
                        .with_help(format!(
                            "if it is one, move it to `secrets: {{ {var}: <secret-name> }}`; if not, say why with `# berth: ignore[S301] <reason>` above it"
                        ));
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Plain,
    /// Named like a secret, and the value could be one.
    Maybe,
    /// The value itself looks like a credential.
    Credential,
}

/// Name parts that make a secret-like name a setting about secrets
/// (`REFRESH_TOKEN_EXPIRATION_DAYS`, `PASSWORD_MIN_LENGTH`).
const SETTING_WORDS: &[&str] = &[
    "EXPIRATION",
    "EXPIRY",
    "EXPIRES",
    "TTL",
    "LIFETIME",
    "LENGTH",
    "MIN",
    "MAX",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "TIMEOUT",
    "COUNT",
    "SIZE",
    "ROUNDS",
    "ALGORITHM",
    "ALG",
    "HASHER",
    "HEADER",
    "NAME",
    "FILE",
    "PATH",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "ISSUER",
    "AUDIENCE",
    "POLICY",
    "COST",
];

/// Prefixes of well-known credentials, whatever the variable is called.
const CREDENTIAL_PREFIXES: &[&str] = &[
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "ASIA",
    "AIza",
    "glpat-",
    "-----BEGIN",
];

/// Judges the value, not only the name: a number, a duration, a word or a
/// reference is a setting; a long mixed string under a secret's name, a
/// well-known token format, or a URL with a password is a credential.
fn judge(var: &str, value: &str) -> Verdict {
    let value = value.trim();
    if value.is_empty() || value.starts_with("${") {
        return Verdict::Plain;
    }
    if CREDENTIAL_PREFIXES.iter().any(|p| value.starts_with(p)) || url_with_password(value) {
        return Verdict::Credential;
    }
    let upper = var.to_uppercase();
    if !SECRET_WORDS.iter().any(|w| upper.contains(w)) {
        return Verdict::Plain;
    }
    let parts: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let setting = parts.iter().any(|p| SETTING_WORDS.contains(p));
    let benign = value.parse::<f64>().is_ok()
        || ["true", "false", "yes", "no", "on", "off"].contains(&value.to_lowercase().as_str())
        || crate::model::units::Duration::parse(value).is_ok()
        || crate::model::units::ByteSize::parse(value).is_ok()
        || value.starts_with('/');
    if benign {
        return Verdict::Plain;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let random_looking = value.len() >= 12 && classes >= 2 && !value.contains(' ');
    match (random_looking, setting) {
        (true, _) => Verdict::Credential,
        (false, true) => Verdict::Plain,
        (false, false) => Verdict::Maybe,
    }
}

/// `scheme://user:password@host`.
fn url_with_password(value: &str) -> bool {
    value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split('/').next().unwrap_or_default();
        authority.split_once('@').is_some_and(|(user, _)| {
            user.split_once(':').is_some_and(|(_, pw)| !pw.is_empty() && !pw.starts_with("${"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{Verdict, judge};

    #[test]
    fn settings_about_secrets_are_not_secrets() {
        assert_eq!(judge("REFRESH_TOKEN_EXPIRATION_DAYS", "30"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_MIN_LENGTH", "12"), Verdict::Plain);
        assert_eq!(judge("TOKEN_TTL", "15m"), Verdict::Plain);
        assert_eq!(judge("JWT_SECRET_FILE", "/run/secrets/jwt"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_HASHER", "argon2"), Verdict::Plain);
        assert_eq!(judge("SECRET_KEY", "${SECRET_KEY}"), Verdict::Plain);
        assert_eq!(judge("LOG_LEVEL", "info"), Verdict::Plain);
    }

    #[test]
    fn credentials_are_found_by_their_value() {
        assert_eq!(judge("DJANGO_SECRET_KEY", "x9$kL2!pQ7#vB4zR8@mN"), Verdict::Credential);
        assert_eq!(judge("STRIPE", "sk_live_abc123def456"), Verdict::Credential);
        assert_eq!(judge("DATABASE_URL", "postgres://app:hunter2@db/app"), Verdict::Credential);
        assert_eq!(judge("DATABASE_URL", "postgres://app@db/app"), Verdict::Plain);
        assert_eq!(judge("API_TOKEN", "hunter2"), Verdict::Maybe);
    }
}
