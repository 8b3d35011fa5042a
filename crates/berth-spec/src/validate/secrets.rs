//! Secrets are declared once and referenced by name. This checks every
//! reference, flags declared secrets nothing uses, and catches values that
//! look like secrets written as plain environment variables.

use std::collections::BTreeSet;

use berth_diagnostics::Span;

use super::Checker;
use crate::node::Node;
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
        for (volume, vol) in &service.volumes {
            if let Some(backup) = &vol.backup {
                let at = root.key("services").key(name).key("volumes").key(volume).key("backup");
                backup_keys(backup, &at, &mut refs);
            }
        }
    }
    for (name, dep) in &spec.dependencies {
        if let Some(password) = &dep.password {
            refs.push((root.key("dependencies").key(name).key("password").key("secret"), password.secret.clone()));
        }
        if let Some(backup) = &dep.backup {
            backup_keys(backup, &root.key("dependencies").key(name).key("backup"), &mut refs);
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

/// A backup policy's signing and encryption keys.
fn backup_keys(backup: &crate::model::Backup, at: &Path, refs: &mut Vec<(Path, String)>) {
    for (key, secret) in [("signing_key", &backup.signing_key), ("encryption_key", &backup.encryption_key)] {
        if let Some(secret) = secret {
            refs.push((at.key(key).key("secret"), secret.secret.clone()));
        }
    }
}

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

/// The value spans the secret check judges: every `services.*.env.*` value
/// of the merged tree. Only these S301s can be accepted with
/// `# berth: ignore[S301] <reason>`; a secret pasted where a reference
/// belongs (`password: hunter2`, `value:` in a declaration) cannot.
pub(crate) fn judged_spans(root: &Node) -> Vec<Span> {
    let services = root.get("services").and_then(|e| e.value.as_map()).unwrap_or_default();
    services
        .iter()
        .filter_map(|service| service.value.get("env").and_then(|e| e.value.as_map()))
        .flatten()
        .map(|var| var.value.span)
        .collect()
}

/// Parts of a name that make it a secret's: `DB_PASSWORD`, `API_TOKEN`,
/// `JWT_SECRET`. A part that ends with one counts too (`DBPASSWORD`,
/// `GHTOKEN`); one that only contains it does not (`TOKENIZER`, `SECRETARY`).
/// `PASS` and `PWD` count only as whole parts (`DB_PASS`, not `BYPASS`).
const SECRET_NOUNS: &[&str] = &[
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
    "CREDENTIAL",
    "CREDENTIALS",
    "APIKEY",
];

/// `KEY` alone is a cache key or a sort key; after one of these it is a secret's.
const KEY_QUALIFIERS: &[&str] =
    &["API", "PRIVATE", "SECRET", "SIGNING", "ENCRYPTION", "ACCESS", "MASTER", "LICENSE", "HMAC", "SESSION", "CLIENT"];

/// Parts after the secret's noun that still name the secret itself
/// (`SECRET_KEY_BASE`, `PASSWORD_HASH`, `TOKEN_VALUE`).
const SECRET_TAILS: &[&str] = &["KEY", "KEYS", "BASE", "VALUE", "STRING", "SALT", "PEPPER", "HASH", "RAW"];

/// Parts after the secret's noun that make the name a setting about the
/// secret (`REFRESH_TOKEN_EXPIRATION_DAYS`, `PASSWORD_MIN_LENGTH`,
/// `JWT_SECRET_FILE`), not the secret.
const SETTING_WORDS: &[&str] = &[
    "EXPIRATION",
    "EXPIRY",
    "EXPIRES",
    "EXPIRE",
    "TTL",
    "AGE",
    "LIFETIME",
    "LENGTH",
    "LEN",
    "MIN",
    "MAX",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "MS",
    "TIMEOUT",
    "INTERVAL",
    "COUNT",
    "SIZE",
    "BITS",
    "ROUNDS",
    "ITERATIONS",
    "COST",
    "ALGORITHM",
    "ALGORITHMS",
    "ALG",
    "HASHER",
    "CIPHER",
    "HEADER",
    "COOKIE",
    "PARAM",
    "FIELD",
    "CLAIM",
    "NAME",
    "FILE",
    "PATH",
    "DIR",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "ISSUER",
    "AUDIENCE",
    "POLICY",
    "MODE",
    "TYPE",
    "KIND",
    "FORMAT",
    "STRATEGY",
    "SCHEME",
    "SAMESITE",
];

/// Prefixes of well-known credentials, whatever the variable is called.
const CREDENTIAL_PREFIXES: &[&str] = &[
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "pk_live_",
    "whsec_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xapp-",
    "AKIA",
    "ASIA",
    "AIza",
    "SG.",
    "npm_",
    "pypi-",
    "hf_",
];

/// How a variable's name relates to a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The name is a secret's: `DB_PASSWORD`, `API_TOKEN`, `SECRET_KEY_BASE`.
    Secret,
    /// A setting about a secret: `REFRESH_TOKEN_EXPIRATION_DAYS`, `JWT_SECRET_FILE`.
    Setting,
    /// Something else next to one: `TOKEN_STORE`, `PASSWORD_RESET_URL`.
    Other,
}

/// The role of `var`, or `None` when nothing in it names a secret.
fn role(var: &str) -> Option<Role> {
    let upper = var.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect();
    let is_noun = |i: usize| {
        let part = parts[i];
        SECRET_NOUNS.iter().any(|n| part == *n || (part.len() > n.len() && part.ends_with(*n)))
            || matches!(part, "PASS" | "PWD")
            || (matches!(part, "KEY" | "KEYS") && i > 0 && KEY_QUALIFIERS.contains(&parts[i - 1]))
    };
    let last = (0..parts.len()).rev().find(|&i| is_noun(i))?;
    let tail = &parts[last + 1..];
    Some(if tail.iter().any(|p| SETTING_WORDS.contains(p)) {
        Role::Setting
    } else if tail.iter().all(|p| SECRET_TAILS.contains(p)) {
        Role::Secret
    } else {
        Role::Other
    })
}

/// Judges the value, not only the name. Numbers, booleans, durations,
/// sizes, paths, URLs without credentials and references to secrets are
/// settings whatever the name; a well-known token format, a private key or
/// a URL with a password is a credential whatever the name. Under a
/// secret's name a random-looking value is a credential and anything else
/// may be one (a warning); under a setting about a secret only a long
/// opaque value is.
fn judge(var: &str, value: &str) -> Verdict {
    let value = value.trim();
    if value.is_empty() || is_reference(value) {
        return Verdict::Plain;
    }
    if CREDENTIAL_PREFIXES.iter().any(|p| value.starts_with(p))
        || private_key(value)
        || url_with_password(value)
        || url_with_secret_query(value)
    {
        return Verdict::Credential;
    }
    let Some(role) = role(var) else {
        return Verdict::Plain;
    };
    if value.starts_with("-----BEGIN ") {
        // A certificate or public key under a secret's name is still a
        // block of key material pasted into the spec.
        return if role == Role::Setting { Verdict::Plain } else { Verdict::Credential };
    }
    let number = is_number(value);
    // A long number under a secret's own name may be a PIN or a numeric key.
    if number && role == Role::Secret && value.trim_start_matches(['-', '+']).len() >= 6 {
        return Verdict::Maybe;
    }
    if number || is_benign(value) {
        return Verdict::Plain;
    }
    match role {
        Role::Setting if opaque(value) => Verdict::Credential,
        Role::Setting => Verdict::Plain,
        Role::Secret if random_looking(value) => Verdict::Credential,
        Role::Secret => Verdict::Maybe,
        Role::Other if random_looking(value) => Verdict::Credential,
        Role::Other if enum_like(value) => Verdict::Plain,
        Role::Other => Verdict::Maybe,
    }
}

/// A value that points at a secret instead of holding it: an
/// interpolation (`${DB_PASSWORD}`, `$(cat /run/secrets/x)`, `{{ .token }}`)
/// or a secret manager's address.
fn is_reference(value: &str) -> bool {
    const SCHEMES: &[&str] = &[
        "secret://",
        "secrets://",
        "vault:",
        "vault://",
        "op://",
        "sm://",
        "ssm:",
        "awssm:",
        "gcpsm:",
        "azkv:",
        "keyvault:",
        "arn:aws:secretsmanager:",
        "arn:aws:ssm:",
        "@microsoft.keyvault(",
    ];
    let lower = value.to_ascii_lowercase();
    (value.starts_with("${") && value.ends_with('}'))
        || (value.starts_with("$(") && value.ends_with(')'))
        || (value.starts_with("{{") && value.ends_with("}}"))
        || SCHEMES.iter().any(|s| lower.starts_with(*s))
        || (lower.starts_with("projects/") && lower.contains("/secrets/"))
}

/// A PEM block of a private key, anywhere in the value.
fn private_key(value: &str) -> bool {
    value.contains("-----BEGIN") && value.contains("PRIVATE KEY")
}

/// `30`, `-1`, `0.75`: a plain number.
fn is_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Values that are settings whatever the name: booleans, durations
/// (`30d`, `15m`), sizes (`512Mi`), paths and URLs without credentials.
fn is_benign(value: &str) -> bool {
    ["true", "false", "yes", "no", "on", "off"].contains(&value.to_ascii_lowercase().as_str())
        || crate::model::units::Duration::parse(value).is_ok()
        || crate::model::units::ByteSize::parse(value).is_ok()
        || (["/", "./", "../", "~/"].iter().any(|p| value.starts_with(*p)) && !value.contains(char::is_whitespace))
        || url(value).is_some()
}

/// The scheme and the rest of `scheme://rest`, when `value` is a URL.
fn url(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    let valid = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && !rest.is_empty() && !rest.contains(char::is_whitespace)).then_some((scheme, rest))
}

