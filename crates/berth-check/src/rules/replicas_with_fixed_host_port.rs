use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Several replicas cannot all bind the same host port: the second
    /// container fails to start, and `docker compose up --scale` fails
    /// half-way.
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
            let replicas = cx.graph.compose_service(&s.project, s.name).filter_map(|d| d.replicas).last();
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
