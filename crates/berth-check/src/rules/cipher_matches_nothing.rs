use berth_diagnostics::Severity;

use crate::graph::nginx::{Directive, effective};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `ssl_ciphers` (and `proxy_ssl_ciphers`, `grpc_ssl_ciphers`,
    /// `uwsgi_ssl_ciphers`) is an OpenSSL cipher string for TLS 1.2 and
    /// below. OpenSSL ignores every element it does not know: a name
    /// mistyped, a TLS 1.3 suite (`TLS_AES_128_GCM_SHA256`, which only
    /// `ssl_conf_command Ciphersuites` sets). When no element is known the
    /// list matches nothing and nginx does not start
    /// (`SSL_CTX_set_cipher_list(...) failed (SSL: ... no cipher match)`),
    /// an error. When only some are unknown they are dropped without a
    /// word and the server offers fewer ciphers than the list reads: a
    /// warning naming them (TLS 1.3 suites among them are not named:
    /// nginx enables those by default, so dropping them changes nothing).
    /// Known are OpenSSL's cipher names (those of OpenSSL 3 and the legacy
    /// ones of 1.0.2 and 1.1.1), its aliases (`HIGH`, `EECDH`, `AESGCM`,
    /// `kEDH`...), `+`-joined combinations of them, the standard names of
    /// TLS 1.2 suites (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, accepted
    /// since OpenSSL 3.1), RHEL's `PROFILE=SYSTEM`, and the draft names
    /// patched builds accept (`TLS13-AES-128-GCM-SHA256`). Elements
    /// starting with `!`, `-`, `+` or `@`, values with nginx variables and
    /// lists with BoringSSL's `[a|b]` groups are not judged. A list of TLS
    /// 1.3 suites only, while TLS 1.2 is enabled, is N004's to report.
    CipherMatchesNothing {
        code: "N009",
        name: "cipher-matches-nothing",
        severity: Error,
        fix: "use OpenSSL's names (`openssl ciphers -v 'HIGH'` lists them), such as Mozilla's intermediate list `ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:...`; TLS 1.3 suites are enabled by default and set with `ssl_conf_command Ciphersuites`",
    }
}

const DIRECTIVES: [&str; 4] = ["ssl_ciphers", "proxy_ssl_ciphers", "grpc_ssl_ciphers", "uwsgi_ssl_ciphers"];

