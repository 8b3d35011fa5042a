//! Files generated from the CLI and spec definitions and committed to the
//! repository: a test fails when any of them is stale.

use std::fmt::Write as _;

use clap::CommandFactory;

use crate::cli::Cli;

/// Shells completion scripts are committed for, with their file names.
pub const COMPLETIONS: &[(clap_complete::Shell, &str)] = &[
    (clap_complete::Shell::Bash, "completions/berth.bash"),
    (clap_complete::Shell::Zsh, "completions/_berth"),
    (clap_complete::Shell::Fish, "completions/berth.fish"),
];

pub fn completion(shell: clap_complete::Shell) -> String {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "berth", &mut buffer);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Every generated file as (path relative to the repository, contents).
pub fn all() -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("schema/berth.schema.json", berth_spec::schema::json_schema()),
        ("docs/spec.md", berth_spec::reference::markdown()),
        ("docs/cli.md", cli_reference()),
        ("docs/rules.md", berth_check::registry::markdown()),
        ("docs/targets.md", berth_render::support::matrix_markdown()),
    ];
    files.extend(COMPLETIONS.iter().map(|(shell, path)| (*path, completion(*shell))));
    files
}

/// `docs/cli.md`: every command with its usage, options and examples.
pub fn cli_reference() -> String {
    let mut root = Cli::command().term_width(100);
    root.build();
    let mut out = String::from(
        "<!-- Generated from the clap definitions in crates/berth-cli/src/cli.rs. Do not edit by hand. -->\n\n# berth command line\n\n",
    );
    section(&mut out, &mut root, "berth");
    out.push_str("## Render targets\n\n| target | what it writes |\n| --- | --- |\n");
    for target in berth_render::Target::ALL {
        let _ = writeln!(out, "| `{}` | {} |", target.name(), target.about());
    }
    out
}

fn section(out: &mut String, command: &mut clap::Command, path: &str) {
    let level = if path == "berth" { "##" } else { "###" };
    let _ = writeln!(out, "{level} `{path}`\n");
    let help = command.render_long_help().to_string();
    let _ = writeln!(out, "```text\n{}\n```\n", help.trim_end());
    let subcommands: Vec<String> =
        command.get_subcommands().filter(|c| c.get_name() != "help").map(|c| c.get_name().to_owned()).collect();
    for name in subcommands {
        if let Some(sub) = command.find_subcommand_mut(&name) {
            let mut sub = sub.clone().bin_name(format!("{path} {name}"));
            section(out, &mut sub, &format!("{path} {name}"));
        }
    }
}
