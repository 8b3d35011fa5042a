use berth_diagnostics::SourceFile;

use crate::graph::nginx::Directive;
use crate::graph::paths::tail_matches;
use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A `server` block without `listen` listens on port 80 only (8000
    /// when nginx does not run as root). Guides that put `limit_req`,
    /// `allow`/`deny`, `auth_basic` or `auth_request` into such a block,
    /// while another server of the same configuration serves the same
    /// `server_name` with `listen 443 ssl`, protect only plain HTTP, which
    /// usually just redirects; the HTTPS server, which gets all the real
    /// traffic, is not limited, restricted or authenticated. Fires on the
    /// protecting directive, naming the HTTPS server that lacks it. Silent
    /// when that server has a directive of the same kind anywhere inside
    /// it or inherits one from `http`, when the servers share no name
    /// (other than `_`), and when an `include` berth cannot see (not in
    /// the tree) could add a `listen` or the protection.
    LimitInUnlistenedServer {
        code: "N008",
        name: "limit-in-unlistened-server",
        severity: Warning,
        fix: "put the directive into the HTTPS server (or into `http` for both), and give every server an explicit `listen`",
    }
}

/// (directive, the kind of protection it is, what the HTTPS traffic lacks).
const PROTECTING: [(&str, &str, &str); 6] = [
    ("limit_req", "limit_req", "is not rate-limited"),
    ("deny", "allow/deny", "is not restricted by address"),
    ("allow", "allow/deny", "is not restricted by address"),
    ("auth_basic", "auth_basic", "needs no password"),
    ("auth_basic_user_file", "auth_basic", "needs no password"),
    ("auth_request", "auth_request", "is not authorized"),
];

/// Files nginx packages ship that hold no `listen` and no protection:
/// including one that is not in the tree hides nothing.
const SHIPPED: [&str; 11] = [
    "mime.types",
    "fastcgi_params",
    "fastcgi.conf",
    "proxy_params",
    "uwsgi_params",
    "scgi_params",
    "fastcgi-php.conf",
    "koi-utf",
    "koi-win",
    "win-utf",
    "options-ssl-nginx.conf",
];

fn kind(name: &str) -> Option<(&'static str, &'static str)> {
    PROTECTING.iter().find(|(n, _, _)| *n == name).map(|(_, kind, lacks)| (*kind, *lacks))
}

/// An `include` that names no file of the tree and no file nginx ships:
/// what it adds is unknown.
fn opaque(include: &Directive, files: &[SourceFile]) -> bool {
    let Some(pattern) = include.arg(0) else { return false };
    let name = pattern.rsplit('/').next().unwrap_or(pattern);
    !SHIPPED.contains(&name) && !files.iter().any(|f| tail_matches(pattern, &f.name))
}

/// Every directive inside `block`, at any depth.
fn inside<'d>(block: &'d Directive, out: &mut Vec<&'d Directive>) {
    for child in block.children() {
        out.push(child);
        inside(child, out);
    }
}

struct HttpServer<'d> {
    block: &'d Directive,
    ancestors: Vec<&'d Directive>,
    names: Vec<&'d str>,
    https: bool,
    listens: bool,
}

impl Rule for LimitInUnlistenedServer {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            let mut servers: Vec<HttpServer<'_>> = Vec::new();
            config.visit(&mut |d, ancestors| {
                if d.name != "server" || d.block.is_none() || ancestors.last().is_none_or(|p| p.name != "http") {
                    return;
                }
                servers.push(HttpServer {
                    block: d,
                    ancestors: ancestors.to_vec(),
                    names: d
                        .own("server_name")
                        .flat_map(|n| n.args.iter())
                        .map(|a| a.text.as_str())
                        .filter(|n| !n.is_empty() && *n != "_")
                        .collect(),
                    https: d.own("listen").any(|l| l.args.iter().any(|a| a.text == "ssl")),
                    listens: d.own("listen").next().is_some(),
                });
            });
            for plain in servers.iter().filter(|s| !s.listens && !s.names.is_empty()) {
                if plain.block.own("include").any(|i| opaque(i, cx.files)) {
                    continue;
                }
                let mut all = Vec::new();
                inside(plain.block, &mut all);
                let mut kinds_done: Vec<&str> = Vec::new();
                for d in all {
                    let Some((kind, lacks)) = kind(&d.name) else { continue };
                    if kinds_done.contains(&kind) || d.arg(0) == Some("off") {
                        continue;
                    }
                    // `allow` alone restricts nothing: the `deny` does.
                    if kind == "allow/deny" && !plain_denies(plain.block) {
                        continue;
                    }
                    let lacking = servers.iter().find(|s| {
                        s.https
                            && !std::ptr::eq(s.block, plain.block)
                            && s.names.iter().any(|n| plain.names.iter().any(|p| p.eq_ignore_ascii_case(n)))
                            && !protected(s, kind, cx.files)
                    });
                    let Some(https) = lacking else { continue };
                    kinds_done.push(kind);
                    let name = https
                        .names
                        .iter()
                        .find(|n| plain.names.iter().any(|p| p.eq_ignore_ascii_case(n)))
                        .copied()
                        .unwrap_or_default();
                    sink.report(
                        d.file,
                        d.span,
                        format!(
                            "`{}` is in a server with no `listen`, which serves plain HTTP on port 80 only; the server at {} serves `{name}` with `listen ... ssl` and has no `{kind}`: HTTPS traffic {lacks}",
                            d.name,
                            place(cx.files, https.block.file, https.block.span),
                        ),
                    );
                }
            }
        }
    }
}

