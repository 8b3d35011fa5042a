use crate::graph::shell::Arg;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// In `find /var/log/app -mtime +7 -exec gzip {} + -delete` (or `-exec
    /// tar rf old.tar {} + -delete`), `-exec ... {} +` does not run the
    /// command there and then: it collects the names, is true at once, and
    /// runs the command on the batch later. `-delete` therefore removes
    /// each file before the archiving command has seen it; the command then
    /// fails on files that are gone and the data is lost on every run. A
    /// later `-exec rm` deletes whatever the batched command did: an `rm
    /// ... \;` runs at once, like `-delete`, and an `rm ... {} +` batch
    /// runs even when the archive could not be written. Reported when, in
    /// a `find` expression, an `-exec`/`-execdir` ended by `{} +` is
    /// followed by `-delete` or by an `-exec rm`/`-execdir rm`, with
    /// nothing but tests and actions between them (no `-o`, `,`, `!` or
    /// parentheses). Not reported for `-exec cmd {} \;` before `-delete`
    /// (the delete then happens only where the command succeeded), for a
    /// `-delete` before the `-exec`, or for a batched command that only
    /// prints the names (`echo`, `printf`).
    FindDeleteAfterExecPlus {
        code: "B007",
        name: "find-delete-after-exec-plus",
        severity: Error,
        fix: "end the command with `\\;` so `-delete` runs only where it succeeded (`find ... -exec gzip {} \\; -delete`), or archive first and delete in a second `find` once the archive is checked",
    }
}

/// Primaries of `find` that take one value: it is skipped, whatever it is.
const VALUE_PRIMARIES: [&str; 40] = [
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-wholename",
    "-iwholename",
    "-regex",
    "-iregex",
    "-regextype",
    "-lname",
    "-ilname",
    "-newer",
    "-anewer",
    "-cnewer",
    "-samefile",
    "-type",
    "-xtype",
    "-user",
    "-group",
    "-uid",
    "-gid",
    "-perm",
    "-size",
    "-mtime",
    "-mmin",
    "-atime",
    "-amin",
    "-ctime",
    "-cmin",
    "-used",
    "-inum",
    "-links",
    "-maxdepth",
    "-mindepth",
    "-fstype",
    "-context",
    "-printf",
    "-fprint",
    "-fprint0",
    "-fls",
];

/// Programs that only print the names they are given.
const PRINTERS: [&str; 3] = ["echo", "printf", "logger"];

/// One piece of a `find` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    /// `-exec`/`-execdir` (at `at`) running `program`, ended by `{} +` when `batched`.
    Exec {
        at: usize,
        program: Option<&'a str>,
        batched: bool,
    },
    /// `-delete` at `at`.
    Delete {
        at: usize,
    },
    /// `-o`, `-or`, `,`, `!`, `-not`, `(`, `)`: what follows may not run after what precedes.
    Operator,
    Other,
}

/// The expression's pieces, or `None` when an `-exec` has no end.
fn pieces<'a>(args: &[Arg<'a>]) -> Option<Vec<Piece<'a>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let at = i;
        i += 1;
        let Some(word) = arg.literal else {
            out.push(Piece::Other);
            continue;
        };
        match word {
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let program = args.get(i).and_then(|a| a.literal).map(|p| p.rsplit('/').next().unwrap_or(p));
                let mut end = None;
                let mut j = i;
                while let Some(part) = args.get(j) {
                    let previous = j.checked_sub(1).and_then(|p| args.get(p)).and_then(|a| a.literal);
                    match part.literal {
                        Some(";") => end = Some((j, false)),
                        Some("+") if j > i && previous == Some("{}") => end = Some((j, true)),
                        _ => {}
                    }
                    if end.is_some() {
                        break;
                    }
                    j += 1;
                }
                let (last, batched) = end?;
                let batched = batched && matches!(word, "-exec" | "-execdir");
                out.push(Piece::Exec { at, program, batched });
                i = last + 1;
            }
            "-delete" => out.push(Piece::Delete { at }),
            "-o" | "-or" | "," | "!" | "-not" | "(" | ")" => out.push(Piece::Operator),
            _ if VALUE_PRIMARIES.contains(&word) => {
                i += 1;
                out.push(Piece::Other);
            }
            _ => out.push(Piece::Other),
        }
    }
    Some(out)
}

/// The first batched `-exec` and the deleting primary after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found<'a> {
    /// Where the batched `-exec` is, and the program it runs.
    exec: usize,
    program: Option<&'a str>,
    /// Where the `-delete` or `-exec rm` is.
    delete: usize,
    /// The delete is an `-exec rm ... {} +` batch of its own: it runs
    /// after the first batch, whatever that returned.
    delete_batched: bool,
}

