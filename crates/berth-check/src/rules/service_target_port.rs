use crate::graph::builds::repository;
use crate::graph::{PortRef, Workload, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A Service whose `targetPort` no selected pod declares sends traffic
    /// to a closed port: every request through it fails, while each file
    /// looks fine alone. Named target ports must match a container port's
    /// `name`. A declared list is not a firewall: a port a well-known image
    /// listens on by default (Jaeger's collector on 14268, the
    /// OpenTelemetry Collector's OTLP on 4317, MongoDB's 27017) is open
    /// whether the container lists it or not, and so is one its command
    /// line sets (`--metrics-bind-address=:8443`, `--monitoringAddr=:15014`).
    ServiceTargetPort {
        code: "X001",
        name: "service-target-port",
        severity: Error,
        fix: "make `targetPort` the container's `containerPort` (or its name), or declare the port on the container",
    }
}

impl Rule for ServiceTargetPort {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for service in &cx.graph.services {
            let object = &cx.graph.objects[service.object];
            if service.selector.is_empty() {
                continue;
            }
            let selected: Vec<_> =
                cx.graph.selected_in(cx.graph.unit(object.file), object.namespace, &service.selector).collect();
            // Pods that declare no ports at all say nothing; X002 covers "selects nothing".
            let declaring: Vec<_> = selected.iter().filter(|w| w.ports().next().is_some()).collect();
            if declaring.is_empty() {
                continue;
            }
            for port in &service.ports {
                if declaring.iter().any(|w| {
                    w.listens_on(&port.target) || image_listens(w, &port.target) || flag_listens(w, &port.target)
                }) {
                    continue;
                }
                let w = declaring[0];
                let o = &cx.graph.objects[w.object];
                let declared: Vec<String> = w
                    .ports()
                    .map(|p| p.name.map_or_else(|| p.port.to_string(), |n| format!("{} ({n})", p.port)))
                    .collect();
                sink.report(
                    object.file,
                    port.span,
                    format!(
                        "{} targets port {} but {} ({}) listens on {}",
                        object.title(),
                        port.target,
                        o.title(),
                        place(cx.files, o.file, o.span),
                        declared.join(", ")
                    ),
                );
            }
        }
    }
}

/// Whether a container of `w` runs an image that listens on `target` by
/// default, declared or not, or takes its listeners from elsewhere (an
/// Istio gateway opens what its `Gateway` resources say).
fn image_listens(w: &Workload<'_>, target: &PortRef<'_>) -> bool {
    let PortRef::Number(port) = target else { return false };
    w.containers.iter().filter_map(|c| c.image).filter_map(repository).any(|repo| {
        crate::graph::images::default_ports(&repo).contains(port)
            || crate::graph::images::listens_where_configured(&repo)
    })
}

/// Whether a container's command line sets a listener on `target`: a
/// flag named for an address, bind or port (`--metrics-bind-address=:8443`,
/// istiod's `--monitoringAddr=:15014`, `--grpc-port 9000`) whose value is
/// the port or an address ending in it.
fn flag_listens(w: &Workload<'_>, target: &PortRef<'_>) -> bool {
    let PortRef::Number(port) = target else { return false };
    let listener = |flag: &str| {
        let flag = flag.trim_start_matches('-').to_ascii_lowercase();
        ["addr", "address", "port", "listen", "bind"].iter().any(|end| flag.ends_with(end))
    };
    let is_port = |value: &str| value.rsplit(':').next().and_then(|p| p.parse::<i64>().ok()) == Some(*port);
    w.containers.iter().filter(|c| !c.init).any(|c| {
        let words = crate::graph::command::expanded(&c.command);
        words.iter().enumerate().any(|(i, word)| match word.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => listener(flag) && is_port(value),
            _ => word.starts_with('-') && listener(word) && words.get(i + 1).is_some_and(|v| is_port(v)),
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    fn deployment(image: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: tempo\nspec:\n  selector:\n    matchLabels: {{ app: tempo }}\n  template:\n    metadata:\n      labels: {{ app: tempo }}\n    spec:\n      containers:\n        - name: tempo\n          image: {image}\n          ports:\n            - containerPort: 3200\n"
        )
    }

    fn service(ports: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: tempo\nspec:\n  selector: {{ app: tempo }}\n  ports: [{ports}]\n"
        )
    }

    fn x001(image: &str, ports: &str) -> Vec<String> {
        messages_of("X001", &[("deploy.yaml", &deployment(image)), ("svc.yaml", &service(ports))])
    }

    /// Charts render `targetPort: 0` for "same as port"; so does the API server.
    #[test]
    fn a_zero_target_port_is_the_port() {
        assert!(x001("acme/app:1.0", "{ port: 3200, targetPort: 0 }").is_empty());
        assert!(x001("acme/app:1.0", "{ port: 3200, targetPort: \"\" }").is_empty());
        assert_eq!(x001("acme/app:1.0", "{ port: 3201, targetPort: 0 }").len(), 1);
    }

    #[test]
    fn a_listener_its_command_line_sets_is_open() {
        let with_args = |args: &str| {
            deployment("acme/manager:1.0")
                .replace("          ports:\n", &format!("          args: [{args}]\n          ports:\n"))
        };
        let x001 = |args: &str, ports: &str| {
            messages_of("X001", &[("deploy.yaml", &with_args(args)), ("svc.yaml", &service(ports))])
        };
        assert!(x001("\"--metrics-bind-address=:8443\"", "{ port: 8443 }").is_empty());
        assert!(x001("\"--monitoringAddr=:15014\"", "{ port: 15014 }").is_empty());
        assert!(x001("\"--grpc-port\", \"9000\"", "{ port: 9000 }").is_empty());
        assert_eq!(x001("\"--metrics-bind-address=:8443\"", "{ port: 8444 }").len(), 1);
        assert_eq!(x001("\"--timeout=8443\"", "{ port: 8443 }").len(), 1);
    }

    #[test]
    fn what_an_image_opens_undeclared_is_open() {
        assert!(x001("grafana/tempo:2.7.2", "{ name: grpc, port: 9095 }, { name: gossip, port: 7946 }").is_empty());
        assert_eq!(x001("acme/app:1.0", "{ name: grpc, port: 9095 }").len(), 1);
        assert!(x001("gcr.io/istio-release/proxyv2:1.29.1", "{ port: 80, targetPort: 8081 }").is_empty());
    }
}
