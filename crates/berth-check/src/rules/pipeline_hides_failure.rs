use crate::graph::shell::{self, Command};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Without `set -o pipefail`, a pipeline's exit status is its last
    /// command's: in `pg_dump app | gzip > app.sql.gz` a failed dump (wrong
    /// password, server down, disk full on the other side) still exits 0,
    /// because gzip succeeded in compressing nothing. The script, cron and
    /// the monitoring that watches it report a backup that is empty. The
    /// same holds for `mysqldump`, `mongodump`, `redis-cli --rdb`, `tar c`,
    /// `curl` and `wget` feeding another command, directly or through
    /// `sudo`, `docker exec`, `kubectl exec` or `ssh`. Not reported when the
    /// script (or a script it sources) sets `pipefail`, reads `PIPESTATUS`,
    /// or the last command fails on empty input itself (`grep`, `tar x`,
    /// `gunzip`); nor in a library, a file that only defines functions: they
    /// run with the options of the script that sources it.
    PipelineHidesFailure {
        code: "B001",
        name: "pipeline-hides-failure",
        severity: Error,
        fix: "add `set -o pipefail` (with `set -e`) at the top of the script; in a POSIX sh without pipefail, write the output to a file first and check the command's status",
    }
}

/// Commands whose failure leaves an empty or cut-off stream behind.
const PRODUCERS: [&str; 11] = [
    "pg_dump",
    "pg_dumpall",
    "pg_basebackup",
    "mysqldump",
    "mariadb-dump",
    "mongodump",
    "redis-cli",
    "sqlite3",
    "tar",
    "curl",
    "wget",
];

/// Shells: `curl ... | sh` is B003's.
pub(crate) const SHELLS: [&str; 7] = ["sh", "bash", "dash", "ash", "zsh", "ksh", "fish"];

/// The producer a stage runs, with how its arguments make it one.
fn producer(command: &Command) -> Option<&'static str> {
    let (name, args) = command.runs(&PRODUCERS)?;
    let produces = match name {
        "redis-cli" => args.contains(&"--rdb"),
        "sqlite3" => args.iter().any(|a| a.starts_with(".dump") || a.starts_with(".backup")),
        "tar" => tar_creates(&args),
        _ => true,
    };
    produces.then_some(name)
}

/// `tar -czf - dir`, `tar czf - dir`, `tar --create ...`
pub(crate) fn tar_creates(args: &[&str]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        *a == "--create"
            || (a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
            || (i == 0 && !a.starts_with('-') && a.contains('c') && a.chars().all(|c| c.is_ascii_alphabetic()))
    })
}

/// The last command of a pipeline fails by itself when what it reads is
/// empty or cut off.
fn fails_on_empty(command: &Command) -> bool {
    let Some((name, args)) = command.program() else { return false };
    let literals: Vec<&str> = args.iter().filter_map(|w| w.literal.as_deref()).collect();
    let decompress = || {
        literals.iter().any(|a| *a == "--decompress" || (a.starts_with('-') && !a.starts_with("--") && a.contains('d')))
    };
    match name {
        "grep" | "egrep" | "fgrep" | "rg" | "zgrep" => true,
        "gunzip" | "zcat" | "bunzip2" | "bzcat" | "unxz" | "xzcat" | "unzstd" | "zstdcat" | "unlz4" => true,
        "gzip" | "pigz" | "bzip2" | "xz" | "zstd" | "lz4" => decompress(),
        "tar" => !tar_creates(&literals),
        "jq" => literals.iter().any(|a| *a == "-e" || *a == "--exit-status"),
        _ => SHELLS.contains(&name),
    }
}

impl Rule for PipelineHidesFailure {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        'scripts: for script in cx.graph.scripts {
            // A library runs nothing itself; its callers' options apply.
            let library = !script.commands.is_empty() && script.commands.iter().all(|c| c.in_function);
            if script.reads_pipestatus || library {
                continue;
            }
            let mut options = None;
            for pipeline in &script.pipelines {
                let Some((&Some(last), earlier)) = pipeline.stages.split_last() else { continue };
                let Some(consumer) = script.commands.get(last) else { continue };
                if pipeline.in_error || fails_on_empty(consumer) {
                    continue;
                }
                let found = earlier
                    .iter()
                    .flatten()
                    .filter_map(|&stage| script.commands.get(stage))
                    .find_map(|c| producer(c).filter(|_| !c.in_error).map(|name| (c, name)));
                let Some((command, name)) = found else { continue };
                let pipefail =
                    options.get_or_insert_with(|| shell::options(cx.graph.scripts, cx.files, script)).pipefail;
                if pipefail != Some(false) {
                    continue 'scripts;
                }
                let last_name = consumer.name().unwrap_or("the last command");
                sink.report(
                    script.file,
                    command.span,
                    format!(
                        "if `{name}` fails, this pipeline still succeeds: without `set -o pipefail` its status is \
                         `{last_name}`'s"
                    ),
                );
            }
        }
    }
}
