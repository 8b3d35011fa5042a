use crate::graph::nginx::effective;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// SSLv3, TLS 1.0 and 1.1 are broken or deprecated (RFC 8996), and
    /// cipher lists that enable RC4, DES, 3DES, MD5, NULL, EXPORT or
    /// anonymous suites invite downgrade attacks. A list naming only TLS
    /// 1.3 suites (`TLS_AES_...`) while TLS 1.2 is enabled matches no TLS
    /// 1.2 cipher: OpenSSL rejects it and nginx does not start, or TLS 1.2
    /// clients fail their handshake.
    WeakTls {
        code: "N004",
        name: "weak-tls",
        severity: Warning,
        fix: "use `ssl_protocols TLSv1.2 TLSv1.3;` and a current cipher list such as Mozilla's intermediate profile (TLS 1.3 suites are not set by `ssl_ciphers`)",
    }
}

const OLD_PROTOCOLS: [&str; 4] = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1"];
const WEAK: [&str; 12] = ["RC4", "DES", "MD5", "NULL", "EXPORT", "EXP", "aNULL", "eNULL", "ADH", "AECDH", "LOW", "ALL"];

impl Rule for WeakTls {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            config.visit(&mut |d, ancestors| {
                if d.name == "ssl_protocols" {
                    for arg in d.args.iter().filter(|a| OLD_PROTOCOLS.contains(&a.text.as_str())) {
                        sink.report(
                            d.file,
                            arg.span,
                            format!("`{}` is enabled; it is deprecated and attackable", arg.text),
                        );
                    }
                }
                if d.name != "ssl_ciphers" {
                    return;
                }
                let Some(list) = d.args.first() else { return };
                let positive: Vec<&str> = list
                    .text
                    .split([':', ' ', ','])
                    .map(|t| t.trim_start_matches('+'))
                    .filter(|t| !t.is_empty() && !t.starts_with(['!', '-']))
                    .collect();
                let excluded = |w: &str| list.text.split(':').any(|t| t == format!("!{w}") || t == format!("-{w}"));
                for token in &positive {
                    let weak = WEAK.iter().find(|w| {
                        token.split(['-', '_']).any(|part| part == **w || part == "3DES" && **w == "DES")
                            && !excluded(w)
                    });
                    if let Some(w) = weak {
                        sink.report(d.file, list.span, format!("the cipher list enables `{token}` ({w})"));
                        return;
                    }
                }
                let Some((block, outer)) = ancestors.split_last() else { return };
                let protocols = effective("ssl_protocols", block, outer);
                let tls12 = protocols.last().is_none_or(|p| {
                    p.args.iter().any(|a| a.text == "TLSv1.2" || OLD_PROTOCOLS.contains(&a.text.as_str()))
                });
                if tls12 && !positive.is_empty() && positive.iter().all(|t| is_tls13_suite(t)) {
                    sink.report(
                        d.file,
                        list.span,
                        "only TLS 1.3 suites are listed while TLS 1.2 is enabled: no TLS 1.2 cipher matches",
                    );
                }
            });
        }
    }
}

/// A TLS 1.3 suite name (`TLS_AES_128_GCM_SHA256`), not a TLS 1.2 cipher
/// written with its IANA name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
fn is_tls13_suite(token: &str) -> bool {
    token.starts_with("TLS_") && !token.contains("_WITH_")
}

#[cfg(test)]
mod tests {
    fn codes(conf: &str) -> Vec<&'static str> {
        crate::rules::findings_of("N004", &[("nginx.conf", conf)]).iter().map(|f| f.diagnostic.code.id).collect()
    }

    const CONF: &str = "events {}\nhttp {\n  server {\n    listen 443 ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers CIPHERS;\n  }\n}\n";

    #[test]
    fn tls13_suites_alone_under_tls12_are_reported() {
        assert_eq!(codes(&CONF.replace("CIPHERS", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384")), ["N004"]);
    }

    #[test]
    fn iana_names_of_tls12_ciphers_are_not_tls13_suites() {
        let iana = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
        assert!(codes(&CONF.replace("CIPHERS", iana)).is_empty());
    }
}
