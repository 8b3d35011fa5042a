//! Shell scripts (backup, deploy and entrypoint scripts), read by the
//! tree-sitter bash grammar into what the rules ask about: simple commands
//! and their words, pipelines, variable assignments, the options a script
//! turns on, the files it sources, and where each command's exit status
//! goes. Words are what the grammar says they are, quotes and expansions
//! included; nothing here matches script text with patterns.
//!
//! The grammar recovers from what it cannot parse; a command in or around
//! such a region is marked [`Command::in_error`], and a script with any is
//! [`Script::has_errors`]: judgments about the whole script (which options
//! are on) are then unknown.

use std::rc::Rc;

use berth_diagnostics::{SourceFile, Span};
use tree_sitter::{Node, Parser};

use super::paths::tail_matches;

/// Scripts longer than this are not read: no rule speaks about them.
const MAX_SCRIPT_BYTES: usize = 1024 * 1024;

/// How deep statement lists may nest before what is inside is not judged
/// (and the chain of enclosing lists stays short).
const MAX_NESTING: usize = 64;

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The value once quotes and backslashes are removed, when nothing in
    /// it expands at run time (`"$f"`, `$(date)`, `{a,b}` have none).
    pub literal: Option<String>,
    /// As written.
    pub text: String,
    pub span: Span,
}

impl Word {
    /// The literal's last path component: `/usr/bin/pg_dump` is `pg_dump`.
    pub fn program(&self) -> Option<&str> {
        self.literal.as_deref().map(basename)
    }
}

/// A simple command: a name and its arguments.
#[derive(Debug, Clone)]
pub struct Command {
    /// The command name, then its arguments.
    pub words: Vec<Word>,
    pub span: Span,
    /// The parser recovered from an error inside or around it.
    pub in_error: bool,
    /// Its exit status is looked at: it is (part of) an `if`, `elif`,
    /// `while` or `until` condition, follows `!`, or is an operand of `&&`
    /// or `||`.
    pub tested: bool,
    /// It sits in a function body: it runs when (and where) the function is called.
    pub in_function: bool,
    /// It runs in a subshell (`( ... )`) or a command or process substitution.
    pub in_subshell: bool,
    /// (pipeline, stage) when it is a stage of a pipeline.
    pub pipeline: Option<(usize, usize)>,
    /// The command one of whose arguments substitutes this one's output
    /// (`sh -c "$(curl ...)"`, `bash <(curl ...)`).
    pub feeds: Option<usize>,
    /// The top-level statement it is part of.
    pub root_statement: usize,
    /// (statement list, position in it), from the innermost list outwards:
    /// commands of one list run in the order of their positions.
    pub within: Vec<(usize, usize)>,
    /// Where its standard input comes from when a redirection says so
    /// (`psql app < dump.sql`, a here-document); `None` when it reads what
    /// it inherits (a pipe, the terminal, the caller's input).
    pub stdin: Option<Stdin>,
}

/// A redirection of a command's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// `< file`, also `< <(cmd)`: the word after `<`.
    File(Word),
    /// `<<EOF ... EOF`: the redirection as written, marker lines included.
    HereDocument(String),
    /// `<<< word`
    HereString(Word),
}

/// One argument of the program a command runs (see [`Command::runs_args`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg<'w> {
    /// Its value when nothing in it expands at run time.
    pub literal: Option<&'w str>,
    /// As written (for a word split out of a quoted command line, the word itself).
    pub text: &'w str,
    /// The word it is, or is part of.
    pub span: Span,
}

impl<'w> Arg<'w> {
    fn of(word: &'w Word) -> Self {
        Arg { literal: word.literal.as_deref(), text: &word.text, span: word.span }
    }
}

impl Command {
    /// The command name as written, without its directory.
    pub fn name(&self) -> Option<&str> {
        self.words.first().and_then(Word::program)
    }

    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The program that runs and its arguments: the command itself, or
    /// past a wrapper (`sudo -u postgres pg_dump`, `time`, `exec`, `env
    /// A=1`, `nice -n 10`, `timeout 1h`) the command the wrapper starts.
    /// `None` when that is not known (a word that expands at run time).
    pub fn program(&self) -> Option<(&str, &[Word])> {
        let mut words: &[Word] = &self.words;
        for _ in 0..8 {
            let (first, rest) = words.split_first()?;
            let name = first.program()?;
            if !WRAPPERS.contains(&name) {
                return Some((name, rest));
            }
            words = past_wrapper(name, rest)?;
        }
        None
    }

