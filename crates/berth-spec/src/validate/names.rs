use berth_diagnostics::Severity;

use super::Checker;
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

/// A DNS-1123 label: what Kubernetes, compose and DNS accept as a name.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn suggestion(name: &str) -> String {
    let mut s: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    s = s.trim_matches('-').to_owned();
    s.truncate(63);
    s
}

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    let label = |checker: &mut Checker<'_>, path: &Path, anchor, what: &str, name: &str| {
        if !is_dns_label(name) {
            checker
                .report(
                    codes::INVALID_NAME,
                    Severity::Error,
                    path,
                    anchor,
                    format!("`{name}` is not a valid {what} name"),
                )
                .with_label("use lowercase letters, digits and `-`")
                .with_help(format!("names become DNS labels in every target; try `{}`", suggestion(name)));
        }
    };
    label(checker, &Path::root().key("name"), Anchor::Value, "project", &spec.name);
    for name in spec.services.keys() {
        label(checker, &Path::root().key("services").key(name), Anchor::Key, "service", name);
    }
    for name in spec.dependencies.keys() {
        label(checker, &Path::root().key("dependencies").key(name), Anchor::Key, "dependency", name);
        if spec.services.contains_key(name) {
            checker
                .report(
                    codes::DUPLICATE_NAME,
                    Severity::Error,
                    &Path::root().key("dependencies").key(name),
                    Anchor::Key,
                    format!("`{name}` is both a service and a dependency"),
                )
                .with_related(&Path::root().key("services").key(name), Anchor::Key, "the service")
                .with_help("services and dependencies share one namespace of host names; rename one of them");
        }
    }
    for name in spec.secrets.keys() {
        label(checker, &Path::root().key("secrets").key(name), Anchor::Key, "secret", name);
    }
}

#[cfg(test)]
mod tests {
    use super::is_dns_label;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("api-v2"));
        assert!(!is_dns_label("Api"));
        assert!(!is_dns_label("-api"));
        assert!(!is_dns_label("a_b"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