/// `scheme://user:password@host`.
fn url_with_password(value: &str) -> bool {
    value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.split_once(':').is_some_and(|(_, pw)| !pw.is_empty() && !is_reference(pw)))
    })
}

/// A URL whose query carries a credential: `?api_key=...`, `&token=...`,
/// `&sig=...` (a long value that is not a number, a flag or a reference).
fn url_with_secret_query(value: &str) -> bool {
    const NAMES: &[&str] = &["token", "key", "secret", "password", "passwd", "sig", "signature", "credential"];
    let Some((_, rest)) = url(value) else { return false };
    let Some((_, query)) = rest.split_once('?') else { return false };
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').any(|pair| {
        let Some((name, v)) = pair.split_once('=') else { return false };
        let name = name.to_ascii_lowercase();
        NAMES.iter().any(|n| name.contains(*n))
            && v.len() >= 8
            && !is_number(v)
            && !is_benign(v)
            && !v.starts_with("${")
            && !v.starts_with("%24%7B")
    })
}

/// Letters and digits only in each part between `-`, `_`, `.`, `/`, `:`,
/// and no part mixing them: `x-api-token`, `pg_stat_statements`,
/// `redis-cluster-01`. Keys and hashes mix them in every part.
fn word_like(value: &str) -> bool {
    value
        .split(['-', '_', '.', '/', ':', ' '])
        .filter(|p| !p.is_empty())
        .all(|p| p.bytes().all(|b| b.is_ascii_alphabetic()) || p.bytes().all(|b| b.is_ascii_digit()))
        && value.bytes().any(|b| b.is_ascii_alphabetic())
}