fn delete_after_batch<'a>(args: &[Arg<'a>]) -> Option<Found<'a>> {
    let pieces = pieces(args)?;
    for (n, piece) in pieces.iter().enumerate() {
        let Piece::Exec { at, program, batched: true } = *piece else { continue };
        if program.is_some_and(|p| p == "rm" || PRINTERS.contains(&p)) {
            continue;
        }
        for later in pieces.iter().skip(n + 1) {
            match *later {
                Piece::Operator => break,
                Piece::Delete { at: delete } => {
                    return Some(Found { exec: at, program, delete, delete_batched: false });
                }
                Piece::Exec { at: delete, program: Some("rm"), batched } => {
                    return Some(Found { exec: at, program, delete, delete_batched: batched });
                }
                _ => {}
            }
        }
    }
    None
}

impl Rule for FindDeleteAfterExecPlus {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            for command in &script.commands {
                if command.in_error {
                    continue;
                }
                let Some((_, args)) = command.runs_args(&["find"]) else { continue };
                let Some(found) = delete_after_batch(&args) else { continue };
                let (Some(exec), Some(delete)) = (args.get(found.exec), args.get(found.delete)) else { continue };
                let program = found.program.unwrap_or("the command");
                let message = if found.delete_batched {
                    format!(
                        "`rm` runs on the files whether or not `{program}` succeeded: `-exec {program} ... {{}} +` is \
                         always true"
                    )
                } else {
                    format!(
                        "this deletes each file as soon as `find` reaches it, before `{program}` runs on the batch \
                         (`-exec ... {{}} +` runs later, and is always true)"
                    )
                };
                sink.report(script.file, delete.span, message).related.push(berth_diagnostics::Label {
                    span: exec.span,
                    message: "batched: always true, runs later".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;
    use crate::graph::shell::Script;

    /// (program, deleting word) B007 reports in the script's first find.
    fn reported(line: &str) -> Option<(String, String)> {
        let script = Script::parse(0, &format!("#!/bin/bash\n{line}\n"));
        let command = script.commands.iter().find(|c| c.runs_args(&["find"]).is_some()).unwrap();
        let (_, args) = command.runs_args(&["find"]).unwrap();
        delete_after_batch(&args).map(|found| {
            (found.program.unwrap_or("?").to_owned(), args[found.delete].literal.unwrap_or("?").to_owned())
        })
    }

    fn pair(program: &str, delete: &str) -> Option<(String, String)> {
        Some((program.to_owned(), delete.to_owned()))
    }

    #[test]
    fn batched_command_then_delete() {
        assert_eq!(reported("find /var/log/app -mtime +7 -exec gzip {} + -delete"), pair("gzip", "-delete"));
        assert_eq!(reported("find \"$dir\" -name '*.log' -exec tar rf old.tar {} + -delete"), pair("tar", "-delete"));
        assert_eq!(reported("find . -type f -execdir /usr/bin/xz -9 '{}' + -exec rm -f {} \\;"), pair("xz", "-exec"));
        assert_eq!(
            reported("sudo find /srv/dumps -mtime +3 -exec tar rf old.tar {} + -exec rm {} +"),
            pair("tar", "-exec")
        );
        assert_eq!(reported("docker exec app find /data/tmp -exec zstd -q {} + -delete"), pair("zstd", "-delete"));
    }

    #[test]
    fn gated_or_unrelated_deletes() {
        // `\;` is true only where the command succeeded.
        assert_eq!(reported("find /var/log/app -mtime +7 -exec gzip {} \\; -delete"), None);
        assert_eq!(reported("find /var/log/app -mtime +7 -exec gzip {} ';' -delete"), None);
        // The delete comes first, or on another branch.
        assert_eq!(reported("find /tmp/x -mtime +7 -delete -exec gzip {} +"), None);
        assert_eq!(reported("find . -name '*.gz' -exec gzip -t {} + -o -delete"), None);
        assert_eq!(reported("find . \\( -name '*.sql' -exec gzip {} + \\) -delete"), None);
        // Only prints the names.
        assert_eq!(reported("find . -mtime +7 -exec echo removing {} + -delete"), None);
        // A `+` that ends nothing (only `{} +` does), and an `-exec` without an end.
        assert_eq!(reported("find . -exec chmod u+x {} \\; -delete"), None);
        assert_eq!(reported("find /srv -exec aws s3 mv {} s3://b/ + -delete"), None);
        assert_eq!(reported("find . -exec gzip {} -delete"), None);
        // `-name` takes `-delete` as its pattern.
        assert_eq!(reported("find . -exec gzip {} + -name -delete"), None);
    }
}
