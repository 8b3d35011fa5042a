use crate::graph::{PortRef, Workload, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A NetworkPolicy port must be one the pods on the other end listen
    /// on. An egress rule to the database pods on the cache's port (or an
    /// ingress rule on a port the app does not serve) blocks the real
    /// traffic while looking deliberate.
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
        for policy in &cx.graph.network_policies {
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
                        if !peers.iter().any(|w| w.listens_on(port)) {
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
        }
    }
}
