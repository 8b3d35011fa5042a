//! nginx configuration as a tree of directives with spans, tokenized the
//! way nginx does (quotes, escapes, `${var}`, comments), and `include`s
//! expanded from the other checked files so that inheritance can be
//! followed across them.

use berth_diagnostics::{Diagnostic, Span};

use super::PARSE_ERROR;
use super::paths::tail_matches;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// Unquoted, escapes resolved.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The file the directive is written in (includes keep theirs).
    pub file: usize,
    pub name: String,
    pub span: Span,
    pub args: Vec<Arg>,
    /// `Some` for block directives (`server { ... }`).
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.text.as_str())
    }

    /// `location /api` or `server`, for messages.
    pub fn title(&self) -> String {
        std::iter::once(self.name.as_str())
            .chain(self.args.iter().map(|a| a.text.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// Directives named `name` directly inside this block.
    pub fn own<'d>(&'d self, name: &'d str) -> impl Iterator<Item = &'d Directive> + 'd {
        self.children().iter().filter(move |d| d.name == name)
    }
}

/// One configuration as nginx loads it: a root file with its includes expanded.
#[derive(Debug, Clone)]
pub struct NginxConfig {
    pub file: usize,
    /// The top level, wrapped as a block named `main` (or `http` for a
    /// `conf.d` file that is not included from anywhere we can see: nginx
    /// would include it inside `http`).
    pub root: Directive,
}

impl NginxConfig {
    /// Every block directive named `name`, at any depth.
    pub fn blocks<'d>(&'d self, name: &'d str) -> Vec<&'d Directive> {
        let mut out = Vec::new();
        walk(&self.root, &mut |d| {
            if d.name == name && d.block.is_some() {
                out.push(d);
            }
        });
        out
    }

    /// Every directive named `name`, at any depth.
    pub fn all<'d>(&'d self, name: &'d str) -> Vec<&'d Directive> {
        let mut out = Vec::new();
        walk(&self.root, &mut |d| {
            if d.name == name {
                out.push(d);
            }
        });
        out
    }
}

impl NginxConfig {
    /// Calls `f` with every directive and its enclosing blocks, outermost
    /// first (the root included).
    pub fn visit<'d>(&'d self, f: &mut impl FnMut(&'d Directive, &[&'d Directive])) {
        let mut stack = vec![&self.root];
        visit(&self.root, &mut stack, f);
    }

    /// The upstream block named `name`.
    pub fn upstream(&self, name: &str) -> Option<&Directive> {
        self.blocks("upstream").into_iter().find(|u| u.arg(0) == Some(name))
    }

    /// The addresses this configuration sends requests to, with the
    /// directive that names each: every `upstream`'s `server`s, and each
    /// `proxy_pass` that names no upstream of its own.
    pub fn proxied(&self) -> Vec<(&Directive, &Arg)> {
        let mut out = Vec::new();
        for upstream in self.blocks("upstream") {
            out.extend(upstream.own("server").filter_map(|server| Some((server, server.args.first()?))));
        }
        for pass in self.all("proxy_pass") {
            let Some(arg) = pass.args.first() else { continue };
            if host_port(&arg.text).is_some_and(|(host, _)| self.upstream(host).is_none()) {
                out.push((pass, arg));
            }
        }
        out
    }
}

fn visit<'d>(d: &'d Directive, stack: &mut Vec<&'d Directive>, f: &mut impl FnMut(&'d Directive, &[&'d Directive])) {
    for child in d.children() {
        f(child, stack);
        if child.block.is_some() {
            stack.push(child);
            visit(child, stack, f);
            stack.pop();
        }
    }
}

/// The directives named `name` in effect in `block`: nginx inherits array
/// directives (`add_header`, `proxy_set_header`) and single ones
/// (`proxy_http_version`) from the nearest enclosing block that sets any.
pub fn effective<'d>(name: &'d str, block: &'d Directive, ancestors: &[&'d Directive]) -> Vec<&'d Directive> {
    std::iter::once(block)
        .chain(ancestors.iter().rev().copied())
        .map(|b| b.own(name).collect::<Vec<_>>())
        .find(|own| !own.is_empty())
        .unwrap_or_default()
}

