use super::pipeline_hides_failure::SHELLS;
use crate::graph::shell::Command;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `curl ... | sh` runs whatever the server sends at that moment, as
    /// the user running the script (often root, on every deploy): nothing
    /// pins the version, checks a checksum or signature, or keeps a copy
    /// of what ran. A download cut off mid-way runs a truncated script,
    /// and a compromised or moved URL runs someone else's. The same holds
    /// for `wget -qO- ... | bash`, `bash <(curl ...)`, `sh -c "$(curl ...)"`
    /// and `eval "$(curl ...)"`.
    RemoteScriptToShell {
        code: "B003",
        name: "remote-script-to-shell",
        severity: Warning,
        fix: "download to a file at a pinned version, verify its checksum (`sha256sum -c`) or signature, then run the file",
    }
}

const FETCHERS: [&str; 2] = ["curl", "wget"];

/// A shell that runs what it reads or is given: `sh`, `sudo bash -s`,
/// `source`, `eval`.
fn runs_code(command: &Command) -> Option<&str> {
    let (name, _) = command.program()?;
    (SHELLS.contains(&name) || matches!(name, "source" | "." | "eval")).then_some(name)
}

fn fetches(command: &Command) -> Option<&'static str> {
    command.program().and_then(|(name, _)| FETCHERS.iter().copied().find(|f| *f == name))
}

impl Rule for RemoteScriptToShell {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            for pipeline in &script.pipelines {
                if pipeline.in_error {
                    continue;
                }
                let stages: Vec<Option<&Command>> =
                    pipeline.stages.iter().map(|s| s.and_then(|i| script.commands.get(i))).collect();
                let fetch = stages.iter().position(|c| c.and_then(fetches).is_some());
                let Some(fetch) = fetch else { continue };
                // `| sh -c 'cat > f'` runs its own command line, with the download as data.
                let shell = stages
                    .iter()
                    .skip(fetch + 1)
                    .flatten()
                    .filter(|c| {
                        !c.program().is_some_and(|(_, args)| args.iter().any(|a| a.literal.as_deref() == Some("-c")))
                    })
                    .find_map(|c| runs_code(c).map(|name| (c, name)));
                if let (Some(Some(fetcher)), Some((shell, name))) = (stages.get(fetch), shell) {
                    sink.report(
                        script.file,
                        shell.span,
                        format!(
                            "`{name}` runs what `{}` downloads, unchecked",
                            fetcher.name().unwrap_or("the download")
                        ),
                    )
                    .related
                    .push(berth_diagnostics::Label { span: fetcher.span, message: "downloaded here".into() });
                }
            }
            // `bash <(curl ...)`, `sh -c "$(curl ...)"`, `eval "$(curl ...)"`
            for (index, command) in script.commands.iter().enumerate() {
                let Some(name) = runs_code(command) else { continue };
                if command.in_error {
                    continue;
                }
                let fed = script.commands.iter().find(|c| c.feeds == Some(index) && fetches(c).is_some());
                if let Some(fetcher) = fed {
                    sink.report(
                        script.file,
                        command.span,
                        format!(
                            "`{name}` runs what `{}` downloads, unchecked",
                            fetcher.name().unwrap_or("the download")
                        ),
                    );
                }
            }
        }
    }
}