    /// The first of `names` this command runs, with the literal arguments
    /// it is given: the program itself, or one it starts in a container, as
    /// another user or on another host (`docker exec db pg_dump ...`,
    /// `kubectl exec db -- pg_dump ...`, `ssh backup@db "pg_dump app"`,
    /// `su postgres -c "pg_dumpall"`).
    pub fn runs<'n>(&self, names: &[&'n str]) -> Option<(&'n str, Vec<&str>)> {
        let (name, args) = self.runs_args(names)?;
        Some((name, args.into_iter().filter_map(|a| a.literal).collect()))
    }

    /// Like [`Command::runs`], with every argument kept in its place: one
    /// that expands at run time (`"$DB"`) has no literal but its text. A
    /// command line given as one string (`ssh db "psql app"`, `su postgres
    /// -c "pg_dump app"`) is split at whitespace, quotes inside it not read.
    pub fn runs_args<'n>(&self, names: &[&'n str]) -> Option<(&'n str, Vec<Arg<'_>>)> {
        let (program, args) = self.program()?;
        if let Some(name) = names.iter().copied().find(|n| *n == program) {
            return Some((name, args.iter().map(Arg::of).collect()));
        }
        if !REMOTE.contains(&program) {
            return None;
        }
        for (i, word) in args.iter().enumerate() {
            let Some(literal) = word.literal.as_deref() else { continue };
            let mut tokens = literal.split_whitespace();
            let Some(first) = tokens.next() else { continue };
            if let Some(name) = names.iter().copied().find(|n| *n == basename(first)) {
                let mut rest: Vec<Arg<'_>> =
                    tokens.map(|t| Arg { literal: Some(t), text: t, span: word.span }).collect();
                rest.extend(args.get(i + 1..).unwrap_or(&[]).iter().map(Arg::of));
                return Some((name, rest));
            }
        }
        None
    }
}

/// Commands that run the command after their own options.
const WRAPPERS: [&str; 13] = [
    "sudo", "doas", "env", "time", "exec", "nice", "ionice", "nohup", "timeout", "stdbuf", "setsid", "runuser",
    "command",
];

/// Commands that run a command line elsewhere: in a container, as another
/// user, on another host.
const REMOTE: [&str; 8] = ["docker", "podman", "nerdctl", "kubectl", "oc", "ssh", "su", "docker-compose"];

/// The words from the command a wrapper starts, or `None` when it starts
/// none or that is unknown.
fn past_wrapper<'w>(wrapper: &str, args: &'w [Word]) -> Option<&'w [Word]> {
    let takes_value: &[&str] = match wrapper {
        "sudo" => &[
            "-u",
            "-g",
            "-h",
            "-p",
            "-C",
            "-D",
            "-r",
            "-t",
            "-U",
            "-T",
            "--user",
            "--group",
            "--host",
            "--prompt",
            "--chdir",
            "--role",
            "--type",
            "--other-user",
            "--close-from",
            "--command-timeout",
        ],
        "doas" => &["-u", "-C"],
        "env" => &["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
        "time" => &["-f", "-o", "--format", "--output"],
        "exec" => &["-a"],
        "nice" => &["-n", "--adjustment"],
        "ionice" => &["-c", "-n", "--class", "--classdata"],
        "timeout" => &["-s", "-k", "--signal", "--kill-after"],
        "stdbuf" => &["-i", "-o", "-e", "--input", "--output", "--error"],
        "runuser" => &["-u", "-g", "-G", "--user", "--group", "--supp-group"],
        _ => &[],
    };
    let mut i = 0;
    while let Some(word) = args.get(i) {
        let literal = word.literal.as_deref()?;
        if literal == "--" {
            i += 1;
            break;
        }
        if wrapper == "env" && (literal == "-" || is_assignment(literal)) {
            i += 1;
            continue;
        }
        if wrapper == "command" && (literal == "-v" || literal == "-V") {
            // `command -v x` looks a program up; it does not run it.
            return None;
        }
        if literal.len() > 1 && literal.starts_with('-') {
            i += if takes_value.contains(&literal) { 2 } else { 1 };
            continue;
        }
        break;
    }
    let mut rest = args.get(i..)?;
    if wrapper == "timeout" {
        // The duration.
        rest = rest.get(1..)?;
    }
    (!rest.is_empty()).then_some(rest)
}

/// `NAME=value`
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| is_name(name))
}

/// A shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Two or more commands joined by `|` (or `|&`).
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The command of each stage, in order; `None` for a compound stage (a
    /// subshell, a loop, `{ ...; }`).
    pub stages: Vec<Option<usize>>,
    pub span: Span,
    pub in_error: bool,
    /// Its exit status is looked at (see [`Command::tested`]).
    pub tested: bool,
    /// Its output is written to a file (`... | gzip > "$out"`).
    pub writes_file: bool,
}

/// `NAME=value`: alone, after `export`/`declare`/`local`/`readonly`, or
/// before a command (`PGPASSWORD=... pg_dump`).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub name: String,
    pub name_span: Span,
    /// `None` for an array (`a=(1 2)`) or a name without a value.
    pub value: Option<Word>,
    pub exported: bool,
    /// The command it is set for, when it prefixes one.
    pub command: Option<usize>,
    pub in_error: bool,
}

/// A `.` or `source` line.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path, when it is literal; else its last component when that is
    /// written out (`"$(dirname "$0")/common.sh"` gives `common.sh`).
    pub path: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Script {
    pub file: usize,
    /// The interpreter line without `#!` (`/bin/bash -e`), if any.
    pub interpreter: Option<String>,
    /// The parser recovered from an error somewhere, or did not read the
    /// script: what holds for the whole script is unknown.
    pub has_errors: bool,
    /// Simple commands, in the order they are written.
    pub commands: Vec<Command>,
    pub pipelines: Vec<Pipeline>,
    pub assignments: Vec<Assignment>,
    pub sources: Vec<Source>,
    /// How many top-level statements the script has.
    pub statements: usize,
    /// Operators of `[ ]`/`[[ ]]` tests (`-s`, `-f`, `=`...).
    pub test_operators: Vec<String>,
    /// `$?` is read somewhere.
    pub reads_status: bool,
    /// `PIPESTATUS` is read somewhere.
    pub reads_pipestatus: bool,
    /// `set -e`/`set -o errexit` (or the interpreter line's `-e`) somewhere.
    pub sets_errexit: bool,
    /// `set -o pipefail` somewhere (or on the interpreter line).
    pub sets_pipefail: bool,
    /// A `trap ... ERR` somewhere: failed commands run it without `set -e`.
    pub traps_err: bool,
}

