use berth_diagnostics::Span;

use crate::graph::NginxConfig;
use crate::graph::nginx::Scope::{
    self, Events, Http, LimitExcept, Location, LocationIf, Main, Server, ServerIf, Stream, StreamServer,
    StreamUpstream, Upstream,
};
use crate::rule::{Context, Rule, Sink};

use super::server_fragment_as_nginx_conf::{Mount, nginx_mounts};

crate::declare_rule! {
    /// nginx accepts each directive only in certain blocks and refuses to
    /// start otherwise (`"proxy_pass" directive is not allowed here`):
    /// `proxy_pass` belongs in a `location`, not its `server`; `listen` and
    /// `server_name` in a `server`; `upstream`, `map` and `proxy_cache_path`
    /// directly in `http`; `location` inside a `server`; `proxy_set_header`
    /// is not accepted inside `if`. The check uses each directive's
    /// contexts as nginx.org's module documentation lists them, for about
    /// 130 common directives; others are never reported. It judges only
    /// blocks whose context is certain: the top of a whole configuration
    /// (one with `http` or `events`) is `main`; the top of a fragment is
    /// `http` when it holds HTTP servers (a `server` with a `location`,
    /// `root`, `add_header`...) and nothing only `main` has, or when compose
    /// mounts it into `/etc/nginx/conf.d/` of nginx's image; included files
    /// take the context of the `include`. Elsewhere, and inside `map`,
    /// `geo`, `types`, `mail` and third-party blocks, nothing is judged.
    /// `limit_req_zone` is left to N002.
    DirectiveInWrongContext {
        code: "N007",
        name: "directive-in-wrong-context",
        severity: Error,
        fix: "move the directive into a block the message names (each directive's contexts are listed under \"Context:\" in nginx.org's module documentation), and check the result with `nginx -t`",
    }
}

const H_S_L: &[Scope] = &[Http, Server, Location];
const H_S_L_LIF: &[Scope] = &[Http, Server, Location, LocationIf];
const H_S: &[Scope] = &[Http, Server];
const SSL: &[Scope] = &[Http, Server, Stream, StreamServer];
const REWRITE: &[Scope] = &[Server, Location, ServerIf, LocationIf];
const PASS: &[Scope] = &[Location, LocationIf];
const ACCESS: &[Scope] = &[Http, Server, Location, LimitExcept, Stream, StreamServer];
const H_S_L_STREAM: &[Scope] = &[Http, Server, Location, Stream, StreamServer];
const HTTP_STREAM: &[Scope] = &[Http, Stream];

