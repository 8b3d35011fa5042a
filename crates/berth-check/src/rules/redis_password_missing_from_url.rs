use berth_diagnostics::Span;
use berth_spec::{Node, NodeKind};

use crate::graph::command::{expanded, words};
use crate::graph::compose::{ComposeService, ContainerVar, bind_mounts, container_env, network_names, normalize};
use crate::graph::prometheus::image_is;
use crate::graph::yaml::{at, seq, str_at};
use crate::graph::{Graph, place};
use crate::rule::{Context, Rule, Sink};

use super::alertmanager_not_deployed::cluster_name;

crate::declare_rule! {
    /// A Redis that requires a password answers every command of a client
    /// that did not authenticate with `NOAUTH Authentication required`: the
    /// app starts, then fails on its first cache read or queued task.
    /// Reported for a `REDIS_URL`, `REDIS_URI`, `CACHE_URL`, `BROKER_URL`,
    /// `CELERY_BROKER_URL`, `CELERY_RESULT_BACKEND` or `*_REDIS_URL` whose
    /// `redis://` URL has no password (`redis://redis:6379/0`, no
    /// `:password@`) and names a Redis of the same deployment unit that is
    /// given one: `--requirepass` in its command (or in `REDIS_ARGS`),
    /// `requirepass` in the `redis.conf` it is started with (a file of the
    /// tree mounted into it), or `REDIS_PASSWORD` on a Bitnami image. The
    /// URL comes from a compose service's `environment:` or an `env_file:`
    /// of the tree, or a Kubernetes container's literal `env`; the host is
    /// the Redis's compose service name (or alias), or a Kubernetes Service
    /// that selects it. Silent when the client has another variable for the
    /// password (`REDIS_PASSWORD`, `CACHE_URL_PASSWORD_FILE`, ...), reads an
    /// env file the tree does not hold or a Kubernetes `envFrom`, is given
    /// a compose secret or Kubernetes Secret volume named for Redis (it may
    /// read the password from the file), when the URL carries any user or
    /// a `password=` parameter, and when it is built from variables.
    RedisPasswordMissingFromUrl {
        code: "X019",
        name: "redis-password-missing-from-url",
        severity: Error,
        fix: "put the password in the URL (`redis://:${REDIS_PASSWORD}@redis:6379/0`), or give the client the password variable it reads",
    }
}

/// A Redis that requires a password.
#[derive(Debug)]
struct Redis<'g> {
    unit: usize,
    /// The compose project it runs in (its names resolve there only);
    /// `None` in Kubernetes.
    project: Option<String>,
    names: Vec<String>,
    /// How it is given the password, and where.
    how: String,
    /// Its compose declarations, in every file of the project.
    declarations: Vec<&'g ComposeService<'g>>,
}

impl Rule for RedisPasswordMissingFromUrl {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        let servers = servers(cx);
        if servers.is_empty() {
            return;
        }
        let mut reported: Vec<(usize, Span)> = Vec::new();
        for declarations in graph.compose_services() {
            let s = declarations[0];
            if declarations.iter().any(|d| d.image.as_deref().is_some_and(is_redis)) {
                continue;
            }
            // A compose secret for Redis: the app may read the password from its file.
            let secret = declarations.iter().flat_map(|d| seq(at(d.node, &["secrets"]))).any(|entry| {
                entry
                    .scalar_text()
                    .or_else(|| str_at(entry, &["source"]).map(str::to_owned))
                    .is_some_and(|n| redis_secret(&n))
            });
            if secret {
                continue;
            }
            // The base and `override` files, then each variant merged over them.
            let base: Vec<&ComposeService<'_>> = declarations.iter().copied().filter(|d| merged(cx, d.file)).collect();
            let mut variants: Vec<usize> = declarations.iter().map(|d| d.file).filter(|f| !merged(cx, *f)).collect();
            variants.dedup();
            let mut views: Vec<(Option<usize>, Vec<&ComposeService<'_>>)> = Vec::new();
            if !base.is_empty() {
                views.push((None, base.clone()));
            }
            for v in variants {
                // `-f docker-compose.yml -f <variant>`: the variant's values win.
                let mut view = base.clone();
                view.extend(declarations.iter().copied().filter(|d| d.file == v));
                views.push((Some(v), view));
            }
            for (variant, view) in views {
                let Some(env) = container_env(&view, graph.env_files, cx.files) else { continue };
                let client = Client {
                    env: &env,
                    unit: graph.unit(s.file),
                    project: Some(s.project.as_str()),
                    variant,
                    title: format!("service `{}`", s.name),
                };
                client.check(cx, &servers, sink, &mut reported);
            }
        }
        for w in &graph.workloads {
            let o = &graph.objects[w.object];
            // A Secret for Redis mounted into the pod: the app may read the password from it.
            let secret = seq(at(w.pod, &["volumes"]))
                .iter()
                .filter_map(|v| str_at(v, &["secret", "secretName"]))
                .any(redis_secret);
            if secret {
                continue;
            }
            for c in w.containers.iter().filter(|c| !c.image.is_some_and(is_redis)) {
                if at(c.node, &["envFrom"]).is_some() {
                    continue;
                }
                let env: Vec<ContainerVar<'_>> = c
                    .env
                    .iter()
                    .map(|(name, value, span)| ContainerVar { name, value: *value, file: o.file, span: *span })
                    .collect();
                let client = Client {
                    env: &env,
                    unit: graph.unit(o.file),
                    project: None,
                    variant: None,
                    title: format!("{} `{}`", o.title(), c.name),
                };
                client.check(cx, &servers, sink, &mut reported);
            }
        }
    }
}

