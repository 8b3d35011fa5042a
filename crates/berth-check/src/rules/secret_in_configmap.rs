use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

use super::secret_in_env::looks_secret;

crate::declare_rule! {
    /// ConfigMaps are not secret: any pod in the namespace may mount them,
    /// `kubectl describe` prints them, RBAC grants read on them freely and
    /// they are not encrypted at rest. Passwords, tokens, private keys and
    /// URLs with credentials belong in Secrets. An `AWS_ACCESS_KEY_ID` or
    /// `AWS_SECRET_ACCESS_KEY` without the shape of AWS's keys (`key`,
    /// `secret` for a local emulator) is not reported.
    SecretInConfigmap {
        code: "K017",
        name: "secret-in-configmap",
        severity: Error,
        fix: "move the value into a Secret (or an external secret store) and reference it from there",
    }
}

/// Why a value looks like a credential, if it does.
fn secret_value(value: &str) -> Option<&'static str> {
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY") {
        return Some("a private key");
    }
    if value.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
        w.len() == 20
            && (w.starts_with("AKIA") || w.starts_with("ASIA"))
            && w.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }) {
        return Some("an AWS access key");
    }
    let userinfo = value.split_once("://").and_then(|(_, rest)| rest.split(['/', '?']).next()?.rsplit_once('@'));
    if let Some((user, _)) = userinfo
        && let Some((_, password)) = user.split_once(':')
        && !password.is_empty()
        && !password.starts_with("${")
        && !password.starts_with("$(")
    {
        return Some("a URL with a password");
    }
    None
}

impl Rule for SecretInConfigmap {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for o in cx.graph.objects.iter().filter(|o| o.kind == "ConfigMap") {
            let Some(entries) = at(o.node, &["data"]).and_then(berth_spec::Node::as_map) else { continue };
            for e in entries {
                let value = e.value.scalar_text().unwrap_or_default();
                // AWS's keys have a shape: `AWS_SECRET_ACCESS_KEY: secret`
                // for a local emulator (DynamoDB Local) is no credential.
                let placeholder = match e.key.name.to_ascii_uppercase().as_str() {
                    "AWS_ACCESS_KEY_ID" => secret_value(&value).is_none(),
                    "AWS_SECRET_ACCESS_KEY" => value.len() != 40 && !value.contains('$'),
                    _ => false,
                };
                // A key named for a secret that holds a document (`vault-tokens:
                // {"kms": ..., "address": ...}`) is settings: its text is judged.
                let document = value.trim_start().starts_with(['{', '[']) || value.trim().contains('\n');
                let why = if looks_secret(&e.key.name) && !value.is_empty() && !placeholder && !document {
                    Some("a credential by its name")
                } else {
                    secret_value(&value)
                };
                if let Some(why) = why {
                    sink.report(o.file, e.key.span, format!("{} holds `{}`, {why}", o.title(), e.key.name));
                }
            }
        }
    }
}
