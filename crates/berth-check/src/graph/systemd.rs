//! systemd unit files (and their `.d/` drop-ins) as sections of settings
//! with spans, parsed the way systemd reads them: `#`/`;` comments,
//! backslash continuations, repeated keys; and `tmpfiles.d` lines, which
//! say what directories exist before a unit starts.

use berth_diagnostics::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub section: String,
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
}

#[derive(Debug, Clone)]
pub struct UnitFile {
    pub file: usize,
    /// `web.service`, also for a drop-in `web.service.d/limits.conf`.
    pub unit: String,
    pub settings: Vec<Setting>,
}

impl UnitFile {
    pub fn parse(file: usize, path: &str, text: &str) -> Self {
        let mut settings = Vec::new();
        let mut section = String::new();
        let mut offset = 0;
        let mut lines = text.split_inclusive('\n').peekable();
        while let Some(line) = lines.next() {
            let start = offset;
            offset += line.len();
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                name.clone_into(&mut section);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let key_start = start + (key.len() - key.trim_start().len());
            let key_span = Span::new(key_start, key_start + key.trim().len());
            let value_start = start + key.len() + 1 + (value.len() - value.trim_start().len());
            let mut joined = value.trim().to_owned();
            let mut value_end = value_start + value.trim().len();
            while joined.ends_with('\\') {
                joined.pop();
                let Some(next) = lines.next() else { break };
                let next_start = offset;
                offset += next.len();
                let next_trim = next.trim();
                if next_trim.starts_with('#') || next_trim.starts_with(';') {
                    joined.push('\\');
                    continue;
                }
                joined.push(' ');
                joined.push_str(next_trim);
                value_end = next_start + next.trim_end().len();
            }
            settings.push(Setting {
                section: section.clone(),
                key: key.trim().to_owned(),
                value: joined.trim().to_owned(),
                key_span,
                value_span: Span::new(value_start, value_end.max(value_start)),
            });
        }
        Self { file, unit: unit_name(path), settings }
    }

    pub fn get<'s>(&'s self, section: &'s str, key: &'s str) -> impl Iterator<Item = &'s Setting> + 's {
        self.settings.iter().filter(move |s| s.section == section && s.key == key)
    }
}

/// The unit a file configures: its name, or for a drop-in the name of the
/// `.d` directory it sits in.
pub fn unit_name(path: &str) -> String {
    let mut parts = path.rsplit(['/', '\\']);
    let name = parts.next().unwrap_or(path);
    match parts.next().and_then(|dir| dir.strip_suffix(".d")) {
        Some(unit) if name.ends_with(".conf") => unit.to_owned(),
        _ => name.to_owned(),
    }
}

/// Paths a `tmpfiles.d` file creates (`d`, `D`, `v`, `q`, `Q`, `C`, `L`, `f`, `F` lines).
pub fn tmpfiles_paths(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let kind = words.next()?;
            let path = words.next()?;
            let creates = kind.trim_end_matches(['!', '-', '=', '~', '^', '+']);
            matches!(creates, "d" | "D" | "v" | "q" | "Q" | "C" | "L" | "f" | "F").then(|| path.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_continuations_and_comments() {
        let text = "[Unit]\nDescription=web\n\n[Service]\n# comment\nExecStart=/usr/bin/web \\\n  --port 8080\nEnvironment=A=1\nEnvironment=B=2\n";
        let u = UnitFile::parse(0, "deploy/web.service", text);
        assert_eq!(u.unit, "web.service");
        let exec: Vec<_> = u.get("Service", "ExecStart").collect();
        assert_eq!(exec[0].value, "/usr/bin/web  --port 8080");
        assert_eq!(&text[exec[0].key_span.start..exec[0].key_span.end], "ExecStart");
        assert_eq!(u.get("Service", "Environment").count(), 2);
    }

    #[test]
    fn drop_ins_and_tmpfiles() {
        assert_eq!(unit_name("etc/systemd/system/web.service.d/limits.conf"), "web.service");
        assert_eq!(
            tmpfiles_paths("# c\nd /var/lib/web 0750 web web -\nL+ /etc/x - - - - /y\nr /tmp/z\n"),
            ["/var/lib/web", "/etc/x"]
        );
    }
}
