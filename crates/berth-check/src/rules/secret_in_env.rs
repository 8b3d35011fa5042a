use crate::graph::yaml::{at, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A password, token or key written as a literal `env` value lives in
    /// the manifest, in Git, and in every `kubectl get -o yaml` output.
    SecretInEnv {
        code: "K012",
        name: "secret-in-env",
        severity: Error,
        fix: "move the value into a Secret and use `valueFrom.secretKeyRef`",
    }
}

/// Environment names that hold credentials.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
        && !upper.ends_with("_FILE")
        && !upper.ends_with("_PATH")
}

impl Rule for SecretInEnv {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                for var in seq(at(c.node, &["env"])) {
                    let (Some(name), Some(value)) = (str_at(var, &["name"]), at(var, &["value"])) else { continue };
                    let literal = value.scalar_text().unwrap_or_default();
                    if looks_secret(name) && !literal.is_empty() && !literal.starts_with("$(") {
                        sink.report(file, value.span, format!("`{name}` of container `{}` is a literal value", c.name));
                    }
                }
            }
        }
    }
}
