//! A Dockerfile as instructions with spans: line continuations (with the
//! `# escape=` parser directive), comments, and BuildKit heredocs
//! (`RUN <<EOF ... EOF`), which line-based linters such as hadolint reject.

use berth_diagnostics::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased: `FROM`, `RUN`, ...
    pub keyword: String,
    /// The arguments with continuations joined, heredoc bodies appended
    /// after a newline.
    pub args: String,
    /// The whole instruction, heredoc bodies included.
    pub span: Span,
    /// Only the keyword, for findings about the instruction as such.
    pub keyword_span: Span,
    /// 0-based index of the build stage it belongs to.
    pub stage: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub file: usize,
    /// As checked (`app/Dockerfile`), for compose `build:` to find it.
    pub path: String,
    pub instructions: Vec<Instruction>,
}

impl Dockerfile {
    pub fn parse(file: usize, path: &str, text: &str) -> Self {
        let escape = directive_escape(text);
        let mut instructions = Vec::new();
        let mut stage = 0usize;
        let mut seen_from = false;
        let mut lines = line_spans(text).peekable();
        while let Some((start, line)) = lines.next() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let mut end = start + line.trim_end().len();
            let mut joined = String::from(trimmed.trim_end());
            while joined.ends_with(escape) {
                joined.pop();
                let Some((next_start, next)) = lines.next() else { break };
                let next_trim = next.trim();
                if next_trim.starts_with('#') {
                    joined.push(escape);
                    continue;
                }
                joined.push(' ');
                joined.push_str(next_trim);
                if !next_trim.is_empty() {
                    end = next_start + next.trim_end().len();
                }
            }
            for (marker, strip_tabs) in heredoc_markers(&joined) {
                joined.push('\n');
                for (body_start, body) in lines.by_ref() {
                    let candidate = if strip_tabs { body.trim_start_matches('\t') } else { body };
                    end = body_start + body.trim_end_matches(['\n', '\r']).len();
                    if candidate.trim_end_matches(['\n', '\r']) == marker {
                        break;
                    }
                    joined.push_str(body);
                }
            }
            let (keyword, args) = joined.split_once(char::is_whitespace).unwrap_or((joined.as_str(), ""));
            let keyword = keyword.to_ascii_uppercase();
            if keyword == "FROM" {
                if seen_from {
                    stage += 1;
                }
                seen_from = true;
            }
            let keyword_start = start + indent;
            instructions.push(Instruction {
                keyword_span: Span::new(keyword_start, keyword_start + keyword.len()),
                keyword,
                args: args.trim().to_owned(),
                span: Span::new(keyword_start, end),
                stage,
            });
        }
        Self { file, path: super::compose::normalize(path), instructions }
    }

    /// Ports the final stage `EXPOSE`s.
    pub fn exposed(&self) -> Vec<i64> {
        self.final_stage()
            .filter(|i| i.keyword == "EXPOSE")
            .flat_map(|i| i.args.split_whitespace())
            .filter_map(|p| p.split('/').next()?.parse().ok())
            .collect()
    }

    /// The final stage's `ENTRYPOINT` and `CMD` as words (JSON or shell form).
    pub fn command(&self) -> Vec<String> {
        let mut out = Vec::new();
        for keyword in ["ENTRYPOINT", "CMD"] {
            if let Some(i) = self.final_stage().filter(|i| i.keyword == keyword).last() {
                out.extend(exec_form(&i.args));
            }
        }
        out
    }

    /// Instructions of the last stage: the image that ships.
    pub fn final_stage(&self) -> impl Iterator<Item = &Instruction> {
        let last = self.instructions.iter().map(|i| i.stage).max().unwrap_or(0);
        self.instructions.iter().filter(move |i| i.stage == last)
    }
}

/// `["a", "b"]` as its strings, a shell-form line as words.
pub fn exec_form(args: &str) -> Vec<String> {
    let trimmed = args.trim();
    if trimmed.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(trimmed)
    {
        return list;
    }
    super::command::words(trimmed)
}

fn directive_escape(text: &str) -> char {
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix('#') else { break };
        if let Some(value) = rest.trim().strip_prefix("escape=") {
            return value.trim().chars().next().unwrap_or('\\');
        }
    }
    '\\'
}

/// (byte offset, line with its newline)
fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0usize, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line))
    })
}

/// Heredoc delimiters opened on an instruction line: `<<EOF`, `<<-EOF`,
/// `<<"EOF"`, `<<'EOF'`, possibly several (`COPY <<a <<b /dst/`).
fn heredoc_markers(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<<") {
        let mut after = &rest[i + 2..];
        let strip_tabs = after.starts_with('-');
        if strip_tabs {
            after = &after[1..];
        }
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !word.is_empty() && !word.starts_with('-') {
            out.push((word, strip_tabs));
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_heredocs() {
        let text = "# syntax=docker/dockerfile:1\nFROM rust:1.89 AS build\nRUN apt-get update && \\\n    # a comment inside\n    apt-get install -y curl\nRUN <<EOF\nset -e\necho hi\nEOF\nFROM debian:12-slim\nUSER app\n";
        let d = Dockerfile::parse(0, "Dockerfile", text);
        let kinds: Vec<&str> = d.instructions.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(kinds, ["FROM", "RUN", "RUN", "FROM", "USER"]);
        assert_eq!(d.instructions[1].args, "apt-get update &&  apt-get install -y curl");
        assert!(d.instructions[2].args.contains("echo hi"));
        assert_eq!(&text[d.instructions[2].span.start..d.instructions[2].span.end], "RUN <<EOF\nset -e\necho hi\nEOF");
        assert_eq!(d.instructions[4].stage, 1);
        assert_eq!(d.final_stage().count(), 2);
    }

    #[test]
    fn escape_directive() {
        let d = Dockerfile::parse(
            0,
            "Dockerfile",
            "# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir `\n  c:\\\n",
        );
        assert_eq!(d.instructions[1].args, "dir  c:\\");
    }
}
