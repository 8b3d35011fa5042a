use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// compose, systemd's `EnvironmentFile=` and a shell that sources the
    /// file all keep the last of two lines that set the same variable,
    /// without a word: a value appended at the bottom (`echo KEY=... >>
    /// .env`) silently replaces the one a reader finds first, and the file
    /// no longer says what it looks like it says.
    EnvDuplicateKey {
        code: "V001",
        name: "env-duplicate-key",
        severity: Error,
        fix: "keep one line per variable",
    }
}

impl Rule for EnvDuplicateKey {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for env in cx.graph.env_files {
            for (i, var) in env.vars.iter().enumerate() {
                if let Some(first) = env.vars[..i].iter().find(|v| v.name == var.name) {
                    sink.report(
                        env.file,
                        var.name_span,
                        format!("`{}` is set twice; this later line silently wins", var.name),
                    )
                    .related
                    .push(berth_diagnostics::Label { span: first.name_span, message: "first set here".into() });
                }
            }
        }
    }
}
