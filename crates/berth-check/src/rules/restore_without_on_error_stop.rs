use super::tar_exclude_after_paths::may_split;
use crate::graph::shell::{self, Arg, Command, Script, Stdin};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// psql runs a script to the end whatever fails in it: without
    /// `ON_ERROR_STOP`, a restore (`psql -d app -f dump.sql`, `psql app <
    /// dump.sql`, `gunzip -c app.sql.gz | psql app`, `pg_dump ... | psql
    /// ...`) whose `CREATE TABLE` or `COPY` fails (a missing role or
    /// extension, a full disk, a dump from a newer server) prints the error
    /// and goes on, and psql exits 0. The restore lost tables or rows and
    /// every script, job and runbook step after it reports success; with
    /// `--single-transaction` the whole restore is rolled back and psql
    /// still exits 0. Reported for psql reading a file (`-f`, `<`) or the
    /// output of a decompressor, `cat`, `pv`, `gpg --decrypt` or `pg_dump`,
    /// directly or through `sudo`, `docker exec`, `kubectl exec` or `ssh`,
    /// unless ON_ERROR_STOP is set (`-v ON_ERROR_STOP=1`, `--set
    /// ON_ERROR_STOP=on`, anywhere the script mentions it, as in a
    /// `.psqlrc` it writes), the script sets `PSQLRC`, the checked files
    /// hold a `psqlrc`, or a word on the command line may carry options
    /// (`$PSQL_OPTS`, `"$@"`), or the script greps psql's output for
    /// errors. Not reported for `-c` commands, here-documents or an
    /// interactive psql. `pg_restore` goes on past errors too but
    /// exits 1 at the end: it is reported when it restores into a database
    /// without `--exit-on-error`/`-e` or `--single-transaction`/`-1` and
    /// the script ignores its status (no `set -e` here or in what it
    /// sources, no `trap ... ERR`, not in an `if` or beside `&&`/`||`, `$?`
    /// never read, and more commands follow).
    RestoreWithoutOnErrorStop {
        code: "B008",
        name: "restore-without-on-error-stop",
        severity: Error,
        fix: "run psql with `-v ON_ERROR_STOP=1` (it then stops at the first error and exits 3), and pg_restore with `--exit-on-error` or `--single-transaction` under `set -e`",
    }
}

/// What a psql command line asks for.
#[derive(Debug, Default)]
pub(crate) struct Psql<'a> {
    /// `-f`/`--file` values.
    pub files: Vec<Arg<'a>>,
    /// `-c`/`--command` values.
    pub commands: Vec<Arg<'a>>,
    /// The database it connects to, as written: the last `-d`/`--dbname`,
    /// else the first argument that is no option.
    pub dbname: Option<Arg<'a>>,
    /// `-l`/`--list`, `--help`, `--version`: it runs no SQL.
    pub no_sql: bool,
    /// A word may expand to options (`$PSQL_OPTS`, `"$@"`): what the
    /// command line sets is unknown.
    pub opaque: bool,
}

/// psql's short options that take a value.
const PSQL_SHORT_VALUES: &str = "cdfhLopPRTFUv";

const PSQL_LONG_VALUES: [&str; 14] = [
    "--command",
    "--dbname",
    "--file",
    "--host",
    "--log-file",
    "--output",
    "--port",
    "--pset",
    "--record-separator",
    "--table-attr",
    "--field-separator",
    "--username",
    "--set",
    "--variable",
];

/// The value of option `arg` from byte `at` of its text on (`--file=x`,
/// `-fx`): the literal's and the text's tails.
fn attached<'a>(arg: &Arg<'a>, literal_at: usize, text_at: usize) -> Arg<'a> {
    Arg {
        literal: arg.literal.map(|l| l.get(literal_at..).unwrap_or("")),
        text: arg.text.get(text_at..).unwrap_or(""),
        span: arg.span,
    }
}

/// Where an option's value goes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    File,
    Command,
    Dbname,
    Ignored,
}

fn put<'a>(out: &mut Psql<'a>, slot: Slot, value: Arg<'a>) {
    match slot {
        Slot::File => out.files.push(value),
        Slot::Command => out.commands.push(value),
        Slot::Dbname => out.dbname = Some(value),
        Slot::Ignored => {}
    }
}

