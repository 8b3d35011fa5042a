//! Images the repository builds itself, and from which Dockerfile.
//!
//! A manifest that runs `ghcr.io/acme/api:1.4.0` says nothing about the
//! user the process runs as; the repository's own Dockerfile does, when the
//! tree shows that this Dockerfile is what becomes that image. Only links
//! the tree states are taken:
//! - a compose service with both `build:` and `image:`;
//! - a skaffold artifact (`build.artifacts[]`: `image`, `context`,
//!   `docker.dockerfile`);
//! - a GitHub Actions step `docker/build-push-action` (`context`, `file`,
//!   `tags`), with tags written out or taken from a `docker/metadata-action`
//!   step's `images`.
//!
//! Names in a Makefile or a README, or an image named like the directory,
//! are guesses and are not links.

use berth_diagnostics::SourceFile;
use berth_spec::Node;

use super::Graph;
use super::compose::normalize;
use super::yaml::{at, seq, str_at};

/// One image the tree builds: its repository (registry and path, no tag or
/// digest, as [`repository`] spells it) and the Dockerfile's path as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    pub repository: String,
    pub dockerfile: String,
}

/// An image reference's repository without tag or digest, lower-cased, with
/// Docker Hub's implicit prefixes removed (`docker.io/library/nginx:1` and
/// `nginx` are the same). `None` for references still holding a template
/// expression (`${{ ... }}`, `{{ ... }}`, `$VAR`).
pub fn repository(image: &str) -> Option<String> {
    let image = image.trim();
    if image.is_empty() || image.contains('$') || image.contains('{') || image.contains(' ') {
        return None;
    }
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    let mut repo = name.to_ascii_lowercase();
    for prefix in ["index.docker.io/", "docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = repo.strip_prefix(prefix) {
            repo = rest.to_owned();
        }
    }
    if let Some(rest) = repo.strip_prefix("library/") {
        repo = rest.to_owned();
    }
    Some(repo)
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() { normalize(rest) } else { normalize(&format!("{dir}/{rest}")) }
}

/// Every image the tree builds, in file order.
pub fn image_builds(graph: &Graph<'_>, files: &[SourceFile]) -> Vec<ImageBuild> {
    let mut out = Vec::new();
    for service in &graph.compose {
        if let (Some(image), Some(dockerfile)) = (service.image.as_deref(), &service.dockerfile)
            && let Some(repository) = repository(image)
        {
            out.push(ImageBuild { repository, dockerfile: dockerfile.clone() });
        }
    }
    for &(file, doc) in &graph.documents {
        let Some(path) = files.get(file).map(|f| f.name.replace('\\', "/")) else { continue };
        if str_at(doc, &["apiVersion"]).is_some_and(|v| v.starts_with("skaffold/")) {
            skaffold(doc, dir_of(&path), &mut out);
        } else if let Some(root) = workflow_root(&path) {
            workflow(doc, root, &mut out);
        }
    }
    out
}

fn skaffold(doc: &Node, dir: &str, out: &mut Vec<ImageBuild>) {
    let builds =
        std::iter::once(at(doc, &["build"])).chain(seq(at(doc, &["profiles"])).iter().map(|p| at(p, &["build"])));
    for build in builds.flatten() {
        for artifact in seq(at(build, &["artifacts"])) {
            let Some(repository) = str_at(artifact, &["image"]).and_then(repository) else { continue };
            let context = join(dir, str_at(artifact, &["context"]).unwrap_or("."));
            let file = str_at(artifact, &["docker", "dockerfile"]).unwrap_or("Dockerfile");
            out.push(ImageBuild { repository, dockerfile: join(&context, file) });
        }
    }
}

/// The repository root of a GitHub Actions workflow (`.github/workflows/x.yml`
/// under it), which `context: .` means.
fn workflow_root(path: &str) -> Option<&str> {
    let index = path.find(".github/workflows/")?;
    let root = &path[..index];
    (root.is_empty() || root.ends_with('/')).then(|| root.trim_end_matches('/'))
}

