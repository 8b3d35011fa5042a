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
            let upper = var.to_uppercase();
            let looks_secret = SECRET_WORDS.iter().any(|w| upper.contains(w));
            if looks_secret && !value.is_empty() && !value.starts_with("${") {
                checker
                    .error(
                        codes::SECRET_IN_SPEC,
                        &Path::root().key("services").key(service_name).key("env").key(var),
                        format!("`{var}` looks like a secret written into the spec"),
                    )
                    .with_label("this value would end up in every rendered file")
                    .with_help(format!("declare a secret and move it to `secrets: {{ {var}: <secret-name> }}`"));
            }
        }
    }
}