/// Reads psql's arguments the way its option parser does.
pub(crate) fn psql<'a>(args: &[Arg<'a>]) -> Psql<'a> {
    let mut out = Psql::default();
    let mut positional = None;
    let mut options = true;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let text = arg.literal.unwrap_or_else(|| arg.text.trim_start_matches('"'));
        if !options || !text.starts_with('-') || text == "-" {
            if may_split(arg) {
                out.opaque = true;
            } else if positional.is_none() {
                positional = Some(*arg);
            }
            continue;
        }
        if text == "--" {
            options = false;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => {
                    let literal_at = arg.literal.map_or(0, |_| name.len() + 3);
                    let text_at = arg.text.find('=').map_or(arg.text.len(), |e| e + 1);
                    (name, Some(attached(arg, literal_at, text_at)))
                }
                None => (long, None),
            };
            let slot = match name {
                "file" => Slot::File,
                "command" => Slot::Command,
                "dbname" => Slot::Dbname,
                "list" | "help" | "version" => {
                    out.no_sql = true;
                    Slot::Ignored
                }
                _ => Slot::Ignored,
            };
            if let Some(value) = value {
                put(&mut out, slot, value);
            } else if PSQL_LONG_VALUES.contains(&text) {
                if let Some(value) = args.get(i) {
                    put(&mut out, slot, *value);
                }
                i += 1;
            }
            continue;
        }
        // A cluster: `-qAtc 'select 1'`, `-fdump.sql`, `-X1`.
        for (at, c) in text.char_indices().skip(1) {
            if matches!(c, 'l' | 'V' | '?') {
                out.no_sql = true;
            }
            if !PSQL_SHORT_VALUES.contains(c) {
                continue;
            }
            let slot = match c {
                'f' => Slot::File,
                'c' => Slot::Command,
                'd' => Slot::Dbname,
                _ => Slot::Ignored,
            };
            let rest = at + c.len_utf8();
            if text.get(rest..).is_some_and(|r| !r.is_empty()) {
                // The text keeps its opening quote: `"-d$DB"` is `"-d` + `$DB"`.
                let text_at = rest + arg.text.len().saturating_sub(text.len());
                put(&mut out, slot, attached(arg, rest, text_at));
            } else {
                if let Some(value) = args.get(i) {
                    put(&mut out, slot, *value);
                }
                i += 1;
            }
            break;
        }
        if may_split(arg) {
            out.opaque = true;
        }
    }
    if out.dbname.is_none() {
        out.dbname = positional;
    }
    out
}

/// Programs whose output is a dump's text.
const STREAMS: [&str; 23] = [
    "zcat",
    "gzcat",
    "gunzip",
    "bzcat",
    "bunzip2",
    "xzcat",
    "unxz",
    "zstdcat",
    "unzstd",
    "lz4cat",
    "unlz4",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "cat",
    "pv",
    "gzip",
    "pigz",
    "bzip2",
    "xz",
    "zstd",
    "lz4",
    "gpg",
];

/// The program that streams a dump into a pipeline stage: a decompressor,
/// `cat` or `pv` of a file, `gpg --decrypt`, `pg_dump`, `pg_restore` to
/// standard output.
fn streams_dump(command: &Command) -> Option<&'static str> {
    let (name, args) = command.runs(&STREAMS)?;
    let short = |letter: char| args.iter().any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(letter));
    let streams = match name {
        "cat" | "pv" => args.iter().any(|a| !a.starts_with('-')),
        "gzip" | "pigz" | "bzip2" | "xz" | "zstd" | "lz4" => short('d') || args.contains(&"--decompress"),
        "gpg" => short('d') || args.contains(&"--decrypt"),
        _ => true,
    };
    streams.then_some(name)
}

/// What psql reads its SQL from, when that is a dump: `-f file`, `< file`,
/// or a pipe from a dump's stream (the streaming program named).
fn restores(script: &Script, command: &Command, psql: &Psql<'_>) -> Option<String> {
    if psql.no_sql {
        return None;
    }
    // `-f -` reads standard input, like no `-f` at all.
    let stdin = |file: &&Arg<'_>| matches!(file.literal, Some("-" | "/dev/stdin" | "/dev/fd/0"));
    if let Some(file) = psql.files.iter().find(|f| !stdin(f)) {
        let device = file.literal.is_some_and(|l| l.starts_with("/dev/"));
        return (!device).then(|| format!("`{}`", file.literal.unwrap_or(file.text)));
    }
    if !psql.commands.is_empty() {
        return None;
    }
    match &command.stdin {
        Some(Stdin::File(word)) => {
            let device = word.literal.as_deref().is_some_and(|l| l.starts_with("/dev/"));
            (!device).then(|| format!("`{}`", word.literal.as_deref().unwrap_or(word.text.as_str())))
        }
        Some(Stdin::HereDocument(_) | Stdin::HereString(_)) => None,
        None => {
            let (pipeline, stage) = command.pipeline?;
            let stages = &script.pipelines.get(pipeline)?.stages;
            stages
                .get(..stage)?
                .iter()
                .flatten()
                .filter_map(|&s| script.commands.get(s))
                .find_map(streams_dump)
                .map(|name| format!("what `{name}` streams"))
        }
    }
}