/// An app's environment.
struct Client<'c, 'e> {
    env: &'c [ContainerVar<'e>],
    unit: usize,
    project: Option<&'c str>,
    /// The `docker-compose.<variant>.yml` this view of a compose client
    /// runs with, over the base and `override` files.
    variant: Option<usize>,
    title: String,
}

impl Client<'_, '_> {
    fn check(&self, cx: &Context<'_>, servers: &[Redis<'_>], sink: &mut Sink<'_>, reported: &mut Vec<(usize, Span)>) {
        for v in self.env.iter().filter(|v| url_variable(v.name)) {
            let Some((host, credentials)) = v.value.and_then(redis_url) else { continue };
            if credentials || self.env.iter().any(|o| password_variable(o.name, v.name)) {
                continue;
            }
            let name = match self.project {
                Some(_) => Some(host),
                None => cluster_name(host),
            };
            let Some(name) = name else { continue };
            let Some(server) = servers.iter().find(|r| {
                r.unit == self.unit && r.project.as_deref() == self.project && r.names.iter().any(|n| n == name)
            }) else {
                continue;
            };
            let Some(how) = self.sees(cx, server) else { continue };
            if reported.contains(&(v.file, v.span)) {
                continue;
            }
            reported.push((v.file, v.span));
            sink.report(
                v.file,
                v.span,
                format!(
                    "`{}` of {} connects to `{host}` without a password, but that Redis requires one ({}): every \
                     command fails with NOAUTH",
                    v.name, self.title, how
                ),
            );
        }
    }

    /// How the Redis this client runs with is given its password, if it
    /// is. The files of one compose directory are merged with `-f`, but a
    /// `docker-compose.<variant>.yml` that declares the Redis itself is
    /// also run alone (`-f docker-compose.production.yml`): a client seen
    /// with a variant runs with that variant's Redis when it declares one,
    /// else with the base's; another variant's `--requirepass` is not its
    /// Redis's.
    fn sees(&self, cx: &Context<'_>, server: &Redis<'_>) -> Option<String> {
        if server.declarations.is_empty() {
            return Some(server.how.clone());
        }
        let own = |pick: &dyn Fn(usize) -> bool| -> Vec<&ComposeService<'_>> {
            server.declarations.iter().copied().filter(|d| pick(d.file)).collect()
        };
        let mut visible = self.variant.map(|v| own(&|f| f == v)).unwrap_or_default();
        if visible.is_empty() {
            visible = own(&|f| merged(cx, f));
        }
        if visible.is_empty() {
            return Some(server.how.clone());
        }
        compose_password(cx, &visible)
    }
}

/// Whether compose merges this file whenever its directory's project runs:
/// `docker-compose.yml`, `compose.yaml` and their `override` companions.
fn merged(cx: &Context<'_>, file: usize) -> bool {
    let name = normalize(&cx.files[file].name);
    let name = name.rsplit('/').next().unwrap_or(&name).to_ascii_lowercase();
    crate::graph::units::COMPOSE.contains(&name.as_str())
}

