use super::support::{effective_bool, effective_int};
use crate::graph::builds::{self, ImageBuild};
use crate::graph::compose::normalize;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A container that may run as root (no `runAsNonRoot: true` and no
    /// non-zero `runAsUser`) owns every file in its image and is one kernel
    /// bug away from root on the node. Images that never set a user run as
    /// root by default; well-known images whose own `USER` is not root
    /// (selenium's 1200, Prometheus's and its exporters' `nobody`, Grafana's
    /// 472, distroless `nonroot`, Bitnami's 1001) are left alone, and so
    /// are images the repository builds itself (a compose `build:` with
    /// `image:`, a skaffold artifact, a GitHub Actions
    /// `docker/build-push-action` step) from a Dockerfile whose final stage
    /// ends with a non-root `USER`.
    RunsAsRoot {
        code: "K002",
        name: "runs-as-root",
        severity: Warning,
        fix: "set `securityContext.runAsNonRoot: true` (and `runAsUser` to the image's user) on the pod or the container",
    }
}

impl Rule for RunsAsRoot {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let built = builds::image_builds(cx.graph, cx.files);
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let user = effective_int(w, c, "runAsUser");
                if user == Some(0) {
                    sink.report(file, c.span, format!("container `{}` runs as user 0 (root)", c.name));
                } else if effective_bool(w, c, "runAsNonRoot") != Some(true)
                    && user.is_none()
                    && c.image.is_none_or(|i| image_user(i).is_none() && !built_non_root(cx, &built, i))
                {
                    sink.report(file, c.span, format!("container `{}` may run as root", c.name));
                }
            }
        }
    }
}

/// Whether the tree builds `image` only from Dockerfiles whose final stage
/// ends with a non-root `USER`.
fn built_non_root(cx: &Context<'_>, built: &[ImageBuild], image: &str) -> bool {
    let Some(repository) = builds::repository(image) else { return false };
    let mut sources = built.iter().filter(|b| b.repository == repository).peekable();
    sources.peek().is_some()
        && sources.all(|b| {
            let dockerfile = cx.graph.dockerfiles.iter().find(|d| normalize(&d.path) == b.dockerfile);
            let user = dockerfile.and_then(|d| d.final_stage().filter(|i| i.keyword == "USER").last());
            user.is_some_and(|u| {
                let name = u.args.split(':').next().unwrap_or("").trim();
                !name.is_empty() && name != "root" && name != "0" && !name.contains('$')
            })
        })
}

/// The user a well-known image runs as when it sets a non-root one in its
/// own Dockerfile: what `may run as root` must not claim of it.
fn image_user(image: &str) -> Option<u32> {
    let image = image.to_ascii_lowercase();
    let name = image.split('@').next().unwrap_or(&image);
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (name, ""),
    };
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    let repo = repo.strip_prefix("library/").unwrap_or(repo);
    if repo.starts_with("selenium/") {
        return Some(1200);
    }
    if repo.starts_with("prom/")
        || repo.starts_with("quay.io/prometheus/")
        || repo.starts_with("quay.io/prometheus-operator/")
        || repo.ends_with("/prometheus-adapter")
        || repo.ends_with("/k8s-prometheus-adapter")
        || repo.ends_with("/kube-state-metrics")
    {
        return Some(65534);
    }
    if repo == "grafana/grafana" || repo == "grafana/grafana-oss" {
        return Some(472);
    }
    if repo.starts_with("bitnami/") {
        return Some(1001);
    }
    if repo == "nginxinc/nginx-unprivileged" {
        return Some(101);
    }
    if repo.contains("distroless") && (tag == "nonroot" || tag.ends_with("-nonroot")) {
        return Some(65532);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::image_user;

    #[test]
    fn well_known_non_root_images() {
        assert_eq!(image_user("selenium/node-chrome:4.21.0"), Some(1200));
        assert_eq!(image_user("registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0"), Some(65534));
        assert_eq!(image_user("gcr.io/distroless/static:nonroot"), Some(65532));
        assert_eq!(image_user("gcr.io/distroless/static:latest"), None);
        assert_eq!(image_user("nginx:1.27"), None);
        assert_eq!(image_user("docker.io/bitnami/postgresql:16"), Some(1001));
    }
}