/// The context nginx reads a directive in, which decides whether it is
/// "allowed here". `if` and `limit_except` bodies are contexts of their
/// own; `map`, `geo`, `types`, `mail` and third-party blocks are not
/// modelled, and what they hold is never judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Main,
    Events,
    Http,
    Server,
    Location,
    /// `if` directly in a `server`.
    ServerIf,
    /// `if` in a `location`.
    LocationIf,
    LimitExcept,
    Upstream,
    Stream,
    StreamServer,
    StreamUpstream,
}

impl Scope {
    /// As nginx.org's module documentation names the context.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Main => "main",
            Scope::Events => "events",
            Scope::Http => "http",
            Scope::Server => "server",
            Scope::Location => "location",
            Scope::ServerIf => "if in server",
            Scope::LocationIf => "if in location",
            Scope::LimitExcept => "limit_except",
            Scope::Upstream => "upstream",
            Scope::Stream => "stream",
            Scope::StreamServer => "server in stream",
            Scope::StreamUpstream => "upstream in stream",
        }
    }
}

/// Directives that exist only in the main context: a file that has one at
/// its top is no fragment included in `http`.
pub const MAIN_ONLY: [&str; 9] = [
    "worker_processes",
    "worker_rlimit_nofile",
    "user",
    "pid",
    "daemon",
    "master_process",
    "load_module",
    "events",
    "env",
];

/// Children that only an HTTP `server` can have (no stream module has
/// directives of these names): a `server` block holding one is HTTP's,
/// wherever it is included.
const HTTP_SERVER_ONLY: [&str; 14] = [
    "location",
    "root",
    "index",
    "try_files",
    "add_header",
    "proxy_set_header",
    "rewrite",
    "client_max_body_size",
    "error_page",
    "if",
    "gzip",
    "auth_basic",
    "charset",
    "expires",
];

/// Whether a `server` block is certainly an HTTP server, by what it holds.
pub fn http_server(server: &Directive) -> bool {
    server.children().iter().any(|d| HTTP_SERVER_ONLY.contains(&d.name.as_str()))
}

/// The scope a block directive opens, written in `parent` (`None`: a place
/// whose context is not known). `None` for blocks that open no scope berth
/// models, and for blocks nginx does not accept in `parent` (their
/// contents are never judged).
pub fn block_scope(block: &Directive, parent: Option<Scope>) -> Option<Scope> {
    block.block.as_ref()?;
    match (block.name.as_str(), parent) {
        ("http", Some(Scope::Main)) => Some(Scope::Http),
        ("events", Some(Scope::Main)) => Some(Scope::Events),
        ("stream", Some(Scope::Main)) => Some(Scope::Stream),
        ("server", Some(Scope::Http)) => Some(Scope::Server),
        ("server", Some(Scope::Stream)) => Some(Scope::StreamServer),
        ("server", None) => http_server(block).then_some(Scope::Server),
        ("location", Some(Scope::Server | Scope::Location) | None) => Some(Scope::Location),
        ("if", Some(Scope::Server)) => Some(Scope::ServerIf),
        ("if", Some(Scope::Location)) => Some(Scope::LocationIf),
        ("limit_except", Some(Scope::Location) | None) => Some(Scope::LimitExcept),
        ("upstream", Some(Scope::Http)) => Some(Scope::Upstream),
        ("upstream", Some(Scope::Stream)) => Some(Scope::StreamUpstream),
        _ => None,
    }
}

impl NginxConfig {
    /// The context of the root file's top level when the file itself says
    /// it: `main` for a whole configuration (it has `http` or `events`),
    /// `http` for a fragment of HTTP servers (a top-level `server` that
    /// only HTTP has, nothing only `main` has). Else unknown: a fragment
    /// may be included anywhere.
    pub fn top_scope(&self) -> Option<Scope> {
        let top = self.root.children();
        if top.iter().any(|d| d.block.is_some() && (d.name == "http" || d.name == "events")) {
            return Some(Scope::Main);
        }
        let main_only = top.iter().any(|d| MAIN_ONLY.contains(&d.name.as_str()));
        let http_servers = top.iter().any(|d| d.name == "server" && d.block.is_some() && http_server(d));
        (http_servers && !main_only).then_some(Scope::Http)
    }

