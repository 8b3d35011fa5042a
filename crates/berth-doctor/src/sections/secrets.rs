//! Secret files: the spec's `file:` secrets and the files berth up writes
//! secrets into must be readable by their owner only (0600); a secret read
//! from the environment must be set where berth runs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::judged;
use crate::report::{Check, Section, Status};
use crate::{Inputs, judge};

pub fn check(inputs: &Inputs) -> Vec<Check> {
    let mut out = Vec::new();
    for secret in &inputs.plan.secrets {
        let subject = format!("secret {}", secret.name);
        if let Some(file) = &secret.file {
            out.push(file_mode(&subject, &inputs.spec_dir.join(file)));
        } else if let Some(var) = &secret.env {
            out.push(match inputs.secret_env.get(&secret.name) {
                Some(true) => {
                    Check::new(Section::Secrets, subject, Status::Ok, format!("read from ${var}, which is set"))
                }
                _ => Check::new(Section::Secrets, subject, Status::Warn, format!("${var} is not set here"))
                    .hint("berth up, backups and restores read it from there; set it (or give the secret a `file:`)"),
            });
        }
    }
    // Files berth up itself writes secrets into.
    let mut own = vec![inputs.state_dir.join("tls/key.pem")];
    if let Ok(deps) = std::fs::read_dir(inputs.state_dir.join("deps")) {
        let mut dirs: Vec<_> = deps.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            own.extend(["redis.conf", "pwfile"].iter().map(|f| dir.join(f)));
        }
    }
    for path in own.into_iter().filter(|p| p.exists()) {
        let subject = path.strip_prefix(&inputs.spec_dir).unwrap_or(&path).display().to_string();
        out.push(file_mode(&subject, &path));
    }
    out
}

fn file_mode(subject: &str, path: &Path) -> Check {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mut check = judged(Section::Secrets, subject, judge::secret_mode(meta.permissions().mode()));
            check.message = format!("{}: {}", path.display(), check.message);
            if check.status == Status::Fail {
                check.hint =
                    Some(format!("chmod 600 {} (and rotate the secret if others could read it)", path.display()));
            }
            check
        }
        Err(e) => Check::new(
            Section::Secrets,
            subject,
            Status::Fail,
            format!("{}: {}", path.display(), e.to_string().to_lowercase()),
        )
        .hint("the stack cannot start without it"),
    }
}