/// OpenSSL's names of the TLS 1.2-and-below cipher suites: OpenSSL 3's
/// `openssl ciphers ALL:COMPLEMENTOFALL`, and the legacy names of 1.0.2
/// and 1.1.1 (RC4, DES, export, static DH and ECDH, Kerberos, GOST).
#[rustfmt::skip]
const CIPHERS: [&str; 288] = [
    "ADH-AES128-GCM-SHA256", "ADH-AES128-SHA", "ADH-AES128-SHA256", "ADH-AES256-GCM-SHA384", "ADH-AES256-SHA",
    "ADH-AES256-SHA256", "ADH-CAMELLIA128-SHA", "ADH-CAMELLIA128-SHA256", "ADH-CAMELLIA256-SHA",
    "ADH-CAMELLIA256-SHA256", "ADH-DES-CBC-SHA", "ADH-DES-CBC3-SHA", "ADH-RC4-MD5", "ADH-SEED-SHA",
    "AECDH-AES128-SHA", "AECDH-AES256-SHA", "AECDH-DES-CBC3-SHA", "AECDH-NULL-SHA", "AECDH-RC4-SHA", "AES128-CCM",
    "AES128-CCM8", "AES128-GCM-SHA256", "AES128-SHA", "AES128-SHA256", "AES256-CCM", "AES256-CCM8",
    "AES256-GCM-SHA384", "AES256-SHA", "AES256-SHA256", "ARIA128-GCM-SHA256", "ARIA256-GCM-SHA384",
    "CAMELLIA128-SHA", "CAMELLIA128-SHA256", "CAMELLIA256-SHA", "CAMELLIA256-SHA256", "DES-CBC-MD5", "DES-CBC-SHA",
    "DES-CBC3-MD5", "DES-CBC3-SHA", "DH-DSS-AES128-GCM-SHA256", "DH-DSS-AES128-SHA", "DH-DSS-AES128-SHA256",
    "DH-DSS-AES256-GCM-SHA384", "DH-DSS-AES256-SHA", "DH-DSS-AES256-SHA256", "DH-DSS-CAMELLIA128-SHA",
    "DH-DSS-CAMELLIA128-SHA256", "DH-DSS-CAMELLIA256-SHA", "DH-DSS-CAMELLIA256-SHA256", "DH-DSS-DES-CBC-SHA",
    "DH-DSS-DES-CBC3-SHA", "DH-DSS-SEED-SHA", "DH-RSA-AES128-GCM-SHA256", "DH-RSA-AES128-SHA",
    "DH-RSA-AES128-SHA256", "DH-RSA-AES256-GCM-SHA384", "DH-RSA-AES256-SHA", "DH-RSA-AES256-SHA256",
    "DH-RSA-CAMELLIA128-SHA", "DH-RSA-CAMELLIA128-SHA256", "DH-RSA-CAMELLIA256-SHA", "DH-RSA-CAMELLIA256-SHA256",
    "DH-RSA-DES-CBC-SHA", "DH-RSA-DES-CBC3-SHA", "DH-RSA-SEED-SHA", "DHE-DSS-AES128-GCM-SHA256",
    "DHE-DSS-AES128-SHA", "DHE-DSS-AES128-SHA256", "DHE-DSS-AES256-GCM-SHA384", "DHE-DSS-AES256-SHA",
    "DHE-DSS-AES256-SHA256", "DHE-DSS-ARIA128-GCM-SHA256", "DHE-DSS-ARIA256-GCM-SHA384", "DHE-DSS-CAMELLIA128-SHA",
    "DHE-DSS-CAMELLIA128-SHA256", "DHE-DSS-CAMELLIA256-SHA", "DHE-DSS-CAMELLIA256-SHA256", "DHE-DSS-DES-CBC-SHA",
    "DHE-DSS-DES-CBC3-SHA", "DHE-DSS-RC4-SHA", "DHE-DSS-SEED-SHA", "DHE-PSK-3DES-EDE-CBC-SHA",
    "DHE-PSK-AES128-CBC-SHA", "DHE-PSK-AES128-CBC-SHA256", "DHE-PSK-AES128-CCM", "DHE-PSK-AES128-CCM8",
    "DHE-PSK-AES128-GCM-SHA256", "DHE-PSK-AES256-CBC-SHA", "DHE-PSK-AES256-CBC-SHA384", "DHE-PSK-AES256-CCM",
    "DHE-PSK-AES256-CCM8", "DHE-PSK-AES256-GCM-SHA384", "DHE-PSK-ARIA128-GCM-SHA256", "DHE-PSK-ARIA256-GCM-SHA384",
    "DHE-PSK-CAMELLIA128-SHA256", "DHE-PSK-CAMELLIA256-SHA384", "DHE-PSK-CHACHA20-POLY1305", "DHE-PSK-NULL-SHA",
    "DHE-PSK-NULL-SHA256", "DHE-PSK-NULL-SHA384", "DHE-PSK-RC4-SHA", "DHE-RSA-AES128-CCM", "DHE-RSA-AES128-CCM8",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-SHA", "DHE-RSA-AES128-SHA256", "DHE-RSA-AES256-CCM",
    "DHE-RSA-AES256-CCM8", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-SHA", "DHE-RSA-AES256-SHA256",
    "DHE-RSA-ARIA128-GCM-SHA256", "DHE-RSA-ARIA256-GCM-SHA384", "DHE-RSA-CAMELLIA128-SHA",
    "DHE-RSA-CAMELLIA128-SHA256", "DHE-RSA-CAMELLIA256-SHA", "DHE-RSA-CAMELLIA256-SHA256",
    "DHE-RSA-CHACHA20-POLY1305", "DHE-RSA-CHACHA20-POLY1305-OLD", "DHE-RSA-DES-CBC-SHA", "DHE-RSA-DES-CBC3-SHA",
    "DHE-RSA-SEED-SHA", "ECDH-ECDSA-AES128-GCM-SHA256", "ECDH-ECDSA-AES128-SHA", "ECDH-ECDSA-AES128-SHA256",
    "ECDH-ECDSA-AES256-GCM-SHA384", "ECDH-ECDSA-AES256-SHA", "ECDH-ECDSA-AES256-SHA384",
    "ECDH-ECDSA-CAMELLIA128-SHA256", "ECDH-ECDSA-CAMELLIA256-SHA384", "ECDH-ECDSA-DES-CBC3-SHA",
    "ECDH-ECDSA-NULL-SHA", "ECDH-ECDSA-RC4-SHA", "ECDH-RSA-AES128-GCM-SHA256", "ECDH-RSA-AES128-SHA",
    "ECDH-RSA-AES128-SHA256", "ECDH-RSA-AES256-GCM-SHA384", "ECDH-RSA-AES256-SHA", "ECDH-RSA-AES256-SHA384",
    "ECDH-RSA-CAMELLIA128-SHA256", "ECDH-RSA-CAMELLIA256-SHA384", "ECDH-RSA-DES-CBC3-SHA", "ECDH-RSA-NULL-SHA",
    "ECDH-RSA-RC4-SHA", "ECDHE-ARIA128-GCM-SHA256", "ECDHE-ARIA256-GCM-SHA384", "ECDHE-ECDSA-AES128-CCM",
    "ECDHE-ECDSA-AES128-CCM8", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-CCM", "ECDHE-ECDSA-AES256-CCM8",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-ECDSA-ARIA128-GCM-SHA256", "ECDHE-ECDSA-ARIA256-GCM-SHA384", "ECDHE-ECDSA-CAMELLIA128-SHA256",
    "ECDHE-ECDSA-CAMELLIA256-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305-OLD",
    "ECDHE-ECDSA-DES-CBC3-SHA", "ECDHE-ECDSA-NULL-SHA", "ECDHE-ECDSA-RC4-SHA", "ECDHE-PSK-3DES-EDE-CBC-SHA",
    "ECDHE-PSK-AES128-CBC-SHA", "ECDHE-PSK-AES128-CBC-SHA256", "ECDHE-PSK-AES256-CBC-SHA",
    "ECDHE-PSK-AES256-CBC-SHA384", "ECDHE-PSK-CAMELLIA128-SHA256", "ECDHE-PSK-CAMELLIA256-SHA384",
    "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-PSK-NULL-SHA", "ECDHE-PSK-NULL-SHA256", "ECDHE-PSK-NULL-SHA384",
    "ECDHE-PSK-RC4-SHA", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-CAMELLIA128-SHA256",
    "ECDHE-RSA-CAMELLIA256-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305-OLD",
    "ECDHE-RSA-DES-CBC3-SHA", "ECDHE-RSA-NULL-SHA", "ECDHE-RSA-RC4-SHA", "EDH-DSS-DES-CBC-SHA",
    "EDH-DSS-DES-CBC3-SHA", "EDH-RSA-DES-CBC-SHA", "EDH-RSA-DES-CBC3-SHA", "EXP-ADH-DES-CBC-SHA", "EXP-ADH-RC4-MD5",
    "EXP-DES-CBC-SHA", "EXP-DH-DSS-DES-CBC-SHA", "EXP-DH-RSA-DES-CBC-SHA", "EXP-EDH-DSS-DES-CBC-SHA",
    "EXP-EDH-RSA-DES-CBC-SHA", "EXP-KRB5-DES-CBC-MD5", "EXP-KRB5-DES-CBC-SHA", "EXP-KRB5-RC2-CBC-MD5",
    "EXP-KRB5-RC2-CBC-SHA", "EXP-KRB5-RC4-MD5", "EXP-KRB5-RC4-SHA", "EXP-RC2-CBC-MD5", "EXP-RC4-MD5",
    "EXP1024-DES-CBC-SHA", "EXP1024-DHE-DSS-DES-CBC-SHA", "EXP1024-DHE-DSS-RC4-SHA", "EXP1024-RC2-CBC-MD5",
    "EXP1024-RC4-MD5", "EXP1024-RC4-SHA", "GOST2001-GOST89-GOST89", "GOST2001-NULL-GOST94",
    "GOST2012-GOST8912-GOST8912", "GOST2012-KUZNYECHIK-KUZNYECHIKOMAC", "GOST2012-MAGMA-MAGMAOMAC",
    "GOST2012-NULL-GOST12", "GOST94-GOST89-GOST89", "GOST94-NULL-GOST94", "IANA-GOST2012-GOST8912-GOST8912",
    "IDEA-CBC-MD5", "IDEA-CBC-SHA", "KRB5-DES-CBC-MD5", "KRB5-DES-CBC-SHA", "KRB5-DES-CBC3-MD5", "KRB5-DES-CBC3-SHA",
    "KRB5-IDEA-CBC-MD5", "KRB5-IDEA-CBC-SHA", "KRB5-RC4-MD5", "KRB5-RC4-SHA", "LEGACY-GOST2012-GOST8912-GOST8912",
    "NULL-MD5", "NULL-SHA", "NULL-SHA256", "PSK-3DES-EDE-CBC-SHA", "PSK-AES128-CBC-SHA", "PSK-AES128-CBC-SHA256",
    "PSK-AES128-CCM", "PSK-AES128-CCM8", "PSK-AES128-GCM-SHA256", "PSK-AES256-CBC-SHA", "PSK-AES256-CBC-SHA384",
    "PSK-AES256-CCM", "PSK-AES256-CCM8", "PSK-AES256-GCM-SHA384", "PSK-ARIA128-GCM-SHA256", "PSK-ARIA256-GCM-SHA384",
    "PSK-CAMELLIA128-SHA256", "PSK-CAMELLIA256-SHA384", "PSK-CHACHA20-POLY1305", "PSK-NULL-SHA", "PSK-NULL-SHA256",
    "PSK-NULL-SHA384", "PSK-RC4-SHA", "RC2-CBC-MD5", "RC4-64-MD5", "RC4-MD5", "RC4-SHA", "RSA-PSK-3DES-EDE-CBC-SHA",
    "RSA-PSK-AES128-CBC-SHA", "RSA-PSK-AES128-CBC-SHA256", "RSA-PSK-AES128-GCM-SHA256", "RSA-PSK-AES256-CBC-SHA",
    "RSA-PSK-AES256-CBC-SHA384", "RSA-PSK-AES256-GCM-SHA384", "RSA-PSK-ARIA128-GCM-SHA256",
    "RSA-PSK-ARIA256-GCM-SHA384", "RSA-PSK-CAMELLIA128-SHA256", "RSA-PSK-CAMELLIA256-SHA384",
    "RSA-PSK-CHACHA20-POLY1305", "RSA-PSK-NULL-SHA", "RSA-PSK-NULL-SHA256", "RSA-PSK-NULL-SHA384", "RSA-PSK-RC4-SHA",
    "SEED-SHA", "SRP-3DES-EDE-CBC-SHA", "SRP-AES-128-CBC-SHA", "SRP-AES-256-CBC-SHA", "SRP-DSS-3DES-EDE-CBC-SHA",
    "SRP-DSS-AES-128-CBC-SHA", "SRP-DSS-AES-256-CBC-SHA", "SRP-RSA-3DES-EDE-CBC-SHA", "SRP-RSA-AES-128-CBC-SHA",
    "SRP-RSA-AES-256-CBC-SHA",
];

