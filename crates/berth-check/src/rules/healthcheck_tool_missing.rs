use crate::graph::dockerfile::exec_form;
use crate::graph::{Dockerfile, Instruction};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A `HEALTHCHECK` that runs `curl` or `wget` in an image that has
    /// neither (Debian and Ubuntu bases, `-slim` images, Alpine for curl,
    /// distroless and `scratch` for anything, including the shell that
    /// the shell form needs) fails every time: Docker marks the container
    /// unhealthy, and orchestrators that honour it restart or never route
    /// to it. Tools installed by a `RUN` (a package manager's install, or
    /// packages fetched with `apt-get download` and unpacked), or copied in,
    /// are recognised. Compose healthchecks are checked against the image
    /// they run in (its `image:`, or the Dockerfile it builds).
    HealthcheckToolMissing {
        code: "D004",
        name: "healthcheck-tool-missing",
        severity: Error,
        fix: "install the tool in the final stage, use one the base image has (busybox `wget` on Alpine), or check health from the app's own binary",
    }
}

/// What a well-known base image ships: (curl, wget, a shell). `None` for
/// images berth does not know.
fn ships(image: &str) -> Option<(bool, bool, bool)> {
    let image = image.to_ascii_lowercase();
    let name = image.split('@').next().unwrap_or(&image);
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (name, ""),
    };
    let short = repo.rsplit('/').next().unwrap_or(repo);
    if repo == "scratch" || repo.contains("distroless") || repo.starts_with("cgr.dev/chainguard/static") {
        return Some((false, false, false));
    }
    // The official nginx images install curl (Debian and Alpine alike);
    // only the `-slim` variants leave it out.
    if short == "nginx" && (repo == "nginx" || repo == "library/nginx" || repo == "docker.io/library/nginx") {
        return Some((!tag.contains("slim"), tag.contains("alpine"), true));
    }
    if short == "alpine" || tag.contains("alpine") || short == "busybox" {
        return Some((false, true, true));
    }
    if matches!(short, "debian" | "ubuntu") || tag.contains("slim") {
        return Some((false, false, true));
    }
    // The full official language images build on buildpack-deps.
    if matches!(short, "node" | "python" | "golang" | "ruby" | "buildpack-deps" | "openjdk" | "php" | "perl") {
        return Some((true, true, true));
    }
    None
}

/// The base image of the final stage, following `FROM <earlier stage>`.
fn final_base(d: &Dockerfile) -> Option<String> {
    let froms: Vec<(String, Option<String>)> = d
        .instructions
        .iter()
        .filter(|i| i.keyword == "FROM")
        .map(|i| {
            let words: Vec<&str> = i.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            let alias =
                (words.len() == 3 && words[1].eq_ignore_ascii_case("as")).then(|| words[2].to_ascii_lowercase());
            (words.first().copied().unwrap_or("").to_owned(), alias)
        })
        .collect();
    let mut image = froms.last()?.0.clone();
    for _ in 0..froms.len() {
        match froms.iter().find(|(_, alias)| alias.as_deref() == Some(image.to_ascii_lowercase().as_str())) {
            Some((base, _)) => image.clone_from(base),
            None => break,
        }
    }
    Some(image)
}

/// Whether a RUN runs a script of the build (zulip's
/// `/root/zulip/scripts/setup/install`, `./setup.sh`): what it installs is
/// not known, so no tool is known missing.
fn runs_a_script(args: &str) -> bool {
    let lines: String = args.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    lines.split(['&', ';', '|', '\n']).any(|command| {
        let Some(program) = command.split_whitespace().find(|w| *w != "\\") else { return false };
        let system =
            ["/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/", "/usr/local/bin/"].iter().any(|p| program.starts_with(p));
        program.ends_with(".sh") || ((program.starts_with('/') || program.starts_with("./")) && !system)
    })
}

/// Whether the Dockerfile installs or copies `tool` into the shipped stages.
fn provides(d: &Dockerfile, tool: &str) -> bool {
    d.instructions.iter().any(|i: &Instruction| match i.keyword.as_str() {
        "RUN" => {
            ((i.args.contains("install")
                || i.args.contains("apk add")
                || i.args.contains("apk --no-cache add")
                || i.args.contains(" download"))
                && i.args.split_whitespace().any(|w| w == tool))
                || runs_a_script(&i.args)
        }
        "COPY" | "ADD" => i.args.contains(&format!("/{tool}")),
        _ => false,
    })
}

impl Rule for HealthcheckToolMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for d in cx.graph.dockerfiles {
            let Some(check) = d.final_stage().filter(|i| i.keyword == "HEALTHCHECK").last() else { continue };
            let Some(rest) = check.args.split_once("CMD").map(|(_, r)| r.trim()) else { continue };
            let Some(base) = final_base(d) else { continue };
            let Some((curl, wget, shell)) = ships(&base) else { continue };
            let shell_form = !rest.starts_with('[');
            let words = exec_form(rest);
            let tool = words.iter().map(|w| w.rsplit('/').next().unwrap_or(w)).find(|w| *w == "curl" || *w == "wget");
            if shell_form && !shell && !provides(d, "sh") && !provides(d, "busybox") {
                sink.report(
                    d.file,
                    check.span,
                    format!("the shell form of HEALTHCHECK needs /bin/sh, which `{base}` does not have"),
                );
                continue;
            }
            let Some(tool) = tool else { continue };
            let present = if tool == "curl" { curl } else { wget };
            if !present && !provides(d, tool) {
                sink.report(
                    d.file,
                    check.span,
                    format!("HEALTHCHECK runs `{tool}`, which `{base}` does not ship and no instruction installs"),
                );
            }
        }
        for s in &cx.graph.compose {
            let Some((test, span)) = &s.healthcheck_test else { continue };
            let built = cx.graph.dockerfile_of(s);
            let Some(base) = built.and_then(final_base).or_else(|| s.image.clone()) else { continue };
            let Some((curl, wget, _)) = ships(&base) else { continue };
            let words = crate::graph::command::words(test);
            let tool = words.iter().map(|w| w.rsplit('/').next().unwrap_or(w)).find(|w| *w == "curl" || *w == "wget");
            let Some(tool) = tool else { continue };
            let present = if tool == "curl" { curl } else { wget };
            if !present && !built.is_some_and(|d| provides(d, tool)) {
                sink.report(
                    s.file,
                    *span,
                    format!("the healthcheck of `{}` runs `{tool}`, which its image (`{base}`) does not ship", s.name),
                );
            }
        }
    }
}