    /// Calls `f` with every directive whose context is known: the
    /// directive, its context, and its enclosing blocks (outermost first,
    /// the root included). The top level is in `top`; blocks are entered
    /// only when [`block_scope`] knows what they open.
    pub fn visit_scoped<'d>(&'d self, top: Option<Scope>, f: &mut impl FnMut(&'d Directive, Scope, &[&'d Directive])) {
        let mut stack = vec![&self.root];
        visit_scoped(&self.root, top, &mut stack, f);
    }
}

fn visit_scoped<'d>(
    d: &'d Directive,
    scope: Option<Scope>,
    stack: &mut Vec<&'d Directive>,
    f: &mut impl FnMut(&'d Directive, Scope, &[&'d Directive]),
) {
    for child in d.children() {
        if let Some(scope) = scope {
            f(child, scope, stack);
        }
        if let Some(inner) = block_scope(child, scope) {
            stack.push(child);
            visit_scoped(child, Some(inner), stack, f);
            stack.pop();
        }
    }
}

fn walk<'d>(d: &'d Directive, f: &mut impl FnMut(&'d Directive)) {
    for child in d.children() {
        f(child);
        walk(child, f);
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(Arg),
    Semicolon(usize),
    Open(usize),
    Close(usize),
}

fn tokens(text: &str) -> Result<Vec<Token>, Diagnostic> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                out.push(Token::Semicolon(i));
                i += 1;
            }
            b'{' => {
                out.push(Token::Open(i));
                // OpenResty's `content_by_lua_block { ... }` holds Lua, not
                // directives: its body is skipped to the matching brace.
                let lua = out
                    .iter()
                    .rev()
                    .nth(1)
                    .is_some_and(|t| matches!(t, Token::Word(arg) if arg.text.ends_with("_by_lua_block")));
                i = if lua { skip_lua(bytes, i + 1) } else { i + 1 };
            }
            b'}' => {
                out.push(Token::Close(i));
                i += 1;
            }
            b'"' | b'\'' => {
                let start = i;
                let mut value = Vec::new();
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(Diagnostic::error(PARSE_ERROR, "unterminated quoted string")
                                .with_span(Span::new(start, start + 1))
                                .with_help(format!("close it with {}", c as char)));
                        }
                        Some(b'\\') if i + 1 < bytes.len() => {
                            unescape(bytes[i + 1], &mut value);
                            i += 2;
                        }
                        Some(&b) if b == c => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Word(Arg {
                    text: String::from_utf8_lossy(&value).into_owned(),
                    span: Span::new(start, i),
                }));
            }
            _ => {
                let start = i;
                let mut value = Vec::new();
                while i < bytes.len() {
                    let b = bytes[i];
                    if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';') {
                        break;
                    }
                    // `${var}` keeps its braces; any other `{` or `}` ends the word.
                    if b == b'{' && !(i > start && bytes[i - 1] == b'$') {
                        break;
                    }
                    if b == b'}' && !value.contains(&b'{') {
                        break;
                    }
                    if b == b'\\' && i + 1 < bytes.len() {
                        unescape(bytes[i + 1], &mut value);
                        i += 2;
                        continue;
                    }
                    value.push(b);
                    i += 1;
                }
                out.push(Token::Word(Arg {
                    text: String::from_utf8_lossy(&value).into_owned(),
                    span: Span::new(start, i),
                }));
            }
        }
    }
    Ok(out)
}