/// (directive, the contexts nginx accepts it in), from the "Context:" line
/// of each directive in nginx.org's module reference (core, events, http
/// core, rewrite, proxy, fastcgi, uwsgi, grpc, upstream, access, auth
/// basic, auth request, limit req/conn, map, geo, split_clients, headers,
/// gzip, log, ssl, realip, stub_status, charset, autoindex, sub, ssi, and
/// their stream counterparts). A context a newer nginx added is included:
/// an older nginx refusing it is not reported.
const ALLOWED: &[(&str, &[Scope])] = &[
    // Core and events.
    ("worker_processes", &[Main]),
    ("worker_rlimit_nofile", &[Main]),
    ("worker_cpu_affinity", &[Main]),
    ("worker_priority", &[Main]),
    ("worker_shutdown_timeout", &[Main]),
    ("user", &[Main]),
    ("pid", &[Main]),
    ("daemon", &[Main]),
    ("master_process", &[Main]),
    ("load_module", &[Main]),
    ("pcre_jit", &[Main]),
    ("env", &[Main]),
    ("timer_resolution", &[Main]),
    ("working_directory", &[Main]),
    ("lock_file", &[Main]),
    ("thread_pool", &[Main]),
    ("events", &[Main]),
    ("http", &[Main]),
    ("stream", &[Main]),
    ("mail", &[Main]),
    ("worker_connections", &[Events]),
    ("multi_accept", &[Events]),
    ("use", &[Events]),
    ("accept_mutex", &[Events]),
    ("error_log", &[Main, Http, Server, Location, Stream, StreamServer]),
    // Servers and locations.
    ("server", &[Http, Upstream, Stream, StreamUpstream]),
    ("location", &[Server, Location]),
    ("if", &[Server, Location]),
    ("limit_except", &[Location]),
    ("listen", &[Server, StreamServer]),
    ("server_name", &[Server, StreamServer]),
    ("root", H_S_L_LIF),
    ("alias", &[Location]),
    ("index", H_S_L),
    ("try_files", &[Server, Location]),
    ("internal", &[Location]),
    ("stub_status", &[Server, Location]),
    ("client_max_body_size", H_S_L),
    ("client_body_buffer_size", H_S_L),
    ("client_body_timeout", H_S_L),
    ("client_header_timeout", H_S),
    ("client_header_buffer_size", H_S),
    ("large_client_header_buffers", H_S),
    ("underscores_in_headers", H_S),
    ("server_names_hash_bucket_size", &[Http]),
    ("server_names_hash_max_size", &[Http]),
    ("keepalive_timeout", &[Http, Server, Location, Upstream]),
    ("keepalive_requests", &[Http, Server, Location, Upstream]),
    ("sendfile", H_S_L_LIF),
    ("tcp_nopush", H_S_L),
    ("tcp_nodelay", H_S_L_STREAM),
    ("default_type", H_S_L),
    ("types", H_S_L),
    ("error_page", H_S_L_LIF),
    ("server_tokens", H_S_L),
    ("resolver", &[Http, Server, Location, Upstream, Stream, StreamServer, StreamUpstream]),
    ("satisfy", H_S_L),
    ("send_timeout", H_S_L),
    ("limit_rate", H_S_L_LIF),
    ("autoindex", H_S_L),
    ("etag", H_S_L),
    ("open_file_cache", H_S_L),
    ("charset", H_S_L_LIF),
    ("ssi", H_S_L_LIF),
    ("sub_filter", H_S_L),
    ("real_ip_header", H_S_L),
    ("set_real_ip_from", H_S_L_STREAM),
    // Logging.
    ("access_log", &[Http, Server, Location, LocationIf, LimitExcept, Stream, StreamServer]),
    ("log_format", HTTP_STREAM),
    // Compression and headers.
    ("gzip", H_S_L_LIF),
    ("gzip_types", H_S_L),
    ("gzip_vary", H_S_L),
    ("gzip_comp_level", H_S_L),
    ("gzip_proxied", H_S_L),
    ("gzip_min_length", H_S_L),
    ("add_header", H_S_L_LIF),
    ("expires", H_S_L_LIF),
    // Rewrite.
    ("return", &[Server, Location, ServerIf, LocationIf, StreamServer]),
    ("rewrite", REWRITE),
    ("set", &[Server, Location, ServerIf, LocationIf, StreamServer]),
    ("break", REWRITE),
    ("rewrite_log", &[Http, Server, Location, ServerIf, LocationIf]),
    // Access control and limits.
    ("allow", ACCESS),
    ("deny", ACCESS),
    ("auth_basic", &[Http, Server, Location, LimitExcept]),
    ("auth_basic_user_file", &[Http, Server, Location, LimitExcept]),
    ("auth_request", H_S_L),
    ("limit_req", H_S_L),
    ("limit_req_status", H_S_L),
    ("limit_conn", H_S_L_STREAM),
    ("limit_conn_zone", HTTP_STREAM),
    // Blocks whose bodies are not directives.
    ("map", HTTP_STREAM),
    ("geo", HTTP_STREAM),
    ("split_clients", HTTP_STREAM),
    // Upstreams.
    ("upstream", HTTP_STREAM),
    ("keepalive", &[Upstream]),
    ("least_conn", &[Upstream, StreamUpstream]),
    ("ip_hash", &[Upstream]),
    ("hash", &[Upstream, StreamUpstream]),
    ("zone", &[Upstream, StreamUpstream]),
    // Proxying.
    ("proxy_pass", &[Location, LocationIf, LimitExcept, StreamServer]),
    ("proxy_set_header", H_S_L),
    ("proxy_http_version", H_S_L),
    ("proxy_read_timeout", H_S_L),
    ("proxy_send_timeout", H_S_L),
    ("proxy_connect_timeout", H_S_L_STREAM),
    ("proxy_buffering", H_S_L),
    ("proxy_buffer_size", H_S_L_STREAM),
    ("proxy_buffers", H_S_L),
    ("proxy_redirect", H_S_L),
    ("proxy_cache_path", &[Http]),
    ("proxy_cache", H_S_L),
    ("proxy_cache_valid", H_S_L),
    ("proxy_cache_key", H_S_L),
    ("proxy_hide_header", H_S_L),
    ("proxy_intercept_errors", H_S_L),
    ("proxy_next_upstream", H_S_L_STREAM),
    ("proxy_request_buffering", H_S_L),
    ("proxy_timeout", &[Stream, StreamServer]),
    ("fastcgi_pass", PASS),
    ("fastcgi_param", H_S_L),
    ("fastcgi_index", H_S_L),
    ("uwsgi_pass", PASS),
    ("uwsgi_param", H_S_L),
    ("grpc_pass", PASS),
    // TLS.
    ("ssl_certificate", SSL),
    ("ssl_certificate_key", SSL),
    ("ssl_protocols", SSL),
    ("ssl_ciphers", SSL),
    ("ssl_prefer_server_ciphers", SSL),
    ("ssl_session_cache", SSL),
    ("ssl_session_timeout", SSL),
    ("ssl_session_tickets", SSL),
    ("ssl_dhparam", SSL),
    ("ssl_trusted_certificate", SSL),
    ("ssl_stapling", SSL),
    ("ssl_stapling_verify", SSL),
];

