use berth_spec::{Node, NodeKind};

use crate::graph::Object;
use crate::graph::yaml::{at, int_at, key_span, labels, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A NetworkPolicy that limits a pod's egress to some peers but allows
    /// no DNS cuts the pod off from everything it reaches by name: every
    /// lookup of a Service name (`postgres`, `redis.cache.svc`) times out,
    /// so the app fails to connect even to the peers the policy allows, and
    /// the cause is far from the symptom. Reported for a policy whose
    /// egress is enforced (`policyTypes` with `Egress`, or an `egress` key)
    /// and that has at least one egress rule, one of them to pods or
    /// namespaces (reached by Service name), while no rule allows port 53
    /// (UDP or TCP; a port range or a named port may hold it) nor all ports
    /// to peers that may include kube-dns (no `to`, an empty or
    /// `kube-system` `namespaceSelector`, an `ipBlock`). Silent for a
    /// deny-all policy (`egress: []`), for rules to `ipBlock`s only (an API
    /// reached by address), when another NetworkPolicy of the namespace
    /// whose pods may overlap (`podSelector: {}`) allows DNS, as policies
    /// add up, and when the tree holds Cilium, Calico or admin network
    /// policies, which may allow it.
    EgressWithoutDns {
        code: "K018",
        name: "egress-without-dns",
        severity: Error,
        fix: "allow DNS: an egress rule to `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}` with `podSelector: {matchLabels: {k8s-app: kube-dns}}` on port 53 UDP and TCP, here or in a policy selecting the same pods",
    }
}

/// Policies of other engines that add to (or override) NetworkPolicies.
const OTHER_POLICIES: [&str; 5] = [
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "GlobalNetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
];

/// A Kubernetes NetworkPolicy (Calico's `projectcalico.org` ones have
/// another shape).
fn kubernetes_policy(o: &Object<'_>) -> bool {
    o.kind == "NetworkPolicy"
        && (o.api_version.starts_with("networking.k8s.io/") || o.api_version == "extensions/v1beta1")
}

/// The egress rules a policy enforces: `None` when it does not limit egress.
fn egress_rules(doc: &Node) -> Option<&[Node]> {
    let spec = at(doc, &["spec"])?;
    let egress = at(spec, &["egress"]);
    let enforced = match at(spec, &["policyTypes"]) {
        Some(types) => seq(Some(types)).iter().any(|t| t.as_str() == Some("Egress")),
        None => egress.is_some(),
    };
    enforced.then(|| seq(egress))
}

/// Whether a port entry may let DNS through: port 53 (or a range or a name
/// that may be it, or no port: all of them) over UDP or TCP.
fn port_may_be_dns(port: &Node) -> bool {
    if !matches!(str_at(port, &["protocol"]), None | Some("UDP" | "TCP")) {
        return false;
    }
    if at(port, &["port"]).is_none() {
        return true;
    }
    // A named port (`dns`) is the pods' to define.
    let Some(n) = int_at(port, &["port"]) else { return true };
    match int_at(port, &["endPort"]) {
        Some(end) => (n..=end).contains(&53),
        None => n == 53,
    }
}

/// Whether a `to` peer may include the cluster's DNS pods.
fn peer_may_be_dns(peer: &Node, namespace: Option<&str>) -> bool {
    let dns_label = |selector: Option<&Node>| {
        labels(selector.and_then(|s| at(s, &["matchLabels"])))
            .iter()
            .any(|(k, v)| v == "kube-system" || v.contains("dns") || k.contains("dns"))
    };
    if at(peer, &["ipBlock"]).is_some() {
        return true;
    }
    if let Some(namespaces) = at(peer, &["namespaceSelector"]) {
        let expressions = at(namespaces, &["matchExpressions"]).is_some();
        let any_namespace = labels(at(namespaces, &["matchLabels"])).is_empty();
        return expressions || any_namespace || dns_label(Some(namespaces));
    }
    match at(peer, &["podSelector"]) {
        Some(pods) => namespace == Some("kube-system") || dns_label(Some(pods)),
        // A peer that names nothing is not one Kubernetes reads: unknown.
        None => true,
    }
}

/// Whether an egress rule may let the pods reach DNS.
fn rule_allows_dns(rule: &Node, namespace: Option<&str>) -> bool {
    match at(rule, &["ports"]).map(|p| &p.kind) {
        Some(NodeKind::Seq(ports)) if !ports.is_empty() => ports.iter().any(port_may_be_dns),
        // Not a list: not read.
        Some(NodeKind::Map(_) | NodeKind::Str(_)) => true,
        // No ports: every port, to the rule's peers (none: everywhere).
        _ => {
            let peers = seq(at(rule, &["to"]));
            peers.is_empty() || peers.iter().any(|p| peer_may_be_dns(p, namespace))
        }
    }
}

