use crate::graph::command::{CommandFacts, facts, words};
use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// The port a server really binds comes from its command line
    /// (`--bind 0.0.0.0:8000`, `--port 9000`); `containerPort`, compose
    /// `ports` and Dockerfile `EXPOSE` only describe it. When they disagree
    /// the Service, the published port or the health check points at a
    /// closed port. A server bound to `127.0.0.1` inside a container is
    /// unreachable from outside it, whatever is published.
    PortMismatch {
        code: "X007",
        name: "port-mismatch",
        severity: Error,
        fix: "make the bind flag, the declared ports and EXPOSE name the same port, and bind to 0.0.0.0 (or ::) inside containers",
    }
}

/// Whether another part of the project reaches `service:port`: an nginx
/// upstream, a variable of another service or a scrape target. The image's EXPOSE alone
/// then does not outweigh it (the command is a script berth does not
/// follow, `CMD run-app.sh` starting gunicorn on the published port).
fn reached(graph: &crate::graph::Graph<'_>, service: &crate::graph::ComposeService<'_>, port: i64) -> bool {
    let names = crate::graph::compose::network_names(service);
    let by_name = |host: &str, p: Option<u16>| {
        p.is_some_and(|p| i64::from(p) == port) && names.iter().any(|n| n.eq_ignore_ascii_case(host))
    };
    let unit = graph.unit(service.file);
    let from_nginx = graph.nginx.iter().flat_map(|config| config.proxied()).any(|(d, arg)| {
        graph.unit(d.file) == unit && crate::graph::nginx::host_port(&arg.text).is_some_and(|(h, p)| by_name(h, p))
    });
    let from_env = graph.compose.iter().filter(|c| c.project == service.project && c.name != service.name).any(|c| {
        c.environment
            .iter()
            .filter_map(|e| e.value.as_deref())
            .any(|v| names.iter().any(|n| v.contains(&format!("{n}:{port}"))))
    });
    let from_scrape =
        graph.scrape_jobs.iter().filter(|j| graph.unit(j.file) == unit).any(|j| {
            j.targets.iter().any(|(t, _)| t.rsplit_once(':').is_some_and(|(h, p)| by_name(h, p.parse().ok())))
        });
    from_nginx || from_env || from_scrape
}

fn loopback(f: &CommandFacts) -> bool {
    f.host.as_deref().is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "::1")
}