/// Where the Lua block opened before `from` closes: the index of its
/// `}`. Braces in Lua strings and `--` comments do not count.
fn skip_lua(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' if depth == 0 => return i,
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// What nginx makes of `\` and the byte after it (`ngx_conf_read_token`):
/// quotes and the backslash lose it, `\t`, `\r`, `\n` are control
/// characters, and any other keeps it: `location ~ \.php$` is the regex
/// `\.php$`, not `.php$`.
fn unescape(next: u8, value: &mut Vec<u8>) {
    match next {
        b'"' | b'\'' | b'\\' => value.push(next),
        b't' => value.push(b'\t'),
        b'r' => value.push(b'\r'),
        b'n' => value.push(b'\n'),
        _ => value.extend([b'\\', next]),
    }
}

/// Parses one file's directives.
pub fn parse(file: usize, text: &str) -> Result<Vec<Directive>, Diagnostic> {
    let tokens = tokens(text)?;
    let mut stack: Vec<(Vec<Directive>, Option<Directive>)> = vec![(Vec::new(), None)];
    let mut words: Vec<Arg> = Vec::new();
    for token in tokens {
        match token {
            Token::Word(arg) => words.push(arg),
            Token::Semicolon(at) => {
                let mut drained = words.drain(..);
                let Some(name) = drained.next() else {
                    return Err(Diagnostic::error(PARSE_ERROR, "unexpected `;`")
                        .with_span(Span::new(at, at + 1))
                        .with_help("remove the stray `;`"));
                };
                let directive =
                    Directive { file, name: name.text, span: name.span, args: drained.collect(), block: None };
                if let Some(top) = stack.last_mut() {
                    top.0.push(directive);
                }
            }
            Token::Open(at) => {
                let mut drained = words.drain(..);
                let Some(name) = drained.next() else {
                    return Err(Diagnostic::error(PARSE_ERROR, "a block without a directive name")
                        .with_span(Span::new(at, at + 1))
                        .with_help("write the directive before `{`, as in `server {`"));
                };
                let open = Directive { file, name: name.text, span: name.span, args: drained.collect(), block: None };
                stack.push((Vec::new(), Some(open)));
            }
            Token::Close(at) => {
                if let Some(last) = words.first() {
                    return Err(Diagnostic::error(
                        PARSE_ERROR,
                        format!("directive `{}` is not terminated by `;`", last.text),
                    )
                    .with_span(last.span)
                    .with_help("end the directive with `;`"));
                }
                if stack.len() == 1 {
                    return Err(Diagnostic::error(PARSE_ERROR, "unexpected `}`")
                        .with_span(Span::new(at, at + 1))
                        .with_help("this closes a block that was never opened"));
                }
                if let Some((children, Some(mut open))) = stack.pop() {
                    open.block = Some(children);
                    if let Some(top) = stack.last_mut() {
                        top.0.push(open);
                    }
                }
            }
        }
    }
    if let Some(last) = words.first() {
        return Err(Diagnostic::error(PARSE_ERROR, format!("directive `{}` is not terminated by `;`", last.text))
            .with_span(last.span)
            .with_help("end the directive with `;`"));
    }
    if stack.len() > 1 {
        let open = stack.last().and_then(|(_, o)| o.as_ref()).map_or(Span::new(0, 0), |o| o.span);
        return Err(Diagnostic::error(PARSE_ERROR, "unexpected end of file: a block is not closed")
            .with_span(open)
            .with_help("add the missing `}`"));
    }
    Ok(stack.pop().map(|(children, _)| children).unwrap_or_default())
}

/// A parsed file that `include` may pull in.
#[derive(Debug, Clone)]
pub struct NginxFile {
    pub file: usize,
    pub path: String,
    pub directives: Vec<Directive>,
    /// A file detected as nginx configuration (others are snippets parsed
    /// only because an include might name them).
    pub root_candidate: bool,
}

/// Expands includes from `files` into configurations, one per root file
/// (a detected nginx file no other file includes).
pub fn configs(files: &[NginxFile]) -> Vec<NginxConfig> {
    let mut included = vec![false; files.len()];
    for f in files {
        mark_includes(&f.directives, files, &mut included);
    }
    files
        .iter()
        .enumerate()
        .filter(|(i, f)| f.root_candidate && !included[*i])
        .map(|(_, f)| {
            let mut depth = 0;
            let children = expand(&f.directives, files, &mut depth);
            let has_http = children.iter().any(|d| d.name == "http");
            let name = if has_http || !children.iter().any(|d| d.name == "server" || d.name == "upstream") {
                "main"
            } else {
                "http"
            };
            NginxConfig {
                file: f.file,
                root: Directive {
                    file: f.file,
                    name: name.to_owned(),
                    span: Span::new(0, 0),
                    args: Vec::new(),
                    block: Some(children),
                },
            }
        })
        .collect()
}

fn mark_includes(directives: &[Directive], files: &[NginxFile], included: &mut [bool]) {
    for d in directives {
        if d.name == "include"
            && let Some(pattern) = d.arg(0)
        {
            for (i, f) in files.iter().enumerate() {
                if f.file != d.file && tail_matches(pattern, &f.path) {
                    included[i] = true;
                }
            }
        }
        mark_includes(d.children(), files, included);
    }
}

fn expand(directives: &[Directive], files: &[NginxFile], depth: &mut usize) -> Vec<Directive> {
    let mut out = Vec::new();
    for d in directives {
        if d.name == "include"
            && let Some(pattern) = d.arg(0)
            && *depth < 16
        {
            // Keep the include itself: rules can point at it.
            out.push(d.clone());
            let mut matching: Vec<&NginxFile> =
                files.iter().filter(|f| f.file != d.file && tail_matches(pattern, &f.path)).collect();
            // nginx expands globs in sorted order.
            matching.sort_by(|a, b| a.path.cmp(&b.path));
            for f in matching {
                *depth += 1;
                out.extend(expand(&f.directives, files, depth));
                *depth -= 1;
            }
            continue;
        }
        let mut copy = Directive { block: None, ..d.clone() };
        if let Some(children) = &d.block {
            copy.block = Some(expand(children, files, depth));
        }
        out.push(copy);
    }
    out
}

/// `host:port` of an address as nginx writes it (`http://api:8080/x`,
/// `api:8080`, `unix:/run/app.sock`), with the scheme's default port.
pub fn host_port(address: &str) -> Option<(&str, Option<u16>)> {
    let (rest, default) = if let Some(r) = address.strip_prefix("http://") {
        (r, Some(80))
    } else if let Some(r) = address.strip_prefix("https://") {
        (r, Some(443))
    } else if let Some(r) = address.strip_prefix("grpc://") {
        (r, None)
    } else {
        (address, Some(80))
    };
    if rest.starts_with("unix:") || rest.contains('$') {
        return None;
    }
    let authority = rest.split('/').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        return Some((host, after.strip_prefix(':').and_then(|p| p.parse().ok()).or(default)));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok())),
        None => Some((authority, default)),
    }
}

