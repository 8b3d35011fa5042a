use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A health location that nginx answers itself (`return 200`) reports
    /// healthy while the application behind it is down, crash-looping or
    /// unable to reach its database. Load balancers, Kubernetes probes and
    /// uptime monitors pointed at it never notice an outage.
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
            for location in config.blocks("location") {
                let Some(path) = location.args.last() else { continue };
                let last = path.text.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                if !HEALTH.contains(&last.to_ascii_lowercase().as_str()) || path.text.contains("nginx") {
                    continue;
                }
                if PASSES.iter().any(|p| location.own(p).next().is_some()) {
                    continue;
                }
                let Some(ret) = location.own("return").next() else { continue };
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
            }
        }
    }
}
