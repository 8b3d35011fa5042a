//! Env files: `NAME=value` lines, as compose's `env_file:` and `.env`,
//! systemd's `EnvironmentFile=` and shells that source them read them.
//! Comments (`#`), blank lines, an `export ` prefix and single or double
//! quotes around a value are understood; each name and value keeps its
//! span.

use berth_diagnostics::{SourceFile, Span};

use super::shell::is_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    /// Without its quotes.
    pub value: String,
    pub name_span: Span,
    /// Of the value without its quotes: offsets into `value` are offsets from here.
    pub value_span: Span,
}

#[derive(Debug, Clone)]
pub struct EnvFile {
    pub file: usize,
    pub vars: Vec<EnvVar>,
}

impl EnvFile {
    /// Lines that are not `NAME=value` are skipped.
    pub fn parse(file: usize, text: &str) -> Self {
        let mut vars = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let content = line.trim_end_matches(['\n', '\r']);
            let trimmed = content.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut at = start + (content.len() - trimmed.len());
            let mut body = trimmed;
            if let Some(rest) = trimmed.strip_prefix("export")
                && rest.starts_with([' ', '\t'])
            {
                let rest = rest.trim_start();
                at += trimmed.len() - rest.len();
                body = rest;
            }
            let Some((name, raw)) = body.split_once('=') else { continue };
            if !is_name(name) {
                continue;
            }
            let (value, value_at) = unquote(raw, at + name.len() + 1);
            vars.push(EnvVar {
                name: name.to_owned(),
                value: value.to_owned(),
                name_span: Span::new(at, at + name.len()),
                value_span: Span::new(value_at, value_at + value.len()),
            });
        }
        Self { file, vars }
    }
}

impl EnvFile {
    /// The line a reader ends up with for `name`: the last that sets it.
    pub fn get(&self, name: &str) -> Option<&EnvVar> {
        self.vars.iter().rev().find(|v| v.name == name)
    }
}

/// The env file of the tree at `path` (as [`super::compose::normalize`]
/// writes it: relative, without `./`), if it was read as one.
pub fn find<'e>(env_files: &'e [EnvFile], files: &[SourceFile], path: &str) -> Option<&'e EnvFile> {
    env_files.iter().find(|e| files.get(e.file).is_some_and(|f| super::compose::normalize(&f.name) == path))
}

/// The value without its quotes (an unquoted value ends at ` #`), and where it starts.
fn unquote(raw: &str, at: usize) -> (&str, usize) {
    let trimmed = raw.trim_start();
    let at = at + (raw.len() - trimmed.len());
    let trimmed = trimmed.trim_end();
    if let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let inner = &trimmed[1..];
        let end = inner.find(quote).unwrap_or(inner.len());
        return (&inner[..end], at + 1);
    }
    let value = trimmed.find(" #").map_or(trimmed, |i| trimmed[..i].trim_end());
    (value, at)
}

/// Every line that is not blank or a comment is `NAME=value` (or `export
/// NAME=value`), and there is at least one: how a file under any name is
/// known to be an env file.
pub fn looks_like_env(text: &str) -> bool {
    let mut any = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body = line.strip_prefix("export ").map_or(line, str::trim_start);
        match body.split_once('=') {
            Some((name, _)) if is_name(name) => any = true,
            _ => return false,
        }
    }
    any
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    #[test]
    fn names_values_and_spans() {
        let text = "# c\nexport A=1\nB=\"two words\" # note\n\nC='x'\nD=plain # comment\nnot a line\nE=\n";
        let f = EnvFile::parse(3, text);
        let seen: Vec<(&str, &str)> = f.vars.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
        assert_eq!(seen, [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "plain"), ("E", "")]);
        for v in &f.vars {
            assert_eq!(&text[v.name_span.start..v.name_span.end], v.name);
            assert_eq!(&text[v.value_span.start..v.value_span.end], v.value);
        }
    }

    #[test]
    fn what_an_env_file_looks_like() {
        assert!(looks_like_env("# app\nexport A=1\nB_2=\"x y\"\n\n"));
        assert!(!looks_like_env("A=1\nthis is prose\n"));
        assert!(!looks_like_env("# only a comment\n"));
        assert!(!looks_like_env("key.with.dots=1\n"));
        assert!(!looks_like_env("A = 1\n"));
    }
}
