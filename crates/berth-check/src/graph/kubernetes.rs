//! Kubernetes objects into the graph: workloads with their pod templates,
//! Services, NetworkPolicies and autoscalers. `List` objects are unpacked.

use berth_diagnostics::Span;
use berth_spec::Node;

use super::Graph;
use super::yaml::{at, int_at, key_span, labels, seq, str_at};

#[derive(Debug)]
pub struct Object<'a> {
    pub file: usize,
    pub node: &'a Node,
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    /// Where the object is named (`metadata.name`), else its `kind`.
    pub span: Span,
    pub annotations: Vec<(String, String)>,
}

impl Object<'_> {
    /// "Deployment web" for messages.
    pub fn title(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

#[derive(Debug)]
pub struct ContainerPort<'a> {
    pub name: Option<&'a str>,
    pub port: i64,
    pub span: Span,
}

#[derive(Debug)]
pub struct Container<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    pub image: Option<&'a str>,
    pub init: bool,
    pub ports: Vec<ContainerPort<'a>>,
    /// `command` then `args`.
    pub command: Vec<String>,
    /// (name, literal value) of `env` entries; `valueFrom` entries have none.
    pub env: Vec<(&'a str, Option<&'a str>, Span)>,
    /// Where the container is named: findings about it point here.
    pub span: Span,
}

#[derive(Debug)]
pub struct Workload<'a> {
    /// Index into [`Graph::objects`].
    pub object: usize,
    pub pod_labels: Vec<(String, String)>,
    pub pod_annotations: Vec<(String, String)>,
    /// The pod spec (`spec.template.spec`, or `spec` of a Pod).
    pub pod: &'a Node,
    pub containers: Vec<Container<'a>>,
    /// `spec.replicas` when written.
    pub replicas: Option<(i64, Span)>,
    /// The StatefulSet's name: its controller labels each pod with its own
    /// name (`statefulset.kubernetes.io/pod-name: web-0`) and ordinal
    /// (`apps.kubernetes.io/pod-index`), so a Service can select one pod.
    pub stateful_set: Option<&'a str>,
}

impl Workload<'_> {
    /// Whether its pods run to completion: a Job, or a bare Pod that is
    /// not restarted after its containers exit (`restartPolicy` `Never` or
    /// `OnFailure`). A CronJob's pods do too, but again and again.
    pub fn runs_to_completion(&self, kind: &str) -> bool {
        kind == "Job" || (kind == "Pod" && matches!(str_at(self.pod, &["restartPolicy"]), Some("Never" | "OnFailure")))
    }

    /// Every port some container of the pod declares.
    pub fn ports(&self) -> impl Iterator<Item = &ContainerPort<'_>> {
        self.containers.iter().filter(|c| !c.init).flat_map(|c| &c.ports)
    }

    /// Whether the pods carry label `key=value`, as written in the template
    /// or as their controller adds it.
    pub fn has_label(&self, key: &str, value: &str) -> bool {
        let ordinal = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        self.pod_labels.iter().any(|(k, v)| k == key && v == value)
            || self.stateful_set.is_some_and(|name| match key {
                POD_NAME => value.strip_prefix(name).and_then(|r| r.strip_prefix('-')).is_some_and(ordinal),
                POD_INDEX => ordinal(value),
                _ => false,
            })
    }

    /// Whether a Service's or policy's target port reaches a declared port.
    pub fn listens_on(&self, target: &PortRef<'_>) -> bool {
        match target {
            PortRef::Number(n) => self.ports().any(|p| p.port == *n),
            PortRef::Name(name) => self.ports().any(|p| p.name == Some(*name)),
        }
    }
}

/// Labels the StatefulSet controller gives each pod, never in its template.
pub const POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef<'a> {
    Number(i64),
    Name(&'a str),
}

impl std::fmt::Display for PortRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(n) => write!(f, "`{n}`"),
        }
    }
}

#[derive(Debug)]
pub struct ServicePort<'a> {
    pub name: Option<&'a str>,
    pub port: i64,
    /// `targetPort`, defaulting to `port`.
    pub target: PortRef<'a>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Service<'a> {
    pub object: usize,
    /// Empty for a selector-less Service (endpoints managed elsewhere).
    pub selector: Vec<(String, String)>,
    pub selector_span: Span,
    pub ports: Vec<ServicePort<'a>>,
}