impl Rule for PortMismatch {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        for w in &graph.workloads {
            for c in w.containers.iter().filter(|c| !c.init && !c.command.is_empty()) {
                let f = facts(&c.command);
                if loopback(&f) && !c.ports.is_empty() {
                    sink.report(
                        graph.objects[w.object].file,
                        c.span,
                        format!(
                            "container `{}` binds {}: nothing outside the pod reaches it",
                            c.name,
                            f.host.as_deref().unwrap_or("")
                        ),
                    );
                }
                let Some(port) = f.port else { continue };
                if !c.ports.is_empty() && !c.ports.iter().any(|p| p.port == i64::from(port)) {
                    let declared: Vec<i64> = c.ports.iter().map(|p| p.port).collect();
                    sink.report(
                        graph.objects[w.object].file,
                        c.ports[0].span,
                        format!(
                            "container `{}` declares port {} but its command binds {port}",
                            c.name,
                            join(&declared)
                        ),
                    );
                }
            }
        }
        for s in &graph.compose {
            let dockerfile = graph.dockerfile_of(s);
            let (f, from) = match (&s.command, dockerfile) {
                (Some((command, span)), _) => (facts(&words(command)), Some((s.file, *span))),
                (None, Some(df)) => {
                    let cmd = df.final_stage().filter(|i| i.keyword == "CMD" || i.keyword == "ENTRYPOINT").last();
                    (facts(&df.command()), cmd.map(|i| (df.file, i.span)))
                }
                (None, None) => (CommandFacts::default(), None),
            };
            let targets: Vec<_> = s.ports.iter().filter(|p| p.target.is_some()).collect();
            if loopback(&f) && !targets.is_empty() {
                sink.report(
                    s.file,
                    targets[0].span,
                    format!(
                        "`{}` publishes this port but its command binds {}: the published port answers nothing",
                        s.name,
                        f.host.as_deref().unwrap_or("")
                    ),
                );
            }
            let exposed = dockerfile.map(|d| d.exposed()).unwrap_or_default();
            // compose's `command:` decides the port; the image's EXPOSE
            // still documents another (nginx-wsgi-flask: EXPOSE 5000,
            // gunicorn -b :8000, nginx to :8000).
            if let (Some((_, span)), Some(df), Some(bound)) = (&s.command, dockerfile, f.port)
                && !exposed.is_empty()
                && !exposed.contains(&i64::from(bound))
                && let Some(expose) = df.final_stage().find(|i| i.keyword == "EXPOSE")
            {
                let needle = format!("{}:{bound}", s.name);
                let mut clients: Vec<String> = Vec::new();
                for c in graph.compose.iter().filter(|c| c.project == s.project && c.name != s.name) {
                    for e in c.environment.iter().filter(|e| e.value.as_deref().is_some_and(|v| v.contains(&needle))) {
                        clients.push(format!(
                            "`{}` reaches it at {needle} ({})",
                            c.name,
                            place(cx.files, c.file, e.span)
                        ));
                    }
                }
                let clients = if clients.is_empty() { String::new() } else { format!("; {}", clients.join("; ")) };
                sink.report(
                    df.file,
                    expose.span,
                    format!(
                        "EXPOSE {} but compose runs `{}` binding {bound} ({}){clients}",
                        join(&exposed),
                        s.name,
                        place(cx.files, s.file, *span)
                    ),
                );
            }
            for p in &targets {
                let Some(target) = p.target else { continue };
                // A side listener (a debugger, an admin port) is published on purpose.
                if f.side.iter().any(|(_, port)| i64::from(*port) == target) {
                    continue;
                }
                // Redis Cluster's bus listens at the port + 10000.
                let cluster_bus = f.port.is_some_and(|b| i64::from(b) + 10_000 == target)
                    && s.command.as_ref().is_some_and(|(c, _)| c.contains("cluster-enabled"));
                if let Some(bound) = f.port.filter(|_| !cluster_bus) {
                    if i64::from(bound) != target {
                        let (file, span) = from.unwrap_or((s.file, s.span));
                        sink.report(
                            s.file,
                            p.span,
                            format!(
                                "`{}` publishes container port {target} but its command binds {bound} ({})",
                                s.name,
                                place(cx.files, file, span)
                            ),
                        );
                    }
                } else if s.command.is_none()
                    && !exposed.is_empty()
                    && !exposed.contains(&target)
                    && !reached(graph, s, target)
                {
                    let df = dockerfile.map_or(String::new(), |d| format!(" ({})", cx.files[d.file].name));
                    sink.report(
                        s.file,
                        p.span,
                        format!(
                            "`{}` publishes container port {target} but its Dockerfile{df} exposes {}",
                            s.name,
                            join(&exposed)
                        ),
                    );
                }
            }
        }
        for df in graph.dockerfiles {
            let exposed = df.exposed();
            let Some(bound) = facts(&df.command()).port else { continue };
            if exposed.is_empty() || exposed.contains(&i64::from(bound)) {
                continue;
            }
            if let Some(expose) = df.final_stage().find(|i| i.keyword == "EXPOSE") {
                sink.report(df.file, expose.span, format!("EXPOSE {} but the command binds {bound}", join(&exposed)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    const DOCKERFILE: &str = "FROM alpine:3.20\nCOPY main /app/main\nEXPOSE 8080\nCMD [\"/app/main\"]\n";

    #[test]
    fn a_redis_cluster_bus_is_its_port_plus_10000() {
        let compose = |flag: &str| {
            format!(
                "services:\n  redis-1:\n    image: redis:7.2\n    command: redis-server --port 6380{flag}\n    ports: [\"6380:6380\", \"16380:16380\"]\n"
            )
        };
        assert!(messages_of("X007", &[("docker-compose.yml", &compose(" --cluster-enabled yes"))]).is_empty());
        assert_eq!(messages_of("X007", &[("docker-compose.yml", &compose(""))]).len(), 1);
    }

    /// A Go app serving on 8080 and its metrics on 10000, which EXPOSE
    /// does not name but Prometheus scrapes.
    #[test]
    fn a_published_port_the_project_scrapes_is_served() {
        let compose = "services:\n  app:\n    build: { context: app }\n    ports: [\"8080:8080\", \"10000:10000\"]\n  prometheus:\n    image: prom/prometheus:v2.53.0\n    volumes: [\"./prometheus.yml:/etc/prometheus/prometheus.yml\"]\n";
        let scrape = |target: &str| {
            format!("scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [\"{target}\"]\n")
        };
        let x007 = |target: &str| {
            messages_of(
                "X007",
                &[("docker-compose.yml", compose), ("app/Dockerfile", DOCKERFILE), ("prometheus.yml", &scrape(target))],
            )
        };
        assert!(x007("app:10000").is_empty());
        assert_eq!(x007("app:8080").len(), 1, "nothing reaches 10000");
    }
}