impl Script {
    pub fn parse(file: usize, text: &str) -> Self {
        let mut script = Script {
            file,
            interpreter: text.strip_prefix("#!").map(|rest| rest.lines().next().unwrap_or("").trim().to_owned()),
            ..Script::default()
        };
        if text.len() > MAX_SCRIPT_BYTES {
            script.has_errors = true;
            return script;
        }
        let mut parser = Parser::new();
        let tree = match parser.set_language(&tree_sitter_bash::LANGUAGE.into()) {
            Ok(()) => parser.parse(text, None),
            Err(_) => None,
        };
        let Some(tree) = tree else {
            script.has_errors = true;
            return script;
        };
        Walker { text, script: &mut script }.walk(tree.root_node());
        script.settle();
        script
    }

    /// Options, traps and sources, from the commands read.
    fn settle(&mut self) {
        if let Some(line) = &self.interpreter {
            // `#!/bin/bash -e`, `#!/usr/bin/env -S bash -euo pipefail`
            let words: Vec<&str> = line.split_whitespace().collect();
            let (errexit, pipefail) = set_options(words.get(1..).unwrap_or(&[]));
            self.sets_errexit |= errexit;
            self.sets_pipefail |= pipefail;
        }
        for command in &self.commands {
            let Some(name) = command.name() else { continue };
            let literals: Vec<&str> = command.args().iter().filter_map(|w| w.literal.as_deref()).collect();
            match name {
                "set" | "shopt" => {
                    let (errexit, pipefail) = set_options(&literals);
                    self.sets_errexit |= errexit;
                    self.sets_pipefail |= pipefail;
                }
                "trap" => self.traps_err |= literals.iter().skip(1).any(|s| *s == "ERR" || *s == "SIGERR"),
                "." | "source" => {
                    if let Some(word) = command.args().first() {
                        self.sources.push(Source { path: source_path(word), span: word.span });
                    }
                }
                _ => {}
            }
        }
    }

    /// Commands named `name` (after wrappers).
    pub fn commands_running<'s>(&'s self, name: &'s str) -> impl Iterator<Item = (usize, &'s Command)> + 's {
        self.commands.iter().enumerate().filter(move |(_, c)| c.program().is_some_and(|(p, _)| p == name))
    }
}

/// What `set` arguments (or an interpreter line's options) turn on:
/// (errexit, pipefail). `-e` in any cluster (`-eu`, `-Eeuo`), `-o errexit`,
/// `-o pipefail`, also as the last letter of a cluster (`-euo pipefail`).
fn set_options(args: &[&str]) -> (bool, bool) {
    let (mut errexit, mut pipefail) = (false, false);
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if *arg == "--" {
            break;
        }
        if let Some(flags) = arg.strip_prefix('-')
            && !flags.starts_with('-')
        {
            errexit |= flags.contains('e');
            if flags.ends_with('o') {
                match args.get(i + 1).copied() {
                    Some("errexit") => errexit = true,
                    Some("pipefail") => pipefail = true,
                    _ => {}
                }
                i += 1;
            }
        }
        i += 1;
    }
    (errexit, pipefail)
}

fn source_path(word: &Word) -> Option<String> {
    if let Some(literal) = &word.literal {
        return Some(literal.clone());
    }
    let tail = word.text.rsplit('/').next()?.trim_end_matches(['"', '\'']);
    let expands = tail.contains(['$', '`', '"', '\'', '(', ')', '{', '}', '*', '?', '[']);
    (!tail.is_empty() && !expands && word.text.contains('/')).then(|| tail.to_owned())
}

/// What is known of the options in force where a script's commands run:
/// `Some(true)` on, `Some(false)` off, `None` unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub errexit: Option<bool>,
    pub pipefail: Option<bool>,
}

impl Options {
    /// Either side on wins; else either side unknown.
    fn join(self, other: Options) -> Options {
        let one = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        };
        Options { errexit: one(self.errexit, other.errexit), pipefail: one(self.pipefail, other.pipefail) }
    }

    const UNKNOWN: Options = Options { errexit: None, pipefail: None };
}

fn own_options(script: &Script) -> Options {
    if script.has_errors {
        return Options::UNKNOWN;
    }
    Options { errexit: Some(script.sets_errexit), pipefail: Some(script.sets_pipefail) }
}

