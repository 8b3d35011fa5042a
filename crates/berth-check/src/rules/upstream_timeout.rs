use berth_diagnostics::{SourceFile, Span};

use crate::graph::command::{CommandFacts, Setting, expanded, facts, option, with_defaults, words};
use crate::graph::compose::{ComposeService, container_env};
use crate::graph::nginx::{effective, host_port, seconds};
use crate::graph::paths::tail_matches;
use crate::graph::yaml::at;
use crate::graph::{Graph, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Two timeouts that must nest. When nginx's `proxy_read_timeout`
    /// (60 s unless set) is shorter than the app's own request timeout
    /// (gunicorn `--timeout`, 30 s by default), nginx answers 504 for work
    /// the app still finishes, and clients retry it. The other way round,
    /// a `proxy_read_timeout` set to more than twice gunicorn's timeout
    /// (300 s for slow reports, before gunicorn's default 30 s) is never
    /// reached: gunicorn kills the sync worker first (`WORKER TIMEOUT` in
    /// its log) and the client gets a 502, the request lost. gunicorn's
    /// timeout is read from `--timeout`/`-t`, `GUNICORN_CMD_ARGS` and the
    /// `timeout` of its config file (`-c`, or a `gunicorn.conf.py` of the
    /// deployment), else its default; this direction is reported only for
    /// a `proxy_read_timeout` written in the configuration, for sync
    /// workers (other worker classes and `--threads` above 1 do not time
    /// requests out), for an app the name leads to for certain (in the
    /// nginx file's deployment, or the only one of that name), and never
    /// when one of those places cannot be read.
    /// When an upstream pool keeps idle connections (`keepalive_timeout`,
    /// 60 s) longer than the app does (gunicorn 2 s, uvicorn and Node 5 s),
    /// nginx sends requests on connections the app just closed: sporadic
    /// 502s under light load. That needs a location that reuses them
    /// (`proxy_http_version 1.1` and `proxy_set_header Connection ""`);
    /// a WebSocket location's read timeout bounds a quiet stream, not a
    /// request, and is not compared.
    UpstreamTimeout {
        code: "X013",
        name: "upstream-timeout",
        severity: Warning,
        fix: "keep `proxy_read_timeout` a little above the app's request timeout: raise gunicorn's `--timeout` to match a long `proxy_read_timeout` (or shorten it), and keep the app's keep-alive above the upstream `keepalive_timeout`",
    }
}

