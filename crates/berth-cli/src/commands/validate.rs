use berth_diagnostics::{Diagnostic, Severity, render_human, render_json, summary_line};

use crate::Outcome;
use crate::cli::{ReportFormat, ValidateArgs};
use crate::output;

pub fn run(args: &ValidateArgs, color: bool) -> anyhow::Result<Outcome> {
    let mut failed = false;
    let mut json = Vec::new();
    for path in &args.files {
        let file = super::read_spec(path)?;
        let diagnostics: Vec<Diagnostic> = match &args.env {
            Some(env) => berth_spec::load(&file.text, Some(env)).diagnostics,
            None => berth_spec::check_all(&file.text),
        };
        super::known_environment(&file.name, &diagnostics)?;
        failed |= diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error || (args.deny_warnings && d.severity == Severity::Warning));
        match args.output {
            ReportFormat::Json => json.extend(render_json(&file, &diagnostics)),
            ReportFormat::Human => {
                output::stderr(&render_human(&file, &diagnostics, output::color_choice(color)));
                let scope = match &args.env {
                    Some(env) => format!("environment {env}"),
                    None => match berth_spec::environments(&file.text).len() {
                        0 => "base".to_owned(),
                        n => format!("base and {n} environment{}", if n == 1 { "" } else { "s" }),
                    },
                };
                output::stdout(&format!("{}: {} ({scope})\n", file.name, summary_line(&diagnostics)))?;
            }
        }
    }
    if args.output == ReportFormat::Json {
        output::stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    }
    Ok(if failed { Outcome::Findings } else { Outcome::Ok })
}
