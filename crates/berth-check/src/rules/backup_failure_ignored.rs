use crate::graph::shell::{self, Command, Script};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A backup script that runs `pg_dump` (or `pg_dumpall`,
    /// `pg_basebackup`, `mysqldump`, `mariadb-dump`, `mongodump`,
    /// `redis-cli --rdb`) and goes on without looking at its exit status
    /// ends with the status of whatever ran last, usually an `echo` or an
    /// upload: a failed dump leaves an empty or cut-off file and the script
    /// exits 0, so cron, systemd and the monitoring report success. Reported
    /// only when nothing looks: no `set -e` (here or in a script it
    /// sources), no `trap ... ERR`, the dump is not in an `if`, after `!`
    /// or beside `&&`/`||`, `$?` is never read, the script tests no file's
    /// size or integrity (`[ -s f ]`, `stat`, `gzip -t`, `pg_restore
    /// --list`, ...), and more commands follow the dump. A dump that feeds
    /// a pipeline without `pipefail` is B001's.
    BackupFailureIgnored {
        code: "B002",
        name: "backup-failure-ignored",
        severity: Error,
        fix: "stop on failure (`set -e`, with `set -o pipefail` for pipelines) or check the dump (`pg_dump ... -f \"$out\" || exit 1`), and test the file before reporting success (`[ -s \"$out\" ] || exit 1`)",
    }
}

const DUMPERS: [&str; 7] =
    ["pg_dump", "pg_dumpall", "pg_basebackup", "mysqldump", "mariadb-dump", "mongodump", "redis-cli"];

/// Programs that look at a file's size or contents.
const VERIFIERS: [&str; 6] = ["stat", "du", "wc", "pg_verifybackup", "pg_restore", "mysqlcheck"];

/// Whether the script checks any file's size or integrity anywhere.
fn verifies(script: &Script) -> bool {
    if script.test_operators.iter().any(|o| o == "-s") {
        return true;
    }
    script.commands.iter().any(|c| {
        let Some((name, args)) = c.program() else { return false };
        let literals: Vec<&str> = args.iter().filter_map(|w| w.literal.as_deref()).collect();
        let short =
            |letter: char| literals.iter().any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(letter));
        match name {
            "test" | "[" => literals.contains(&"-s"),
            "find" => literals.iter().any(|a| *a == "-size" || *a == "-empty"),
            "gzip" | "gunzip" | "pigz" | "bzip2" | "xz" | "zstd" | "lz4" | "unzip" | "7z" => {
                short('t') || literals.contains(&"--test")
            }
            "tar" => {
                short('t')
                    || literals.contains(&"--list")
                    || literals.first().is_some_and(|a| !a.starts_with('-') && a.contains('t'))
            }
            _ => VERIFIERS.contains(&name),
        }
    })
}

fn dump(command: &Command) -> Option<&'static str> {
    let (name, args) = command.runs(&DUMPERS)?;
    (name != "redis-cli" || args.contains(&"--rdb")).then_some(name)
}

impl Rule for BackupFailureIgnored {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            if script.has_errors || script.traps_err || script.reads_status || script.reads_pipestatus {
                continue;
            }
            let candidates: Vec<(&Command, &str)> = script
                .commands
                .iter()
                .filter(|c| !c.in_error && !c.tested && !c.in_function && !c.in_subshell && c.feeds.is_none())
                .filter(|c| c.root_statement + 1 < script.statements)
                .filter_map(|c| dump(c).map(|name| (c, name)))
                .collect();
            if candidates.is_empty() || verifies(script) {
                continue;
            }
            let options = shell::options(cx.graph.scripts, cx.files, script);
            if options.errexit != Some(false) {
                continue;
            }
            for (command, name) in candidates {
                // A dump feeding a pipeline: its failure is the pipeline's
                // only with pipefail (else it is B001's).
                if let Some((pipeline, stage)) = command.pipeline {
                    let last = script.pipelines.get(pipeline).is_none_or(|p| stage + 1 == p.stages.len());
                    if !last && options.pipefail != Some(true) {
                        continue;
                    }
                }
                sink.report(
                    script.file,
                    command.span,
                    format!(
                        "nothing checks whether `{name}` succeeded: the script goes on and exits with the status of its \
                         last command, 0 after a failed dump"
                    ),
                );
            }
        }
    }
}
