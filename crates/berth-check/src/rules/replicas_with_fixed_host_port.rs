use crate::graph::compose::ComposeService;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Several replicas cannot all bind the same host port: the second
    /// container fails to start, and `docker compose up --scale` fails
    /// half-way. Replicas count from the files compose merges: a base
    /// file with its `*.override.yml`, or a partial file (services without
    /// `image`/`build`, used as `-f base -f partial`) with its base; a
    /// complete alternative file (`docker-compose.images.yml`) stands alone.
    /// Swarm stack files (`docker-stack.yml`, `stack.yml`) are left alone:
    /// swarm's ingress mesh lets replicas share a published port.
    ReplicasWithFixedHostPort {
        code: "C004",
        name: "replicas-with-fixed-host-port",
        severity: Error,
        fix: "publish only the container port (`\"8080\"`) or a range, and balance with a proxy in front",
    }
}

impl Rule for ReplicasWithFixedHostPort {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for s in &cx.graph.compose {
            if role(cx, s.file) == Role::Stack {
                continue;
            }
            let replicas = cx
                .graph
                .compose_service(&s.project, s.name)
                .filter(|d| merged(cx, s, d))
                .filter_map(|d| d.replicas)
                .last();
            let Some((n, _)) = replicas.filter(|(n, _)| *n > 1) else { continue };
            for p in &s.ports {
                if let Some(published) = p.published.as_deref().filter(|p| !p.contains('-')) {
                    sink.report(
                        s.file,
                        p.span,
                        format!("service `{}` runs {n} replicas but publishes fixed host port {published}", s.name),
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `compose.yaml`, `docker-compose.yml`: what `docker compose up` reads.
    Base,
    /// `*.override.yml`: read with the base by default.
    Override,
    /// Another file whose services lack `image` and `build`: an overlay
    /// for `-f base -f this`.
    Partial,
    /// Another complete file: an alternative to the base.
    Alternative,
    Stack,
}

fn role(cx: &Context<'_>, file: usize) -> Role {
    let path = cx.files.get(file).map_or("", |f| f.name.as_str());
    if crate::graph::compose::is_stack_file(path) {
        return Role::Stack;
    }
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path).to_ascii_lowercase();
    let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
    if stem == "compose" || stem == "docker-compose" {
        return Role::Base;
    }
    if stem.ends_with(".override") {
        return Role::Override;
    }
    let partial = |d: &ComposeService<'_>| d.file == file && d.image.is_none() && d.dockerfile.is_none();
    if cx.graph.compose.iter().any(partial) { Role::Partial } else { Role::Alternative }
}

/// Whether compose merges declaration `d` into the service `s` is read from.
fn merged(cx: &Context<'_>, s: &ComposeService<'_>, d: &ComposeService<'_>) -> bool {
    if d.file == s.file {
        return true;
    }
    matches!(
        (role(cx, s.file), role(cx, d.file)),
        (Role::Base | Role::Override, Role::Base | Role::Override)
            | (Role::Partial, Role::Base)
            | (Role::Base, Role::Partial)
    )
}
