use crate::graph::nginx::Directive;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A health location that nginx answers itself (`return 200`) reports
    /// healthy while the application behind it is down, crash-looping or
    /// unable to reach its database. Load balancers, Kubernetes probes and
    /// uptime monitors pointed at it never notice an outage. When the
    /// server's `location /` serves files itself (a single-page app whose
    /// `/api/` goes to other services with their own checks), nginx is the
    /// application and its own health is the container's: left alone.
    HealthAnsweredByProxy {
        code: "N006",
        name: "health-answered-by-proxy",
        severity: Warning,
        fix: "proxy the health path to the application (`proxy_pass`), or name nginx's own liveness path for what it is (`/nginx-health`) and check the app separately",
    }
}

const HEALTH: [&str; 10] =
    ["health", "healthz", "healthcheck", "livez", "readyz", "ready", "live", "liveness", "readiness", "ping"];
const PASSES: [&str; 5] = ["proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass"];

impl Rule for HealthAnsweredByProxy {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            config.visit(&mut |location, ancestors| {
                if location.name != "location" || location.block.is_none() {
                    return;
                }
                let Some(path) = location.args.last() else { return };
                let last = path.text.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                if !HEALTH.contains(&last.to_ascii_lowercase().as_str()) || path.text.contains("nginx") {
                    return;
                }
                if passes(location) {
                    return;
                }
                let server = ancestors.iter().rev().find(|b| b.name == "server");
                if server.is_some_and(|s| serves_files_at_root(s)) {
                    return;
                }
                let Some(ret) = location.own("return").next() else { return };
                if ret.arg(0).is_some_and(|code| code.starts_with('2')) {
                    sink.report(
                        ret.file,
                        ret.span,
                        format!(
                            "`location {}` is answered by nginx itself: it passes while the app is down",
                            path.text
                        ),
                    );
                }
            });
        }
    }
}

fn passes(block: &Directive) -> bool {
    PASSES.iter().any(|p| block.own(p).next().is_some())
}

/// `location /` (or `location = /`) that passes nowhere: nginx serves the
/// site itself.
fn serves_files_at_root(server: &Directive) -> bool {
    server
        .own("location")
        .any(|l| l.args.last().is_some_and(|a| a.text == "/") && !passes(l) && l.own("return").next().is_none())
}