/// The script sets ON_ERROR_STOP somewhere, points psql at a psqlrc, or
/// looks for errors in what psql printed (`grep -q ERROR restore.log`).
fn stops_or_looks(script: &Script) -> bool {
    let mentions = |text: &str| text.to_ascii_uppercase().contains("ON_ERROR_STOP");
    let greps_errors = |c: &Command| {
        c.runs(&["grep", "egrep", "rg", "zgrep"])
            .is_some_and(|(_, args)| args.iter().any(|a| a.to_ascii_lowercase().contains("error")))
    };
    script.assignments.iter().any(|a| a.name == "PSQLRC" || a.value.as_ref().is_some_and(|v| mentions(&v.text)))
        || script.commands.iter().any(|c| {
            c.words.iter().any(|w| mentions(&w.text))
                || greps_errors(c)
                || matches!(&c.stdin, Some(Stdin::HereDocument(text)) if mentions(text))
                || matches!(&c.stdin, Some(Stdin::HereString(word)) if mentions(&word.text))
        })
}

/// `pg_restore` into a database that goes on past errors: no
/// `--exit-on-error`, no `--single-transaction`, not `--list`.
fn lenient_pg_restore(command: &Command) -> bool {
    let Some((_, args)) = command.runs_args(&["pg_restore"]) else { return false };
    let mut database = false;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        // A value that expands stays in its place: `-d "$DB" -e`.
        let Some(arg) = arg.literal else { continue };
        if let Some(long) = arg.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(name, _)| name);
            match name {
                "exit-on-error" | "single-transaction" | "list" | "help" | "version" => return false,
                "dbname" => database = true,
                _ => {}
            }
            continue;
        }
        let Some(flags) = arg.strip_prefix('-') else { continue };
        for (at, c) in flags.char_indices() {
            match c {
                'e' | '1' | 'l' | 'V' | '?' => return false,
                'd' => database = true,
                _ => {}
            }
            if "dfFhIjLnNpPStTU".contains(c) {
                if flags.get(at + c.len_utf8()..).is_some_and(str::is_empty) {
                    i += 1;
                }
                break;
            }
        }
    }
    database
}

impl Rule for RestoreWithoutOnErrorStop {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let psqlrc = cx.files.iter().any(|f| {
            let name = f.name.rsplit(['/', '\\']).next().unwrap_or(f.name.as_str());
            name == ".psqlrc" || name == "psqlrc"
        });
        for script in cx.graph.scripts {
            if !psqlrc && !stops_or_looks(script) {
                for command in script.commands.iter().filter(|c| !c.in_error) {
                    let Some((_, args)) = command.runs_args(&["psql"]) else { continue };
                    let psql = psql(&args);
                    if psql.opaque {
                        continue;
                    }
                    let Some(source) = restores(script, command, &psql) else { continue };
                    sink.report(
                        script.file,
                        command.span,
                        format!(
                            "psql runs {source} without `ON_ERROR_STOP`: after a failed statement it goes on, and \
                             exits 0"
                        ),
                    );
                }
            }
            pg_restore(cx, script, sink);
        }
    }
}