/// The options in force in `script`: its own `set` lines and interpreter
/// line, and those of the scripts it sources. A sourced file the checked
/// files do not hold could set anything (unknown), unless its name says it
/// holds variables (`.env`, `*.conf`, `/etc/default/*`, `/etc/os-release`).
/// A file without an interpreter line that other scripts source runs with
/// their options too.
pub fn options(scripts: &[Script], files: &[SourceFile], script: &Script) -> Options {
    fn name_of<'f>(files: &'f [SourceFile], script: &Script) -> &'f str {
        files.get(script.file).map_or("", |f| f.name.as_str())
    }
    let mut options = own_options(script);
    for source in &script.sources {
        let Some(path) = &source.path else {
            options = options.join(Options::UNKNOWN);
            continue;
        };
        let mut found = false;
        for other in scripts.iter().filter(|s| s.file != script.file && tail_matches(path, name_of(files, s))) {
            found = true;
            options = options.join(own_options(other));
        }
        if !found && !holds_variables(path) {
            options = options.join(Options::UNKNOWN);
        }
    }
    if script.interpreter.is_none() {
        let own = name_of(files, script);
        for other in scripts.iter().filter(|s| s.file != script.file) {
            if other.sources.iter().any(|s| s.path.as_deref().is_some_and(|p| tail_matches(p, own))) {
                options = options.join(own_options(other));
            }
        }
    }
    options
}

/// A sourced path whose name says it holds variables, not options.
fn holds_variables(path: &str) -> bool {
    let name = basename(path);
    let lower = name.to_ascii_lowercase();
    [".env", ".conf", ".cfg", ".config", ".vars", ".properties", ".ini", "-release", "rc"]
        .iter()
        .any(|e| lower.ends_with(e))
        || [".env", "env", "environment", "profile", ".profile", ".bash_profile"].contains(&lower.as_str())
        || lower.starts_with(".env.")
        || path.contains("/etc/default/")
        || path.contains("/etc/sysconfig/")
}

/// What a node's commands inherit from where they sit.
#[derive(Clone, Default)]
struct Ctx {
    tested: bool,
    in_function: bool,
    in_subshell: bool,
    in_error: bool,
    /// The pipeline stage this node is, itself.
    stage: Option<(usize, usize)>,
    /// A pipeline this node's `pipeline` continues (`cat <<EOF | psql`).
    continues: Option<usize>,
    /// The command whose argument this node is part of.
    argument_of: Option<usize>,
    /// The command a substitution here feeds.
    feeds: Option<usize>,
    /// This node is the body of a redirection that writes a file.
    writes_file: bool,
    exported: bool,
    root_statement: usize,
    within: Option<Rc<Link>>,
    /// How many statement lists enclose this node (up to [`MAX_NESTING`]).
    depth: usize,
    /// The standard input a redirection around this node gives it.
    stdin: Option<Rc<Stdin>>,
}

struct Link {
    list: usize,
    position: usize,
    outer: Option<Rc<Link>>,
}

impl Ctx {
    /// For a child that is not the node itself: stage and continuation
    /// belong to the node they were set on.
    fn inner(&self) -> Ctx {
        Ctx { stage: None, continues: None, writes_file: false, exported: false, stdin: None, ..self.clone() }
    }

    fn within(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut link = self.within.as_deref();
        while let Some(l) = link {
            out.push((l.list, l.position));
            link = l.outer.as_deref();
        }
        out
    }
}

/// Nodes whose children are statements run one after another.
const LISTS: [&str; 10] = [
    "program",
    "compound_statement",
    "do_group",
    "subshell",
    "if_statement",
    "elif_clause",
    "else_clause",
    "case_item",
    "command_substitution",
    "process_substitution",
];

/// Redirection operators that write a file.
const WRITES: [&str; 5] = [">", ">>", ">|", "&>", "&>>"];

struct Walker<'s> {
    text: &'s str,
    script: &'s mut Script,
}