/// OpenSSL's aliases (`man openssl-ciphers`, and the older ones of 1.0.2).
#[rustfmt::skip]
const ALIASES: [&str; 107] = [
    "ALL", "COMPLEMENTOFALL", "COMPLEMENTOFDEFAULT", "DEFAULT", "HIGH", "MEDIUM", "LOW", "EXP", "EXPORT", "EXPORT40",
    "EXPORT56", "eNULL", "NULL", "aNULL", "kRSA", "aRSA", "RSA", "kDHr", "kDHd", "kDH", "kDHE", "kEDH", "DH", "DHE",
    "EDH", "ADH", "kECDHr", "kECDHe", "kECDH", "kEECDH", "kECDHE", "ECDH", "ECDHE", "EECDH", "AECDH", "aDSS", "DSS",
    "aDH", "aECDH", "aECDSA", "ECDSA", "kFZA", "aFZA", "eFZA", "FZA", "kKRB5", "aKRB5", "KRB5", "kPSK", "kECDHEPSK",
    "kDHEPSK", "kRSAPSK", "aPSK", "PSK", "ECDHEPSK", "DHEPSK", "RSAPSK", "ECCPSK", "kSRP", "aSRP", "SRP", "kGOST",
    "kGOST18", "aGOST", "aGOST01", "aGOST12", "aGOST94", "GOST94", "GOST89MAC", "GOST12", "GOST89", "TLSv1.2",
    "TLSv1.1", "TLSv1.0", "TLSv1", "SSLv3", "SSLv2", "DTLSv1", "DTLSv1.0", "DTLSv1.2", "AES", "AES128", "AES256",
    "AESGCM", "AESCCM", "AESCCM8", "ARIA", "ARIA128", "ARIA256", "ARIAGCM", "CAMELLIA", "CAMELLIA128", "CAMELLIA256",
    "CHACHA20", "3DES", "DES", "RC4", "RC2", "IDEA", "SEED", "MD5", "SHA1", "SHA", "SHA256", "SHA384", "CBC", "FIPS",
];

