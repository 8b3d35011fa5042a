use berth_spec::Node;

use crate::graph::yaml::{at, int_at, labels, seq};
use crate::graph::{Object, PortRef, Workload, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A NetworkPolicy port must be one the pods on the other end listen
    /// on. An egress rule to the database pods on the cache's port (or an
    /// ingress rule on a port the app does not serve) blocks the real
    /// traffic while looking deliberate. When the pods on the other end are
    /// not in the tree (a Redis or PostgreSQL installed by a chart), an
    /// egress rule to well-known dependency pods (`app: redis`,
    /// `app.kubernetes.io/name: postgresql`, `redis-master`) is reported
    /// when every port it allows is another such dependency's (5432 to
    /// Redis). The ports: Redis 6379 and 26379 (Sentinel), PostgreSQL 5432,
    /// MySQL and MariaDB 3306, MongoDB 27017, memcached 11211, RabbitMQ
    /// 5672 and 15672, Elasticsearch 9200 and 9300, Kafka 9092, NATS 4222.
    /// A port of no dependency (6380) may be the pods' own and is not
    /// judged, nor is a rule that also reaches IP blocks or other pods.
    /// Istio's sidecar ports (15090, 15020, 15021, 15008) are served by
    /// pods of the mesh (injection asked on the pod or its namespace).
    NetworkPolicyPort {
        code: "X003",
        name: "network-policy-port",
        severity: Error,
        fix: "use the port the selected pods declare (`containerPort`), or select the pods that serve this port",
    }
}

