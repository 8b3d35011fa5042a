use crate::graph::shell::{Arg, Command};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// When GNU tar creates an archive, `--exclude` is a positional option:
    /// it applies only to the names written after it. In `tar czf
    /// backup.tgz /srv/app --exclude=/srv/app/cache` no name follows the
    /// exclude, so the cache goes into the archive anyway (backups many
    /// times their size, sessions and secrets kept in every copy) and tar
    /// 1.29 and later print `--exclude ... has no effect` and exit 2: a
    /// script with `set -e` then fails every night after writing the
    /// archive, one without it keeps what it meant to leave out. The same
    /// holds for `--exclude-from`/`-X`, `--exclude-vcs`, `--exclude-caches`
    /// and the other `--exclude-*` options. Reported for `tar` creating an
    /// archive (`c` in old-style flags such as `czf`, `-c`, `--create`),
    /// directly or through `sudo`, `ssh` and the like, when an
    /// exclude option comes after a file or directory name (or
    /// `-T`/`--files-from`) and no name comes after it; `-C dir` is not a
    /// name. Not reported when a name follows the exclude (it then applies
    /// to that name, as tar documents), when a word that may expand to
    /// several names or options (`$TAR_OPTS`, `"${paths[@]}"`, `$(ls)`)
    /// comes after it, or for bsdtar and busybox tar, which apply excludes
    /// wherever they are written (so a tar run in a container, often
    /// busybox's, is not judged).
    TarExcludeAfterPaths {
        code: "B006",
        name: "tar-exclude-after-paths",
        severity: Error,
        fix: "put the exclude options before the names to archive: `tar czf backup.tgz --exclude=/srv/app/cache /srv/app`",
    }
}

/// Short options that take a value (the rest of their cluster or the next word).
const SHORT_WITH_VALUE: &str = "bCfFgHIKLNTVX";

/// Long options that take a value, as `--name=value` or `--name value`.
const LONG_WITH_VALUE: [&str; 45] = [
    "--file",
    "--directory",
    "--files-from",
    "--exclude",
    "--exclude-from",
    "--exclude-tag",
    "--exclude-tag-all",
    "--exclude-tag-under",
    "--exclude-ignore",
    "--exclude-ignore-recursive",
    "--blocking-factor",
    "--record-size",
    "--format",
    "--use-compress-program",
    "--listed-incremental",
    "--tape-length",
    "--info-script",
    "--new-volume-script",
    "--rsh-command",
    "--rmt-command",
    "--volno-file",
    "--label",
    "--newer",
    "--after-date",
    "--newer-mtime",
    "--owner",
    "--group",
    "--owner-map",
    "--group-map",
    "--mode",
    "--mtime",
    "--transform",
    "--xform",
    "--strip-components",
    "--to-command",
    "--suffix",
    "--index-file",
    "--checkpoint-action",
    "--level",
    "--hole-detection",
    "--pax-option",
    "--quoting-style",
    "--sparse-version",
    "--xattrs-include",
    "--xattrs-exclude",
];

/// What a word of a tar command line is, for the order of names and
/// excludes (options and their values are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A file or directory to archive (or `-T list`, which names them).
    Name,
    /// An exclude option.
    Exclude,
    /// May be several names or options, or none: the order is unknown from here.
    Unknown,
}

/// A word that may expand to several words, or none: `"$@"`, arrays,
/// unquoted command substitutions and unquoted variables named for
/// options (`$TAR_OPTS`, `$EXCLUDES`, `$extra_args`).
pub(crate) fn may_split(arg: &Arg<'_>) -> bool {
    if arg.literal.is_some() {
        return false;
    }
    let text = arg.text;
    let quoted = text.starts_with('"') && text.ends_with('"') && text.len() > 1;
    let optionish = text.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| {
        let upper = part.to_ascii_uppercase();
        ["OPT", "ARG", "FLAG", "EXCL", "PARAM"].iter().any(|p| upper.starts_with(p))
    });
    ["$@", "$*", "[@]", "[*]"].iter().any(|s| text.contains(s))
        || (!quoted && (text.contains("$(") || text.contains('`') || optionish))
}

