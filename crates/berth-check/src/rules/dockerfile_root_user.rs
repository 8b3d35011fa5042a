use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An image whose final stage never switches to another user runs its
    /// process as root, unless every place that runs it remembers to
    /// override the user. A base image that is itself built to run
    /// unprivileged (a `:nonroot` distroless or Chainguard tag,
    /// `nginxinc/nginx-unprivileged`, Bitnami's images, which run as 1001)
    /// counts as setting the user.
    DockerfileRootUser {
        code: "D001",
        name: "dockerfile-root-user",
        severity: Warning,
        fix: "create an unprivileged user and end the final stage with `USER <name or uid>`",
    }
}

impl Rule for DockerfileRootUser {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for d in cx.graph.dockerfiles {
            let last_user = d.final_stage().filter(|i| i.keyword == "USER").last();
            match last_user {
                Some(u) => {
                    let user = u.args.split(':').next().unwrap_or("").trim();
                    if user == "root" || user == "0" {
                        sink.report(d.file, u.span, "the image runs as root (`USER root` is the final USER)");
                    }
                }
                None => {
                    if let Some(from) = d.final_stage().find(|i| i.keyword == "FROM")
                        && !nonroot_base(&from.args)
                    {
                        sink.report(d.file, from.span, "the final stage never sets USER, so the image runs as root");
                    }
                }
            }
        }
    }
}

/// `FROM gcr.io/distroless/static:nonroot`, `...:nonroot-amd64`,
/// `cgr.dev/chainguard/static:latest` (Chainguard images run as nonroot).
fn nonroot_base(from_args: &str) -> bool {
    let image = from_args.split_whitespace().find(|w| !w.starts_with("--")).unwrap_or_default();
    let image = image.split('@').next().unwrap_or_default();
    let tag = image.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/')).unwrap_or_default();
    let repository = image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or(image, |(r, _)| r);
    let repository = repository.strip_prefix("docker.io/").unwrap_or(repository);
    tag.split('-').any(|part| part == "nonroot")
        || image.starts_with("cgr.dev/chainguard/")
        || repository.rsplit('/').next().is_some_and(|name| name.ends_with("-unprivileged"))
        || repository.starts_with("bitnami/")
}
