//! docker-compose files into the graph: services with their published
//! ports, environment, dependencies, health checks, replicas and mounts.
//! Values are interpolated from the `.env` file next to the compose file
//! (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`; `$$` is a
//! literal `$`). Override files (`docker-compose.override.yml`,
//! `compose.override.yaml`) add to the services of the same directory.

use berth_diagnostics::{SourceFile, Span};
use berth_spec::{Node, NodeKind};

use super::envfile::{EnvFile, find};
use super::yaml::{at, bool_at, int_at, seq, str_at};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// `None` binds every interface.
    pub host_ip: Option<String>,
    /// `None` lets Docker pick a free host port.
    pub published: Option<String>,
    pub target: Option<i64>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct EnvVar {
    pub name: String,
    /// After interpolation; `None` when passed through from the shell.
    pub value: Option<String>,
    /// Whether the written value came from interpolation (`${...}`).
    pub interpolated: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Dependency {
    pub service: String,
    /// `service_started` when not written.
    pub condition: String,
    /// The file names the condition itself: a choice, not an omission.
    pub explicit: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ComposeService<'a> {
    pub file: usize,
    /// The compose project ([`project_of`]): the files merged into one.
    pub project: String,
    /// The compose file's directory, which relative paths start from.
    pub dir: String,
    pub name: &'a str,
    pub node: &'a Node,
    pub span: Span,
    pub image: Option<String>,
    pub ports: Vec<PublishedPort>,
    pub environment: Vec<EnvVar>,
    pub depends_on: Vec<Dependency>,
    /// A `healthcheck` that is not `disable: true`, in this file or an override.
    pub healthcheck: bool,
    /// The healthcheck's `test`, joined.
    pub healthcheck_test: Option<(String, Span)>,
    /// `command` joined (string or list form).
    pub command: Option<(String, Span)>,
    /// Ports from `expose:`.
    pub expose: Vec<i64>,
    /// The Dockerfile it builds, as a path next to the compose file's
    /// (`app/Dockerfile`), normalized.
    pub dockerfile: Option<String>,
    pub replicas: Option<(i64, Span)>,
}

/// The directory of a file.
/// A swarm stack file (`docker-stack.yml`, `stack.yml`, `pwd-stack.yml`):
/// `docker stack deploy` reads it, which ignores `depends_on` and lets
/// replicas share a published port.
pub fn is_stack_file(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path).to_ascii_lowercase();
    name.trim_end_matches(".yaml").trim_end_matches(".yml").contains("stack")
}

pub fn dir_of(path: &str) -> String {
    path.rsplit_once(['/', '\\']).map_or_else(String::new, |(dir, _)| dir.to_owned())
}

/// The compose project a file belongs to. Files compose itself names
/// (`compose.yaml`, `docker-compose.yml` and their `.override`, `.prod`,
/// `.dev` companions, merged with `-f`) share their directory's project;
/// any other compose file is a project of its own, as the directories of
/// templates a platform ships hold (`templates/compose/<app>.yaml`).
pub fn project_of(path: &str) -> String {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path).to_ascii_lowercase();
    if name.starts_with("docker-compose") || name.starts_with("compose.") || name.starts_with("compose-") {
        dir_of(path)
    } else {
        path.to_owned()
    }
}

/// `KEY=value` lines of a `.env` file (comments, `export ` and quotes handled).
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

/// Interpolates `${VAR}`-style references; returns the text and whether
/// any reference was present.
pub fn interpolate(text: &str, env: &[(String, String)]) -> (String, bool) {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&rest[i..]);
                return (out, found);
            };
            found = true;
            let expr = &inner[..end];
            let (name, default) = match expr.find([':', '-', '?']) {
                Some(p) => {
                    let op = &expr[p..];
                    let default = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')).unwrap_or("");
                    (&expr[..p], default)
                }
                None => (expr, ""),
            };
            out.push_str(lookup(name).filter(|v| !v.is_empty()).unwrap_or(default));
            rest = &inner[end + 1..];
        } else {
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name.is_empty() {
                out.push('$');
                rest = after;
            } else {
                found = true;
                out.push_str(lookup(&name).unwrap_or(""));
                rest = &after[name.len()..];
            }
        }
    }
    out.push_str(rest);
    (out, found)
}

