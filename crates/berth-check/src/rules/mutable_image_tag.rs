use crate::graph::yaml::at;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An image without a tag, or tagged `latest`, names whatever was pushed
    /// last: two replicas of one Deployment can run different code, and a
    /// rollback goes nowhere.
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

impl Rule for MutableImageTag {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                let Some(image) = c.image else { continue };
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