impl Rule for UpstreamTimeout {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        // The keep-alive race is the upstream's, reported once for it.
        let mut reported = Vec::new();
        // A long `proxy_read_timeout` is reported once per app it waits for.
        let mut outwaited: Vec<(usize, Span, String)> = Vec::new();
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
                let Some(app) = servers.iter().find_map(|(h, p)| app_of(graph, cx.files, d.file, h, *p)) else {
                    return;
                };
                let (title, file, span) = (&app.title, app.file, app.span);
                let Some((block, outer)) = ancestors.split_last() else { return };
                let written = effective("proxy_read_timeout", block, outer).last().copied();
                let read = written.and_then(seconds).unwrap_or(60);
                let headers = effective("proxy_set_header", block, outer);
                let header = |name: &str| {
                    headers.iter().find(|h| h.arg(0).is_some_and(|n| n.eq_ignore_ascii_case(name))).and_then(|h| h.arg(1))
                };
                // On a WebSocket location the read timeout bounds a quiet
                // stream, not a request the app's timeout governs.
                let websocket = header("Upgrade").is_some();
                // nginx reuses an upstream connection only over HTTP/1.1
                // with a `Connection` header other than its default `close`
                // (`""`, or a constant `upgrade`); a variable such as
                // `$connection_upgrade` usually maps plain requests to close.
                let reuses = effective("proxy_http_version", block, outer).last().and_then(|d| d.arg(0)) == Some("1.1")
                    && header("Connection").is_some_and(|v| !v.eq_ignore_ascii_case("close") && !v.contains('$'));
                if let Some(app_timeout) = app.facts.timeout
                    && read < app_timeout
                    && !websocket
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
                if let (Some(t), Some((killed, how))) = (written, &app.gunicorn)
                    && app.certain
                    && read > 2 * *killed
                    && !outwaited.contains(&(t.file, t.span, title.clone()))
                {
                    outwaited.push((t.file, t.span, title.clone()));
                    sink.report(
                        t.file,
                        t.span,
                        format!(
                            "nginx waits up to {read} s here for {title} ({}), but gunicorn kills a worker whose request runs past {killed} s ({how}): slow requests end in 502 with `WORKER TIMEOUT` in its log, long before this timeout",
                            place(cx.files, file, span)
                        ),
                    );
                }
                if let (Some(u), Some(app_keep)) = (upstream, app.facts.keep_alive)
                    && reuses
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

/// What `proxy_pass` reaches: the command facts (with the server's
/// defaults) and, for gunicorn, its worker timeout.
struct App {
    facts: CommandFacts,
    title: String,
    file: usize,
    span: Span,
    /// gunicorn's worker timeout when it times requests out (sync
    /// workers) and every place that may set it is visible: (seconds, how
    /// it is known).
    gunicorn: Option<(u64, String)>,
    /// The name leads here and nowhere else: the app is in the nginx
    /// file's deployment unit, or no other deployment has that name.
    certain: bool,
}

/// The app `host`, written in file `from`, reaches: a compose service by
/// name, else the workload a Kubernetes Service of that name selects.
fn app_of(graph: &Graph<'_>, files: &[SourceFile], from: usize, host: &str, _port: Option<u16>) -> Option<App> {
    if let Some(s) = graph.compose.iter().rfind(|s| s.name == host) {
        let certain = graph.unit(s.file) == graph.unit(from)
            || graph.compose.iter().filter(|o| o.name == host).all(|o| o.project == s.project);
        let declarations: Vec<&ComposeService<'_>> = graph.compose_service(&s.project, s.name).collect();
        let dockerfile = declarations.iter().rev().find_map(|d| graph.dockerfile_of(d));
        // `GUNICORN_CMD_ARGS` of the containers: compose's environment, then
        // the Dockerfile's `ENV` (not read: unknown when it names it).
        let cmd_args = match container_env(&declarations, graph.env_files, files) {
            None => None,
            Some(env) => match env.iter().find(|v| v.name == "GUNICORN_CMD_ARGS") {
                Some(v) => v.value.map(|value| Some(value.to_owned())),
                None if dockerfile.is_some_and(|df| {
                    df.final_stage().any(|i| i.keyword == "ENV" && i.args.contains("GUNICORN_CMD_ARGS"))
                }) =>
                {
                    None
                }
                None => Some(None),
            },
        };
        let unit = graph.unit(s.file);
        let title = format!("`{}`", s.name);
        if let Some((c, span)) = &s.command {
            let command = words(c);
            let gunicorn = gunicorn(&command, cmd_args.as_ref().map(|a| a.as_deref()), graph, files, unit);
            return Some(App {
                facts: facts_of(&command, gunicorn.as_ref()),
                title,
                file: s.file,
                span: *span,
                gunicorn,
                certain,
            });
        }
        let df = graph.dockerfile_of(s)?;
        let command = df.command();
        let cmd = df.final_stage().filter(|i| i.keyword == "CMD" || i.keyword == "ENTRYPOINT").last()?;
        let gunicorn = gunicorn(&command, cmd_args.as_ref().map(|a| a.as_deref()), graph, files, unit);
        return Some(App {
            facts: facts_of(&command, gunicorn.as_ref()),
            title,
            file: df.file,
            span: cmd.span,
            gunicorn,
            certain,
        });
    }
    let name = host.split('.').next()?;
    let service = graph.services.iter().find(|s| graph.objects[s.object].name == name)?;
    let o = &graph.objects[service.object];
    let certain = graph.unit(o.file) == graph.unit(from)
        || graph.services.iter().filter(|s| graph.objects[s.object].name == name).count() == 1;
    graph.selected_in(graph.unit(o.file), o.namespace, &service.selector).find_map(|w| {
        let c = w.containers.iter().find(|c| !c.init && !c.command.is_empty())?;
        let file = graph.objects[w.object].file;
        let cmd_args = match c.env.iter().find(|(n, _, _)| *n == "GUNICORN_CMD_ARGS") {
            Some((_, value, _)) => value.map(Some),
            None if at(c.node, &["envFrom"]).is_some() => None,
            None => Some(None),
        };
        let gunicorn = gunicorn(&c.command, cmd_args, graph, files, graph.unit(file));
        Some(App {
            facts: facts_of(&c.command, gunicorn.as_ref()),
            title: format!("container `{}` of {}", c.name, graph.objects[w.object].title()),
            file,
            span: c.span,
            gunicorn,
            certain,
        })
    })
}

/// The command's facts with the server's defaults; gunicorn's timeout as
/// resolved from every place that sets it, when it is.
fn facts_of(command: &[String], gunicorn: Option<&(u64, String)>) -> CommandFacts {
    let mut f = with_defaults(command, facts(command));
    if let Some((timeout, _)) = gunicorn {
        f.timeout = Some(*timeout);
    }
    f
}

/// `name = value` at the top level of a gunicorn config file (Python),
/// with the line it is on: `Unknown` when assigned more than once or
/// inside a block.
fn config_setting(text: &str, name: &str) -> (Setting, usize) {
    let mut out = (Setting::Absent, 0);
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        let Some(value) = trimmed
            .strip_prefix(name)
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
            .filter(|v| !v.starts_with('='))
        else {
            continue;
        };
        if out.0 != Setting::Absent || trimmed.len() != line.len() {
            return (Setting::Unknown, start);
        }
        let value = value.split('#').next().unwrap_or("").trim().trim_matches(['"', '\'']);
        out = (Setting::Value(value.to_owned()), start);
    }
    out
}