/// The words of a tar command line, classified; `None` when tar does not
/// create an archive or the command line cannot be read.
fn classify(args: &[Arg<'_>]) -> Option<Vec<(Part, usize)>> {
    let mut parts = Vec::new();
    let mut creates = false;
    let mut i = 0;
    // Old-style flags: `tar czf out.tgz dir`, values taken in order.
    if let Some(first) = args.first() {
        let flags = first.literal?;
        if !flags.starts_with('-') {
            if flags.is_empty() || !flags.chars().all(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            i = 1;
            for c in flags.chars() {
                creates |= c == 'c';
                if SHORT_WITH_VALUE.contains(c) {
                    if c == 'T' {
                        parts.push((Part::Name, i));
                    }
                    i += 1;
                }
            }
        }
    }
    let mut options = true;
    while let Some(arg) = args.get(i) {
        let index = i;
        i += 1;
        // A word that expands: what it is written as (`--exclude="$dir/cache"`, `"$dir"`).
        let text = arg.literal.unwrap_or_else(|| arg.text.trim_start_matches('"'));
        if !options || !text.starts_with('-') || text == "-" {
            parts.push((if may_split(arg) { Part::Unknown } else { Part::Name }, index));
            continue;
        }
        if text == "--" {
            options = false;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let option = format!("--{name}");
            creates |= option == "--create";
            if option.starts_with("--exclude") {
                parts.push((Part::Exclude, index));
            } else if option == "--files-from" {
                parts.push((Part::Name, index));
            }
            if !attached && LONG_WITH_VALUE.contains(&option.as_str()) {
                i += 1;
            }
            continue;
        }
        // A cluster of short options: `-czf out.tgz`, `-cf-`, `-X list`.
        for (at, c) in text.char_indices().skip(1) {
            if !c.is_ascii_alphanumeric() {
                break;
            }
            creates |= c == 'c';
            match c {
                'X' => parts.push((Part::Exclude, index)),
                'T' => parts.push((Part::Name, index)),
                _ => {}
            }
            if SHORT_WITH_VALUE.contains(c) {
                if text.get(at + 1..).is_some_and(str::is_empty) {
                    i += 1;
                }
                break;
            }
        }
    }
    creates.then_some(parts)
}

/// Container runtimes: the image's tar may be busybox's.
const CONTAINERS: [&str; 6] = ["docker", "podman", "nerdctl", "kubectl", "oc", "docker-compose"];

/// The arguments of a GNU tar the command runs: not in a container.
fn tar_args(command: &Command) -> Option<Vec<Arg<'_>>> {
    if command.program().is_some_and(|(program, _)| CONTAINERS.contains(&program)) {
        return None;
    }
    command.runs_args(&["tar", "gtar"]).map(|(_, args)| args)
}

/// The index of the first exclude option that comes after a name and
/// before none.
fn trailing_exclude(args: &[Arg<'_>]) -> Option<usize> {
    let parts = classify(args)?;
    let mut named = false;
    let mut trailing = None;
    for (part, index) in parts {
        match part {
            Part::Name => {
                named = true;
                trailing = None;
            }
            Part::Exclude if named && trailing.is_none() => trailing = Some(index),
            // Could be a name: the exclude may apply to it.
            Part::Unknown if trailing.is_some() => return None,
            _ => {}
        }
    }
    trailing
}

impl Rule for TarExcludeAfterPaths {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            for command in &script.commands {
                if command.in_error {
                    continue;
                }
                let Some(args) = tar_args(command) else { continue };
                let Some(exclude) = trailing_exclude(&args).and_then(|i| args.get(i)) else { continue };
                let option = exclude.literal.unwrap_or(exclude.text);
                let option = option.split_once('=').map_or(option, |(name, _)| name);
                sink.report(
                    script.file,
                    exclude.span,
                    format!(
                        "`{option}` comes after every name to archive: GNU tar ignores it, archives what it was \
                         meant to leave out, and exits 2"
                    ),
                )
                .related
                .push(berth_diagnostics::Label { span: command.span, message: "creates the archive".into() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;
    use crate::graph::shell::Script;

    /// The exclude option B006 reports in the script's first command, as written.
    fn reported(line: &str) -> Option<String> {
        let script = Script::parse(0, &format!("#!/bin/bash\n{line}\n"));
        let args = tar_args(&script.commands[0])?;
        trailing_exclude(&args).map(|i| args[i].text.to_owned())
    }

    #[test]
    fn excludes_after_the_names() {
        assert_eq!(
            reported("tar czf backup.tgz /srv/app --exclude=/srv/app/cache").as_deref(),
            Some("--exclude=/srv/app/cache")
        );
        assert_eq!(reported("tar -czf backup.tgz /srv/app --exclude cache").as_deref(), Some("--exclude"));
        assert_eq!(reported("tar --create --gzip --file backup.tgz app -X excludes.txt").as_deref(), Some("-X"));
        assert_eq!(reported("tar -C /srv -czf backup.tgz app --exclude-vcs").as_deref(), Some("--exclude-vcs"));
        assert_eq!(
            reported("sudo tar cvzf \"$out\" \"$dir\" --exclude=\"$dir/cache\"").as_deref(),
            Some("--exclude=\"$dir/cache\"")
        );
        assert_eq!(
            reported("ssh backup@db \"tar czf - /data --exclude=/data/tmp\" > db-data.tgz").as_deref(),
            Some("--exclude=/data/tmp")
        );
        assert_eq!(reported("tar czf b.tgz -T list.txt --exclude=tmp").as_deref(), Some("--exclude=tmp"));
    }

    #[test]
    fn excludes_before_names_or_not_creating() {
        // Before the names, or followed by one it applies to.
        assert_eq!(reported("tar czf backup.tgz --exclude=/srv/app/cache /srv/app"), None);
        assert_eq!(reported("tar czf backup.tgz app --exclude=cache other"), None);
        // `-C /srv` sets the directory: no name before the exclude.
        assert_eq!(reported("tar -C /srv --exclude=cache -czf backup.tgz app"), None);
        // Old-style values are taken in order: `X` reads `excludes.txt`.
        assert_eq!(reported("tar czfX backup.tgz excludes.txt app"), None);
        // Extracting and listing: excludes filter members wherever they are.
        assert_eq!(reported("tar xzf backup.tgz app --exclude=cache"), None);
        assert_eq!(reported("tar -tzf backup.tgz app --exclude=cache"), None);
        // `-cf` takes the next word as the archive, whatever it looks like.
        assert_eq!(reported("tar -cf --exclude=x app"), None);
        // What follows might be a name.
        assert_eq!(reported("tar czf b.tgz app --exclude=cache \"${extra[@]}\""), None);
        assert_eq!(reported("tar czf b.tgz app --exclude=cache $(cat more.txt)"), None);
        // After `--`, everything is a name.
        assert_eq!(reported("tar czf b.tgz app -- --exclude=cache"), None);
        // In a container the tar may be busybox's, which excludes anywhere.
        assert_eq!(reported("docker run --rm -v data:/data alpine tar czf - /data --exclude=/data/tmp"), None);
        // The command line itself is unknown.
        assert_eq!(reported("tar \"$mode\" b.tgz app --exclude=cache"), None);
    }
}
