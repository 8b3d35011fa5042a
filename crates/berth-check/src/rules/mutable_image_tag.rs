use crate::graph::Graph;
use crate::graph::yaml::{at, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An image without a tag, or tagged `latest`, names whatever was pushed
    /// last: two replicas of one Deployment can run different code, and a
    /// rollback goes nowhere. Names a build tool replaces at deploy time are
    /// not images: a skaffold artifact (`image: adservice` that
    /// `skaffold.yaml` builds), `ko://` references, `<placeholders>`.
    MutableImageTag {
        code: "K008",
        name: "mutable-image-tag",
        severity: Warning,
        fix: "pin a version tag (`app:1.4.2`), or better a digest (`app@sha256:...`)",
    }
}

/// The tag of an image reference, if any; `None` for a digest-pinned one.
pub fn tag(image: &str) -> Option<Option<&str>> {
    if image.contains('@') {
        return None;
    }
    // A colon after the last slash is a tag; before it, a registry port.
    let last = image.rsplit('/').next().unwrap_or(image);
    Some(last.split_once(':').map(|(_, t)| t))
}

/// The images skaffold builds (`build.artifacts[].image`, in profiles too):
/// it rewrites manifests that name them to what it pushed.
fn skaffold_artifacts<'a>(graph: &Graph<'a>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (_, doc) in &graph.documents {
        if !str_at(doc, &["apiVersion"]).is_some_and(|v| v.starts_with("skaffold/")) {
            continue;
        }
        let builds =
            std::iter::once(at(doc, &["build"])).chain(seq(at(doc, &["profiles"])).iter().map(|p| at(p, &["build"])));
        for build in builds.flatten() {
            out.extend(seq(at(build, &["artifacts"])).iter().filter_map(|a| str_at(a, &["image"])));
        }
    }
    out
}

impl Rule for MutableImageTag {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let built = skaffold_artifacts(cx.graph);
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let Some(image) = c.image else { continue };
                if built.contains(&image) || image.starts_with("ko://") || image.starts_with('<') {
                    continue;
                }
                let span = at(c.node, &["image"]).map_or(c.span, |n| n.span);
                match tag(image) {
                    Some(None) => {
                        sink.report(file, span, format!("image `{image}` has no tag, so it means `latest`"));
                    }
                    Some(Some("latest")) => {
                        sink.report(file, span, format!("image `{image}` uses the mutable `latest` tag"));
                    }
                    _ => {}
                }
            }
        }
    }
}
