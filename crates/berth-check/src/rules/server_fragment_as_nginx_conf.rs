use berth_diagnostics::Span;
use berth_spec::Node;

use crate::graph::command::words;
use crate::graph::compose::normalize;
use crate::graph::nginx::{MAIN_ONLY, parse};
use crate::graph::place;
use crate::graph::yaml::{at, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// The nginx image reads `/etc/nginx/nginx.conf` as its main
    /// configuration, where only `events`, `http`, `stream` and the
    /// process settings may stand. A compose file that mounts a site file
    /// there (top-level `server`, `location` or `upstream` blocks and no
    /// `http` around them) stops the container at start-up: nginx exits
    /// with `"server" directive is not allowed here`. Fires on the volume
    /// (short or long syntax) or `configs:` entry, for a service whose
    /// image is nginx's official one (`nginx`, `nginxinc/nginx-unprivileged`,
    /// or a Dockerfile of the tree built from one) and whose command does not
    /// pass another file with `-c`. The mounted file is found relative to
    /// the compose file. Silent for a file with `http` or `events` (a whole
    /// configuration), one with process settings (`worker_processes`,
    /// `user`), files mounted into `conf.d` or `templates/`, and sources
    /// outside the tree.
    ServerFragmentAsNginxConf {
        code: "X015",
        name: "server-fragment-as-nginx-conf",
        severity: Error,
        fix: "mount the file into `/etc/nginx/conf.d/` (`./nginx/default.conf:/etc/nginx/conf.d/default.conf:ro`), which the image's own nginx.conf includes inside `http`, or wrap it in `events {}` and `http { ... }`",
    }
}

/// A file of the tree that a compose service running nginx's image
/// mounts, with where it lands in the container.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The mounted file (a file under a mounted directory counts too).
    pub file: usize,
    /// Its path in the container.
    pub target: String,
    /// The compose file and the volume or `configs:` entry that mounts it.
    pub compose_file: usize,
    pub span: Span,
    /// The container starts nginx with its default main configuration
    /// path (no `-c` on the command line).
    pub default_path: bool,
    /// ... and that file is the image's own (nothing is mounted over
    /// `/etc/nginx/nginx.conf`): it includes `/etc/nginx/conf.d/*.conf`
    /// inside `http`.
    pub image_main: bool,
    /// The image renders `/etc/nginx/templates/*.template` into
    /// `/etc/nginx/conf.d/` (no `NGINX_ENVSUBST_*` setting moves them).
    pub default_templates: bool,
}

impl Mount {
    /// A file nginx's own main configuration includes inside `http`:
    /// `conf.d/*.conf`, or a template the image renders there.
    pub fn in_conf_d(&self) -> bool {
        let rendered = || self.target.strip_prefix("/etc/nginx/templates/").and_then(|t| t.strip_suffix(".template"));
        let name =
            self.target.strip_prefix("/etc/nginx/conf.d/").or_else(|| rendered().filter(|_| self.default_templates));
        self.image_main && name.is_some_and(|name| !name.contains('/') && name.ends_with(".conf"))
    }
}

/// Whether an image reference is nginx's official image (or its
/// unprivileged variant), whose main configuration is
/// `/etc/nginx/nginx.conf` and includes `/etc/nginx/conf.d/*.conf` in
/// `http`. Other images named `nginx` (Bitnami's, a project's own
/// `acme/nginx`) may read other files.
pub fn nginx_image(image: &str) -> bool {
    let reference = image.split('@').next().unwrap_or(image);
    let repository = match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => reference,
    };
    let mut parts = repository.rsplit('/');
    let last = parts.next().unwrap_or(repository);
    let owner = parts.next();
    match last {
        "nginx" => owner.is_none_or(|o| matches!(o, "library" | "nginx" | "docker.io")),
        "nginx-unprivileged" => owner == Some("nginxinc"),
        _ => false,
    }
}