/// One `to`/`from` entry set of a NetworkPolicy rule with its ports.
#[derive(Debug)]
pub struct PolicyPeer<'a> {
    /// Pod selectors of the peers; empty when the rule names only
    /// namespaces or IP blocks (then nothing can be resolved).
    pub pod_selectors: Vec<Vec<(String, String)>>,
    pub ports: Vec<(PortRef<'a>, Span)>,
}

#[derive(Debug)]
pub struct NetworkPolicy<'a> {
    pub object: usize,
    pub pod_selector: Vec<(String, String)>,
    /// The policy's own `podSelector` has `matchExpressions`, which berth
    /// does not evaluate: which pods it applies to is unknown.
    pub by_expression: bool,
    pub ingress: Vec<PolicyPeer<'a>>,
    pub egress: Vec<PolicyPeer<'a>>,
}

#[derive(Debug)]
pub struct Autoscaler<'a> {
    pub object: usize,
    pub target_kind: &'a str,
    pub target_name: &'a str,
    pub span: Span,
}

/// Kinds that run pods. ReplicationController is old but still in
/// tutorials and examples, and its pods are selected like any others;
/// OpenShift's DeploymentConfig has a pod template like a Deployment's.
pub(crate) const WORKLOADS: [&str; 9] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "DeploymentConfig",
    "Job",
    "CronJob",
    "Pod",
];