fn scalar(node: &Node, env: &[(String, String)]) -> Option<(String, bool)> {
    node.scalar_text().map(|t| interpolate(&t, env))
}

/// `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, with IPv6 in brackets.
fn short_port(text: &str, span: Span) -> PublishedPort {
    let text = text.split('/').next().unwrap_or(text);
    let (host_ip, rest) = if let Some(stripped) = text.strip_prefix('[') {
        match stripped.split_once("]:") {
            Some((ip, rest)) => (Some(ip.to_owned()), rest),
            None => (None, text),
        }
    } else {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() == 3 { (Some(parts[0].to_owned()), &text[parts[0].len() + 1..]) } else { (None, text) }
    };
    let (published, target) = match rest.rsplit_once(':') {
        Some((p, t)) => (Some(p.to_owned()).filter(|p| !p.is_empty()), t),
        None => (None, rest),
    };
    // A range target (`8000-8010`) keeps its first port.
    let target = target.split('-').next().and_then(|t| t.parse().ok());
    PublishedPort { host_ip: host_ip.filter(|h| !h.is_empty()), published, target, span }
}

/// `a/./b/../c` as `a/c`, without a leading `./`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

pub fn services<'a>(file: usize, path: &str, doc: &'a Node, env: &[(String, String)]) -> Vec<ComposeService<'a>> {
    let Some(entries) = at(doc, &["services"]).and_then(Node::as_map) else { return Vec::new() };
    let project = project_of(path);
    let dir = dir_of(path);
    entries
        .iter()
        .map(|entry| {
            let s = &entry.value;
            let ports = seq(at(s, &["ports"]))
                .iter()
                .filter_map(|p| match &p.kind {
                    NodeKind::Map(_) => Some(PublishedPort {
                        host_ip: at(p, &["host_ip"])
                            .and_then(|n| scalar(n, env))
                            .map(|(v, _)| v)
                            .filter(|v| !v.is_empty()),
                        published: at(p, &["published"])
                            .and_then(|n| scalar(n, env))
                            .map(|(v, _)| v)
                            .filter(|v| !v.is_empty()),
                        target: int_at(p, &["target"]),
                        span: p.get("published").or_else(|| p.get("target")).map_or(p.span, |e| e.value.span),
                    }),
                    _ => scalar(p, env).map(|(t, _)| short_port(&t, p.span)),
                })
                .collect();
            let environment = match at(s, &["environment"]).map(|n| &n.kind) {
                Some(NodeKind::Map(vars)) => vars
                    .iter()
                    .map(|v| {
                        let (value, interpolated) = match scalar(&v.value, env) {
                            Some((t, i)) => (Some(t), i),
                            None => (None, false),
                        };
                        EnvVar { name: v.key.name.clone(), value, interpolated, span: v.value.span }
                    })
                    .collect(),
                Some(NodeKind::Seq(items)) => items
                    .iter()
                    .filter_map(|item| {
                        let raw = item.scalar_text()?;
                        let (name, value) = match raw.split_once('=') {
                            Some((n, v)) => (n.to_owned(), Some(interpolate(v, env))),
                            None => (raw.clone(), None),
                        };
                        Some(EnvVar {
                            name,
                            interpolated: value.as_ref().is_some_and(|(_, i)| *i),
                            value: value.map(|(v, _)| v),
                            span: item.span,
                        })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let depends_on = match at(s, &["depends_on"]).map(|n| &n.kind) {
                Some(NodeKind::Seq(items)) => items
                    .iter()
                    .filter_map(|i| {
                        Some(Dependency {
                            service: i.scalar_text()?,
                            condition: "service_started".into(),
                            explicit: false,
                            span: i.span,
                        })
                    })
                    .collect(),
                Some(NodeKind::Map(deps)) => deps
                    .iter()
                    .map(|d| Dependency {
                        service: d.key.name.clone(),
                        condition: str_at(&d.value, &["condition"]).unwrap_or("service_started").to_owned(),
                        explicit: str_at(&d.value, &["condition"]).is_some(),
                        span: d.key.span,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let healthcheck =
                at(s, &["healthcheck"]).is_some() && bool_at(s, &["healthcheck", "disable"]) != Some(true);
            let replicas = at(s, &["deploy", "replicas"]).or_else(|| at(s, &["scale"])).and_then(|n| match &n.kind {
                NodeKind::Int(i) => Some((i64::try_from(*i).ok()?, n.span)),
                _ => Some((scalar(n, env)?.0.parse().ok()?, n.span)),
            });
            let joined = |n: &Node| -> Option<(String, Span)> {
                match &n.kind {
                    NodeKind::Seq(items) => {
                        Some((items.iter().filter_map(Node::scalar_text).collect::<Vec<_>>().join(" "), n.span))
                    }
                    _ => Some((scalar(n, env)?.0, n.span)),
                }
            };
            let healthcheck_test = at(s, &["healthcheck", "test"]).and_then(joined);
            // What the container runs: an `entrypoint:` override, then `command:`.
            let command = match (at(s, &["entrypoint"]).and_then(joined), at(s, &["command"]).and_then(joined)) {
                (Some((e, span)), Some((c, _))) => Some((format!("{e} {c}"), span)),
                (Some(e), None) => Some(e),
                (None, c) => c,
            };
            let expose = seq(at(s, &["expose"]))
                .iter()
                .filter_map(|p| p.scalar_text()?.split(['/', '-']).next()?.parse().ok())
                .collect();
            let dockerfile = match at(s, &["build"]) {
                None => None,
                Some(b) => {
                    let (context, name) = match b.as_str() {
                        Some(context) => (context.to_owned(), "Dockerfile".to_owned()),
                        None => (
                            str_at(b, &["context"]).unwrap_or(".").to_owned(),
                            str_at(b, &["dockerfile"]).unwrap_or("Dockerfile").to_owned(),
                        ),
                    };
                    Some(normalize(&format!("{dir}/{context}/{name}")))
                }
            };
            ComposeService {
                healthcheck_test,
                command,
                expose,
                dockerfile,
                file,
                project: project.clone(),
                dir: dir.clone(),
                name: entry.key.name.as_str(),
                node: s,
                span: entry.key.span,
                image: at(s, &["image"]).and_then(|n| scalar(n, env)).map(|(v, _)| v),
                ports,
                environment,
                depends_on,
                healthcheck,
                replicas,
            }
        })
        .collect()
}

/// A variable that compose text interpolates (`${VAR}`, `$VAR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    /// The reference says what happens when the variable is unset: a
    /// default (`${VAR:-x}`, `${VAR-x}`), an error (`${VAR:?msg}`,
    /// `${VAR?msg}`) or an alternative (`${VAR:+x}`, `${VAR+x}`).
    pub handled: bool,
}

/// The variables `text` interpolates, as compose reads it: `$$` is a
/// literal `$`; a name starts with a letter or `_`.
pub fn references(text: &str) -> Vec<Reference> {
    let is_name = |name: &str| name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else { break };
            let expr = &inner[..end];
            let len = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
            if is_name(&expr[..len]) {
                out.push(Reference { name: expr[..len].to_owned(), handled: len < expr.len() });
            }
            rest = &inner[end + 1..];
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if is_name(&after[..len]) {
                out.push(Reference { name: after[..len].to_owned(), handled: false });
            }
            rest = &after[len..];
        }
    }
    out
}

/// The env files a service's containers read (`env_file:` as one path, a
/// list of paths, or a list of `{path, required}`): (path in the tree,
/// where it is written). Paths are taken relative to the compose file's
/// directory and normalized; one that cannot be (absolute, or built from
/// variables) is still listed, and matches no file of the tree.
pub fn env_file_paths(service: &ComposeService<'_>) -> Vec<(String, Span)> {
    let Some(node) = at(service.node, &["env_file"]) else { return Vec::new() };
    let entries: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    entries
        .into_iter()
        .filter_map(|e| {
            let (path, span) = match e.as_str() {
                Some(p) => (p, e.span),
                None => (str_at(e, &["path"])?, at(e, &["path"]).map_or(e.span, |n| n.span)),
            };
            let path = if path.starts_with('/') || path.contains('$') {
                path.to_owned()
            } else {
                normalize(&format!("{}/{path}", service.dir))
            };
            Some((path, span))
        })
        .collect()
}

/// One entry of a service's `volumes:`, short (`./conf:/etc/app:ro`) or
/// long (`{ type: bind, source, target }`) syntax.
struct Mount<'n> {
    source: &'n str,
    /// `None` for a short entry that names only a container path.
    target: Option<&'n str>,
    /// Long syntax with a `type` other than `bind` (a volume, a tmpfs).
    not_bind: bool,
}

fn mounts<'n>(service: &ComposeService<'n>) -> impl Iterator<Item = Mount<'n>> {
    seq(at(service.node, &["volumes"])).iter().filter_map(|v| match v.as_str() {
        Some(short) => {
            let mut parts = short.splitn(3, ':');
            Some(Mount { source: parts.next()?, target: parts.next(), not_bind: false })
        }
        None => Some(Mount {
            source: str_at(v, &["source"])?,
            target: str_at(v, &["target"]),
            not_bind: str_at(v, &["type"]).is_some_and(|t| t != "bind"),
        }),
    })
}