/// `pg_restore` that goes on past errors, in a script that ignores its status.
fn pg_restore(cx: &Context<'_>, script: &Script, sink: &mut Sink<'_>) {
    if script.has_errors || script.traps_err || script.reads_status || script.reads_pipestatus {
        return;
    }
    let candidates: Vec<&Command> = script
        .commands
        .iter()
        .filter(|c| !c.in_error && !c.tested && !c.in_function && !c.in_subshell && c.feeds.is_none())
        .filter(|c| c.root_statement + 1 < script.statements)
        .filter(|c| lenient_pg_restore(c))
        .collect();
    if candidates.is_empty() || shell::options(cx.graph.scripts, cx.files, script).errexit != Some(false) {
        return;
    }
    for command in candidates {
        // In a pipeline, its status is the pipeline's only as the last stage.
        if let Some((pipeline, stage)) = command.pipeline
            && script.pipelines.get(pipeline).is_none_or(|p| stage + 1 != p.stages.len())
        {
            continue;
        }
        sink.report(
            script.file,
            command.span,
            "pg_restore goes on past failed statements (no `--exit-on-error`) and nothing looks at its exit status: \
             a partial restore is reported as success",
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    fn findings(text: &str) -> Vec<String> {
        crate::rules::messages_of("B008", &[("scripts/restore.sh", text)])
    }

    #[test]
    fn psql_options_are_read_as_psql_reads_them() {
        let script = Script::parse(
            0,
            "psql -qAt -h db -U app -d \"$DB\" -f dump.sql\npsql --dbname=app -c 'select 1' other\npsql -fx.sql app\npsql $PSQL_OPTS app\n",
        );
        let parsed: Vec<Psql<'_>> = script.commands.iter().map(|c| psql(&c.runs_args(&["psql"]).unwrap().1)).collect();
        assert_eq!(parsed[0].dbname.map(|d| d.text), Some("\"$DB\""));
        assert_eq!(parsed[0].files.iter().map(|f| f.literal).collect::<Vec<_>>(), [Some("dump.sql")]);
        assert_eq!(parsed[1].dbname.and_then(|d| d.literal), Some("app"));
        assert_eq!(parsed[1].commands.iter().map(|c| c.literal).collect::<Vec<_>>(), [Some("select 1")]);
        assert_eq!(parsed[2].files.iter().map(|f| f.literal).collect::<Vec<_>>(), [Some("x.sql")]);
        assert_eq!(parsed[2].dbname.and_then(|d| d.literal), Some("app"));
        assert!(parsed[3].opaque && !parsed[2].opaque);
    }

    #[test]
    fn restores_without_on_error_stop() {
        let bad = "#!/bin/bash\nset -euo pipefail\npsql -d app -f /backups/app.sql\npsql app < \"$dump\"\n\
                   gunzip -c app.sql.gz | psql -U app app\ndocker exec -i db psql -U app app < app.sql\n\
                   pg_dump -h prod app | psql -1 -h staging app\n";
        assert_eq!(findings(bad).len(), 5, "{:?}", findings(bad));
    }

    #[test]
    fn stops_on_error_or_runs_no_dump() {
        for good in [
            "#!/bin/bash\nset -euo pipefail\npsql -v ON_ERROR_STOP=1 -d app -f /backups/app.sql\n",
            "#!/bin/bash\nset -eu\ngunzip -c app.sql.gz | psql --set ON_ERROR_STOP=on app\n",
            "#!/bin/bash\nset -eu\npsql app -c 'select 1'\npsql app <<EOF\nselect 1;\nEOF\npsql app\n",
            "#!/bin/bash\nset -eu\necho '\\set ON_ERROR_STOP on' > ~/.psqlrc\npsql -f dump.sql app\n",
            "#!/bin/bash\nset -eu\nexport PSQLRC=/etc/restore/psqlrc\npsql -f dump.sql app\n",
            "#!/bin/bash\nset -eu\npsql $PSQL_ARGS -f dump.sql app\ncat <<EOF | psql app\nselect 1;\nEOF\n",
            "#!/bin/bash\nset -eu\npsql -l\npsql app < /dev/null\n",
            "#!/bin/bash\nset -eu\npsql -f dump.sql app 2>&1 | tee restore.log\n! grep -q ERROR restore.log\n",
        ] {
            assert!(findings(good).is_empty(), "{good}: {:?}", findings(good));
        }
    }

    #[test]
    fn pg_restore_only_when_its_status_is_ignored() {
        let bad = "#!/bin/sh\npg_restore --clean -d app /backups/app.dump\necho restored\n";
        assert_eq!(findings(bad).len(), 1);
        for good in [
            "#!/bin/sh\nset -e\npg_restore --clean -d app /backups/app.dump\necho restored\n",
            "#!/bin/sh\npg_restore --exit-on-error -d app /backups/app.dump\necho restored\n",
            "#!/bin/sh\npg_restore -d \"$DB\" -e \"$dump\"\necho restored\n",
            "#!/bin/sh\npg_restore -1 -d app /backups/app.dump\necho restored\n",
            "#!/bin/sh\npg_restore -d app /backups/app.dump || exit 1\necho restored\n",
            "#!/bin/sh\npg_restore -l /backups/app.dump > list.txt\necho listed\n",
            "#!/bin/sh\npg_restore -f app.sql /backups/app.dump\necho converted\n",
            "#!/bin/sh\necho restoring\npg_restore -d app /backups/app.dump\n",
        ] {
            assert!(findings(good).is_empty(), "{good}: {:?}", findings(good));
        }
    }
}