/// A secret's name that says it is Redis's (`redis-password`, `cache_auth`).
fn redis_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["redis", "cache", "broker", "valkey"].iter().any(|w| lower.contains(w))
}

fn url_variable(name: &str) -> bool {
    matches!(
        name,
        "REDIS_URL" | "REDIS_URI" | "CACHE_URL" | "BROKER_URL" | "CELERY_BROKER_URL" | "CELERY_RESULT_BACKEND"
    ) || name.ends_with("_REDIS_URL")
}

/// A variable that carries the password for the URL in `url` some other
/// way: `REDIS_PASSWORD`, `CACHE_URL_PASSWORD_FILE`, `CELERY_BROKER_AUTH`...
fn password_variable(name: &str, url: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret = ["PASS", "AUTH", "SECRET", "TOKEN", "CREDENTIAL"].iter().any(|w| upper.contains(w));
    let stem = url.strip_suffix("_URL").or_else(|| url.strip_suffix("_URI")).unwrap_or(url);
    secret && (["REDIS", "CACHE", "BROKER", "CELERY"].iter().any(|w| upper.contains(w)) || upper.starts_with(stem))
}

/// The host of a `redis://` or `rediss://` URL, and whether the URL
/// carries credentials (any user part, or a `password=` parameter).
/// `None` for other URLs and for ones built from variables.
fn redis_url(value: &str) -> Option<(&str, bool)> {
    if value.contains('$') {
        return None;
    }
    let rest = value.strip_prefix("redis://").or_else(|| value.strip_prefix("rediss://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, authority),
    };
    let host = host_port.split(':').next().unwrap_or(host_port);
    (!host.is_empty()).then_some((host, userinfo || value.contains("password=")))
}

fn is_redis(image: &str) -> bool {
    ["redis", "redis-stack-server", "redis-stack", "valkey"].iter().any(|n| image_is(image, n))
}

fn is_bitnami(image: &str) -> bool {
    image.contains("bitnami/redis") && image_is(image, "redis")
}

/// `--requirepass <password>` with a password that is not empty (nor
/// `${VAR:-}`, which may be).
fn requirepass(command: &[String]) -> bool {
    let all = expanded(command);
    all.iter().enumerate().any(|(i, w)| {
        let value = match w.strip_prefix("--requirepass") {
            Some("") => all.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        value.is_some_and(|v| !(v.is_empty() || v.starts_with("--") || (v.starts_with("${") && v.ends_with("-}"))))
    })
}

/// Where the last `requirepass` line of a `redis.conf` sets a password.
fn conf_requirepass(text: &str) -> Option<Span> {
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let mut parts = line.split_whitespace();
        if parts.next().is_some_and(|k| k.eq_ignore_ascii_case("requirepass")) {
            let value = parts.next().unwrap_or("").trim_matches(['"', '\'']);
            let begin = start + (line.len() - line.trim_start().len());
            found = (!value.is_empty()).then(|| Span::new(begin, begin + "requirepass".len()));
        }
    }
    found
}

/// The command (`entrypoint` then `command`) as written, before
/// interpolation: `--requirepass ${REDIS_PASSWORD}` gives a password even
/// when the tree has no `.env` for it.
fn raw_command(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["entrypoint", "command"] {
        match at(node, &[key]).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => out.extend(items.iter().filter_map(Node::scalar_text)),
            Some(NodeKind::Str(s)) => out.extend(words(s)),
            _ => {}
        }
    }
    out
}

