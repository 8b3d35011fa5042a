use crate::graph::paths::tail_matches;
use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// systemd's `EnvironmentFile=` is not a shell script: a line such as
    /// `export DATABASE_URL=...` is an invalid assignment that systemd logs
    /// once and ignores, so the service starts without the variable. The
    /// same file works when sourced by hand, which is why it survives review.
    EnvironmentFileExport {
        code: "U001",
        name: "environment-file-export",
        severity: Error,
        fix: "write plain `NAME=value` lines (no `export`); shells that source the file can use `set -a` instead",
    }
}

impl Rule for EnvironmentFileExport {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for unit in cx.graph.units {
            for setting in unit.get("Service", "EnvironmentFile") {
                let pattern = setting.value.trim_start_matches('-');
                for (index, file) in cx.files.iter().enumerate() {
                    if index == unit.file || !tail_matches(pattern, &file.name) {
                        continue;
                    }
                    let mut offset = 0;
                    for line in file.text.split_inclusive('\n') {
                        let start = offset;
                        offset += line.len();
                        let trimmed = line.trim_start();
                        if let Some(rest) = trimmed.strip_prefix("export ") {
                            let name = rest.split('=').next().unwrap_or(rest).trim();
                            let at = start + (line.len() - trimmed.len());
                            sink.report(
                                index,
                                berth_diagnostics::Span::new(at, at + "export".len()),
                                format!(
                                    "`{name}` is ignored: {} reads this file with EnvironmentFile= ({})",
                                    unit.unit,
                                    place(cx.files, unit.file, setting.key_span)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}
