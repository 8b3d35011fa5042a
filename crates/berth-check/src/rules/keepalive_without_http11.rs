use crate::graph::nginx::{effective, host_port};
use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An `upstream` with `keepalive` only reuses connections when the
    /// proxying location speaks HTTP/1.1 and clears the `Connection`
    /// header. nginx proxies with HTTP/1.0 and `Connection: close` by
    /// default, so the pool stays empty: every request pays a new TCP (and
    /// TLS) handshake to the app, and busy hosts run out of ephemeral ports.
    KeepaliveWithoutHttp11 {
        code: "N003",
        name: "keepalive-without-http11",
        severity: Warning,
        fix: "add `proxy_http_version 1.1;` and `proxy_set_header Connection \"\";` where the location proxies (or in its server)",
    }
}

impl Rule for KeepaliveWithoutHttp11 {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            config.visit(&mut |d, ancestors| {
                if d.name != "proxy_pass" {
                    return;
                }
                let Some((host, _)) = d.arg(0).and_then(host_port) else { return };
                let Some(upstream) = config.upstream(host) else { return };
                let Some(keepalive) = upstream.own("keepalive").next() else { return };
                let Some((block, outer)) = ancestors.split_last() else { return };
                let version = effective("proxy_http_version", block, outer);
                let http11 = version.last().and_then(|v| v.arg(0)) == Some("1.1");
                let headers = effective("proxy_set_header", block, outer);
                let connection_cleared = headers.iter().any(|h| {
                    h.arg(0).is_some_and(|n| n.eq_ignore_ascii_case("connection"))
                        && h.arg(1).is_some_and(|v| !v.eq_ignore_ascii_case("close"))
                });
                let problem = match (http11, connection_cleared) {
                    (true, true) => return,
                    (false, _) => "proxies with HTTP/1.0 (nginx's default)",
                    (true, false) => "sends `Connection: close` (no `proxy_set_header Connection` in effect)",
                };
                sink.report(
                    d.file,
                    d.span,
                    format!(
                        "upstream `{host}` keeps connections alive (`keepalive` at {}) but this `proxy_pass` {problem}, so none are reused",
                        place(cx.files, keepalive.file, keepalive.span)
                    ),
                );
            });
        }
    }
}