/// Suite B modes, read only at the start of the string, and BoringSSL's
/// post-quantum alias.
const SPECIAL: [&str; 5] = ["SUITEB128", "SUITEB128ONLY", "SUITEB128C2", "SUITEB192", "CECPQ1"];

/// The TLS 1.3 suites: OpenSSL never matches them in a TLS 1.2 list.
const TLS13: [&str; 5] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];

const OLD_PROTOCOLS: [&str; 5] = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"];

/// One part of an element (`EECDH` of `EECDH+AESGCM`) that OpenSSL knows.
fn known(part: &str) -> bool {
    CIPHERS.contains(&part)
        || ALIASES.contains(&part)
        || SPECIAL.contains(&part)
        || part.starts_with("PROFILE=")
        // Draft and patched builds' TLS 1.3 names (`TLS13-AES-128-GCM-SHA256`).
        || part.starts_with("TLS13")
        || part.starts_with("TLS-")
        // Standard names of TLS 1.2 suites: OpenSSL 3.1 and later (and
        // BoringSSL) accept them, 3.0 does not.
        || ((part.starts_with("TLS_") || part.starts_with("SSL_")) && part.contains("_WITH_"))
}

/// The elements of a cipher string that add ciphers, as written (an
/// `@` command after a name, `DEFAULT@SECLEVEL=1`, is cut off).
fn positive(list: &str) -> Vec<&str> {
    list.split([':', ' ', ',', ';'])
        .filter_map(|e| e.split('@').next())
        .filter(|e| !e.is_empty() && !e.starts_with(['!', '-', '+']))
        .collect()
}