impl Walker<'_> {
    fn slice(&self, node: Node<'_>) -> &str {
        self.text.get(node.start_byte()..node.end_byte()).unwrap_or("")
    }

    fn word(&self, node: Node<'_>) -> Word {
        Word {
            literal: literal(node, self.text),
            text: self.slice(node).to_owned(),
            span: Span::new(node.start_byte(), node.end_byte()),
        }
    }

    /// Every node, depth first in the order written, with an explicit
    /// stack: a script nested thousands deep does not exhaust the thread's.
    fn walk(&mut self, root: Node<'_>) {
        let mut stack = vec![(root, Ctx::default())];
        while let Some((node, mut ctx)) = stack.pop() {
            if node.is_error() || node.is_missing() {
                self.script.has_errors = true;
                ctx.in_error = true;
            }
            let children = fields(node);
            let mut next: Vec<(Node<'_>, Ctx)> = Vec::with_capacity(children.len());
            let kind = node.kind();
            match kind {
                "comment" => {}
                "command" => self.command(node, &children, &ctx, &mut next),
                "variable_assignment" => {
                    self.assignment(node, None, &ctx);
                    let inner = ctx.inner();
                    next.extend(children.iter().filter(|(f, _)| *f == Some("value")).map(|(_, c)| (*c, inner.clone())));
                }
                "declaration_command" => {
                    let mut inner = ctx.inner();
                    let keyword = children.first().map(|(_, c)| c.kind()).unwrap_or("");
                    let flagged_x = children.iter().any(|(_, c)| {
                        c.kind() == "word" && self.slice(*c).starts_with('-') && self.slice(*c).contains('x')
                    });
                    inner.exported = keyword == "export" || (matches!(keyword, "declare" | "typeset") && flagged_x);
                    next.extend(children.iter().map(|(_, c)| (*c, inner.clone())));
                }
                "variable_assignments" => {
                    let exported = ctx.exported;
                    next.extend(children.iter().map(|(_, c)| (*c, Ctx { exported, ..ctx.inner() })));
                }
                "pipeline" => self.pipeline(node, &children, &ctx, &mut next),
                "redirected_statement" => self.redirected(node, &children, &ctx, &mut next),
                "list" => {
                    let inner = Ctx { tested: true, ..ctx.inner() };
                    next.extend(children.iter().map(|(_, c)| (*c, inner.clone())));
                }
                "negated_command" => {
                    let inner = Ctx { tested: true, ..ctx.inner() };
                    next.extend(children.iter().map(|(_, c)| (*c, inner.clone())));
                }
                "while_statement" | "c_style_for_statement" => {
                    for (field, child) in &children {
                        let tested = ctx.tested || *field == Some("condition");
                        next.push((*child, Ctx { tested, ..ctx.inner() }));
                    }
                }
                "function_definition" => {
                    let inner = Ctx { in_function: true, ..ctx.inner() };
                    next.extend(children.iter().map(|(_, c)| (*c, inner.clone())));
                }
                "test_operator" => {
                    let operator = self.slice(node).to_owned();
                    self.script.test_operators.push(operator);
                }
                "special_variable_name" => {
                    let status = self.slice(node) == "?";
                    self.script.reads_status |= status;
                }
                "variable_name" => {
                    let pipestatus = self.slice(node) == "PIPESTATUS";
                    self.script.reads_pipestatus |= pipestatus;
                }
                "heredoc_redirect" => {
                    // `cat <<EOF | psql`: the pipeline continues the statement's body.
                    for (_, child) in &children {
                        let continues = if child.kind() == "pipeline" { ctx.continues } else { None };
                        next.push((*child, Ctx { continues, ..ctx.inner() }));
                    }
                }
                _ if LISTS.contains(&kind) => self.list(node, &children, &ctx, &mut next),
                _ => next.extend(children.iter().map(|(_, c)| (*c, ctx.inner()))),
            }
            stack.extend(next.into_iter().rev());
        }
    }

    /// A statement list: each statement gets its position.
    fn list<'t>(
        &mut self,
        node: Node<'t>,
        children: &[(Option<&str>, Node<'t>)],
        ctx: &Ctx,
        next: &mut Vec<(Node<'t>, Ctx)>,
    ) {
        let kind = node.kind();
        let mut base = ctx.inner();
        if matches!(kind, "subshell" | "command_substitution" | "process_substitution") {
            base.in_subshell = true;
        }
        if matches!(kind, "command_substitution" | "process_substitution") {
            base.feeds = ctx.argument_of;
            base.argument_of = None;
        }
        // Deeper than any script is written: not judged.
        let deep = base.depth >= MAX_NESTING;
        base.in_error |= deep;
        let list = node.id();
        let mut position = 0;
        // In an `elif`, what comes before `then` is the condition.
        let mut condition = kind == "elif_clause";
        for (field, child) in children {
            if child.kind() == "then" {
                condition = false;
            }
            let mut inner = base.clone();
            inner.tested = base.tested || condition || *field == Some("condition");
            if child.is_named() && child.kind() != "comment" {
                if kind == "program" {
                    inner.root_statement = position;
                    self.script.statements = position + 1;
                }
                if !deep {
                    inner.within = Some(Rc::new(Link { list, position, outer: base.within.clone() }));
                    inner.depth = base.depth + 1;
                }
                position += 1;
            }
            next.push((*child, inner));
        }
    }

    fn command<'t>(
        &mut self,
        node: Node<'t>,
        children: &[(Option<&str>, Node<'t>)],
        ctx: &Ctx,
        next: &mut Vec<(Node<'t>, Ctx)>,
    ) {
        let index = self.script.commands.len();
        let name = children.iter().find(|(_, c)| c.kind() == "command_name").map(|(_, c)| *c);
        let mut words = Vec::new();
        if let Some(name) = name {
            words.push(self.word(name));
        }
        words.extend(children.iter().filter(|(f, _)| *f == Some("argument")).map(|(_, c)| self.word(*c)));
        let start = name.map_or(node.start_byte(), |n| n.start_byte());
        // `< dump.sql psql app`; a redirection around the statement comes later and wins.
        let own_stdin =
            children.iter().rev().filter(|(f, _)| *f == Some("redirect")).find_map(|(_, r)| self.stdin_of(*r));
        let stdin = ctx.stdin.as_deref().cloned().or(own_stdin);
        if let Some((pipeline, stage)) = ctx.stage
            && let Some(slot) = self.script.pipelines.get_mut(pipeline).and_then(|p| p.stages.get_mut(stage))
        {
            *slot = Some(index);
        }
        self.script.commands.push(Command {
            words,
            span: Span::new(start, node.end_byte().max(start)),
            in_error: ctx.in_error || node.has_error(),
            tested: ctx.tested,
            in_function: ctx.in_function,
            in_subshell: ctx.in_subshell,
            pipeline: ctx.stage,
            feeds: ctx.feeds,
            root_statement: ctx.root_statement,
            within: ctx.within(),
            stdin,
        });
        let mut inner = ctx.inner();
        inner.argument_of = Some(index);
        inner.feeds = None;
        for (_, child) in children {
            if child.kind() == "variable_assignment" {
                // The grammar reads `A=1 B=2` and the next line's command
                // as one command; a line break means the assignments stand alone.
                let alone = self.text.get(child.end_byte()..start).is_some_and(|gap| gap.contains('\n'));
                self.assignment(*child, (!alone).then_some(index), ctx);
                let values = children_of(*child, Some("value"));
                next.extend(values.into_iter().map(|v| (v, inner.clone())));
            } else {
                next.push((*child, inner.clone()));
            }
        }
    }

    fn assignment(&mut self, node: Node<'_>, command: Option<usize>, ctx: &Ctx) {
        let name = children_of(node, Some("name")).into_iter().next();
        let value = children_of(node, Some("value")).into_iter().next();
        let Some(name) = name else { return };
        self.script.assignments.push(Assignment {
            name: self.slice(name).to_owned(),
            name_span: Span::new(name.start_byte(), name.end_byte()),
            value: value.filter(|v| v.kind() != "array").map(|v| self.word(v)),
            exported: ctx.exported,
            command,
            in_error: ctx.in_error || node.has_error(),
        });
    }

    fn pipeline<'t>(
        &mut self,
        node: Node<'t>,
        children: &[(Option<&str>, Node<'t>)],
        ctx: &Ctx,
        next: &mut Vec<(Node<'t>, Ctx)>,
    ) {
        let statements: Vec<Node<'t>> =
            children.iter().map(|(_, c)| *c).filter(|c| c.is_named() && c.kind() != "comment").collect();
        let continued = ctx.continues.filter(|i| *i < self.script.pipelines.len());
        let (index, offset) = if let Some(i) = continued
            && let Some(existing) = self.script.pipelines.get_mut(i)
        {
            let offset = existing.stages.len();
            existing.stages.extend(statements.iter().map(|_| None));
            existing.span = Span::new(existing.span.start, node.end_byte().max(existing.span.start));
            (i, offset)
        } else {
            self.script.pipelines.push(Pipeline {
                stages: vec![None; statements.len()],
                span: Span::new(node.start_byte(), node.end_byte()),
                in_error: ctx.in_error || node.has_error(),
                tested: ctx.tested,
                writes_file: ctx.writes_file,
            });
            (self.script.pipelines.len() - 1, 0)
        };
        let mut stage = offset;
        // `a | psql app < dump.sql`: the redirection is the last stage's.
        let last = children.iter().rposition(|(_, c)| c.is_named() && c.kind() != "comment");
        for (position, (_, child)) in children.iter().enumerate() {
            let mut inner = ctx.inner();
            if child.is_named() && child.kind() != "comment" {
                inner.stage = Some((index, stage));
                stage += 1;
            }
            if Some(position) == last {
                inner.stdin = ctx.stdin.clone();
            }
            next.push((*child, inner));
        }
    }

    /// A `> file` (or `>>`, `&>`...) redirection of standard output.
    fn writes_stdout(&self, redirect: Node<'_>) -> bool {
        if redirect.kind() != "file_redirect" {
            return false;
        }
        let parts = fields(redirect);
        let stdout = parts.iter().filter(|(f, _)| *f == Some("descriptor")).all(|(_, d)| self.slice(*d) == "1");
        stdout && parts.iter().any(|(_, op)| !op.is_named() && WRITES.contains(&op.kind()))
    }

    /// The standard input a redirection gives: `< file` (or `0< file`), a
    /// here-document or a here-string.
    fn stdin_of(&self, redirect: Node<'_>) -> Option<Stdin> {
        match redirect.kind() {
            "file_redirect" => {
                let parts = fields(redirect);
                let stdin = parts.iter().filter(|(f, _)| *f == Some("descriptor")).all(|(_, d)| self.slice(*d) == "0");
                let reads = parts.iter().any(|(_, op)| !op.is_named() && op.kind() == "<");
                let destination = parts.iter().find(|(f, _)| *f == Some("destination")).map(|(_, d)| *d)?;
                (stdin && reads).then(|| Stdin::File(self.word(destination)))
            }
            "heredoc_redirect" => Some(Stdin::HereDocument(self.slice(redirect).to_owned())),
            "herestring_redirect" => {
                let value = children_of(redirect, None).into_iter().find(|c| c.is_named())?;
                Some(Stdin::HereString(self.word(value)))
            }
            _ => None,
        }
    }

    /// A statement with redirections. Its body keeps the stage it is; a
    /// pipeline body learns whether it writes a file; a here-document
    /// followed by `| cmd` continues the body into a pipeline.
    fn redirected<'t>(
        &mut self,
        node: Node<'t>,
        children: &[(Option<&str>, Node<'t>)],
        ctx: &Ctx,
        next: &mut Vec<(Node<'t>, Ctx)>,
    ) {
        let writes = children.iter().filter(|(f, _)| *f == Some("redirect")).any(|(_, r)| self.writes_stdout(*r));
        let heredoc_pipe = children
            .iter()
            .filter(|(_, r)| r.kind() == "heredoc_redirect")
            .any(|(_, r)| fields(*r).iter().any(|(_, c)| c.kind() == "pipeline"));
        let stdin = children.iter().rev().filter(|(f, _)| *f == Some("redirect")).find_map(|(_, r)| self.stdin_of(*r));
        let mut body_ctx = Ctx { stage: ctx.stage, writes_file: writes, ..ctx.inner() };
        body_ctx.stdin = stdin.map(Rc::new).or_else(|| ctx.stdin.clone());
        let mut continues = None;
        if heredoc_pipe && ctx.stage.is_none() {
            self.script.pipelines.push(Pipeline {
                stages: vec![None],
                span: Span::new(node.start_byte(), node.end_byte()),
                in_error: ctx.in_error || node.has_error(),
                tested: ctx.tested,
                writes_file: false,
            });
            let index = self.script.pipelines.len() - 1;
            body_ctx.stage = Some((index, 0));
            body_ctx.writes_file = false;
            continues = Some(index);
        }
        for (field, child) in children {
            if *field == Some("body") {
                next.push((*child, body_ctx.clone()));
            } else if child.kind() == "heredoc_redirect" {
                next.push((*child, Ctx { continues, ..ctx.inner() }));
            } else {
                next.push((*child, ctx.inner()));
            }
        }
    }
}

/// (field name, child) of every child, in order.
fn fields(node: Node<'_>) -> Vec<(Option<&'static str>, Node<'_>)> {
    let mut cursor = node.walk();
    let mut out = Vec::new();
    if cursor.goto_first_child() {
        loop {
            out.push((cursor.field_name(), cursor.node()));
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }
    out
}

/// The children in field `field` (all children for `None`).
fn children_of<'t>(node: Node<'t>, field: Option<&str>) -> Vec<Node<'t>> {
    fields(node).into_iter().filter(|(f, _)| field.is_none() || *f == field).map(|(_, c)| c).collect()
}

/// A word's value when nothing in it expands at run time.
fn literal(node: Node<'_>, text: &str) -> Option<String> {
    let raw = text.get(node.start_byte()..node.end_byte())?;
    match node.kind() {
        "command_name" => {
            let mut named = children_of(node, None).into_iter().filter(|c| c.is_named());
            let only = named.next()?;
            if named.next().is_some() {
                return None;
            }
            literal(only, text)
        }
        "word" | "number" => Some(unescape(raw, |_| true)),
        "raw_string" => raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')).map(str::to_owned),
        "string" => {
            if children_of(node, None).iter().any(|c| c.is_named() && c.kind() != "string_content") {
                return None;
            }
            let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'))?;
            Some(unescape(inner, |c| matches!(c, '$' | '`' | '"' | '\\' | '\n')))
        }
        "concatenation" => {
            let mut out = String::new();
            for part in children_of(node, None) {
                // Parts are words and strings: no deeper nesting.
                if matches!(part.kind(), "concatenation" | "command_name") {
                    return None;
                }
                out.push_str(&literal(part, text)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Removes backslashes before the characters `escapes` says they escape
/// (a backslash-newline disappears).
fn unescape(raw: &str, escapes: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\n') => {}
            Some(next) if escapes(next) => out.push(next),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    fn parse(text: &str) -> Script {
        Script::parse(0, text)
    }

    fn names(s: &Script) -> Vec<&str> {
        s.commands.iter().filter_map(Command::name).collect()
    }

    #[test]
    fn words_quotes_and_expansions() {
        let s = parse("#!/bin/bash\npg_dump -U 'app' \"db name\" \"$DB\" x\\ y $(date) > /b/x.sql\n");
        assert!(!s.has_errors);
        let c = &s.commands[0];
        let literals: Vec<Option<&str>> = c.words.iter().map(|w| w.literal.as_deref()).collect();
        assert_eq!(literals, [Some("pg_dump"), Some("-U"), Some("app"), Some("db name"), None, Some("x y"), None]);
        assert_eq!(names(&s), ["pg_dump", "date"]);
        assert_eq!(s.commands[1].feeds, Some(0));
        assert!(s.commands[1].in_subshell);
    }

    #[test]
    fn pipelines_and_where_status_goes() {
        let s = parse("pg_dump app | gzip > \"$out\"\nif ! pg_dump app > f; then exit 1; fi\ncd /srv || exit\n");
        assert_eq!(s.pipelines.len(), 1);
        assert_eq!(s.pipelines[0].stages, [Some(0), Some(1)]);
        assert!(s.pipelines[0].writes_file && !s.pipelines[0].tested);
        assert_eq!(s.commands[0].pipeline, Some((0, 0)));
        let tested: Vec<(&str, bool)> = s.commands.iter().map(|c| (c.name().unwrap(), c.tested)).collect();
        assert_eq!(
            tested,
            [("pg_dump", false), ("gzip", false), ("pg_dump", true), ("exit", false), ("cd", true), ("exit", true)]
        );
        assert_eq!(s.statements, 3);
        assert_eq!(s.commands[2].root_statement, 1);
    }

    #[test]
    fn here_document_then_pipe() {
        let s = parse("cat <<EOF | psql\nselect 1;\nEOF\n");
        assert_eq!(s.pipelines.len(), 1);
        assert_eq!(s.pipelines[0].stages, [Some(0), Some(1)]);
    }

    #[test]
    fn options_traps_and_sources() {
        let s = parse(
            "#!/usr/bin/env bash\nset -euo pipefail\ntrap 'echo failed' ERR\n. \"$(dirname \"$0\")/common.sh\"\n",
        );
        assert!(s.sets_errexit && s.sets_pipefail && s.traps_err);
        assert_eq!(s.sources[0].path.as_deref(), Some("common.sh"));
        let t = parse("#!/bin/sh -e\nset -o pipefail\n");
        assert!(t.sets_errexit && t.sets_pipefail);
        let u = parse("#!/bin/sh\nset -u\nset -- -e\n");
        assert!(!u.sets_errexit && !u.sets_pipefail);
    }

    #[test]
    fn wrappers_and_remote_commands() {
        let s = parse(
            "sudo -u postgres pg_dump app\ntimeout 1h nice -n 10 mysqldump db\ndocker exec db pg_dump -U app\nssh db \"redis-cli --rdb -\"\ncommand -v pg_dump\n",
        );
        let programs: Vec<Option<&str>> = s.commands.iter().map(|c| c.program().map(|(p, _)| p)).collect();
        assert_eq!(programs, [Some("pg_dump"), Some("mysqldump"), Some("docker"), Some("ssh"), None]);
        assert_eq!(s.commands[2].runs(&["pg_dump"]), Some(("pg_dump", vec!["-U", "app"])));
        assert_eq!(s.commands[3].runs(&["redis-cli"]), Some(("redis-cli", vec!["--rdb", "-"])));
    }

    #[test]
    fn assignments_exported_and_prefixed() {
        let s = parse(
            "export PGPASSWORD=\"s3cret\" A=$(cat x)\nPGPASSWORD=x pg_dump app\nB=1 C=2\necho hi\nlocal -r D=4\n",
        );
        let seen: Vec<(&str, Option<&str>, bool, Option<usize>)> = s
            .assignments
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_ref().and_then(|v| v.literal.as_deref()), a.exported, a.command))
            .collect();
        assert_eq!(
            seen,
            [
                ("PGPASSWORD", Some("s3cret"), true, None),
                ("A", None, true, None),
                ("PGPASSWORD", Some("x"), false, Some(1)),
                ("B", Some("1"), false, None),
                ("C", Some("2"), false, None),
                ("D", Some("4"), false, None),
            ]
        );
    }

    #[test]
    fn statement_lists_order_commands() {
        let s = parse("cd build\nif true; then\n  rm -rf ./*\nfi\n");
        let cd = &s.commands[0];
        let rm = s.commands.iter().find(|c| c.name() == Some("rm")).unwrap();
        let (list, position) = cd.within[0];
        assert!(rm.within.iter().any(|&(l, p)| l == list && p > position));
    }

    #[test]
    fn standard_input_from_redirections() {
        let s = parse(
            "psql app < dump.sql 2> err.log\ngunzip -c x.gz | psql app\na | psql app < f.sql\n< in.sql psql app\n\
             psql app <<EOF\nselect 1;\nEOF\npsql app <<< 'select 1'\n{ psql app; } < g.sql\npsql app < <(zcat x.gz)\n",
        );
        let stdin: Vec<Option<String>> = s
            .commands
            .iter()
            .map(|c| match &c.stdin {
                Some(Stdin::File(w)) => Some(w.literal.clone().unwrap_or_else(|| w.text.clone())),
                Some(Stdin::HereDocument(text)) => Some(format!("heredoc {}", text.contains("select 1"))),
                Some(Stdin::HereString(w)) => Some(format!("herestring {}", w.text)),
                None => None,
            })
            .collect();
        let expected: Vec<Option<String>> = [
            Some("dump.sql"),
            None,
            None,
            None,
            Some("f.sql"),
            Some("in.sql"),
            Some("heredoc true"),
            Some("herestring 'select 1'"),
            None,
            Some("<(zcat x.gz)"),
            None,
        ]
        .into_iter()
        .map(|e| e.map(str::to_owned))
        .collect();
        assert_eq!(stdin, expected);
    }

    #[test]
    fn every_argument_in_its_place() {
        let s = parse("sudo -u postgres psql -d \"$DB\" -f x.sql\nssh db \"psql app -f /tmp/x.sql\" -q\n");
        let (name, args) = s.commands[0].runs_args(&["psql"]).unwrap();
        let seen: Vec<(Option<&str>, &str)> = args.iter().map(|a| (a.literal, a.text)).collect();
        assert_eq!(name, "psql");
        assert_eq!(seen, [(Some("-d"), "-d"), (None, "\"$DB\""), (Some("-f"), "-f"), (Some("x.sql"), "x.sql")]);
        let (_, args) = s.commands[1].runs_args(&["psql"]).unwrap();
        let literals: Vec<Option<&str>> = args.iter().map(|a| a.literal).collect();
        assert_eq!(literals, [Some("app"), Some("-f"), Some("/tmp/x.sql"), Some("-q")]);
        assert!(s.commands[1].runs_args(&["pg_dump"]).is_none());
    }

    #[test]
    fn errors_are_marked_and_deep_nesting_is_fine() {
        let s = parse("echo \"unterminated\ncd x\nrm -rf *\n");
        assert!(s.has_errors);
        assert!(!s.commands.iter().any(|c| c.name() == Some("rm")));
        let deep = format!("{}true{}", "( ".repeat(5000), " )".repeat(5000));
        let _ = parse(&deep);
    }
}