/// Files and directories of the tree a service bind-mounts: (source
/// relative to the compose file's directory, normalized; target path in
/// the container). Named volumes, absolute host paths and sources built
/// from variables are left out: they name nothing in the tree.
pub fn bind_mounts(service: &ComposeService<'_>) -> Vec<(String, String)> {
    mounts(service)
        .filter_map(|m| {
            let (source, target) = (m.source, m.target?);
            let relative = source == "." || source.starts_with("./") || source.starts_with("../");
            (relative && !source.contains('$') && target.starts_with('/'))
                .then(|| (normalize(&format!("{}/{source}", service.dir)), target.trim_end_matches('/').to_owned()))
        })
        .collect()
}

/// The host paths of bind mounts written from a variable
/// (`${APP_DATA_DIR}/data/nginx/default.conf`), without the variable:
/// `data/nginx/default.conf`.
pub fn variable_mount_tails(service: &ComposeService<'_>) -> Vec<String> {
    mounts(service)
        .filter_map(|m| {
            let rest = m.source.strip_prefix('$')?.split_once('/')?.1;
            (!rest.is_empty() && !rest.contains('$')).then(|| rest.trim_end_matches('/').to_owned())
        })
        .collect()
}

/// Whether a service mounts its own configuration from the host (a file or
/// directory whose container path is a config location: `/etc/...`,
/// `.../config`, `*.conf`, `*.toml`): what it listens on is then that
/// file's business, which berth does not read for every program.
pub fn mounts_configuration(service: &ComposeService<'_>) -> bool {
    mounts(service).any(|m| {
        let Some(target) = m.target.filter(|_| !m.not_bind) else { return false };
        // A named volume holds data the container wrote, not configuration.
        let host_path = m.source.starts_with(['.', '/', '~', '$']);
        let target = target.to_ascii_lowercase();
        let config_place = target.starts_with("/etc/")
            || target.split('/').any(|part| part.starts_with("conf") || part.starts_with("settings"))
            || [".conf", ".cfg", ".ini", ".toml", ".yml", ".yaml", ".json", ".properties", ".xml"]
                .iter()
                .any(|ext| target.ends_with(ext));
        host_path && config_place
    })
}

