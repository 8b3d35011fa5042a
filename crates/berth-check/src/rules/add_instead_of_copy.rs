use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `ADD` also fetches URLs and unpacks archives, so `ADD src/ /app/`
    /// does something other than it says the day a `.tar` lands in `src/`.
    /// `COPY` copies, nothing more.
    AddInsteadOfCopy {
        code: "D003",
        name: "add-instead-of-copy",
        severity: Warning,
        fix: "use `COPY` for local files; keep `ADD` only to unpack a local archive on purpose",
    }
}

const ARCHIVES: [&str; 7] = [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".txz", ".tar.zst"];

impl Rule for AddInsteadOfCopy {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for d in cx.graph.dockerfiles {
            for add in d.instructions.iter().filter(|i| i.keyword == "ADD") {
                let words: Vec<&str> = add.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let Some((_, sources)) = words.split_last() else { continue };
                let remote = sources.iter().any(|s| s.contains("://") || s.starts_with("git@"));
                let archive = sources.iter().any(|s| ARCHIVES.iter().any(|a| s.ends_with(a)));
                if !remote && !archive && !sources.is_empty() {
                    sink.report(d.file, add.keyword_span, "ADD copies local files here; COPY says so plainly");
                }
            }
        }
    }
}