/// The contexts nginx accepts `name` in, when the table knows it.
pub fn allowed(name: &str) -> Option<&'static [Scope]> {
    ALLOWED.iter().find(|(n, _)| *n == name).map(|(_, scopes)| *scopes)
}

fn stream(scope: Scope) -> bool {
    matches!(scope, Stream | StreamServer | StreamUpstream)
}

/// The context of a root file's top level, and why when compose says it.
fn top_of(config: &NginxConfig, mounts: &[Mount]) -> (Option<Scope>, Option<String>) {
    let own = config.top_scope();
    let mine: Vec<&Mount> = mounts.iter().filter(|m| m.file == config.file).collect();
    let into_http = mine.iter().find(|m| m.in_conf_d());
    let as_main = mine.iter().any(|m| m.default_path && m.target == "/etc/nginx/nginx.conf");
    match (into_http, as_main) {
        // Mounted two ways: nothing certain.
        (Some(_), true) => (None, None),
        (Some(m), false) => (
            Some(Http),
            Some(format!(" (compose mounts this file at {}, which nginx's image reads inside `http`)", m.target)),
        ),
        (None, true) => {
            // A fragment mounted as the main configuration is X015's.
            let fragment = config
                .root
                .children()
                .iter()
                .any(|d| d.block.is_some() && matches!(d.name.as_str(), "server" | "location" | "upstream"));
            match own {
                Some(Main) => (Some(Main), None),
                _ if !fragment => (Some(Main), None),
                _ => (None, None),
            }
        }
        (None, false) => (own, None),
    }
}