/// gunicorn's worker timeout for `command`, as (seconds, how it is known),
/// when the command runs gunicorn with sync workers and the timeout can
/// be read: the command line over `GUNICORN_CMD_ARGS` (`cmd_args`: `None`
/// when unknown, `Some(None)` when not set) over the config file (`-c`,
/// or a `gunicorn.conf.py` of the unit), else gunicorn's 30 s.
fn gunicorn(
    command: &[String],
    cmd_args: Option<Option<&str>>,
    graph: &Graph<'_>,
    files: &[SourceFile],
    unit: usize,
) -> Option<(u64, String)> {
    let argv = expanded(command);
    let program = argv.iter().position(|w| w.rsplit('/').next() == Some("gunicorn"))?;
    let line = &argv[program + 1..];
    let env = expanded(&words(cmd_args?.unwrap_or("")));
    let pick = |long: &str, short: Option<&str>| -> (Setting, &'static str) {
        match option(line, long, short) {
            Setting::Absent => (option(&env, long, short), "`GUNICORN_CMD_ARGS`"),
            set => (set, "its command line"),
        }
    };
    let config = match pick("--config", Some("-c")).0 {
        Setting::Unknown => return None,
        Setting::Value(path) => {
            let found = files.iter().enumerate().find(|(i, f)| graph.unit(*i) == unit && tail_matches(&path, &f.name));
            // `python:module` or a file not in the tree: unknown.
            if path.starts_with("python:") || found.is_none() {
                return None;
            }
            found
        }
        Setting::Absent => files
            .iter()
            .enumerate()
            .find(|(i, f)| graph.unit(*i) == unit && f.name.rsplit(['/', '\\']).next() == Some("gunicorn.conf.py")),
    };
    let from_config = |name: &str| config.map_or((Setting::Absent, 0), |(_, f)| config_setting(&f.text, name));
    // Another worker class (or threads, which make the sync worker
    // gthread) keeps the worker alive while a request runs.
    let class = match pick("--worker-class", Some("-k")).0 {
        Setting::Absent => from_config("worker_class").0,
        set => set,
    };
    match class {
        Setting::Absent => {}
        Setting::Value(v) if v == "sync" || v.ends_with("SyncWorker") => {}
        _ => return None,
    }
    let threads = match pick("--threads", None).0 {
        Setting::Absent => from_config("threads").0,
        set => set,
    };
    match threads {
        Setting::Absent => {}
        Setting::Value(v) if v.parse::<u64>().is_ok_and(|n| n <= 1) => {}
        _ => return None,
    }
    let (timeout, how) = match pick("--timeout", Some("-t")) {
        (Setting::Absent, _) => match from_config("timeout") {
            (Setting::Absent, _) => (Setting::Value("30".to_owned()), "gunicorn's default".to_owned()),
            (set, start) => {
                let how = config.map_or_else(String::new, |(i, _)| {
                    format!("`timeout` in {}", place(files, i, Span::new(start, start)))
                });
                (set, how)
            }
        },
        (set, source) => (set, format!("set on {source}")),
    };
    let Setting::Value(timeout) = timeout else { return None };
    // 0 turns the timeout off.
    let limit = timeout.parse::<u64>().ok().filter(|s| *s > 0)?;
    Some((limit, how))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X013", files)
    }

    fn compose(command: &str, extra: &str) -> String {
        format!(
            "services:\n  web:\n    image: ghcr.io/acme/web:1.4.0\n    command: {command}\n{extra}  proxy:\n    image: nginx:1.27.2\n"
        )
    }

    fn nginx(read: &str) -> String {
        format!(
            "events {{}}\nhttp {{\n    server {{\n        listen 80;\n        location /reports/ {{\n            {read}\n            proxy_pass http://web:8000;\n        }}\n    }}\n}}\n"
        )
    }

    /// Without HTTP/1.1 and an empty `Connection`, nginx closes every
    /// upstream connection: `keepalive` keeps nothing to race.
    #[test]
    fn a_keepalive_pool_no_location_reuses_races_nothing() {
        let conf = |headers: &str| {
            format!(
                "events {{}}\nhttp {{\n    upstream api {{\n        server web:8000;\n        keepalive 16;\n    }}\n    server {{\n        listen 80;\n        location / {{\n{headers}            proxy_pass http://api;\n        }}\n    }}\n}}\n"
            )
        };
        let x013 = |headers: &str| {
            findings(&[
                ("docker-compose.yml", compose("gunicorn --bind 0.0.0.0:8000 app.wsgi", "").as_str()),
                ("nginx.conf", conf(headers).as_str()),
            ])
        };
        assert_eq!(
            x013("            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n").len(),
            1
        );
        assert!(x013("").is_empty(), "HTTP/1.0 with Connection: close");
        assert!(x013("            proxy_http_version 1.1;\n").is_empty(), "Connection: close by default");
        assert_eq!(
            x013("            proxy_http_version 1.1;\n            proxy_set_header Connection upgrade;\n").len(),
            1
        );
        assert!(
            x013("            proxy_http_version 1.1;\n            proxy_set_header Connection $connection_upgrade;\n")
                .is_empty()
        );
    }

    #[test]
    fn gunicorn_kills_before_nginx_gives_up() {
        let found = findings(&[
            ("docker-compose.yml", compose("gunicorn --bind 0.0.0.0:8000 app.wsgi", "").as_str()),
            ("nginx.conf", nginx("proxy_read_timeout 300s;").as_str()),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("past 30 s (gunicorn's default)"), "{found:?}");
        let short = findings(&[
            ("docker-compose.yml", compose("gunicorn -b 0.0.0.0:8000 -t 60 app.wsgi", "").as_str()),
            ("nginx.conf", nginx("proxy_read_timeout 10m;").as_str()),
        ]);
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(short[0].contains("past 60 s (set on its command line)"), "{short:?}");
    }

    #[test]
    fn silent_when_nested_unwritten_or_unknown() {
        let run = |command: &str, extra: &str, read: &str, more: &[(&str, &str)]| {
            let c = compose(command, extra);
            let n = nginx(read);
            let mut files = vec![("docker-compose.yml", c.as_str()), ("nginx.conf", n.as_str())];
            files.extend_from_slice(more);
            findings(&files)
        };
        // Nested as the rule asks.
        assert!(run("gunicorn -b 0.0.0.0:8000 --timeout 300 app.wsgi", "", "proxy_read_timeout 310s;", &[]).is_empty());
        // nginx's own default: the guide set no long timeout.
        assert!(run("gunicorn -b 0.0.0.0:8000 app.wsgi", "", "", &[]).is_empty());
        // Worker classes that do not time requests out.
        assert!(
            run(
                "gunicorn -b 0.0.0.0:8000 -k uvicorn.workers.UvicornWorker app:app",
                "",
                "proxy_read_timeout 300s;",
                &[]
            )
            .is_empty()
        );
        assert!(run("gunicorn -b 0.0.0.0:8000 --threads 4 app.wsgi", "", "proxy_read_timeout 300s;", &[]).is_empty());
        // Set where berth cannot read it.
        assert!(
            run("gunicorn -b 0.0.0.0:8000 -c /etc/gunicorn/conf.py app.wsgi", "", "proxy_read_timeout 300s;", &[])
                .is_empty()
        );
        let passed = "    environment:\n      - GUNICORN_CMD_ARGS\n";
        assert!(run("gunicorn -b 0.0.0.0:8000 app.wsgi", passed, "proxy_read_timeout 300s;", &[]).is_empty());
        let computed = "import os\ntimeout = int(os.environ.get(\"TIMEOUT\", \"30\"))\n";
        assert!(
            run("gunicorn -b 0.0.0.0:8000 app.wsgi", "", "proxy_read_timeout 300s;", &[("gunicorn.conf.py", computed)])
                .is_empty()
        );
    }

    #[test]
    fn settings_from_the_environment_and_the_config_file() {
        let env = "    environment:\n      GUNICORN_CMD_ARGS: \"--timeout 120 --workers 3\"\n";
        let c = compose("gunicorn -b 0.0.0.0:8000 app.wsgi", env);
        let n = nginx("proxy_read_timeout 600s;");
        let found = findings(&[("docker-compose.yml", c.as_str()), ("nginx.conf", n.as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("past 120 s (set on `GUNICORN_CMD_ARGS`)"), "{found:?}");
        let c = compose("gunicorn -b 0.0.0.0:8000 -c config/gunicorn.py app.wsgi", "");
        let conf = "bind = \"0.0.0.0:8000\"\nworkers = 3\ntimeout = 90\n";
        let found =
            findings(&[("docker-compose.yml", c.as_str()), ("nginx.conf", n.as_str()), ("config/gunicorn.py", conf)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("past 90 s (`timeout` in config/gunicorn.py:3)"), "{found:?}");
        let threaded = "timeout = 90\nthreads = 8\n";
        let none = findings(&[
            ("docker-compose.yml", c.as_str()),
            ("nginx.conf", n.as_str()),
            ("config/gunicorn.py", threaded),
        ]);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn options_and_config_lines() {
        let args: Vec<String> = ["-t", "60", "--timeout=90", "-k", "sync"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(option(&args, "--timeout", Some("-t")), Setting::Value("90".into()));
        assert_eq!(option(&args, "--worker-class", Some("-k")), Setting::Value("sync".into()));
        assert_eq!(option(&["-t45".to_owned()], "--timeout", Some("-t")), Setting::Value("45".into()));
        assert_eq!(option(&["--threads".to_owned()], "--threads", None), Setting::Unknown);
        assert_eq!(option(&[], "--threads", None), Setting::Absent);
        assert_eq!(config_setting("timeout = 60  # seconds\n", "timeout").0, Setting::Value("60".into()));
        assert_eq!(config_setting("graceful_timeout = 5\ntimeouts = 3\n", "timeout").0, Setting::Absent);
        assert_eq!(config_setting("if DEBUG:\n    timeout = 0\n", "timeout").0, Setting::Unknown);
        assert_eq!(config_setting("worker_class = 'gevent'\n", "worker_class").0, Setting::Value("gevent".into()));
    }
}