/// Every file of the tree mounted into a compose service that runs
/// nginx's image, by bind mounts (short and long syntax) and `configs:`.
pub fn nginx_mounts(cx: &Context<'_>) -> Vec<Mount> {
    let graph = cx.graph;
    let mut out = Vec::new();
    for declarations in graph.compose_services() {
        let s = declarations[0];
        let built = declarations.iter().any(|d| d.dockerfile.is_some());
        let nginx = if built {
            // The Dockerfile decides what runs; one outside the tree is unknown.
            declarations.iter().rev().find_map(|d| graph.dockerfile_of(d)).is_some_and(|df| {
                df.final_stage()
                    .filter(|i| i.keyword == "FROM")
                    .last()
                    .and_then(|i| i.args.split_whitespace().find(|w| !w.starts_with("--")))
                    .is_some_and(nginx_image)
            })
        } else {
            declarations.iter().rev().find_map(|d| d.image.as_deref()).is_some_and(nginx_image)
        };
        if !nginx {
            continue;
        }
        let default_path = !declarations
            .iter()
            .rev()
            .find_map(|d| d.command.as_ref())
            .is_some_and(|(command, _)| words(command).iter().any(|w| w == "-c"));
        let compose_files: Vec<usize> =
            graph.compose.iter().filter(|c| c.project == s.project).map(|c| c.file).collect();
        let mut sources: Vec<(String, String, usize, Span)> = Vec::new();
        let mut targets: Vec<String> = Vec::new();
        for d in &declarations {
            for v in seq(at(d.node, &["volumes"])) {
                let Some((source, target)) = volume(v) else { continue };
                targets.push(target.trim_end_matches('/').to_owned());
                if let Some(source) = source {
                    sources.push((normalize(&format!("{}/{source}", d.dir)), target, d.file, v.span));
                }
            }
            for c in seq(at(d.node, &["configs"])) {
                // The short form lands at `/<name>`: never nginx's.
                let (Some(name), Some(target)) = (str_at(c, &["source"]), str_at(c, &["target"])) else { continue };
                targets.push(target.trim_end_matches('/').to_owned());
                let file = graph
                    .documents
                    .iter()
                    .filter(|(f, _)| compose_files.contains(f))
                    .find_map(|(_, doc)| at(doc, &["configs", name, "file"]).and_then(Node::as_str));
                if let Some(file) = file.filter(|f| relative(f)) {
                    sources.push((normalize(&format!("{}/{file}", d.dir)), target.to_owned(), d.file, c.span));
                }
            }
        }
        let image_main = default_path && !targets.iter().any(|t| t == "/etc/nginx/nginx.conf" || t == "/etc/nginx");
        let default_templates = declarations.iter().all(|d| {
            at(d.node, &["env_file"]).is_none() && !d.environment.iter().any(|v| v.name.starts_with("NGINX_ENVSUBST_"))
        });
        for (source, target, compose_file, span) in sources {
            let target = target.trim_end_matches('/');
            for (file, f) in cx.files.iter().enumerate() {
                let path = normalize(&f.name);
                let rest = if source.is_empty() {
                    Some(path.as_str())
                } else if path == source {
                    Some("")
                } else {
                    path.strip_prefix(&format!("{source}/"))
                };
                let Some(rest) = rest else { continue };
                let target = if rest.is_empty() { target.to_owned() } else { format!("{target}/{rest}") };
                if target.starts_with("/etc/nginx/") {
                    out.push(Mount { file, target, compose_file, span, default_path, image_main, default_templates });
                }
            }
        }
    }
    out
}

/// (source in the tree, target) of a volume entry; the source is `None`
/// for named volumes, absolute host paths and paths built from variables.
fn volume(v: &Node) -> Option<(Option<String>, String)> {
    let (source, target) = match v.as_str() {
        Some(short) => {
            let mut parts = short.splitn(3, ':');
            let first = parts.next()?.to_owned();
            match parts.next() {
                Some(target) => (Some(first), target.to_owned()),
                // `- /var/cache/nginx`: an anonymous volume.
                None => (None, first),
            }
        }
        None => {
            if str_at(v, &["type"]).is_some_and(|t| t != "bind") {
                (None, str_at(v, &["target"])?.to_owned())
            } else {
                (str_at(v, &["source"]).map(str::to_owned), str_at(v, &["target"])?.to_owned())
            }
        }
    };
    Some((source.filter(|s| relative(s)), target))
}

/// A path relative to the compose file, without variables.
fn relative(path: &str) -> bool {
    (path == "." || path == ".." || path.starts_with("./") || path.starts_with("../")) && !path.contains('$')
}