fn plain_denies(server: &Directive) -> bool {
    let mut all = Vec::new();
    inside(server, &mut all);
    all.iter().any(|d| d.name == "deny")
}

/// The HTTPS server has protection of this kind itself, inherits it from
/// `http`, or may get it from an include berth cannot see.
fn protected(server: &HttpServer<'_>, kind: &str, files: &[SourceFile]) -> bool {
    let mut all = Vec::new();
    inside(server.block, &mut all);
    let of_kind = |d: &&Directive| self::kind(&d.name).is_some_and(|(k, _)| k == kind);
    // Only `http` passes directives down to its servers (an include at
    // the main level, `modules-enabled/*.conf`, cannot).
    let http = || server.ancestors.iter().filter(|a| a.name == "http");
    all.iter().any(of_kind)
        || all.iter().any(|d| d.name == "include" && opaque(d, files))
        || http().any(|a| a.children().iter().any(|d| of_kind(&d)))
        || http().any(|a| a.own("include").any(|i| opaque(i, files)))
}

#[cfg(test)]
mod tests {
    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("N008", files)
    }

    fn site(plain: &str, https: &str) -> String {
        format!(
            "limit_req_zone $binary_remote_addr zone=login:10m rate=5r/m;\nserver {{\n    server_name shop.example.com;\n{plain}\n    location / {{\n        return 301 https://$host$request_uri;\n    }}\n}}\nserver {{\n    listen 443 ssl;\n    server_name shop.example.com;\n    ssl_certificate /etc/ssl/shop.crt;\n    ssl_certificate_key /etc/ssl/shop.key;\n{https}\n    location / {{\n        proxy_pass http://127.0.0.1:8000;\n    }}\n}}\n"
        )
    }

    #[test]
    fn protection_only_on_port_80() {
        let text = site(
            "    limit_req zone=login burst=5;\n    auth_basic \"staff\";\n    auth_basic_user_file /etc/nginx/htpasswd;",
            "",
        );
        let found = findings(&[("nginx/conf.d/shop.conf", text.as_str())]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("`limit_req` is in a server with no `listen`"), "{found:?}");
        assert!(found[0].contains("nginx/conf.d/shop.conf:11"), "{found:?}");
        assert!(found[1].ends_with("HTTPS traffic needs no password"), "{found:?}");
    }

    #[test]
    fn silent_when_https_has_it_or_may_have_it() {
        let both = site(
            "    limit_req zone=login burst=5;",
            "    location /login {\n        limit_req zone=login;\n        proxy_pass http://127.0.0.1:8000;\n    }",
        );
        assert!(findings(&[("nginx/conf.d/shop.conf", both.as_str())]).is_empty());
        let hidden = site("    limit_req zone=login burst=5;", "    include /etc/nginx/snippets/limits.conf;");
        assert!(findings(&[("nginx/conf.d/shop.conf", hidden.as_str())]).is_empty());
        let listened = site("    listen 80;\n    limit_req zone=login burst=5;", "");
        assert!(findings(&[("nginx/conf.d/shop.conf", listened.as_str())]).is_empty());
        let allow_only = site("    allow 10.0.0.0/8;", "");
        assert!(findings(&[("nginx/conf.d/shop.conf", allow_only.as_str())]).is_empty());
    }
}