/// A short word of the kind enums are made of: `bcrypt`, `strict`,
/// `argon2id`, `HS256`, `x-api-token`.
fn enum_like(value: &str) -> bool {
    value.len() <= 32
        && value.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (word_like(value) || value.len() <= 12)
}

/// At least 12 characters of at least two kinds (lower, upper, digits,
/// symbols) without spaces, and not made of words.
fn random_looking(value: &str) -> bool {
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    value.chars().count() >= 12 && classes >= 2 && !value.contains(char::is_whitespace) && !word_like(value)
}

/// Random-looking, at least 16 characters long, and with the spread of
/// characters of a key (Shannon entropy of at least 3 bits a character).
fn opaque(value: &str) -> bool {
    random_looking(value) && value.chars().count() >= 16 && entropy(value) >= 3.0
}

/// Shannon entropy of the value's characters, in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts: std::collections::BTreeMap<char, u32> = std::collections::BTreeMap::new();
    for c in value.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let total: u32 = counts.values().sum();
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts
        .values()
        .map(|&n| {
            let p = f64::from(n) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{Role, Verdict, judge, role};

    #[test]
    fn settings_about_secrets_are_not_secrets() {
        assert_eq!(judge("REFRESH_TOKEN_EXPIRATION_DAYS", "30"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_MIN_LENGTH", "12"), Verdict::Plain);
        assert_eq!(judge("TOKEN_TTL", "15m"), Verdict::Plain);
        assert_eq!(judge("SESSION_TOKEN_EXPIRY", "30d"), Verdict::Plain);
        assert_eq!(judge("JWT_SECRET_FILE", "/run/secrets/jwt"), Verdict::Plain);
        assert_eq!(judge("PRIVATE_KEY_PATH", "./keys/signing.pem"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_HASHER", "argon2"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_ALGORITHM", "bcrypt"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_BCRYPT_ROUNDS", "12"), Verdict::Plain);
        assert_eq!(judge("JWT_SECRET_ALGORITHM", "HS256"), Verdict::Plain);
        assert_eq!(judge("API_TOKEN_HEADER", "X-Refresh-Token"), Verdict::Plain);
        assert_eq!(judge("CSRF_TOKEN_NAME", "csrftoken"), Verdict::Plain);
        assert_eq!(judge("MFA_TOKEN_ENABLED", "true"), Verdict::Plain);
        assert_eq!(judge("SESSION_COOKIE_SECRET_SAMESITE", "strict"), Verdict::Plain);
        assert_eq!(judge("LOG_LEVEL", "info"), Verdict::Plain);
    }

    #[test]
    fn plain_values_are_not_secrets_under_any_name() {
        // Numbers, booleans, durations, sizes.
        assert_eq!(judge("API_TOKEN", "30"), Verdict::Plain);
        assert_eq!(judge("SECRET_ROTATION", "false"), Verdict::Plain);
        assert_eq!(judge("TOKEN_REFRESH", "15m"), Verdict::Plain);
        assert_eq!(judge("SECRET_CACHE", "64Mi"), Verdict::Plain);
        // Short enum-like words next to a secret's name.
        assert_eq!(judge("TOKEN_STORE", "redis"), Verdict::Plain);
        assert_eq!(judge("PASSWORD_RESET", "strict"), Verdict::Plain);
        // URLs without credentials.
        assert_eq!(judge("TOKEN_URL", "https://auth.example.com/oauth/token"), Verdict::Plain);
        assert_eq!(judge("DATABASE_URL", "postgres://app@db/app"), Verdict::Plain);
        assert_eq!(judge("OIDC_TOKEN_ENDPOINT", "https://id.example.com/token?ttl=3600"), Verdict::Plain);
        // References to secrets.
        assert_eq!(judge("SECRET_KEY", "${SECRET_KEY}"), Verdict::Plain);
        assert_eq!(judge("DB_PASSWORD", "$(cat /run/secrets/db)"), Verdict::Plain);
        assert_eq!(judge("API_TOKEN", "vault:secret/data/api#token"), Verdict::Plain);
        assert_eq!(
            judge("STRIPE_SECRET", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe"),
            Verdict::Plain
        );
        assert_eq!(judge("DATABASE_URL", "postgres://app:${DB_PASSWORD}@db/app"), Verdict::Plain);
        // Names that only contain a secret's word.
        assert_eq!(judge("TOKENIZER_MODEL", "bert-base-uncased-v2-large-2024"), Verdict::Plain);
        assert_eq!(judge("CACHE_KEY", "user-profile"), Verdict::Plain);
        assert_eq!(
            judge(
                "JWT_PUBLIC_KEY",
                "-----BEGIN PUBLIC KEY-----
MIIBIjANBg
-----END PUBLIC KEY-----"
            ),
            Verdict::Plain
        );
    }

    #[test]
    fn credentials_are_found_by_their_value() {
        assert_eq!(judge("DJANGO_SECRET_KEY", "x9$kL2!pQ7#vB4zR8@mN"), Verdict::Credential);
        assert_eq!(judge("SECRET_KEY_BASE", "f9a8b7c6d5e4f3a2b1c0"), Verdict::Credential);
        assert_eq!(judge("API_TOKEN", "550e8400-e29b-41d4-a716-446655440000"), Verdict::Credential);
        assert_eq!(judge("SESSION_SECRET", "dGhpcyBpcyBhIHNlY3JldCB2YWx1ZQ=="), Verdict::Credential);
        // Well-known formats, whatever the name.
        assert_eq!(judge("STRIPE", "sk_live_abc123def456"), Verdict::Credential);
        assert_eq!(judge("GH", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"), Verdict::Credential);
        // A URL with a password, or a key in its query.
        assert_eq!(judge("DATABASE_URL", "postgres://app:hunter2@db/app"), Verdict::Credential);
        assert_eq!(judge("MAPS_URL", "https://maps.example.com/api?api_key=AIzaX9kL2pQ7vB4zR8mN"), Verdict::Credential);
        // A PEM block: a private key under any name, any block under a secret's name.
        assert_eq!(
            judge(
                "TLS",
                "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBg
-----END PRIVATE KEY-----"
            ),
            Verdict::Credential
        );
        assert_eq!(
            judge(
                "SIGNING_SECRET",
                "-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----"
            ),
            Verdict::Credential
        );
        // A long opaque value under a setting's name is still one.
        assert_eq!(judge("API_TOKEN_HEADER", "q8Zr2LxW9vNp4KtB7mYc"), Verdict::Credential);
        assert_eq!(
            judge("TOKEN_EXPIRATION", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            Verdict::Credential
        );
    }

    #[test]
    fn words_under_a_secrets_name_may_be_secrets() {
        assert_eq!(judge("API_TOKEN", "hunter2"), Verdict::Maybe);
        assert_eq!(judge("DB_PASSWORD", "changeme"), Verdict::Maybe);
        assert_eq!(judge("DB_PASSWORD", "correct-horse-battery-staple"), Verdict::Maybe);
        assert_eq!(judge("ADMIN_PASSWORD", "12345678"), Verdict::Maybe);
        assert_eq!(judge("TOKEN_STORE", "redis cluster with replicas"), Verdict::Maybe);
    }

    #[test]
    fn roles_come_from_the_words_after_the_secrets_noun() {
        assert_eq!(role("DB_PASSWORD"), Some(Role::Secret));
        assert_eq!(role("DBPASSWORD"), Some(Role::Secret));
        assert_eq!(role("STRIPE_API_KEY"), Some(Role::Secret));
        assert_eq!(role("SECRET_KEY_BASE"), Some(Role::Secret));
        assert_eq!(role("refresh-token-expiration-days"), Some(Role::Setting));
        assert_eq!(role("PASSWORD_MIN_LENGTH"), Some(Role::Setting));
        assert_eq!(role("TOKEN_STORE"), Some(Role::Other));
        assert_eq!(role("DB_PASS"), Some(Role::Secret));
        assert_eq!(role("BYPASS_CACHE"), None);
        assert_eq!(role("TOKENIZER"), None);
        assert_eq!(role("SORT_KEY"), None);
        assert_eq!(role("MONKEY"), None);
    }
}