impl Rule for ServerFragmentAsNginxConf {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let mut reported: Vec<(usize, Span)> = Vec::new();
        for m in nginx_mounts(cx) {
            if m.target != "/etc/nginx/nginx.conf" || !m.default_path || reported.contains(&(m.compose_file, m.span)) {
                continue;
            }
            let Ok(top) = parse(m.file, &cx.files[m.file].text) else { continue };
            let whole = top.iter().any(|d| {
                (d.block.is_some() && matches!(d.name.as_str(), "http" | "events" | "stream" | "mail"))
                    || MAIN_ONLY.contains(&d.name.as_str())
            });
            let Some(first) =
                top.iter().find(|d| d.block.is_some() && matches!(d.name.as_str(), "server" | "location" | "upstream"))
            else {
                continue;
            };
            if whole {
                continue;
            }
            reported.push((m.compose_file, m.span));
            sink.report(
                m.compose_file,
                m.span,
                format!(
                    "`{}` is mounted as /etc/nginx/nginx.conf, the main configuration, but it holds what goes inside `http` (`{}` at {}) and no `http` around it: nginx exits with \"{}\" directive is not allowed here",
                    cx.files[m.file].name,
                    first.name,
                    place(cx.files, m.file, first.span),
                    first.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X015", files)
    }

    const SITE: &str = "server {\n    listen 80;\n    location / {\n        proxy_pass http://app:8000;\n    }\n}\n";

    #[test]
    fn images() {
        assert!(nginx_image("nginx"));
        assert!(nginx_image("nginx:1.27.2-alpine"));
        assert!(nginx_image("docker.io/library/nginx:1.27"));
        assert!(nginx_image("nginxinc/nginx-unprivileged:1.27-alpine"));
        assert!(nginx_image("nginx@sha256:0123"));
        assert!(!nginx_image("bitnami/nginx:1.27"));
        assert!(!nginx_image("openresty/openresty:alpine"));
        assert!(!nginx_image("jwilder/nginx-proxy"));
        assert!(!nginx_image("localhost:5000/app"));
        assert!(!nginx_image("ghcr.io/mailcow/nginx:1.03"));
        assert!(nginx_image("public.ecr.aws/nginx/nginx:1.27"));
    }

    #[test]
    fn short_long_and_configs_syntax() {
        let short = "services:\n  web:\n    image: nginx:1.27.2\n    volumes:\n      - ./nginx/site.conf:/etc/nginx/nginx.conf:ro\n";
        assert_eq!(findings(&[("docker-compose.yml", short), ("nginx/site.conf", SITE)]).len(), 1);
        let long = "services:\n  web:\n    image: nginx:1.27.2\n    volumes:\n      - type: bind\n        source: ./nginx/site.conf\n        target: /etc/nginx/nginx.conf\n";
        assert_eq!(findings(&[("docker-compose.yml", long), ("nginx/site.conf", SITE)]).len(), 1);
        let configs = "services:\n  web:\n    image: nginx:1.27.2\n    configs:\n      - source: site\n        target: /etc/nginx/nginx.conf\nconfigs:\n  site:\n    file: ./nginx/site.conf\n";
        assert_eq!(findings(&[("docker-compose.yml", configs), ("nginx/site.conf", SITE)]).len(), 1);
    }

    #[test]
    fn silent_when_it_is_fine_or_unknown() {
        let mount = |target: &str, image: &str| {
            format!("services:\n  web:\n    image: {image}\n    volumes:\n      - ./nginx/site.conf:{target}:ro\n")
        };
        let conf_d = mount("/etc/nginx/conf.d/default.conf", "nginx:1.27.2");
        assert!(findings(&[("docker-compose.yml", conf_d.as_str()), ("nginx/site.conf", SITE)]).is_empty());
        let template = mount("/etc/nginx/templates/default.conf.template", "nginx:1.27.2");
        assert!(findings(&[("docker-compose.yml", template.as_str()), ("nginx/site.conf", SITE)]).is_empty());
        let bitnami = mount("/etc/nginx/nginx.conf", "bitnami/nginx:1.27");
        assert!(findings(&[("docker-compose.yml", bitnami.as_str()), ("nginx/site.conf", SITE)]).is_empty());
        let whole = mount("/etc/nginx/nginx.conf", "nginx:1.27.2");
        let full = format!("events {{}}\nhttp {{\n{SITE}}}\n");
        assert!(findings(&[("docker-compose.yml", whole.as_str()), ("nginx/site.conf", full.as_str())]).is_empty());
        // Not in the tree: nothing to judge.
        assert!(findings(&[("docker-compose.yml", whole.as_str())]).is_empty());
        let other = "services:\n  web:\n    image: nginx:1.27.2\n    command: nginx -c /etc/nginx/site.conf -g 'daemon off;'\n    volumes:\n      - ./nginx/site.conf:/etc/nginx/nginx.conf:ro\n";
        assert!(findings(&[("docker-compose.yml", other), ("nginx/site.conf", SITE)]).is_empty());
    }

    #[test]
    fn a_directory_mounted_over_etc_nginx() {
        let dir = "services:\n  web:\n    image: nginx:1.27.2\n    volumes:\n      - ./nginx:/etc/nginx:ro\n";
        assert_eq!(findings(&[("deploy/docker-compose.yml", dir), ("deploy/nginx/nginx.conf", SITE)]).len(), 1);
    }
}