/// How a compose Redis is given its password, if it is.
fn compose_password(cx: &Context<'_>, declarations: &[&ComposeService<'_>]) -> Option<String> {
    let first = declarations.first()?;
    let image = declarations.iter().rev().find_map(|d| d.image.as_deref())?;
    let command = declarations.iter().rev().map(|d| raw_command(d.node)).find(|c| !c.is_empty()).unwrap_or_default();
    if requirepass(&command) {
        return Some(format!("`--requirepass` in its command, {}", place(cx.files, first.file, first.span)));
    }
    let env: Vec<ContainerVar<'_>> = container_env(declarations, cx.graph.env_files, cx.files).unwrap_or_else(|| {
        declarations
            .iter()
            .flat_map(|d| {
                d.environment.iter().map(move |e| ContainerVar {
                    name: e.name.as_str(),
                    value: e.value.as_deref(),
                    file: d.file,
                    span: e.span,
                })
            })
            .collect()
    });
    if let Some(v) = env.iter().find(|v| v.name == "REDIS_ARGS")
        && v.value.is_some_and(|args| requirepass(&words(args)))
    {
        return Some(format!("`--requirepass` in `REDIS_ARGS`, {}", place(cx.files, v.file, v.span)));
    }
    if is_bitnami(image)
        && let Some(v) = env.iter().find(|v| matches!(v.name, "REDIS_PASSWORD" | "REDIS_PASSWORD_FILE"))
    {
        // Bitnami's image runs without a password only when told to.
        let empty_allowed = env
            .iter()
            .any(|a| a.name == "ALLOW_EMPTY_PASSWORD" && a.value.is_some_and(|x| matches!(x, "yes" | "true" | "1")));
        if v.value.is_some_and(|x| !x.is_empty()) || !empty_allowed {
            return Some(format!("`{}` on the Bitnami image, {}", v.name, place(cx.files, v.file, v.span)));
        }
    }
    // A `redis.conf` of the tree it is started with.
    let args = expanded(&command);
    let mut configs: Vec<String> = Vec::new();
    for (source, target) in declarations.iter().flat_map(|d| bind_mounts(d)) {
        for w in &args {
            if *w == target {
                configs.push(source.clone());
            } else if let Some(rest) = w.strip_prefix(&format!("{target}/")) {
                configs.push(format!("{source}/{rest}"));
            }
        }
        if is_bitnami(image) {
            match target.as_str() {
                "/opt/bitnami/redis/mounted-etc/redis.conf" => configs.push(source.clone()),
                "/opt/bitnami/redis/mounted-etc" => configs.push(format!("{source}/redis.conf")),
                _ => {}
            }
        }
    }
    configs.iter().find_map(|path| {
        let (index, file) = cx.files.iter().enumerate().find(|(_, f)| normalize(&f.name) == *path)?;
        let span = conf_requirepass(&file.text)?;
        Some(format!("`requirepass` in {}", place(cx.files, index, span)))
    })
}