pub fn add<'a>(graph: &mut Graph<'a>, file: usize, doc: &'a Node) {
    let (Some(api_version), Some(kind)) = (str_at(doc, &["apiVersion"]), str_at(doc, &["kind"])) else {
        return;
    };
    if kind == "List" || kind.ends_with("List") && at(doc, &["items"]).is_some() {
        for item in seq(at(doc, &["items"])) {
            add(graph, file, item);
        }
        return;
    }
    let name_node = at(doc, &["metadata", "name"]);
    let object = Object {
        file,
        node: doc,
        api_version,
        kind,
        name: name_node.and_then(Node::as_str).unwrap_or("(unnamed)"),
        namespace: str_at(doc, &["metadata", "namespace"]),
        span: name_node.map_or_else(|| key_span(doc, "kind"), |n| n.span),
        annotations: labels(at(doc, &["metadata", "annotations"])),
    };
    let index = graph.objects.len();
    graph.objects.push(object);
    if WORKLOADS.contains(&kind) {
        let template = match kind {
            "Pod" => Some(doc),
            "CronJob" => at(doc, &["spec", "jobTemplate", "spec", "template"]),
            _ => at(doc, &["spec", "template"]),
        };
        let Some(template) = template else { return };
        let (pod, meta) = if kind == "Pod" {
            (at(doc, &["spec"]), at(doc, &["metadata"]))
        } else {
            (at(template, &["spec"]), at(template, &["metadata"]))
        };
        let Some(pod) = pod else { return };
        let mut containers = Vec::new();
        for (key, init) in [("initContainers", true), ("containers", false)] {
            for c in seq(at(pod, &[key])) {
                let name = at(c, &["name"]);
                containers.push(Container {
                    node: c,
                    name: name.and_then(Node::as_str).unwrap_or("(unnamed)"),
                    image: str_at(c, &["image"]),
                    init,
                    ports: seq(at(c, &["ports"]))
                        .iter()
                        .filter_map(|p| {
                            Some(ContainerPort {
                                name: str_at(p, &["name"]),
                                port: int_at(p, &["containerPort"])?,
                                span: at(p, &["containerPort"]).map_or(p.span, |n| n.span),
                            })
                        })
                        .collect(),
                    command: seq(at(c, &["command"]))
                        .iter()
                        .chain(seq(at(c, &["args"])))
                        .filter_map(Node::scalar_text)
                        .collect(),
                    env: seq(at(c, &["env"]))
                        .iter()
                        .filter_map(|e| Some((str_at(e, &["name"])?, str_at(e, &["value"]), e.span)))
                        .collect(),
                    span: name.map_or(c.span, |n| n.span),
                });
            }
        }
        let replicas = (kind != "Pod")
            .then(|| at(doc, &["spec", "replicas"]))
            .flatten()
            .and_then(|n| Some((int_at(doc, &["spec", "replicas"])?, n.span)));
        let mut pod_labels = labels(meta.and_then(|m| at(m, &["labels"])));
        // The Job controller labels its pods with the Job's name.
        if kind == "Job" {
            let job = graph.objects[index].name.to_owned();
            for key in ["job-name", "batch.kubernetes.io/job-name"] {
                if !pod_labels.iter().any(|(k, _)| k == key) {
                    pod_labels.push((key.to_owned(), job.clone()));
                }
            }
        }
        graph.workloads.push(Workload {
            object: index,
            pod_labels,
            pod_annotations: labels(meta.and_then(|m| at(m, &["annotations"]))),
            pod,
            containers,
            replicas,
            stateful_set: (kind == "StatefulSet").then_some(graph.objects[index].name),
        });
        return;
    }
    match kind {
        "Service" => {
            let selector_node = at(doc, &["spec", "selector"]);
            let ports = seq(at(doc, &["spec", "ports"]))
                .iter()
                .filter_map(|p| {
                    let port = int_at(p, &["port"])?;
                    // The API server defaults a missing, empty or zero
                    // `targetPort` (charts render `targetPort: 0`) to `port`.
                    let target = match at(p, &["targetPort"]) {
                        None => PortRef::Number(port),
                        Some(t) => match t.as_str() {
                            Some("") => PortRef::Number(port),
                            Some(name) if name.parse::<i64>().is_err() => PortRef::Name(name),
                            _ => match int_at(p, &["targetPort"])? {
                                0 => PortRef::Number(port),
                                n => PortRef::Number(n),
                            },
                        },
                    };
                    let span = at(p, &["targetPort"]).or_else(|| at(p, &["port"])).map_or(p.span, |n| n.span);
                    Some(ServicePort { name: str_at(p, &["name"]), port, target, span })
                })
                .collect();
            graph.services.push(Service {
                object: index,
                selector: labels(selector_node),
                selector_span: at(doc, &["spec"]).map_or(doc.span, |s| key_span(s, "selector")),
                ports,
            });
        }
        "NetworkPolicy" => {
            let rules = |direction: &str, peers: &str| -> Vec<PolicyPeer<'a>> {
                seq(at(doc, &["spec", direction]))
                    .iter()
                    .map(|rule| PolicyPeer {
                        pod_selectors: seq(at(rule, &[peers]))
                            .iter()
                            .filter(|peer| {
                                at(peer, &["namespaceSelector"]).is_none() && at(peer, &["ipBlock"]).is_none()
                            })
                            .filter_map(|peer| at(peer, &["podSelector"]))
                            // `matchExpressions` are not evaluated: such a
                            // peer is left unresolved, never read as "every pod".
                            .filter(|s| at(s, &["matchExpressions"]).is_none())
                            .map(|s| labels(at(s, &["matchLabels"])))
                            .collect(),
                        ports: seq(at(rule, &["ports"]))
                            .iter()
                            .filter_map(|p| {
                                let node = at(p, &["port"])?;
                                let port = match node.as_str() {
                                    Some(name) if name.parse::<i64>().is_err() => PortRef::Name(name),
                                    _ => PortRef::Number(int_at(p, &["port"])?),
                                };
                                Some((port, node.span))
                            })
                            .collect(),
                    })
                    .collect()
            };
            graph.network_policies.push(NetworkPolicy {
                object: index,
                pod_selector: labels(at(doc, &["spec", "podSelector", "matchLabels"])),
                by_expression: at(doc, &["spec", "podSelector", "matchExpressions"]).is_some(),
                ingress: rules("ingress", "from"),
                egress: rules("egress", "to"),
            });
        }
        "ServiceMonitor" => graph.service_monitors.push(super::prometheus::service_monitor(index, doc)),
        "PrometheusRule" => graph.prom_rules.extend(super::prometheus::rules(file, at(doc, &["spec", "groups"]))),
        "HorizontalPodAutoscaler" => {
            if let (Some(target_kind), Some(target_name)) =
                (str_at(doc, &["spec", "scaleTargetRef", "kind"]), str_at(doc, &["spec", "scaleTargetRef", "name"]))
            {
                let span = at(doc, &["spec", "scaleTargetRef", "name"]).map_or(doc.span, |n| n.span);
                graph.autoscalers.push(Autoscaler { object: index, target_kind, target_name, span });
            }
        }
        _ => {}
    }
}
