use crate::graph::yaml::{at, int_at, seq, str_at};
use crate::graph::{Object, place};
use crate::rule::{Context, Rule, Sink};

use super::proxy_target_missing::join;

crate::declare_rule! {
    /// An Ingress path whose backend names a Service that does not exist in
    /// its namespace, or a port (number or name) that Service does not
    /// expose, answers 503 from the ingress controller for that path; the
    /// Ingress itself applies without complaint. A Service missing from the
    /// whole tree is reported only when the Ingress's own file defines other
    /// Services, or when its name is one or two edits from a Service of the
    /// same deployment unit (a typo); otherwise it may come from elsewhere.
    /// The Prometheus Operator's `prometheus-operated`,
    /// `alertmanager-operated` and `thanos-ruler-operated` always may, and
    /// an `ExternalName` Service has no ports to compare.
    IngressBackendMissing {
        code: "X014",
        name: "ingress-backend-missing",
        severity: Error,
        fix: "name an existing Service and one of its `ports[].port` numbers or port names",
    }
}

impl Rule for IngressBackendMissing {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        if graph.services.is_empty() {
            // Services live elsewhere: nothing to compare with.
            return;
        }
        for ingress in graph.objects.iter().filter(|o| o.kind == "Ingress") {
            let mut backends: Vec<&berth_spec::Node> =
                at(ingress.node, &["spec", "defaultBackend", "service"]).into_iter().collect();
            for rule in seq(at(ingress.node, &["spec", "rules"])) {
                for path in seq(at(rule, &["http", "paths"])) {
                    backends.extend(at(path, &["backend", "service"]));
                }
            }
            for backend in backends {
                check_backend(cx, sink, ingress, backend);
            }
        }
    }
}

fn check_backend(cx: &Context<'_>, sink: &mut Sink<'_>, ingress: &Object<'_>, backend: &berth_spec::Node) {
    let graph = cx.graph;
    let Some(name) = str_at(backend, &["name"]) else { return };
    // The Prometheus Operator makes these from its custom resources.
    if OPERATED.contains(&name) {
        return;
    }
    let name_span = at(backend, &["name"]).map_or(backend.span, |n| n.span);
    let named: Vec<_> = graph
        .services
        .iter()
        .filter(|s| {
            let o = &graph.objects[s.object];
            o.name == name && same_namespace(o.namespace, ingress.namespace)
        })
        .collect();
    // The Service of the Ingress's own deployment unit when there is one;
    // else any of that name (one of them may be what is applied with it).
    let unit = graph.unit(ingress.file);
    let own: Vec<_> = named.iter().copied().filter(|s| graph.unit(graph.objects[s.object].file) == unit).collect();
    // A file that defines an Ingress with its Services is a whole
    // deployment: a backend it does not define is missing, whatever
    // another example in the tree calls a Service.
    let beside: Vec<&str> = graph
        .services
        .iter()
        .map(|s| &graph.objects[s.object])
        .filter(|o| o.file == ingress.file)
        .map(|o| o.name)
        .collect();
    if own.is_empty() && !beside.is_empty() {
        sink.report(
            ingress.file,
            name_span,
            format!(
                "{} routes to Service `{name}`, which its file does not define (it defines {})",
                ingress.title(),
                beside.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ),
        );
        return;
    }
    let candidates = if own.is_empty() { named } else { own };
    let has_port = |s: &&crate::graph::Service<'_>| match (
        int_at(backend, &["port", "number"]),
        str_at(backend, &["port", "name"]),
    ) {
        (Some(n), _) => s.ports.iter().any(|p| p.port == n),
        (None, Some(port)) => s.ports.iter().any(|p| p.name == Some(port)),
        (None, None) => true,
    };
    let service = candidates.iter().copied().find(has_port).or_else(|| candidates.first().copied());
    let Some(service) = service else {
        // Absent from the tree is not absent from the cluster (a Helm
        // release, `kubectl expose`, another repository): only a name one
        // or two edits from a Service of the same deployment is a typo.
        let typo = graph
            .services
            .iter()
            .map(|s| &graph.objects[s.object])
            .filter(|o| graph.unit(o.file) == unit && same_namespace(o.namespace, ingress.namespace))
            .map(|o| o.name)
            // Short names are a few edits from many others.
            .filter(|candidate| strsim::levenshtein(candidate, name) <= if name.len() < 6 { 1 } else { 2 })
            .min_by_key(|candidate| strsim::levenshtein(candidate, name));
        if let Some(typo) = typo {
            sink.report(
                ingress.file,
                name_span,
                format!(
                    "{} routes to Service `{name}`, which is not deployed here; did you mean `{typo}`?",
                    ingress.title()
                ),
            );
        }
        return;
    };
    let o = &graph.objects[service.object];
    // An ExternalName Service has no ports of its own: the name it points
    // at serves whatever port the backend asks.
    if str_at(o.node, &["spec", "type"]) == Some("ExternalName") {
        return;
    }
    let (wanted, span, found) = match (int_at(backend, &["port", "number"]), str_at(backend, &["port", "name"])) {
        (Some(n), _) => (n.to_string(), at(backend, &["port", "number"]), service.ports.iter().any(|p| p.port == n)),
        (None, Some(port)) => {
            (format!("`{port}`"), at(backend, &["port", "name"]), service.ports.iter().any(|p| p.name == Some(port)))
        }
        (None, None) => return,
    };
    if !found {
        let ports: Vec<i64> = service.ports.iter().map(|p| p.port).collect();
        sink.report(
            ingress.file,
            span.map_or(name_span, |n| n.span),
            format!(
                "{} routes to port {wanted} of {} ({}), which exposes {}",
                ingress.title(),
                o.title(),
                place(cx.files, o.file, o.span),
                if ports.is_empty() { "no port".to_owned() } else { join(&ports) }
            ),
        );
    }
}

/// Services the Prometheus Operator creates for its Prometheus,
/// Alertmanager and ThanosRuler resources.
pub const OPERATED: [&str; 3] = ["prometheus-operated", "alertmanager-operated", "thanos-ruler-operated"];

/// Unset namespaces are whatever `kubectl apply -n` says: they may match.
fn same_namespace(a: Option<&str>, b: Option<&str>) -> bool {
    a == b || a.is_none() || b.is_none()
}
