//! Paths written inside deployment files (`include /etc/nginx/conf.d/*.conf`,
//! `EnvironmentFile=/etc/web/web.env`) name places on the target machine;
//! the checked files live in a repository. They are matched by their
//! trailing components.

use globset::GlobBuilder;

/// Whether `pattern` (absolute, relative, possibly a glob) names `path`.
/// At least two components must agree unless the pattern is a bare file
/// name, so `/etc/a/x.conf` does not match `b/x.conf`.
pub fn tail_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches('-').trim_start_matches("./");
    let wanted: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let have: Vec<&str> = path.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".").collect();
    (1..=wanted.len().min(have.len())).rev().any(|n| {
        let tail = wanted[wanted.len() - n..].join("/");
        let candidate = have[have.len() - n..].join("/");
        n >= wanted.len().min(2)
            && GlobBuilder::new(&tail)
                .literal_separator(true)
                .build()
                .is_ok_and(|g| g.compile_matcher().is_match(&candidate))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_components() {
        assert!(tail_matches("/etc/nginx/conf.d/*.conf", "deploy/nginx/conf.d/app.conf"));
        assert!(tail_matches("snippets/headers.conf", "nginx/snippets/headers.conf"));
        assert!(tail_matches("headers.conf", "nginx/headers.conf"));
        assert!(tail_matches("-/etc/web/web.env", "deploy/web/web.env"));
        assert!(!tail_matches("/etc/nginx/conf.d/*.conf", "deploy/nginx/sites/app.conf"));
        assert!(!tail_matches("snippets/headers.conf", "other/headers.conf"));
        assert!(!tail_matches("/etc/a/x.conf", "b/x.conf"));
    }
}
