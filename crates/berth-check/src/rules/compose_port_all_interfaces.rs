use crate::graph::compose::{ComposeService, PublishedPort};
use crate::graph::dockerfile::Dockerfile;
use crate::graph::yaml::str_at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A published port without a host address binds every interface, and
    /// Docker's own iptables rules let it past the host firewall (ufw does
    /// not see it). A database published this way is on the internet.
    /// The front door is meant to be public: ports 80 and 443, and any port
    /// of a reverse proxy (nginx, Traefik, Caddy, HAProxy, Envoy, by its
    /// image or, for a service built here, its Dockerfile's last `FROM`),
    /// are not flagged.
    ComposePortAllInterfaces {
        code: "C001",
        name: "compose-port-all-interfaces",
        severity: Warning,
        fix: "publish on loopback (`127.0.0.1:5432:5432`) and put a proxy in front of what must be public",
    }
}

fn is_proxy(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split(['@', ':']).next().unwrap_or(last);
    ["nginx", "traefik", "caddy", "haproxy", "envoy", "nginx-unprivileged", "openresty"]
        .iter()
        .any(|p| last == *p || last.starts_with(&format!("{p}-")))
}

/// The image a compose service's build starts from: the `FROM` of its
/// `build.target` stage, else of the last stage.
fn built_image<'d>(s: &ComposeService<'_>, df: &'d Dockerfile) -> Option<&'d str> {
    let image = |args: &'d str| args.split_whitespace().find(|w| !w.starts_with("--"));
    let mut froms = df.instructions.iter().filter(|i| i.keyword == "FROM");
    match str_at(s.node, &["build", "target"]) {
        Some(target) => froms
            .rfind(|i| {
                let words: Vec<&str> = i.args.split_whitespace().collect();
                words.windows(2).any(|w| w[0].eq_ignore_ascii_case("as") && w[1].eq_ignore_ascii_case(target))
            })
            .and_then(|i| image(&i.args)),
        None => froms.next_back().and_then(|i| image(&i.args)),
    }
}

impl Rule for ComposePortAllInterfaces {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for s in &cx.graph.compose {
            let everywhere = |p: &&PublishedPort| p.host_ip.is_none() || p.host_ip.as_deref() == Some("0.0.0.0");
            let built_on_proxy =
                || cx.graph.dockerfile_of(s).is_some_and(|df| built_image(s, df).is_some_and(is_proxy));
            let proxy = s.image.as_deref().is_some_and(is_proxy) || built_on_proxy();
            let front_door = |p: &&PublishedPort| proxy || matches!(p.published.as_deref(), Some("80" | "443"));
            for p in s.ports.iter().filter(everywhere).filter(|p| !front_door(p)) {
                let host = p.published.as_deref().unwrap_or("a random port");
                sink.report(s.file, p.span, format!("service `{}` publishes {host} on every interface", s.name));
            }
        }
    }
}