/// A time directive's first argument in seconds: `30`, `30s`, `2m`, `1h`,
/// `500ms` (rounded down).
pub fn seconds(d: &Directive) -> Option<u64> {
    let v = d.arg(0)?;
    let (number, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => Some(n * 60),
        "h" => Some(n * 3600),
        "ms" => Some(n / 1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_quotes_and_comments() {
        let text = "http {\n  # comment; {\n  server {\n    listen 443 ssl;\n    add_header X-Frame-Options \"DENY\" always;\n    location ~ \"^/a{2}\" { return 200 'ok;'; }\n  }\n}\n";
        let d = parse(3, text).unwrap();
        assert_eq!(d.len(), 1);
        let server = &d[0].children()[0];
        assert_eq!(server.name, "server");
        assert_eq!(server.children()[1].arg(1), Some("DENY"));
        let location = &server.children()[2];
        assert_eq!(location.arg(1), Some("^/a{2}"));
        assert_eq!(location.children()[0].arg(1), Some("ok;"));
        assert_eq!(&text[server.children()[0].span.start..server.children()[0].span.end], "listen");
    }

    /// Mailu's `location ~* \.(jpg|png)$` kept its backslash only in nginx.
    #[test]
    fn backslashes_are_read_as_nginx_reads_them() {
        let d = parse(0, "location ~* \\.(jpg|png)$ { return 200 \"a\\\"b\\tc\"; }").unwrap();
        assert_eq!(d[0].arg(1), Some("\\.(jpg|png)$"));
        assert_eq!(d[0].children()[0].arg(1), Some("a\"b\tc"));
    }

    #[test]
    fn a_lua_block_is_not_read_as_directives() {
        let text = "location /t {\n  content_by_lua_block {\n    for k, v in pairs(ngx.req.get_headers()) do ngx.say(k, \"}\") end -- }\n    local t = { a = 1 }\n  }\n  add_header X-A b;\n}\n";
        let d = parse(0, text).unwrap();
        let names: Vec<&str> = d[0].children().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["content_by_lua_block", "add_header"]);
    }

    #[test]
    fn variables_keep_their_braces() {
        let d = parse(0, "set $a ${host}x;").unwrap();
        assert_eq!(d[0].arg(1), Some("${host}x"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (text, message) in [
            ("server {\n listen 80;\n", "not closed"),
            ("listen 80", "not terminated"),
            ("}", "unexpected `}`"),
            ("return 200 \"x;\n", "unterminated"),
            ("server { listen 80 }", "not terminated"),
        ] {
            let e = parse(0, text).unwrap_err();
            assert!(e.message.contains(message), "{text:?}: {}", e.message);
            assert!(e.span.is_some());
        }
    }

    #[test]
    fn includes_are_expanded_in_place() {
        let files = vec![
            NginxFile {
                file: 0,
                path: "nginx/nginx.conf".into(),
                directives: parse(0, "http { include conf.d/*.conf; }").unwrap(),
                root_candidate: true,
            },
            NginxFile {
                file: 1,
                path: "nginx/conf.d/site.conf".into(),
                directives: parse(1, "server { listen 80; }").unwrap(),
                root_candidate: true,
            },
        ];
        let configs = configs(&files);
        assert_eq!(configs.len(), 1);
        let servers = configs[0].blocks("server");
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].file, 1);
    }

    #[test]
    fn scopes_are_known_only_where_certain() {
        let config = |text: &str| NginxConfig {
            file: 0,
            root: Directive {
                file: 0,
                name: "main".into(),
                span: Span::new(0, 0),
                args: Vec::new(),
                block: Some(parse(0, text).unwrap()),
            },
        };
        assert_eq!(config("events {}\nhttp {}\n").top_scope(), Some(Scope::Main));
        assert_eq!(config("server {\n listen 80;\n location / { root /srv; }\n}\n").top_scope(), Some(Scope::Http));
        // A stream server, or a file with main-only directives: unknown.
        assert_eq!(config("server {\n listen 5432;\n proxy_pass db:5432;\n}\n").top_scope(), None);
        assert_eq!(config("worker_processes 1;\nserver { location / { } }\n").top_scope(), None);
        let whole = config(
            "events {}\nhttp {\n server {\n  if ($x) { return 404; }\n  location / { if ($y) { } limit_except GET { } }\n }\n map $a $b { default 1; }\n}\n",
        );
        let mut seen = Vec::new();
        whole.visit_scoped(whole.top_scope(), &mut |d, scope, _| seen.push((d.name.as_str(), scope)));
        assert_eq!(
            seen,
            [
                ("events", Scope::Main),
                ("http", Scope::Main),
                ("server", Scope::Http),
                ("if", Scope::Server),
                ("return", Scope::ServerIf),
                ("location", Scope::Server),
                ("if", Scope::Location),
                ("limit_except", Scope::Location),
                ("map", Scope::Http),
            ]
        );
        // Unknown at the top: only blocks that say what they are are entered.
        let fragment = config("proxy_pass http://a;\nlocation / {\n listen 80;\n}\nupstream u { server a:1; }\n");
        let mut seen = Vec::new();
        fragment.visit_scoped(fragment.top_scope(), &mut |d, scope, _| seen.push((d.name.as_str(), scope)));
        assert_eq!(seen, [("listen", Scope::Location)]);
    }

    #[test]
    fn addresses() {
        assert_eq!(host_port("http://api:8080/v1"), Some(("api", Some(8080))));
        assert_eq!(host_port("http://backend"), Some(("backend", Some(80))));
        assert_eq!(host_port("api:9000"), Some(("api", Some(9000))));
        assert_eq!(host_port("http://[::1]:81"), Some(("::1", Some(81))));
        assert_eq!(host_port("http://$upstream"), None);
        assert_eq!(host_port("unix:/run/app.sock"), None);
    }
}
