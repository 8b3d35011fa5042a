//! What a written credential looks like, shared by the shell and env-file
//! rules: a value that is one, and a value that only stands in for one.

/// A value that stands in for a secret instead of being one: empty, a
/// reference (`${VAR}`, `$VAR`, `{{ .x }}`, `%VAR%`), an `<angle>`
/// placeholder, `xxx`/`***`, or a word such as `changeme`.
pub fn placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    let lower = v.to_ascii_lowercase();
    const WORDS: [&str; 16] = [
        "changeme",
        "change-me",
        "change_me",
        "changeit",
        "password",
        "secret",
        "example",
        "placeholder",
        "redacted",
        "dummy",
        "todo",
        "tbd",
        "none",
        "null",
        "replace-me",
        "replaceme",
    ];
    v.is_empty()
        || v.contains('$')
        || v.contains("{{")
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with('%') && v.ends_with('%'))
        || (v.starts_with('[') && v.ends_with(']'))
        || (v.len() > 4 && v.starts_with("__") && v.ends_with("__"))
        || v.chars().all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '-' | '_'))
        || WORDS.contains(&lower.as_str())
        || lower.starts_with("your")
        || lower.starts_with("change")
        || lower.starts_with("replace")
        || lower.ends_with("example")
        || lower.contains("xxxx")
}

/// Byte ranges of the passwords written into URLs in `text`
/// (`postgres://app:s3cret@db/app`): after `scheme://user:` and before
/// `@`, when there is one and it is not a placeholder.
pub fn url_passwords(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find("://")) {
        let marker = from + found;
        let start = marker + 3;
        from = start;
        let scheme_ok =
            text.get(..marker).and_then(|before| before.chars().last()).is_some_and(|c| c.is_ascii_alphanumeric());
        if !scheme_ok {
            continue;
        }
        let Some(rest) = text.get(start..) else { break };
        let end = rest.find(['/', '?', '#', ' ', '\t', '\n', '"', '\'']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let Some(at) = authority.rfind('@') else { continue };
        let Some(colon) = authority[..at].find(':') else { continue };
        let password = &authority[colon + 1..at];
        if !placeholder(password) && !password.contains(['`', '{', '}']) {
            out.push((start + colon + 1, start + at));
        }
    }
    out
}

/// Byte ranges of AWS access key ids (`AKIA` and 16 capitals or digits)
/// standing alone in `text`, except the documentation's `...EXAMPLE` key.
pub fn aws_access_keys(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let key_char = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    text.match_indices("AKIA")
        .map(|(i, _)| (i, i + 20))
        .filter(|&(start, end)| {
            let body = bytes.get(start + 4..end).is_some_and(|b| b.iter().all(|c| key_char(*c)));
            let alone_before = start == 0 || bytes.get(start - 1).is_some_and(|b| !b.is_ascii_alphanumeric());
            let alone_after = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
            body && alone_before && alone_after && !text.get(start..end).is_some_and(|k| k.ends_with("EXAMPLE"))
        })
        .collect()
}

/// Where a PEM private key starts in `text` (`-----BEGIN ... PRIVATE KEY-----`).
pub fn private_key(text: &str) -> Option<(usize, usize)> {
    let start = text.find("-----BEGIN ")?;
    let rest = text.get(start..)?;
    let header_end = rest.get(11..)?.find("-----")? + 11 + 5;
    let header = rest.get(..header_end)?;
    header.ends_with("PRIVATE KEY-----").then_some((start, start + header_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        for p in [
            "",
            "${DB_PASSWORD}",
            "$PASS",
            "<password>",
            "changeme",
            "xxx",
            "****",
            "your-password",
            "{{ .pw }}",
            "secret",
        ] {
            assert!(placeholder(p), "{p}");
        }
        for real in ["hunter2", "s3cr3t!", "postgres", "Zx9-kq"] {
            assert!(!placeholder(real), "{real}");
        }
    }

    #[test]
    fn urls_keys_and_pem() {
        let text = "postgres://app:hunter2@db:5432/app redis://:${PW}@cache mysql://root@db https://u:changeme@x";
        let found: Vec<&str> = url_passwords(text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(found, ["hunter2"]);
        let keys = "AKIAABCDEFGHIJKLMNOP AKIAIOSFODNN7EXAMPLE xAKIAABCDEFGHIJKLMNOP AKIAABC";
        assert_eq!(aws_access_keys(keys), [(0, 20)]);
        let pem = "KEY=\"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Bl\"";
        let (s, e) = private_key(pem).unwrap_or((0, 0));
        assert_eq!(&pem[s..e], "-----BEGIN OPENSSH PRIVATE KEY-----");
        assert_eq!(private_key("-----BEGIN CERTIFICATE-----"), None);
    }
}
