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
    (["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
        // `POSTGRES_PASS`, `DB_PASS` (kartoza's images), not `BYPASS`.
        || upper == "PASS"
        || upper.ends_with("_PASS"))
        && !upper.ends_with("_FILE")
        // An identifier, not the secret it identifies (`ACCESS_KEY_ID` is
        // the user name half of an S3 key pair).
        && !upper.ends_with("_ID")
        && !upper.ends_with("_PATH")
        // The name of a Secret object, not its value (`ALLOYDB_SECRET_NAME`).
        && !upper.ends_with("_NAME")
        // etcd's cluster token only keeps two clusters apart; it guards nothing.
        && !upper.contains("INITIAL_CLUSTER_TOKEN")
}

/// Whether a written value can be a credential at all: not a flag, a
/// number, an address, a path (a mounted secret's file), or a word too short to guess (`SECRET_PORT=3000`, `SECRET_FORCED_LANGUAGE=en`
/// in an app that prefixes every setting with `SECRET_`).
pub fn could_be_credential(name: &str, value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    let upper = name.to_ascii_uppercase();
    if upper.contains("PASSWORD") || upper.contains("PASSWD") {
        // A password is one whatever it looks like (`WSREP_SST_PASSWORD=sst`),
        // unless it names the file that holds it.
        return !v.is_empty() && !v.starts_with('/');
    }
    let lower = v.to_ascii_lowercase();
    let flag = matches!(lower.as_str(), "true" | "false" | "yes" | "no" | "on" | "off");
    let number = v.parse::<f64>().is_ok();
    let address = v.parse::<std::net::IpAddr>().is_ok();
    let path = v.starts_with('/') || v.starts_with("./");
    // A placeholder written in a deployment file (`changeme`) is what
    // runs when nobody replaces it: still a finding.
    v.chars().count() >= 4 && !flag && !number && !address && !path
}

impl Rule for SecretInEnv {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                for var in seq(at(c.node, &["env"])) {
                    let (Some(name), Some(value)) = (str_at(var, &["name"]), at(var, &["value"])) else { continue };
                    let literal = value.scalar_text().unwrap_or_default();
                    if looks_secret(name) && could_be_credential(name, &literal) && !literal.starts_with("$(") {
                        sink.report(file, value.span, format!("`{name}` of container `{}` is a literal value", c.name));
                    }
                }
            }
        }
    }
}