impl Rule for DirectiveInWrongContext {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let mounts = nginx_mounts(cx);
        // A file included by two configurations is reported once.
        let mut reported: Vec<(usize, Span)> = Vec::new();
        for config in &cx.graph.nginx {
            let (top, why) = top_of(config, &mounts);
            config.visit_scoped(top, &mut |d, scope, ancestors| {
                let Some(scopes) = allowed(&d.name) else { return };
                if scopes.contains(&scope) || reported.contains(&(d.file, d.span)) {
                    return;
                }
                reported.push((d.file, d.span));
                let same_family: Vec<&str> =
                    scopes.iter().filter(|s| stream(**s) == stream(scope)).map(|s| s.name()).collect();
                let places =
                    if same_family.is_empty() { scopes.iter().map(|s| s.name()).collect() } else { same_family };
                let why = if ancestors.len() == 1 { why.as_deref().unwrap_or("") } else { "" };
                sink.report(
                    d.file,
                    d.span,
                    format!(
                        "`{}` is not allowed in the {} context{why}: nginx refuses to start (\"{}\" directive is not allowed here); it belongs in {}",
                        d.name,
                        scope.name(),
                        d.name,
                        places.join(", ")
                    ),
                );
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("N007", files)
    }

    fn http(body: &str) -> String {
        format!("events {{}}\nhttp {{\n{body}\n}}\n")
    }

    #[test]
    fn the_table_names_each_directive_once() {
        for (i, (a, _)) in ALLOWED.iter().enumerate() {
            assert!(!ALLOWED[..i].iter().any(|(b, _)| a == b), "{a} twice");
        }
        assert_eq!(allowed("proxy_pass"), Some(&[Location, LocationIf, LimitExcept, StreamServer][..]));
        assert_eq!(allowed("lua_shared_dict"), None);
    }

    #[test]
    fn misplaced_directives_in_a_whole_configuration() {
        let found = findings(&[(
            "nginx.conf",
            http("server {\n listen 80;\n proxy_pass http://app:8000;\n if ($x) { add_header X-A b; }\n location / { proxy_set_header Host $host; if ($y) { proxy_set_header X-B c; } server { } }\n}\nlocation /a { }\nlisten 81;")
                .as_str(),
        )]);
        assert_eq!(found.len(), 6, "{found:?}");
        assert!(found[0].starts_with("`proxy_pass` is not allowed in the server context"), "{found:?}");
        assert!(found[0].ends_with("it belongs in location, if in location, limit_except"), "{found:?}");
        assert!(found[1].starts_with("`add_header` is not allowed in the if in server context"), "{found:?}");
        assert!(found[2].starts_with("`proxy_set_header` is not allowed in the if in location"), "{found:?}");
        assert!(found[3].starts_with("`server` is not allowed in the location context"), "{found:?}");
        assert!(found[4].starts_with("`location` is not allowed in the http context"), "{found:?}");
        assert!(found[5].starts_with("`listen` is not allowed in the http context"), "{found:?}");
    }

    #[test]
    fn well_placed_and_unknown_are_silent() {
        let good = http(
            "upstream app { server app:8000; keepalive 8; }\nmap $http_upgrade $connection_upgrade { default upgrade; '' close; }\nserver {\n listen 80;\n server_name example.com;\n if ($host != example.com) { return 301 https://example.com$request_uri; }\n location / { proxy_pass http://app; if ($request_method = POST) { proxy_pass http://app; } limit_except GET { deny all; } }\n lua_need_request_body on;\n}",
        );
        assert!(findings(&[("nginx.conf", good.as_str())]).is_empty());
        let stream = "events {}\nstream {\n upstream db { server db:5432; }\n server { listen 5432; proxy_pass db; proxy_timeout 10m; }\n}\n";
        assert!(findings(&[("nginx.conf", stream)]).is_empty());
    }

    #[test]
    fn fragments_are_judged_only_when_their_context_is_certain() {
        // A snippet included somewhere unknown: its top is not judged.
        let snippet = "proxy_pass http://app:8000;\nlocation /x {\n    root /srv;\n}\n";
        assert!(findings(&[("nginx/snippets/proxy.conf", snippet)]).is_empty());
        // A conf.d file of HTTP servers is read inside `http`.
        let site = "location /stray { }\nserver {\n listen 80;\n location / { root /srv; }\n}\n";
        let found = findings(&[("nginx/conf.d/site.conf", site)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("`location` is not allowed in the http context"), "{found:?}");
        // A stream fragment (no HTTP-only directive in its servers): unknown.
        let stream = "upstream db {\n    server db:5432;\n}\nserver {\n    listen 5432;\n    proxy_pass db;\n}\n";
        assert!(findings(&[("nginx/stream.d/db.conf", stream)]).is_empty());
        // Included into a location, a file takes the location's context.
        let files = [
            ("nginx/nginx.conf", http("server { listen 80; location / { include snippets/app.conf; } }")),
            ("nginx/snippets/app.conf", "listen 8080;\nproxy_pass http://app:8000;\n".to_owned()),
        ];
        let found = findings(&files.iter().map(|(p, t)| (*p, t.as_str())).collect::<Vec<_>>());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("`listen` is not allowed in the location context"), "{found:?}");
    }

    #[test]
    fn compose_mounts_decide_the_top_of_a_file() {
        let compose = "services:\n  web:\n    image: nginx:1.27.2\n    volumes:\n      - ./nginx/default.conf:/etc/nginx/conf.d/default.conf:ro\n";
        // A whole configuration mounted into conf.d is read inside `http`.
        let whole = http("server { listen 80; location / { root /srv; } }");
        let found = findings(&[("docker-compose.yml", compose), ("nginx/default.conf", whole.as_str())]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("compose mounts this file at /etc/nginx/conf.d/default.conf"), "{found:?}");
        assert!(found[0].starts_with("`events` is not allowed in the http context"), "{found:?}");
    }
}