/// Whether OpenSSL reads the element; `None` for elements berth does not
/// judge (characters OpenSSL's syntax does not have).
fn element_known(element: &str) -> Option<bool> {
    if !element.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+')) {
        return None;
    }
    Some(element.split('+').filter(|p| !p.is_empty()).all(known))
}

impl Rule for CipherMatchesNothing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            config.visit(&mut |d, ancestors| {
                if !DIRECTIVES.contains(&d.name.as_str()) || d.args.len() != 1 {
                    return;
                }
                let list = &d.args[0];
                if list.text.contains('$') {
                    return;
                }
                let elements = positive(&list.text);
                let judged: Vec<(&str, bool)> =
                    elements.iter().filter_map(|e| Some((*e, element_known(e)?))).collect();
                if judged.is_empty() || judged.len() < elements.len() {
                    return;
                }
                let unknown: Vec<&str> = judged.iter().filter(|(_, k)| !k).map(|(e, _)| *e).collect();
                if unknown.is_empty() {
                    return;
                }
                if unknown.len() < judged.len() {
                    // A TLS 1.3 suite among TLS 1.2 ciphers changes nothing:
                    // nginx enables TLS 1.3's suites by default.
                    let dropped: Vec<&str> = unknown.iter().filter(|u| !TLS13.contains(u)).copied().collect();
                    if dropped.is_empty() {
                        return;
                    }
                    let (verb, pronoun) = if dropped.len() == 1 { ("is", "it") } else { ("are", "them") };
                    sink.report(
                        d.file,
                        list.span,
                        format!(
                            "{} {verb} no cipher or alias OpenSSL knows: it drops {pronoun} without a word, so fewer ciphers are offered than the list reads",
                            quoted(&dropped)
                        ),
                    )
                    .severity = Severity::Warning;
                    return;
                }
                if d.name == "ssl_ciphers" && n004_reports(&list.text, ancestors) {
                    return;
                }
                let hint = if unknown.iter().any(|u| TLS13.contains(u)) {
                    " (TLS 1.3 suites are not chosen by this list: nginx enables them by default, and `ssl_conf_command Ciphersuites` sets them)"
                } else {
                    ""
                };
                sink.report(
                    d.file,
                    list.span,
                    format!(
                        "no element of this cipher list is a cipher or alias OpenSSL knows ({}): it matches nothing, and nginx does not start (`SSL_CTX_set_cipher_list(...) failed ... no cipher match`){hint}",
                        quoted(&unknown)
                    ),
                );
            });
        }
    }
}

/// `a`, `b` for messages.
fn quoted(names: &[&str]) -> String {
    names.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
}

