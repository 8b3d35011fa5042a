use crate::graph::command::{CommandFacts, facts, with_defaults, words};
use crate::graph::nginx::{Directive, effective, host_port};
use crate::graph::{Graph, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Two timeouts that must nest. When nginx's `proxy_read_timeout`
    /// (60 s unless set) is shorter than the app's own request timeout
    /// (gunicorn `--timeout`, 30 s by default), nginx answers 504 for work
    /// the app still finishes, and clients retry it. When an upstream pool
    /// keeps idle connections (`keepalive_timeout`, 60 s) longer than the
    /// app does (gunicorn 2 s, uvicorn and Node 5 s), nginx sends requests
    /// on connections the app just closed: sporadic 502s under light load.
    UpstreamTimeout {
        code: "X013",
        name: "upstream-timeout",
        severity: Warning,
        fix: "keep `proxy_read_timeout` above the app's request timeout, and the app's keep-alive above the upstream `keepalive_timeout`",
    }
}

impl Rule for UpstreamTimeout {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        // The keep-alive race is the upstream's, reported once for it.
        let mut reported = Vec::new();
        for config in &cx.graph.nginx {
            config.visit(&mut |d, ancestors| {
                if d.name != "proxy_pass" {
                    return;
                }
                let Some((host, port)) = d.arg(0).and_then(host_port) else { return };
                let upstream = config.upstream(host);
                let servers: Vec<(String, Option<u16>)> = match upstream {
                    Some(u) => u
                        .own("server")
                        .filter_map(|s| s.arg(0).and_then(host_port).map(|(h, p)| (h.to_owned(), p)))
                        .collect(),
                    None => vec![(host.to_owned(), port)],
                };
                let Some((app, title, file, span)) = servers.iter().find_map(|(h, p)| app_facts(graph, h, *p)) else {
                    return;
                };
                let Some((block, outer)) = ancestors.split_last() else { return };
                let read = effective("proxy_read_timeout", block, outer).last().and_then(|t| seconds(t)).unwrap_or(60);
                if let Some(app_timeout) = app.timeout
                    && read < app_timeout
                {
                    sink.report(
                        d.file,
                        d.span,
                        format!(
                            "nginx waits {read} s for {title} ({}), which lets a request run {app_timeout} s: slow requests get 504 while the app still works on them",
                            place(cx.files, file, span)
                        ),
                    );
                }
                if let (Some(u), Some(app_keep)) = (upstream, app.keep_alive)
                    && let Some(keepalive) = u.own("keepalive").next()
                    && !reported.contains(&(keepalive.file, keepalive.span))
                {
                    let idle = u.own("keepalive_timeout").next().and_then(seconds).unwrap_or(60);
                    if idle > app_keep {
                        reported.push((keepalive.file, keepalive.span));
                        sink.report(
                            keepalive.file,
                            keepalive.span,
                            format!(
                                "upstream `{host}` keeps idle connections {idle} s but {title} ({}) closes them after {app_keep} s: requests race the close and fail with 502",
                                place(cx.files, file, span)
                            ),
                        );
                    }
                }
            });
        }
    }
}

/// nginx time values: `30`, `30s`, `2m`, `1h`.
fn seconds(d: &Directive) -> Option<u64> {
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

/// The command facts (with the server's defaults) of what `host` reaches.
fn app_facts(
    graph: &Graph<'_>,
    host: &str,
    _port: Option<u16>,
) -> Option<(CommandFacts, String, usize, berth_diagnostics::Span)> {
    if let Some(s) = graph.compose.iter().rfind(|s| s.name == host) {
        if let Some((c, span)) = &s.command {
            let command = words(c);
            return Some((with_defaults(&command, facts(&command)), format!("`{}`", s.name), s.file, *span));
        }
        let df = graph.dockerfile_of(s)?;
        let command = df.command();
        let cmd = df.final_stage().filter(|i| i.keyword == "CMD" || i.keyword == "ENTRYPOINT").last()?;
        return Some((with_defaults(&command, facts(&command)), format!("`{}`", s.name), df.file, cmd.span));
    }
    let name = host.split('.').next()?;
    let service = graph.services.iter().find(|s| graph.objects[s.object].name == name)?;
    let o = &graph.objects[service.object];
    graph.selected_in(graph.unit(o.file), o.namespace, &service.selector).find_map(|w| {
        let c = w.containers.iter().find(|c| !c.init && !c.command.is_empty())?;
        let f = with_defaults(&c.command, facts(&c.command));
        Some((
            f,
            format!("container `{}` of {}", c.name, graph.objects[w.object].title()),
            graph.objects[w.object].file,
            c.span,
        ))
    })
}
