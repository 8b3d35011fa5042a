use super::secret_in_env::{could_be_credential, looks_secret};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A password or token written into a compose file's `environment` is
    /// in Git and in `docker inspect` for anyone with access to the daemon.
    /// Values interpolated from `.env` or the shell are not flagged, nor are
    /// values that cannot be credentials (flags, numbers, addresses, the
    /// path of a mounted secret file, words under four characters). A
    /// placeholder such as `changeme` is: it is the password of every copy
    /// deployed without editing the file. Names that identify rather than
    /// authenticate (`ACCESS_KEY_ID`) are not credentials.
    ComposeCredentialsInEnvironment {
        code: "C002",
        name: "compose-credentials-in-environment",
        severity: Error,
        fix: "use `${VAR}` from an untracked `.env` file, or compose `secrets:` mounted as files (`*_FILE` variables)",
    }
}

impl Rule for ComposeCredentialsInEnvironment {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for s in &cx.graph.compose {
            for var in &s.environment {
                let literal =
                    var.value.as_deref().is_some_and(|v| could_be_credential(&var.name, v)) && !var.interpolated;
                if literal && looks_secret(&var.name) {
                    sink.report(
                        s.file,
                        var.span,
                        format!("`{}` of service `{}` is written in the file", var.name, s.name),
                    );
                }
            }
        }
    }
}