/// Whether two pod selectors may select the same pod: no label they both
/// name has different values (`matchExpressions` are not read: they may).
fn overlap(a: &Node, b: &Node) -> bool {
    let (x, y) = (
        labels(at(a, &["spec", "podSelector", "matchLabels"])),
        labels(at(b, &["spec", "podSelector", "matchLabels"])),
    );
    x.iter().all(|(k, v)| y.iter().all(|(k2, v2)| k != k2 || v == v2))
}

impl Rule for EgressWithoutDns {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let objects = &cx.graph.objects;
        let other_engine = objects
            .iter()
            .any(|o| OTHER_POLICIES.contains(&o.kind) || (o.kind == "NetworkPolicy" && !kubernetes_policy(o)));
        if other_engine {
            return;
        }
        let policies: Vec<&Object<'_>> =
            cx.graph.network_policies.iter().map(|p| &objects[p.object]).filter(|o| kubernetes_policy(o)).collect();
        let allows_dns = |o: &Object<'_>| {
            egress_rules(o.node).is_some_and(|rules| rules.iter().any(|r| rule_allows_dns(r, o.namespace)))
        };
        for &policy in &policies {
            let Some(rules) = egress_rules(policy.node) else { continue };
            if rules.is_empty() || allows_dns(policy) {
                continue;
            }
            // Peers reached by Service name.
            let in_cluster = rules.iter().any(|r| {
                seq(at(r, &["to"]))
                    .iter()
                    .any(|p| at(p, &["podSelector"]).is_some() || at(p, &["namespaceSelector"]).is_some())
            });
            if !in_cluster {
                continue;
            }
            let elsewhere = policies.iter().any(|&other| {
                !std::ptr::eq(other, policy)
                    && (other.namespace == policy.namespace || other.namespace.is_none() || policy.namespace.is_none())
                    && overlap(policy.node, other.node)
                    && allows_dns(other)
            });
            if elsewhere {
                continue;
            }
            let span = at(policy.node, &["spec"]).map_or(policy.span, |spec| key_span(spec, "egress"));
            sink.report(
                policy.file,
                span,
                format!(
                    "{} limits egress but allows no DNS (port 53): its pods cannot look up Service names, so even the peers it allows are unreachable by name",
                    policy.title()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    fn rule(text: &str) -> Node {
        berth_spec::parse_documents(text).unwrap().swap_remove(0)
    }

    #[test]
    fn dns_by_port() {
        assert!(rule_allows_dns(&rule("ports: [{port: 53, protocol: UDP}]"), None));
        assert!(rule_allows_dns(&rule("ports: [{port: 53, protocol: TCP}]"), None));
        assert!(rule_allows_dns(&rule("ports: [{port: 1, endPort: 1024}]"), None));
        assert!(rule_allows_dns(&rule("ports: [{port: dns}]"), None));
        assert!(rule_allows_dns(&rule("ports: [{protocol: UDP}]"), None));
        assert!(!rule_allows_dns(&rule("ports: [{port: 5432}]"), None));
        assert!(!rule_allows_dns(&rule("ports: [{port: 53, protocol: SCTP}]"), None));
    }

    #[test]
    fn dns_by_peer() {
        assert!(rule_allows_dns(&rule("to: [{ipBlock: {cidr: 10.0.0.0/8}}]"), None));
        assert!(rule_allows_dns(&rule("to: [{namespaceSelector: {}}]"), None));
        assert!(rule_allows_dns(
            &rule("to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]"),
            None
        ));
        assert!(rule_allows_dns(&rule("to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}]"), None));
        assert!(rule_allows_dns(&rule("to: [{podSelector: {matchLabels: {app: x}}}]"), Some("kube-system")));
        assert!(rule_allows_dns(&rule("ports: []"), None));
        assert!(!rule_allows_dns(&rule("to: [{podSelector: {matchLabels: {app: db}}}]"), Some("shop")));
        assert!(!rule_allows_dns(&rule("to: [{namespaceSelector: {matchLabels: {team: data}}}]"), None));
    }

    #[test]
    fn enforced_egress() {
        let policy = |spec: &str| rule(&format!("spec:\n{spec}"));
        assert_eq!(egress_rules(&policy("  policyTypes: [Ingress]\n  egress: [{}]\n")).map(<[Node]>::len), None);
        assert_eq!(egress_rules(&policy("  policyTypes: [Egress]\n")).map(<[Node]>::len), Some(0));
        assert_eq!(egress_rules(&policy("  egress: [{}, {}]\n")).map(<[Node]>::len), Some(2));
        assert_eq!(egress_rules(&policy("  ingress: []\n")).map(<[Node]>::len), None);
    }

    #[test]
    fn overlapping_selectors() {
        let policy = |labels: &str| rule(&format!("spec:\n  podSelector: {{matchLabels: {{{labels}}}}}\n"));
        assert!(overlap(&policy("app: api"), &policy("")));
        assert!(overlap(&policy("app: api"), &policy("tier: backend")));
        assert!(!overlap(&policy("app: api"), &policy("app: worker")));
    }
}
