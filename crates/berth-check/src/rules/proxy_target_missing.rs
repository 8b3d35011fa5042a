use crate::graph::nginx::host_port;
use crate::graph::{Resolved, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An nginx `upstream` server or `proxy_pass` that names a compose
    /// service or Kubernetes Service that does not exist, or a port it does
    /// not listen on, answers every request with 502. Each file is valid
    /// alone; only the deployment as a whole is broken, usually after a
    /// rename or a port change in one of them.
    ProxyTargetMissing {
        code: "X006",
        name: "proxy-target-missing",
        severity: Error,
        fix: "point nginx at the service's name and one of its ports, or change the service",
    }
}

impl Rule for ProxyTargetMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            for (directive, arg) in config.proxied() {
                let file = directive.file;
                let Some((host, port)) = host_port(&arg.text) else { continue };
                // A file beside compose services that nothing mounts or
                // copies is no nginx's configuration: a leftover, or one a
                // reader copies by hand. Its names resolve nowhere.
                let beside_compose = cx.graph.compose.iter().any(|s| cx.graph.unit(s.file) == cx.graph.unit(file));
                if beside_compose && !loaded(cx, file) {
                    continue;
                }
                match cx.graph.resolve(file, None, host, port) {
                    Resolved::Found | Resolved::External => {}
                    Resolved::Unknown => {
                        sink.report(
                            file,
                            arg.span,
                            format!("`{host}` is not a compose service or Kubernetes Service deployed here"),
                        );
                    }
                    Resolved::WrongPort { what, file: at_file, span, ports } => {
                        sink.report(
                            file,
                            arg.span,
                            format!(
                                "{what} ({}) listens on {}, not {}",
                                place(cx.files, at_file, span),
                                join(&ports),
                                port.map_or_else(String::new, |p| p.to_string())
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Whether some compose service bind-mounts `file` (or a directory above
/// it), or some Dockerfile of the tree copies it into an image.
fn loaded(cx: &Context<'_>, file: usize) -> bool {
    let Some(path) = cx.files.get(file).map(|f| crate::graph::compose::normalize(&f.name)) else { return false };
    let covers = |source: &str| {
        let source = source.trim_end_matches('/');
        source.is_empty() || source == "." || path == source || path.starts_with(&format!("{source}/"))
    };
    // Only a proxy loads it: an nginx (or OpenResty) image, or a mount or
    // copy into nginx's directories. An app directory mounted into a Node
    // container carries its old nginx file along unread.
    let proxy = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.contains("nginx") || text.contains("openresty")
    };
    let mounted = cx.graph.compose.iter().any(|s| {
        let proxy_image = s.image.as_deref().is_some_and(proxy)
            || cx.graph.dockerfile_of(s).is_some_and(|df| df.instructions.iter().any(|i| i.keyword == "FROM" && proxy(&i.args)));
        crate::graph::compose::bind_mounts(s).iter().any(|(src, target)| covers(src) && (proxy_image || proxy(target)))
            // `${APP_DATA_DIR}/data/nginx/default.conf`: the variable names
            // the app's directory, the rest is the file's own path.
            || crate::graph::compose::variable_mount_tails(s).iter().any(|tail| path.ends_with(&format!("/{tail}")) || path.contains(&format!("/{tail}/")))
    });
    let copied = cx.graph.dockerfiles.iter().any(|df| {
        let dir = crate::graph::compose::dir_of(&df.path);
        df.instructions.iter().filter(|i| i.keyword == "COPY" || i.keyword == "ADD").any(|i| {
            let words: Vec<String> = if i.args.trim_start().starts_with('[') {
                crate::graph::dockerfile::exec_form(&i.args)
            } else {
                i.args.split_whitespace().map(str::to_owned).collect()
            };
            // A copy from another stage or image is not from the tree.
            if words.iter().any(|w| w.starts_with("--from")) {
                return false;
            }
            let sources: Vec<&String> = words.iter().filter(|w| !w.starts_with("--")).collect();
            let Some((destination, sources)) = sources.split_last() else { return false };
            let proxy_image = df.instructions.iter().any(|i| i.keyword == "FROM" && proxy(&i.args));
            if !proxy_image && !proxy(destination) {
                return false;
            }
            sources.iter().any(|src| {
                let src = src.trim_start_matches("./");
                // Relative to the Dockerfile's directory, or to the root of
                // the tree when a compose file builds with a wider context.
                // The whole context (`COPY . /app`) is an app's code, not
                // an nginx's configuration.
                if src.is_empty() || src == "." {
                    return false;
                }
                covers(&crate::graph::compose::normalize(&format!("{dir}/{src}")))
                    || src.contains('/') && (path.ends_with(&format!("/{src}")) || covers(src))
            })
        })
    });
    mounted || copied
}

pub(crate) fn join(ports: &[i64]) -> String {
    ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    const NGINX: &str = "events {}\nhttp { server { listen 80; location / { proxy_pass http://TARGET; } } }\n";

    /// The compose project's nginx, which loads `app/nginx.conf`.
    const FRONT: &str = "  front:\n    image: nginx:1.27\n    volumes: [\"./nginx.conf:/etc/nginx/nginx.conf:ro\"]\n";

    fn x006(target: &str, compose: &str) -> Vec<String> {
        let compose = format!("{compose}{FRONT}");
        messages_of(
            "X006",
            &[("app/nginx.conf", &NGINX.replace("TARGET", target)), ("app/docker-compose.yml", &compose)],
        )
    }

    #[test]
    fn a_config_no_nginx_loads_is_not_judged() {
        let compose = "services:\n  api:\n    image: acme/api\n    expose: [\"8000\"]\n";
        let leftover =
            [("app/nginx.conf", NGINX.replace("TARGET", "gone:8000")), ("app/docker-compose.yml", compose.to_owned())];
        let files: Vec<(&str, &str)> = leftover.iter().map(|(a, b)| (*a, b.as_str())).collect();
        assert!(messages_of("X006", &files).is_empty(), "nothing mounts or copies it");
        let dockerfile = "FROM nginx:1.27\nCOPY nginx.conf /etc/nginx/nginx.conf\n";
        let built = format!("{compose}  front:\n    build: .\n");
        assert_eq!(
            messages_of("X006", &[files[0], ("app/docker-compose.yml", &built), ("app/Dockerfile", dockerfile)]).len(),
            1,
            "a Dockerfile copies it"
        );
        let variable = format!(
            "{compose}  front:\n    image: nginx:1.27\n    volumes: [\"${{APP_DATA_DIR}}/nginx.conf:/etc/nginx/nginx.conf\"]\n"
        );
        assert_eq!(
            messages_of("X006", &[files[0], ("app/docker-compose.yml", &variable)]).len(),
            1,
            "mounted from the app's directory"
        );
    }

    #[test]
    fn names_compose_gives_a_service_are_names_it_serves() {
        let compose = "services:\n  web:\n    image: nginx\n    networks:\n      default:\n        aliases: [app-service]\n  minio:\n    image: minio/minio\n    container_name: plane-minio-1\n    expose: [\"9000\"]\n  api:\n    image: acme/api\n    expose: [\"8000\"]\n";
        assert!(x006("app-service:80", compose).is_empty(), "a network alias");
        assert!(x006("plane-minio-1:9000", compose).is_empty(), "a container_name");
        assert!(x006("app_api_1:8000", compose).is_empty(), "compose v1's container name");
        assert!(x006("app-api-1:8000", compose).is_empty(), "compose v2's container name");
        assert_eq!(x006("apx:8000", compose).len(), 1, "a name nothing answers to");
        assert_eq!(x006("app-api-x:8000", compose).len(), 1, "not a replica number");
    }

    #[test]
    fn declared_ports_alone_prove_only_the_host_side_mix_up() {
        // rinha-de-backend's shapes: an image built elsewhere, its port set
        // inside it; `ports:` and `expose:` are the author's belief.
        let declared = "services:\n  api01:\n    image: acme/api:1.0\n    ports: [\"6969:6969\"]\n  api02:\n    image: acme/api:1.0\n    expose: [\"8081\"]\n  api03:\n    image: acme/api:1.0\n    ports: [\"8081:8080\"]\n    environment: [DB_PORT=5432, REDIS_ADDR=redis:6379]\n";
        assert!(x006("api01:8080", declared).is_empty(), "the app may listen on 8080 whatever `ports:` says");
        assert!(x006("api02:8080", declared).is_empty(), "`expose:` changes nothing");
        // The host side of a mapping is not where other containers reach it;
        // the variables name where it connects, not where it listens.
        assert_eq!(
            x006("api03:8081", declared),
            ["compose service `api03` (app/docker-compose.yml:8) listens on 8080, not 8081"]
        );
        // A bind flag says where it listens.
        let bound = "services:\n  api:\n    image: acme/api:1.0\n    command: uvicorn app:app --port 8000\n    expose: [\"8000\"]\n";
        assert_eq!(x006("api:8080", bound).len(), 1);
    }

    #[test]
    fn ports_a_service_opens_without_publishing_them() {
        // MinIO's API listens on 9000 whatever the console address says.
        let minio = "services:\n  minio:\n    image: minio/minio:RELEASE.2025\n    command: server /data --console-address \":8763\"\n    ports: [\"8763:8763\"]\n";
        assert!(x006("minio:9000", minio).is_empty());
        assert_eq!(
            x006("minio:9001", minio),
            ["compose service `minio` (app/docker-compose.yml:2) listens on 8763, 9000, not 9001"]
        );
        // A port the service is told to open, not published.
        let api = "services:\n  server:\n    image: acme/pool\n    ports: [\"2018:2018\"]\n    environment:\n      - API_PORT=2019\n";
        assert!(x006("server:2019", api).is_empty());
        // A broker configured by a mounted file listens where the file says.
        let broker = "services:\n  broker:\n    image: eclipse-mosquitto:2\n    ports: [\"1883:1883\"]\n    volumes:\n      - ./config:/mosquitto/config:rw\n      - data:/mosquitto/data\n";
        assert!(x006("broker:9001", broker).is_empty());
        let data_only = "services:\n  broker:\n    image: eclipse-mosquitto:2\n    ports: [\"1883:1883\"]\n    volumes:\n      - data:/mosquitto/config\n      - ./data:/mosquitto/data\n";
        assert_eq!(x006("broker:9001", data_only).len(), 1, "named volumes and data directories configure nothing");
    }
}
