use super::mutable_image_tag::tag;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `FROM image` without a tag, or with `latest`, builds on whatever was
    /// pushed last: the same commit builds a different image tomorrow.
    UnpinnedBaseImage {
        code: "D002",
        name: "unpinned-base-image",
        severity: Warning,
        fix: "pin the base image to a version tag, or a digest (`debian:12-slim@sha256:...`)",
    }
}

impl Rule for UnpinnedBaseImage {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for d in cx.graph.dockerfiles {
            let mut stages: Vec<String> = Vec::new();
            for from in d.instructions.iter().filter(|i| i.keyword == "FROM") {
                let words: Vec<&str> = from.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let Some(image) = words.first().copied() else { continue };
                if let [_, as_kw, name] = words.as_slice()
                    && as_kw.eq_ignore_ascii_case("as")
                {
                    stages.push(name.to_ascii_lowercase());
                }
                let earlier_stage =
                    stages.iter().rev().skip(usize::from(words.len() == 3)).any(|s| *s == image.to_ascii_lowercase());
                if image == "scratch" || earlier_stage || image.contains('$') {
                    continue;
                }
                match tag(image) {
                    Some(None) => {
                        sink.report(d.file, from.span, format!("base image `{image}` has no tag"));
                    }
                    Some(Some("latest")) => {
                        sink.report(d.file, from.span, format!("base image `{image}` uses `latest`"));
                    }
                    _ => {}
                }
            }
        }
    }
}
