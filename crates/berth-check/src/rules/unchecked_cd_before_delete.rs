use crate::graph::shell::{self, Command};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// When `cd "$BACKUP_DIR"` fails (a typo, an unmounted volume, an
    /// unset variable that makes it `cd` to home), a script without `set
    /// -e` carries on in the directory it was in, and the `rm -rf *` or
    /// `rm -rf ./old` meant for the backup directory deletes there instead:
    /// the deploy checkout, the home directory, `/` under cron. Reported
    /// when a `cd` (or `pushd`) is not checked (`cd dir || exit`, `if cd
    /// dir`), the script (and what it sources) has no `set -e`, and a
    /// recursive `rm` of a relative path follows in the same block before
    /// the next change of directory.
    UncheckedCdBeforeDelete {
        code: "B005",
        name: "unchecked-cd-before-delete",
        severity: Error,
        fix: "write `cd dir || exit 1` (or `set -e` at the top), or give `rm` absolute paths",
    }
}

fn changes_directory(command: &Command) -> bool {
    matches!(command.name(), Some("cd" | "pushd" | "popd"))
}

/// `rm -r`/`-R`/`--recursive` of a path that depends on the working
/// directory (`*`, `build`, `./old`): the first such path.
fn relative_delete(command: &Command) -> Option<&str> {
    let (name, args) = command.program()?;
    if name != "rm" {
        return None;
    }
    let mut recursive = false;
    let mut target = None;
    let mut options = true;
    for word in args {
        let literal = word.literal.as_deref();
        match literal {
            Some("--") if options => options = false,
            Some("--recursive") if options => recursive = true,
            Some(flag) if options && flag.starts_with('-') && !flag.starts_with("--") && flag.len() > 1 => {
                recursive |= flag.contains('r') || flag.contains('R');
            }
            Some(flag) if options && flag.starts_with("--") => {}
            Some(path) if target.is_none() && !path.starts_with('/') && !path.starts_with('~') && !path.is_empty() => {
                target = Some(path);
            }
            _ => {}
        }
    }
    target.filter(|_| recursive)
}

impl Rule for UncheckedCdBeforeDelete {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            if script.has_errors {
                continue;
            }
            let mut options = None;
            for (index, cd) in script.commands.iter().enumerate() {
                if !matches!(cd.name(), Some("cd" | "pushd")) || cd.tested || cd.in_error {
                    continue;
                }
                // `cd` alone goes home and `cd /` cannot fail.
                let Some(dir) = cd.args().iter().find(|w| !w.literal.as_deref().is_some_and(|l| l.starts_with('-')))
                else {
                    continue;
                };
                if dir.literal.as_deref() == Some("/") {
                    continue;
                }
                let Some(&(list, position)) = cd.within.first() else { continue };
                let later = script.commands.iter().skip(index + 1).take_while(|c| !changes_directory(c));
                let delete = later
                    .filter(|c| !c.in_error && c.in_function == cd.in_function)
                    .filter(|c| c.within.iter().any(|&(l, p)| l == list && p > position))
                    .find_map(|c| relative_delete(c).map(|path| (c, path)));
                let Some((rm, path)) = delete else { continue };
                let errexit = options.get_or_insert_with(|| shell::options(cx.graph.scripts, cx.files, script)).errexit;
                if errexit != Some(false) {
                    break;
                }
                sink.report(
                    script.file,
                    cd.span,
                    format!(
                        "if this `cd` fails, the script goes on and `rm` deletes `{path}` in the directory it was in"
                    ),
                )
                .related
                .push(berth_diagnostics::Label {
                    span: rm.span,
                    message: "deletes relative to the working directory".into(),
                });
            }
        }
    }
}