fn workflow(doc: &Node, root: &str, out: &mut Vec<ImageBuild>) {
    let Some(jobs) = at(doc, &["jobs"]).and_then(Node::as_map) else { return };
    for job in jobs {
        let steps = seq(at(&job.value, &["steps"]));
        for step in steps {
            if !str_at(step, &["uses"]).is_some_and(|u| u.starts_with("docker/build-push-action@")) {
                continue;
            }
            let context = match str_at(step, &["with", "context"]) {
                None => root.to_owned(),
                Some(c) if c.contains('$') || c.contains("://") => continue,
                Some(c) => join(root, c),
            };
            let dockerfile = match str_at(step, &["with", "file"]) {
                None => join(&context, "Dockerfile"),
                Some(f) if f.contains('$') => continue,
                // build-push-action resolves `file` against the workspace,
                // not the context.
                Some(f) => join(root, f),
            };
            let Some(tags) = str_at(step, &["with", "tags"]) else { continue };
            for tag in list(tags) {
                let images = match metadata_step(&tag) {
                    Some(id) => steps
                        .iter()
                        .find(|s| {
                            str_at(s, &["id"]) == Some(id)
                                && str_at(s, &["uses"]).is_some_and(|u| u.starts_with("docker/metadata-action@"))
                        })
                        .and_then(|s| str_at(s, &["with", "images"]))
                        .map(metadata_images)
                        .unwrap_or_default(),
                    None => vec![tag],
                };
                for image in images {
                    if let Some(repository) = repository(&image) {
                        out.push(ImageBuild { repository, dockerfile: dockerfile.clone() });
                    }
                }
            }
        }
    }
}

/// An action input list: one item per line or comma-separated.
fn list(text: &str) -> Vec<String> {
    text.split(['\n', ',']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `${{ steps.meta.outputs.tags }}` -> `meta`.
fn metadata_step(tag: &str) -> Option<&str> {
    let inner = tag.strip_prefix("${{")?.strip_suffix("}}")?.trim();
    inner.strip_prefix("steps.")?.strip_suffix(".outputs.tags")
}

/// metadata-action `images`: `ghcr.io/x/y` or `name=ghcr.io/x/y,enable=...`
/// per line.
fn metadata_images(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            if !line.contains('=') {
                return Some(line.to_owned());
            }
            if line.split(',').any(|part| part.trim() == "enable=false") {
                return None;
            }
            line.split(',').find_map(|part| part.trim().strip_prefix("name=").map(str::to_owned))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_compare_without_tag_digest_or_hub_prefix() {
        assert_eq!(repository("docker.io/library/nginx:1.27").as_deref(), Some("nginx"));
        assert_eq!(repository("ghcr.io/stefanprodan/podinfo:6.9.2").as_deref(), Some("ghcr.io/stefanprodan/podinfo"));
        assert_eq!(repository("localhost:5000/app@sha256:abc").as_deref(), Some("localhost:5000/app"));
        assert_eq!(repository("localhost:5000/app").as_deref(), Some("localhost:5000/app"));
        assert_eq!(repository("${{ env.IMAGE }}:latest"), None);
    }

    #[test]
    fn workflow_inputs() {
        assert_eq!(metadata_step("${{ steps.meta.outputs.tags }}"), Some("meta"));
        assert_eq!(metadata_step("ghcr.io/x/y:latest"), None);
        assert_eq!(
            metadata_images("docker.io/a/b\nname=ghcr.io/a/b,enable=true\nname=quay.io/a/b,enable=false\n"),
            ["docker.io/a/b", "ghcr.io/a/b"]
        );
        assert_eq!(workflow_root(".github/workflows/release.yml"), Some(""));
        assert_eq!(workflow_root("app/.github/workflows/release.yml"), Some("app"));
        assert_eq!(workflow_root("x.github/workflows/a.yml"), None);
    }
}