/// Every Redis of the tree that requires a password.
fn servers<'g>(cx: &Context<'g>) -> Vec<Redis<'g>> {
    let graph: &Graph<'_> = cx.graph;
    let mut out = Vec::new();
    for declarations in graph.compose_services() {
        let s = declarations[0];
        if !declarations.iter().any(|d| d.image.as_deref().is_some_and(is_redis)) {
            continue;
        }
        let Some(how) = compose_password(cx, &declarations) else { continue };
        let mut names: Vec<String> = declarations.iter().flat_map(|d| network_names(d)).collect();
        names.sort_unstable();
        names.dedup();
        out.push(Redis { unit: graph.unit(s.file), project: Some(s.project.clone()), names, how, declarations });
    }
    for w in &graph.workloads {
        let o = &graph.objects[w.object];
        for c in w.containers.iter().filter(|c| !c.init) {
            let Some(image) = c.image.filter(|i| is_redis(i)) else { continue };
            let args = |a: &str| requirepass(&words(a));
            let how = if requirepass(&c.command) {
                "`--requirepass` in its command"
            } else if c.env.iter().any(|(n, v, _)| *n == "REDIS_ARGS" && v.is_some_and(args)) {
                "`--requirepass` in `REDIS_ARGS`"
            } else if is_bitnami(image)
                && c.env.iter().any(|(n, v, _)| {
                    matches!(*n, "REDIS_PASSWORD" | "REDIS_PASSWORD_FILE") && v.is_none_or(|x| !x.is_empty())
                })
            {
                "`REDIS_PASSWORD` on the Bitnami image"
            } else {
                continue;
            };
            let names: Vec<String> = graph
                .services
                .iter()
                .filter(|s| !s.selector.is_empty())
                .filter(|s| {
                    let so = &graph.objects[s.object];
                    graph.selected_in(graph.unit(so.file), so.namespace, &s.selector).any(|sw| sw.object == w.object)
                })
                .map(|s| graph.objects[s.object].name.to_owned())
                .collect();
            if names.is_empty() {
                continue;
            }
            out.push(Redis {
                unit: graph.unit(o.file),
                project: None,
                names,
                how: format!("{how}, {}", place(cx.files, o.file, c.span)),
                declarations: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X019", files)
    }

    fn compose(redis: &str, app_env: &str) -> String {
        format!("services:\n  redis:\n{redis}  web:\n    image: ghcr.io/acme/web:3.2.0\n    environment:\n{app_env}")
    }

    const REQUIREPASS: &str =
        "    image: redis:7.2.5\n    command: redis-server --appendonly yes --requirepass ${REDIS_PASSWORD}\n";
    const URL: &str = "      REDIS_URL: redis://redis:6379/0\n";

    #[test]
    fn compose_files_a_platform_ships_side_by_side_are_separate_projects() {
        // `templates/compose/<app>.yaml`: each is its own project; one's
        // `--requirepass` says nothing of the other's Redis.
        let open = "    image: redis:7.2.5\n";
        let found = findings(&[
            (
                "templates/compose/a.yaml",
                compose(REQUIREPASS, "      REDIS_URL: redis://:${REDIS_PASSWORD}@redis:6379/0\n").as_str(),
            ),
            ("templates/compose/b.yaml", compose(open, URL).as_str()),
        ]);
        assert!(found.is_empty(), "{found:?}");
        // compose's own companions of one project still merge.
        let found = findings(&[
            ("docker-compose.yml", compose(REQUIREPASS, "      LOG: info\n").as_str()),
            ("docker-compose.override.yml", format!("services:\n  web:\n    environment:\n{URL}").as_str()),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn a_variant_that_declares_its_own_redis_runs_with_that_one() {
        // mirai-agent, AstroSense: `docker-compose.production.yml` and the
        // dev `docker-compose.yml` each declare a Redis; only the
        // microservices variant's requires a password.
        let open = "    image: redis:7.2.5\n";
        let found = findings(&[
            (
                "docker-compose.microservices.yml",
                compose(REQUIREPASS, "      REDIS_URL: redis://:${P}@redis:6379/0\n").as_str(),
            ),
            ("docker-compose.production.yml", compose(open, URL).as_str()),
            ("docker-compose.yml", compose(open, URL).as_str()),
        ]);
        assert!(found.is_empty(), "{found:?}");
        // The variant's own Redis with a password is that client's.
        let found = findings(&[
            ("docker-compose.prod.yml", compose(REQUIREPASS, URL).as_str()),
            ("docker-compose.yml", compose(open, URL).as_str()),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("docker-compose.prod.yml"), "{found:?}");
        // A variant that only adds the app runs with the base's Redis.
        let found = findings(&[
            ("docker-compose.yml", compose(REQUIREPASS, "      LOG: info\n").as_str()),
            (
                "docker-compose.worker.yml",
                format!("services:\n  worker:\n    image: ghcr.io/acme/worker:1.0.0\n    environment:\n{URL}").as_str(),
            ),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn a_url_without_the_password_redis_requires() {
        let found = findings(&[("docker-compose.yml", compose(REQUIREPASS, URL).as_str())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`--requirepass` in its command"), "{found:?}");
        let bitnami = "    image: bitnami/redis:7.2.5\n    environment:\n      REDIS_PASSWORD: ${REDIS_PASSWORD}\n";
        assert_eq!(findings(&[("docker-compose.yml", compose(bitnami, URL).as_str())]).len(), 1);
        let allowed = "    image: bitnami/redis:7.2.5\n    environment:\n      ALLOW_EMPTY_PASSWORD: \"yes\"\n      REDIS_PASSWORD: \"\"\n";
        assert!(findings(&[("docker-compose.yml", compose(allowed, URL).as_str())]).is_empty());
    }

    #[test]
    fn a_url_from_an_env_file_and_a_password_from_redis_conf() {
        let redis = "    image: redis:7.2.5\n    command: [\"redis-server\", \"/usr/local/etc/redis/redis.conf\"]\n    volumes:\n      - ./redis/redis.conf:/usr/local/etc/redis/redis.conf:ro\n";
        let app = "    image: ghcr.io/acme/web:3.2.0\n    env_file: worker.env\n";
        let text = format!("services:\n  redis:\n{redis}  worker:\n{app}");
        let conf = "bind 0.0.0.0\n# requirepass foobared\nrequirepass 9f2c1d7e\n";
        let env = "CELERY_BROKER_URL=redis://redis:6379/1\n";
        let files = [("docker-compose.yml", text.as_str()), ("redis/redis.conf", conf), ("worker.env", env)];
        let found = findings(&files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("redis/redis.conf:3"), "{found:?}");
        // The same file, not given to redis-server: it runs without it.
        let unused =
            text.replace("command: [\"redis-server\", \"/usr/local/etc/redis/redis.conf\"]", "command: redis-server");
        assert!(
            findings(&[("docker-compose.yml", unused.as_str()), ("redis/redis.conf", conf), ("worker.env", env)])
                .is_empty()
        );
    }

    #[test]
    fn silent_when_the_password_is_given_or_unknown() {
        let with = |app_env: &str| findings(&[("docker-compose.yml", compose(REQUIREPASS, app_env).as_str())]);
        assert!(with("      REDIS_URL: redis://:${REDIS_PASSWORD}@redis:6379/0\n").is_empty());
        assert!(with("      REDIS_URL: redis://redis:6379/0\n      REDIS_PASSWORD: ${REDIS_PASSWORD}\n").is_empty());
        assert!(with("      REDIS_URL: redis://cache.example.com:6379/0\n").is_empty());
        let open = "    image: redis:7.2.5\n    command: redis-server --appendonly yes\n";
        assert!(findings(&[("docker-compose.yml", compose(open, URL).as_str())]).is_empty());
        // An env file the tree does not hold may set the password.
        let hidden = compose(REQUIREPASS, URL).replace(
            "    environment:\n      REDIS_URL",
            "    env_file: secrets.env\n    environment:\n      REDIS_URL",
        );
        assert!(findings(&[("docker-compose.yml", hidden.as_str())]).is_empty());
    }

    #[test]
    fn kubernetes_services_name_the_redis() {
        let manifests = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: redis, namespace: shop }\nspec:\n  selector: { matchLabels: { app: redis } }\n  template:\n    metadata: { labels: { app: redis } }\n    spec:\n      containers:\n        - name: redis\n          image: redis:7.2.5\n          args: [\"--requirepass\", \"$(REDIS_PASSWORD)\"]\n---\napiVersion: v1\nkind: Service\nmetadata: { name: redis, namespace: shop }\nspec:\n  selector: { app: redis }\n  ports: [{ port: 6379 }]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: shop }\nspec:\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:3.2.0\n          env:\n            - { name: REDIS_URL, value: \"redis://redis.shop.svc.cluster.local:6379/0\" }\n";
        let found = findings(&[("k8s/app.yaml", manifests)]);
        assert_eq!(found.len(), 1, "{found:?}");
        let with_secret = manifests.replace("            - { name: REDIS_URL", "            - { name: REDIS_PASSWORD, valueFrom: { secretKeyRef: { name: redis, key: password } } }\n            - { name: REDIS_URL");
        assert!(findings(&[("k8s/app.yaml", with_secret.as_str())]).is_empty());
    }

    #[test]
    fn urls_passwords_and_flags() {
        assert_eq!(redis_url("redis://redis:6379/0"), Some(("redis", false)));
        assert_eq!(redis_url("rediss://:s3cret@cache.internal:6380"), Some(("cache.internal", true)));
        assert_eq!(redis_url("redis://default@redis:6379"), Some(("redis", true)));
        assert_eq!(redis_url("redis://redis:6379/0?password=x"), Some(("redis", true)));
        assert_eq!(redis_url("redis://${REDIS_HOST}:6379"), None);
        assert_eq!(redis_url("postgres://db/app"), None);
        let w = |s: &str| words(s);
        assert!(requirepass(&w("redis-server --appendonly yes --requirepass ${REDIS_PASSWORD}")));
        assert!(requirepass(&w("sh -c 'exec redis-server --requirepass \"$$REDIS_PASSWORD\"'")));
        assert!(!requirepass(&w("redis-server --requirepass \"\"")));
        assert!(!requirepass(&w("redis-server --requirepass ${REDIS_PASSWORD:-}")));
        assert!(!requirepass(&w("redis-server --appendonly yes")));
        assert!(password_variable("CACHE_URL_PASSWORD_FILE", "CACHE_URL"));
        assert!(password_variable("REDIS_PASSWORD", "CELERY_BROKER_URL"));
        assert!(!password_variable("POSTGRES_PASSWORD", "REDIS_URL"));
        let conf = "# requirepass foobared\nbind 0.0.0.0\nrequirepass s3cret\n";
        assert_eq!(conf_requirepass(conf).map(|s| &conf[s.start..s.end]), Some("requirepass"));
        assert_eq!(conf_requirepass("# requirepass foobared\n"), None);
    }
}
