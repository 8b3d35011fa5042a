use berth_diagnostics::Span;

use super::credentials::{aws_access_keys, private_key, url_passwords};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An env file kept with the deployment (`deploy/app.env`,
    /// `.env.production`, a file a unit reads with `EnvironmentFile=`) that
    /// holds a credential puts it in Git and in every copy of the
    /// repository: an AWS access key id (`AKIA...`), a private key, or a
    /// password in a URL (`postgres://app:s3cret@db/app`). Placeholders
    /// (`changeme`, `<password>`, `${DB_PASSWORD}`, `xxx`) and empty values
    /// are not reported, nor passwords in example files (`.env.example`,
    /// `*.sample`, `*.template`, `*.dist`). A `.env` or `*.local` file is
    /// left alone: by convention it stays out of Git and is where compose
    /// reads such values from.
    EnvCommittedCredential {
        code: "V002",
        name: "env-committed-credential",
        severity: Error,
        fix: "keep the value out of the repository: reference a secret store (compose `secrets:`, systemd `LoadCredential=`, AWS Secrets Manager), or an untracked `.env`, and commit only a placeholder",
    }
}

impl Rule for EnvCommittedCredential {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for env in cx.graph.env_files {
            let Some(file) = cx.files.get(env.file) else { continue };
            let name = file.name.rsplit(['/', '\\']).next().unwrap_or(&file.name).to_ascii_lowercase();
            if name == ".env" || name.ends_with(".local") {
                continue;
            }
            let example = [".example", ".sample", ".template", ".dist", ".tpl"].iter().any(|e| name.ends_with(e));
            for var in &env.vars {
                let at =
                    |(start, end): (usize, usize)| Span::new(var.value_span.start + start, var.value_span.start + end);
                let mut found: Vec<(Span, &str)> = Vec::new();
                found.extend(aws_access_keys(&var.value).into_iter().map(|r| (at(r), "an AWS access key id")));
                found.extend(private_key(&var.value).map(|r| (at(r), "a private key")));
                if !example {
                    found.extend(url_passwords(&var.value).into_iter().map(|r| (at(r), "a password in a URL")));
                }
                for (span, what) in found {
                    sink.report(env.file, span, format!("`{}` holds {what}", var.name));
                }
            }
        }
    }
}