/// N004 reports a list of TLS 1.3 suites only while TLS 1.2 or older is
/// enabled (its own reading of the list, kept here to the letter).
fn n004_reports(list: &str, ancestors: &[&Directive]) -> bool {
    let positive: Vec<&str> = list
        .split([':', ' ', ','])
        .map(|t| t.trim_start_matches('+'))
        .filter(|t| !t.is_empty() && !t.starts_with(['!', '-']))
        .collect();
    let Some((block, outer)) = ancestors.split_last() else { return false };
    let protocols = effective("ssl_protocols", block, outer);
    let old = protocols.last().is_none_or(|p| p.args.iter().any(|a| OLD_PROTOCOLS.contains(&a.text.as_str())));
    old && !positive.is_empty() && positive.iter().all(|t| t.starts_with("TLS_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(conf: &str) -> Vec<(String, Severity)> {
        crate::rules::findings_of("N009", &[("nginx.conf", conf)])
            .into_iter()
            .map(|f| (f.diagnostic.message, f.diagnostic.severity))
            .collect()
    }

    fn server(ciphers: &str, protocols: &str) -> String {
        format!(
            "events {{}}\nhttp {{\n    server {{\n        listen 443 ssl;\n        ssl_certificate /etc/ssl/site.crt;\n        ssl_certificate_key /etc/ssl/site.key;\n        ssl_protocols {protocols};\n        ssl_ciphers {ciphers};\n    }}\n}}\n"
        )
    }

    #[test]
    fn tables_have_no_duplicates() {
        for (i, c) in CIPHERS.iter().enumerate() {
            assert!(!CIPHERS[..i].contains(c), "{c}");
            assert!(!ALIASES.contains(c), "{c}");
        }
        for (i, a) in ALIASES.iter().enumerate() {
            assert!(!ALIASES[..i].contains(a), "{a}");
        }
    }

    #[test]
    fn common_lists_are_known() {
        for list in [
            "HIGH:!aNULL:!MD5",
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384",
            "EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH",
            "kEECDH+AESGCM+AES128:kEECDH+AES128:kRSA+AESGCM+AES128:!RC4:!aNULL:!eNULL:!MD5:!EXPORT:!LOW:!SEED:!CAMELLIA:!IDEA:!PSK:!SRP:!SSLv2",
            "DEFAULT@SECLEVEL=1",
            "PROFILE=SYSTEM",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-RSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA:DES-CBC3-SHA:@STRENGTH",
        ] {
            let elements = positive(list);
            assert!(elements.iter().all(|e| element_known(e) == Some(true)), "{list}");
        }
        assert_eq!(element_known("[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"), None);
        assert_eq!(element_known("ECDHE-RSA-AES128-GCM-SHA265"), Some(false));
        assert_eq!(element_known("EECDH+AESGMC"), Some(false));
    }

    #[test]
    fn nothing_matches() {
        let found = findings(&server("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "TLSv1.3"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, Severity::Error);
        assert!(found[0].0.starts_with("no element of this cipher list"), "{found:?}");
        // With TLS 1.2 enabled N004 says it.
        assert!(findings(&server("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "TLSv1.2 TLSv1.3")).is_empty());
        let typo = findings(&server("ECDHE-RSA-AES128-GCM-SHA265:ECDHE-RSA-AES256-GCM-SHA348", "TLSv1.2 TLSv1.3"));
        assert_eq!(typo.len(), 1, "{typo:?}");
        assert_eq!(typo[0].1, Severity::Error);
    }

    #[test]
    fn some_are_dropped() {
        let found = findings(&server(
            "TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265",
            "TLSv1.2 TLSv1.3",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, Severity::Warning);
        assert!(found[0].0.starts_with("`ECDHE-RSA-AES128-GCM-SHA265` is no cipher"), "{found:?}");
        // A TLS 1.3 suite among them is dropped to no effect.
        let harmless = "TLS13-AES-256-GCM-SHA384:TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES128-GCM-SHA256:EECDH+AESGCM";
        assert!(findings(&server(harmless, "TLSv1.2 TLSv1.3")).is_empty());
        assert!(findings(&server("\"HIGH:!aNULL:!MD5\"", "TLSv1.2 TLSv1.3")).is_empty());
        assert!(findings(&server("$ssl_ciphers", "TLSv1.2 TLSv1.3")).is_empty());
    }
}