/// The names other containers of the project reach a service by: its
/// name, `container_name`, `hostname` and its networks' `aliases`. The
/// aliases of its own `links` name *other* containers ([`linked_as`]).
pub fn network_names(service: &ComposeService<'_>) -> Vec<String> {
    let mut out = vec![service.name.to_owned()];
    for key in ["container_name", "hostname"] {
        out.extend(str_at(service.node, &[key]).map(str::to_owned));
    }
    if let Some(networks) = at(service.node, &["networks"]).and_then(Node::as_map) {
        for n in networks {
            out.extend(seq(at(&n.value, &["aliases"])).iter().filter_map(Node::scalar_text));
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

/// Whether `client` reaches the service `target` as `name` through its
/// `links` (`links: [web:app]` makes `app` mean `web` inside `client`).
pub fn linked_as(client: &ComposeService<'_>, target: &str, name: &str) -> bool {
    ["links", "external_links"].iter().any(|key| {
        seq(at(client.node, &[key])).iter().filter_map(Node::as_str).any(|link| {
            let (service, alias) = link.split_once(':').unwrap_or((link, link));
            service.eq_ignore_ascii_case(target) && alias.eq_ignore_ascii_case(name)
        })
    })
}

/// A variable a compose service's containers get, and where it is set.
#[derive(Debug, Clone)]
pub struct ContainerVar<'e> {
    pub name: &'e str,
    /// After interpolation; `None` when passed through from the shell.
    pub value: Option<&'e str>,
    /// The compose file (`environment:`) or the env file (`env_file:`).
    pub file: usize,
    /// The value's place.
    pub span: Span,
}

/// The environment the containers of a service get, merged as compose
/// merges it over `declarations` (a service's base file, then its
/// overrides): `environment:` over `env_file:`, a later declaration over
/// an earlier one, a later env file over an earlier one, a later line
/// over an earlier one. One entry per name. `None` when an env file is not
/// among the checked files: what it sets is unknown.
pub fn container_env<'e>(
    declarations: &[&'e ComposeService<'_>],
    env_files: &'e [EnvFile],
    files: &[SourceFile],
) -> Option<Vec<ContainerVar<'e>>> {
    let mut out: Vec<ContainerVar<'e>> = Vec::new();
    for &d in declarations.iter().rev() {
        for v in d.environment.iter().rev() {
            if !out.iter().any(|o| o.name == v.name) {
                out.push(ContainerVar { name: v.name.as_str(), value: v.value.as_deref(), file: d.file, span: v.span });
            }
        }
    }
    for &d in declarations.iter().rev() {
        for (path, _) in env_file_paths(d).iter().rev() {
            let env = find(env_files, files, path)?;
            for v in env.vars.iter().rev() {
                if !out.iter().any(|o| o.name == v.name) {
                    out.push(ContainerVar {
                        name: v.name.as_str(),
                        value: Some(v.value.as_str()),
                        file: env.file,
                        span: v.value_span,
                    });
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_compose() {
        let env = vec![("TAG".to_owned(), "1.2".to_owned()), ("EMPTY".to_owned(), String::new())];
        assert_eq!(interpolate("app:${TAG}", &env), ("app:1.2".to_owned(), true));
        assert_eq!(interpolate("${MISSING:-8080}", &env).0, "8080");
        assert_eq!(interpolate("${EMPTY:-x}", &env).0, "x");
        assert_eq!(interpolate("$TAG-$$HOME", &env).0, "1.2-$HOME");
        assert_eq!(interpolate("plain", &env), ("plain".to_owned(), false));
    }

    #[test]
    fn short_port_syntax() {
        let s = Span::new(0, 0);
        assert_eq!(short_port("8080:80", s).host_ip, None);
        assert_eq!(short_port("127.0.0.1:8080:80/tcp", s).host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(short_port("[::1]:8080:80", s).host_ip.as_deref(), Some("::1"));
        assert_eq!(short_port("80", s).published, None);
        assert_eq!(short_port("8080:80", s).target, Some(80));
    }

    #[test]
    fn env_files() {
        let vars = parse_env("# c\nexport A=1\nB=\"two words\"\n\nC='x'\n");
        assert_eq!(vars, [("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into())]);
    }

    #[test]
    fn references_as_compose_reads_them() {
        let refs = references("postgres://app:${DB_PASSWORD}@db/${DB:-app}?x=$MODE&y=$$HOME&z=${E:?set it}&w=${1}$");
        let seen: Vec<(&str, bool)> = refs.iter().map(|r| (r.name.as_str(), r.handled)).collect();
        assert_eq!(seen, [("DB_PASSWORD", false), ("DB", true), ("MODE", false), ("E", true)]);
        assert!(references("sh -c 'exec redis-server --requirepass $$REDIS_PASSWORD'").is_empty());
        assert_eq!(references("${A-x}${B+y}")[1].name, "B");
        assert!(references("${A-x}${B+y}").iter().all(|r| r.handled));
    }
}
