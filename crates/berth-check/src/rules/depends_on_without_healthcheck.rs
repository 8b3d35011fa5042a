use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `depends_on` alone only orders container starts: the app starts
    /// while the database is still initialising and crashes or serves
    /// errors. Waiting needs `condition: service_healthy` and a
    /// `healthcheck` on the dependency. An explicit `condition:` other than
    /// `service_healthy` is a choice (a one-shot migration, a sidecar), and
    /// is left alone, as are swarm stack files (`docker-stack.yml`), where
    /// `docker stack deploy` ignores `depends_on`.
    DependsOnWithoutHealthcheck {
        code: "C003",
        name: "depends-on-without-healthcheck",
        severity: Warning,
        fix: "give the dependency a `healthcheck` and write `depends_on: { db: { condition: service_healthy } }`",
    }
}

impl Rule for DependsOnWithoutHealthcheck {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for s in
            cx.graph.compose.iter().filter(|s| !crate::graph::compose::is_stack_file(cx.files[s.file].name.as_str()))
        {
            for dep in s.depends_on.iter().filter(|d| !d.explicit || d.condition == "service_healthy") {
                let has_check = cx.graph.compose_service(&s.project, &dep.service).any(|d| d.healthcheck);
                if !has_check {
                    sink.report(
                        s.file,
                        dep.span,
                        format!(
                            "`{}` waits for `{}` to start, not to be ready: it has no healthcheck",
                            s.name, dep.service
                        ),
                    );
                } else if dep.condition != "service_healthy" {
                    sink.report(
                        s.file,
                        dep.span,
                        format!(
                            "`{}` does not wait for `{}`'s healthcheck (condition `{}`)",
                            s.name, dep.service, dep.condition
                        ),
                    );
                }
            }
        }
    }
}