fn describe(ws: &[&Workload<'_>], cx: &Context<'_>) -> String {
    ws.iter()
        .map(|w| {
            let o = &cx.graph.objects[w.object];
            let ports: Vec<String> = w.ports().map(|p| p.port.to_string()).collect();
            format!("{} ({}) listens on {}", o.title(), place(cx.files, o.file, o.span), ports.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Rule for NetworkPolicyPort {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for policy in cx.graph.network_policies.iter().filter(|p| !p.by_expression) {
            let object = &cx.graph.objects[policy.object];
            let mut check =
                |selectors: &[Vec<(String, String)>], ports: &[(PortRef<'_>, berth_diagnostics::Span)], dir: &str| {
                    let peers: Vec<&Workload<'_>> = selectors
                        .iter()
                        .flat_map(|s| cx.graph.selected_in(cx.graph.unit(object.file), object.namespace, s))
                        .filter(|w| w.ports().next().is_some())
                        .collect();
                    if peers.is_empty() {
                        return;
                    }
                    for (port, span) in ports {
                        if !peers.iter().any(|w| w.listens_on(port) || sidecar_port(cx, w, port)) {
                            sink.report(
                                object.file,
                                *span,
                                format!("{} allows {dir} on port {port}, but {}", object.title(), describe(&peers, cx)),
                            );
                        }
                    }
                };
            for rule in &policy.egress {
                check(&rule.pod_selectors, &rule.ports, "egress");
            }
            // Ingress ports are the policy's own pods' ports.
            let own = [policy.pod_selector.clone()];
            for rule in &policy.ingress {
                check(&own, &rule.ports, "ingress");
            }
            for rule in seq(at(object.node, &["spec", "egress"])) {
                well_known_port(cx, object, rule, sink);
            }
        }
    }
}

/// Ports Istio's injected sidecar serves in every pod of the mesh:
/// Envoy's Prometheus endpoint, the merged metrics and health ports, HBONE.
const ISTIO_SIDECAR: [i64; 4] = [15090, 15020, 15021, 15008];

/// Whether `port` is one Istio's sidecar adds to the pods of `w`: the pod
/// asks for injection (`sidecar.istio.io/inject: "true"`), or its
/// namespace, written in the tree, is labelled for it (`istio-injection:
/// enabled`, `istio.io/rev`).
fn sidecar_port(cx: &Context<'_>, w: &Workload<'_>, port: &PortRef<'_>) -> bool {
    let PortRef::Number(n) = port else { return false };
    if !ISTIO_SIDECAR.contains(n) {
        return false;
    }
    let asked =
        w.pod_labels.iter().chain(&w.pod_annotations).any(|(k, v)| k == "sidecar.istio.io/inject" && v == "true");
    let namespace = cx.graph.objects[w.object].namespace;
    asked
        || cx.graph.objects.iter().any(|o| {
            o.kind == "Namespace"
                && Some(o.name) == namespace
                && labels(at(o.node, &["metadata", "labels"]))
                    .iter()
                    .any(|(k, v)| (k == "istio-injection" && v == "enabled") || k == "istio.io/rev")
        })
}

/// Well-known dependencies: the label values their pods go by, and the
/// ports they serve.
const DEPENDENCIES: [(&str, &[&str], &[i64]); 10] = [
    ("Redis", &["redis"], &[6379, 26379]),
    ("PostgreSQL", &["postgres", "postgresql"], &[5432]),
    ("MySQL", &["mysql"], &[3306]),
    ("MariaDB", &["mariadb"], &[3306]),
    ("MongoDB", &["mongodb", "mongo"], &[27017]),
    ("memcached", &["memcached"], &[11211]),
    ("RabbitMQ", &["rabbitmq"], &[5672, 15672]),
    ("Elasticsearch", &["elasticsearch"], &[9200, 9300]),
    ("Kafka", &["kafka"], &[9092]),
    ("NATS", &["nats"], &[4222]),
];

/// Suffixes of a dependency's pods (`redis-master`), unlike `redis-exporter`.
const SUFFIXES: [&str; 8] = ["-master", "-primary", "-replica", "-slave", "-leader", "-server", "-cluster", "-ha"];

/// The dependency whose pods a label value names: `redis`, `redis-master`.
fn dependency(value: &str) -> Option<usize> {
    DEPENDENCIES.iter().position(|(_, names, _)| {
        names.iter().any(|n| value.strip_prefix(n).is_some_and(|rest| rest.is_empty() || SUFFIXES.contains(&rest)))
    })
}

/// The dependency a peer's pod selector names by `app` or
/// `app.kubernetes.io/name`, when its pods are not in the tree's unit.
fn peer_dependency(cx: &Context<'_>, object: &Object<'_>, peer: &Node) -> Option<usize> {
    if at(peer, &["ipBlock"]).is_some() {
        return None;
    }
    let selector = labels(at(peer, &["podSelector", "matchLabels"]));
    let found = selector
        .iter()
        .filter(|(k, _)| k == "app" || k == "app.kubernetes.io/name")
        .find_map(|(_, v)| dependency(v))?;
    // Pods with these labels in the unit: their real ports are compared above.
    let unit = cx.graph.unit(object.file);
    let present = cx.graph.workloads.iter().any(|w| {
        cx.graph.unit(cx.graph.objects[w.object].file) == unit && selector.iter().all(|(k, v)| w.has_label(k, v))
    });
    (!present).then_some(found)
}

/// An egress rule to well-known dependency pods that are not in the tree,
/// on ports only other dependencies serve.
fn well_known_port(cx: &Context<'_>, object: &Object<'_>, rule: &Node, sink: &mut Sink<'_>) {
    let peers = seq(at(rule, &["to"]));
    let ports = seq(at(rule, &["ports"]));
    if peers.is_empty() || ports.is_empty() {
        return;
    }
    let Some(targets) = peers.iter().map(|p| peer_dependency(cx, object, p)).collect::<Option<Vec<usize>>>() else {
        return;
    };
    let mut numbers = Vec::new();
    for port in ports {
        let Some(n) = int_at(port, &["port"]).filter(|_| at(port, &["endPort"]).is_none()) else { return };
        // Every port must be another dependency's, and none the targets'.
        let owner = DEPENDENCIES.iter().position(|(_, _, served)| served.contains(&n));
        match owner {
            Some(o) if !targets.iter().any(|t| DEPENDENCIES[*t].2.contains(&n)) && !targets.contains(&o) => {
                numbers.push((n, o, at(port, &["port"]).map_or(port.span, |p| p.span)));
            }
            _ => return,
        }
    }
    let Some(&(_, _, span)) = numbers.first() else { return };
    let (target, _, served) = DEPENDENCIES[targets[0]];
    let allowed: Vec<String> = numbers.iter().map(|(n, o, _)| format!("{n} ({}'s)", DEPENDENCIES[*o].0)).collect();
    let wanted: Vec<String> = served.iter().map(i64::to_string).collect();
    sink.report(
        object.file,
        span,
        format!(
            "{} allows egress to {target} pods only on {}, but {target} listens on {}",
            object.title(),
            allowed.join(", "),
            wanted.join(" or ")
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_by_expression_are_not_read_as_every_pod() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/X003/bad/");
        let apps = std::fs::read_to_string(format!("{root}apps.yaml")).unwrap_or_default();
        let policy = std::fs::read_to_string(format!("{root}policy.yaml")).unwrap_or_default();
        assert!(!crate::rules::messages_of("X003", &[("apps.yaml", &apps), ("policy.yaml", &policy)]).is_empty());
        let own = policy.replace(
            "podSelector: { matchLabels: { app: web } }",
            "podSelector: { matchExpressions: [{ key: app, operator: In, values: [web] }] }",
        );
        assert!(crate::rules::messages_of("X003", &[("apps.yaml", &apps), ("policy.yaml", &own)]).is_empty());
    }

    #[test]
    fn istio_sidecar_ports_are_served_by_pods_of_the_mesh() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/X003/bad/");
        let apps = std::fs::read_to_string(format!("{root}apps.yaml")).unwrap_or_default();
        let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: web, namespace: shop }\nspec:\n  podSelector: { matchLabels: { app: web } }\n  ingress:\n    - ports: [{ port: 8080 }, { port: 15090 }]\n";
        let x003 = |namespace: &str| {
            crate::rules::messages_of("X003", &[("apps.yaml", &apps), ("policy.yaml", policy), ("ns.yaml", namespace)])
        };
        let plain = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
        assert_eq!(x003(plain).len(), 1, "{:?}", x003(plain));
        let meshed =
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: { istio-injection: enabled }\n";
        assert!(x003(meshed).is_empty(), "{:?}", x003(meshed));
        let other = meshed.replace("name: shop", "name: other");
        assert_eq!(x003(&other).len(), 1, "another namespace's label is not this one's");
    }

    #[test]
    fn dependency_labels() {
        assert_eq!(dependency("redis"), Some(0));
        assert_eq!(dependency("redis-master"), Some(0));
        assert_eq!(dependency("postgresql-primary"), Some(1));
        assert_eq!(dependency("redis-exporter"), None);
        assert_eq!(dependency("myredis"), None);
        assert_eq!(dependency("web"), None);
    }
}
