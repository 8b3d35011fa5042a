mod backup;
mod backup_exporter;
mod check;
mod dependencies;
mod doctor;
mod edge;
mod init;
mod plan;
mod render;
mod stack;
mod validate;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use berth_diagnostics::{Diagnostic, SourceFile, render_human};

use crate::cli::Command;
use crate::{CliError, Outcome, environment, output};

pub fn run(command: Command, color: bool) -> anyhow::Result<Outcome> {
    match command {
        Command::Init(args) => init::run(&args),
        Command::Validate(args) => validate::run(&args, color),
        Command::Plan(args) => plan::run(&args, color),
        Command::Check(args) => check::run(&args, color),
        Command::Render(args) => render::run(&args, color, render::Mode::Write),
        Command::Diff(args) => render::run(&args, color, render::Mode::Diff),
        Command::Up(args) => stack::up(&args, color),
        Command::Edge(args) => edge::run(&args, color),
        Command::Status(args) => stack::status(&args),
        Command::Down(args) => stack::down(&args),
        Command::Deploy(args) => stack::deploy(&args),
        Command::Promote(args) => stack::control(
            &args.file,
            args.env.as_deref(),
            berth_runtime::DeployCommand::Promote { service: args.service.clone() },
        ),
        Command::Rollback(args) => stack::control(
            &args.file,
            args.env.as_deref(),
            berth_runtime::DeployCommand::Rollback { service: args.service.clone() },
        ),
        Command::Run(args) => {
            stack::control(&args.file, args.env.as_deref(), berth_runtime::DeployCommand::Run { job: args.job.clone() })
        }
        Command::Logs(args) => stack::logs(&args),
        Command::Backup(args) => backup::run(&args, color),
        Command::Restore(args) => backup::restore(&args, color),
        Command::Doctor(args) => doctor::run(&args, color),
        Command::Schema => {
            output::stdout(&berth_spec::schema::json_schema())?;
            Ok(Outcome::Ok)
        }
        Command::Completions { shell } => {
            output::stdout(&crate::generated::completion(shell))?;
            Ok(Outcome::Ok)
        }
    }
}

/// Reads a spec file. Invalid UTF-8 is an error naming the file, not a panic.
pub fn read_spec(path: &Path) -> anyhow::Result<SourceFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(SourceFile::new(path.display().to_string(), text))
}

/// `.berth/<environment>` next to the spec.
pub(crate) fn state_dir(file: &Path, env: Option<&str>) -> PathBuf {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(".berth").join(env.unwrap_or("base"))
}

pub(crate) fn load(file: &Path, env: Option<&str>, color: bool) -> anyhow::Result<Option<berth_plan::Plan>> {
    load_source(&read_spec(file)?, env, color)
}

/// [`load`] for a spec already read (from an environment variable, say).
pub(crate) fn load_source(
    source: &SourceFile,
    env: Option<&str>,
    color: bool,
) -> anyhow::Result<Option<berth_plan::Plan>> {
    let loaded = berth_spec::load(&source.text, env);
    known_environment(&source.name, &loaded.diagnostics)?;
    output::stderr(&render_human(source, &loaded.diagnostics, output::color_choice(color)));
    Ok(loaded.spec.map(|spec| berth_plan::build(&spec, env)))
}

/// Reads each service's configuration files, relative to the spec's
/// directory, into the plan (the plan is pure; this is its I/O). A file
/// that cannot be read is an error at its `files` entry, printed here;
/// false then, and nothing may be rendered or run.
pub(crate) fn read_files(plan: &mut berth_plan::Plan, spec: &Path, source: &SourceFile, color: bool) -> bool {
    let dir = spec.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // The spec cannot name a path outside its directory; a symbolic link
    // inside it must not lead out either (to `~/.ssh`, a secret file):
    // what is read here is written into rendered files.
    let root_dir = dir.canonicalize();
    let failed = plan.read_files(|relative| {
        let path = dir.join(relative).canonicalize()?;
        match &root_dir {
            Ok(root) if path.starts_with(root) => std::fs::read_to_string(path),
            _ => Err(std::io::Error::other(format!("it resolves to {}, outside the spec's directory", path.display()))),
        }
    });
    if failed.is_empty() {
        return true;
    }
    let root = berth_spec::parse_documents(&source.text).ok().and_then(|d| d.into_iter().next());
    let diagnostics: Vec<Diagnostic> = failed
        .iter()
        .map(|(service, relative, why)| {
            let mount = plan
                .services
                .iter()
                .find(|s| &s.name == service)
                .and_then(|s| s.files.iter().find(|f| &f.source == relative))
                .map_or("", |f| f.path.as_str());
            let at = berth_spec::Path::root().key("services").key(service.as_str()).key("files").key(mount);
            let d = Diagnostic::error(
                berth_spec::codes::MISSING_FILE,
                format!("cannot read `{relative}` for `{mount}` of service `{service}`: {why}"),
            )
            .with_help("the path is relative to the spec's directory");
            match root.as_ref().and_then(|r| berth_spec::locate(r, &at, berth_spec::Anchor::Value)) {
                Some(span) => d.with_span(span),
                None => d,
            }
        })
        .collect();
    output::stderr(&render_human(source, &diagnostics, output::color_choice(color)));
    false
}

/// An `--env` the spec does not declare is wrong usage (exit 2), as an
/// unknown flag is, not a finding in the spec: berth-spec's S401 (then the
/// only diagnostic) becomes the error, with its did-you-mean. Call before
/// printing the diagnostics.
pub(crate) fn known_environment(file: &str, diagnostics: &[Diagnostic]) -> Result<(), CliError> {
    match diagnostics.iter().find(|d| d.code == berth_spec::codes::UNKNOWN_ENVIRONMENT) {
        None => Ok(()),
        Some(d) => {
            let help = d.help.as_deref().map(|help| format!("; {help}")).unwrap_or_default();
            Err(CliError::usage(format!("{file}: {}{help}", d.message)))
        }
    }
}

/// For commands that work on a running stack (down, status, logs, deploy,
/// promote, rollback) and need the spec only to find its state directory:
/// an `--env` the spec does not declare is wrong usage for them too. A spec
/// that cannot be read is no reason to stop them; their state is what
/// they work on.
pub(crate) fn declared_environment(file: &Path, env: Option<&str>) -> Result<(), CliError> {
    let Some(env) = env else { return Ok(()) };
    let Ok(source) = read_spec(file) else { return Ok(()) };
    if berth_spec::environments(&source.text).iter().any(|declared| declared == env) {
        return Ok(());
    }
    known_environment(&source.name, &berth_spec::load(&source.text, Some(env)).diagnostics)
}

/// A secret's value: its file when it names one, else its environment variable.
pub(crate) fn secret_value(secret: &berth_plan::SecretPlan) -> Option<String> {
    match (&secret.file, &secret.env) {
        (Some(file), _) => std::fs::read_to_string(file).ok().map(|v| v.trim_end_matches(['\r', '\n']).to_owned()),
        (None, Some(var)) => environment::var(var),
        (None, None) => None,
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}
