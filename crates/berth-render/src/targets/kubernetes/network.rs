//! NetworkPolicies and the Ingress. The namespace starts closed (deny all,
//! DNS allowed); each pod then gets exactly the ingress and egress it needs,
//! on the ports its peers really listen on.

use std::collections::BTreeMap;

use berth_plan::{BackupJob, DependencyPlan, EdgePlan, EgressTo, Plan, RateLimitPlan, RoutePlan, ServicePlan};
use berth_spec::TlsMode;
use berth_spec::model::units::RateUnit;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Manifest;
use super::dependency::exporter_port;
use super::meta::{object_meta, selector, selector_labels};
use crate::Output;
use crate::targets::Target;

fn port(p: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(p))),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    }
}

fn pods(plan: &Plan, component: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector(plan, component)), ..NetworkPolicyPeer::default() }
}

fn any_namespace() -> NetworkPolicyPeer {
    NetworkPolicyPeer { namespace_selector: Some(LabelSelector::default()), ..NetworkPolicyPeer::default() }
}

/// Pods of the named namespaces (by the label Kubernetes puts on every
/// namespace), or of any namespace when none is named.
fn namespaces(names: &[String]) -> NetworkPolicyPeer {
    if names.is_empty() {
        return any_namespace();
    }
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".to_owned(),
                operator: "In".to_owned(),
                values: Some(names.to_vec()),
            }]),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Where the ingress controller and Prometheus run (`ingress_from`,
/// `metrics_from`).
fn ingress_controller(plan: &Plan) -> NetworkPolicyPeer {
    namespaces(plan.targets.kubernetes.as_ref().map_or(&[][..], |k| &k.ingress_from))
}

fn scrapers(plan: &Plan) -> NetworkPolicyPeer {
    namespaces(plan.targets.kubernetes.as_ref().map_or(&[][..], |k| &k.metrics_from))
}

fn block(cidr: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock { cidr: cidr.to_owned(), except: None }),
        ..NetworkPolicyPeer::default()
    }
}

/// A service's `egress`: each network on its ports. A host name cannot be
/// matched (R002 unless accepted): its ports are open to every address.
fn egress_rules(s: &ServicePlan) -> impl Iterator<Item = NetworkPolicyEgressRule> + '_ {
    s.egress.iter().map(|e| NetworkPolicyEgressRule {
        to: Some(match &e.to {
            EgressTo::Network(cidr) => vec![block(cidr)],
            EgressTo::Host(_) => vec![block("0.0.0.0/0"), block("::/0")],
        }),
        ports: Some(e.ports.iter().copied().map(port).collect()),
    })
}

/// DNS through kube-dns in kube-system, which every pod needs.
fn dns() -> NetworkPolicyEgressRule {
    let mut ns = BTreeMap::new();
    ns.insert("kubernetes.io/metadata.name".to_owned(), "kube-system".to_owned());
    let mut pod = BTreeMap::new();
    pod.insert("k8s-app".to_owned(), "kube-dns".to_owned());
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector { match_labels: Some(ns), ..LabelSelector::default() }),
            pod_selector: Some(LabelSelector { match_labels: Some(pod), ..LabelSelector::default() }),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![
            NetworkPolicyPort {
                port: Some(IntOrString::Int(53)),
                protocol: Some("UDP".to_owned()),
                ..NetworkPolicyPort::default()
            },
            NetworkPolicyPort {
                port: Some(IntOrString::Int(53)),
                protocol: Some("TCP".to_owned()),
                ..NetworkPolicyPort::default()
            },
        ]),
    }
}

pub(crate) fn default_deny(plan: &Plan, m: &mut Manifest) {
    m.push(&NetworkPolicy {
        metadata: object_meta(plan, "default-deny", "network"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            egress: Some(vec![dns()]),
            ..NetworkPolicySpec::default()
        }),
    });
}

fn policy(
    plan: &Plan,
    component: &str,
    ingress: Vec<NetworkPolicyIngressRule>,
    egress: Vec<NetworkPolicyEgressRule>,
    m: &mut Manifest,
) {
    m.push(&NetworkPolicy {
        metadata: object_meta(plan, component, component),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(plan, component)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    });
}

pub(crate) fn service_policy(plan: &Plan, s: &ServicePlan, m: &mut Manifest) {
    if s.image.is_none() {
        return;
    }
    let mut ingress = Vec::new();
    // From the ingress controller, wherever it runs, on the routed ports only.
    // berth's gateway also reaches a route's fallback (an Ingress has none).
    let gateway = super::gateway::enabled(plan);
    let routed: Vec<u16> = plan
        .edge
        .iter()
        .flat_map(|e| e.routes.iter())
        .flat_map(|r| {
            let fallback = r.fallback.iter().filter(|_| gateway).map(|(service, port)| (service.as_str(), port.port));
            r.shares().map(|share| (share.service, share.port.port)).chain(fallback).collect::<Vec<_>>()
        })
        .filter(|(service, _)| *service == s.name)
        .map(|(_, port)| port)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !routed.is_empty() {
        // From the gateway's pods when berth's edge is in front; otherwise
        // from the ingress controller, wherever it runs.
        let from = if gateway { pods(plan, super::gateway::COMPONENT) } else { ingress_controller(plan) };
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![from]),
            ports: Some(routed.into_iter().map(port).collect()),
        });
    }
    if let (Some(metrics), true) = (&s.metrics, plan.monitoring.enabled) {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![scrapers(plan)]),
            ports: Some(vec![port(metrics.port.port)]),
        });
    }
    let mut egress = vec![dns()];
    egress.extend(dependency_egress(plan, s));
    egress.extend(otlp(plan));
    egress.extend(egress_rules(s));
    policy(plan, &s.name, ingress, egress, m);
}

/// A service's (and its jobs') way out to the dependencies it uses, each
/// on its own port: the server, and its pooler when it has one (the
/// service gets both URLs).
fn dependency_egress(plan: &Plan, s: &ServicePlan) -> Vec<NetworkPolicyEgressRule> {
    let mut egress = Vec::new();
    for dep in s.uses.iter().filter_map(|u| plan.dependencies.iter().find(|d| &d.name == u)) {
        egress
            .push(NetworkPolicyEgressRule { to: Some(vec![pods(plan, &dep.name)]), ports: Some(vec![port(dep.port)]) });
        if let Some(p) = &dep.pooler {
            egress
                .push(NetworkPolicyEgressRule { to: Some(vec![pods(plan, &p.name)]), ports: Some(vec![port(p.port)]) });
        }
    }
    egress
}

/// The trace collector, on its port only: in the cluster (any namespace)
/// or outside it, since NetworkPolicy cannot match its host name.
fn otlp(plan: &Plan) -> Option<NetworkPolicyEgressRule> {
    let tracing = plan.tracing.as_ref()?;
    Some(NetworkPolicyEgressRule {
        to: Some(vec![any_namespace(), block("0.0.0.0/0"), block("::/0")]),
        ports: Some(vec![port(tracing.port())]),
    })
}

/// A service's job pods: out to DNS and the service's dependencies, and no
/// one in (the default deny would leave a migration only DNS).
pub(crate) fn job_policies(plan: &Plan, s: &ServicePlan, m: &mut Manifest) {
    if s.image.is_none() {
        return;
    }
    for job in &s.jobs {
        let mut egress = vec![dns()];
        egress.extend(dependency_egress(plan, s));
        egress.extend(otlp(plan));
        // A job runs the service's code: it calls what the service calls.
        egress.extend(egress_rules(s));
        policy(plan, &job.workload(&s.name), Vec::new(), egress, m);
    }
}

/// The gateway: clients from anywhere on the edge's ports; out to DNS and
/// the routed ports of the services it fronts, nothing else.
pub(crate) fn gateway_policy(plan: &Plan, edge: &EdgePlan, m: &mut Manifest) {
    let mut ports = vec![port(edge.listen.http)];
    if edge.tls.is_some() {
        ports.push(port(edge.listen.https));
    }
    let ingress = vec![NetworkPolicyIngressRule { from: None, ports: Some(ports) }];
    let mut egress = vec![dns()];
    let mut targets: Vec<(String, u16)> = Vec::new();
    for route in &edge.routes {
        targets.extend(route.shares().map(|share| (share.service.to_owned(), share.port.port)));
        if let Some((service, p)) = &route.fallback {
            targets.push((service.clone(), p.port));
        }
    }
    targets.sort();
    targets.dedup();
    for (service, p) in targets {
        egress.push(NetworkPolicyEgressRule { to: Some(vec![pods(plan, &service)]), ports: Some(vec![port(p)]) });
    }
    policy(plan, super::gateway::COMPONENT, ingress, egress, m);
}

pub(crate) fn dependency_policy(plan: &Plan, d: &DependencyPlan, m: &mut Manifest) {
    let mut ingress = Vec::new();
    let mut clients: Vec<NetworkPolicyPeer> = d.used_by.iter().map(|s| pods(plan, s)).collect();
    // The jobs of those services run as their own components.
    for service in plan.services.iter().filter(|s| d.used_by.contains(&s.name) && s.image.is_some()) {
        clients.extend(service.jobs.iter().map(|j| pods(plan, &j.workload(&service.name))));
    }
    if plan.backups.iter().any(|b| b.name == d.name) {
        clients.push(pods(plan, &format!("backup-{}", d.name)));
    }
    if let Some(p) = &d.pooler {
        clients.push(pods(plan, &p.name));
    }
    if !clients.is_empty() {
        ingress.push(NetworkPolicyIngressRule { from: Some(clients), ports: Some(vec![port(d.port)]) });
    }
    if plan.monitoring.enabled {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![scrapers(plan)]),
            ports: Some(vec![port(exporter_port(d.kind))]),
        });
    }
    let mut egress = vec![dns()];
    // The wal-ship sidecar uploads to the backup destination.
    if d.archives_wal()
        && let Some(job) = &d.backup
        && remote(&job.to)
    {
        egress.push(object_storage());
    }
    policy(plan, &d.name, ingress, egress, m);
}

/// A dependency's PgBouncer: in from the services that use the dependency
/// (and their jobs) on its port; out to DNS and the server's port only.
pub(crate) fn pooler_policy(plan: &Plan, d: &DependencyPlan, m: &mut Manifest) {
    let Some(p) = &d.pooler else { return };
    let mut clients: Vec<NetworkPolicyPeer> = d.used_by.iter().map(|s| pods(plan, s)).collect();
    for service in plan.services.iter().filter(|s| d.used_by.contains(&s.name) && s.image.is_some()) {
        clients.extend(service.jobs.iter().map(|j| pods(plan, &j.workload(&service.name))));
    }
    let ingress = vec![NetworkPolicyIngressRule { from: Some(clients), ports: Some(vec![port(p.port)]) }];
    let egress =
        vec![dns(), NetworkPolicyEgressRule { to: Some(vec![pods(plan, &d.name)]), ports: Some(vec![port(d.port)]) }];
    policy(plan, &p.name, ingress, egress, m);
}

/// A backup CronJob's pods reach their dependency on its port and, for
/// object storage, HTTPS anywhere: the default deny would otherwise leave
/// them only DNS, and every scheduled backup would fail.
pub(crate) fn backup_policy(plan: &Plan, job: &BackupJob, m: &mut Manifest) {
    let mut egress = vec![dns()];
    if let Some(dep) = plan.dependencies.iter().find(|d| d.name == job.name) {
        egress
            .push(NetworkPolicyEgressRule { to: Some(vec![pods(plan, &dep.name)]), ports: Some(vec![port(dep.port)]) });
    }
    if remote(&job.to) {
        egress.push(object_storage());
    }
    policy(plan, &format!("backup-{}", job.name), Vec::new(), egress, m);
}

/// `s3://`, `gs://`, `az://`: not a path on a volume.
fn remote(to: &str) -> bool {
    to.split_once("://").is_some_and(|(scheme, _)| scheme != "file")
}

/// Object storage APIs: HTTPS to any address, inside or outside the cluster.
fn object_storage() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule { to: Some(vec![block("0.0.0.0/0"), block("::/0")]), ports: Some(vec![port(443)]) }
}

pub(crate) fn ingress(plan: &Plan, edge: &EdgePlan, m: &mut Manifest, out: &mut Output) {
    let k8s = plan.targets.kubernetes.as_ref();
    let class = k8s.and_then(|k| k.ingress_class.clone());
    let nginx_class = class.as_deref() == Some("nginx");
    let tls_secret = format!("{}-tls", plan.project);
    for (i, route) in edge.routes.iter().enumerate() {
        let mut annotations = BTreeMap::new();
        if let Some(tls) = &edge.tls
            && tls.mode == TlsMode::Acme
        {
            annotations.insert("cert-manager.io/cluster-issuer".to_owned(), "letsencrypt".to_owned());
        }
        if nginx_class {
            let a = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
            annotations.insert(a("proxy-body-size"), super::super::nginx::size(route.body_limit.0));
            // ingress-nginx takes whole seconds: never shorter than the spec's.
            let secs = |d: berth_spec::model::units::Duration| d.ceil_secs().to_string();
            annotations.insert(a("proxy-read-timeout"), secs(route.timeout));
            annotations.insert(a("proxy-send-timeout"), secs(edge.timeouts.send));
            annotations.insert(a("proxy-connect-timeout"), secs(edge.timeouts.connect));
            annotations.insert(a("ssl-redirect"), edge.redirect_https.to_string());
            if !route.allow.is_empty() {
                annotations.insert(a("whitelist-source-range"), route.allow.join(","));
            }
            // The controller's consistent hash over the client address, or
            // its affinity cookie, as berth's edge and nginx keep a sticky
            // service's clients.
            match route.sticky {
                Some(berth_spec::Sticky::ClientIp) => {
                    annotations.insert(a("upstream-hash-by"), "$remote_addr".to_owned());
                }
                Some(berth_spec::Sticky::Cookie) => {
                    annotations.insert(a("affinity"), "cookie".to_owned());
                    annotations.insert(a("affinity-mode"), "persistent".to_owned());
                    annotations.insert(a("session-cookie-name"), berth_spec::Sticky::COOKIE.to_owned());
                    annotations.insert(a("session-cookie-samesite"), "Lax".to_owned());
                    annotations.insert(a("session-cookie-path"), "/".to_owned());
                }
                None => {}
            }
            if let Some(zone) = route.rate_limit.as_ref().and_then(|z| edge.rate_limits.iter().find(|r| &r.name == z)) {
                annotations.extend(rate_annotations(route, zone, out));
            }
        }
        let backend = IngressBackend {
            service: Some(IngressServiceBackend {
                name: route.service.clone(),
                port: Some(ServiceBackendPort { name: Some(route.port.name.clone()), number: None }),
            }),
            ..IngressBackend::default()
        };
        let path = HTTPIngressPath { path: Some(route.path.clone()), path_type: "Prefix".to_owned(), backend };
        let hosts: Vec<Option<String>> = match (&route.host, edge.hosts.is_empty()) {
            (Some(h), _) => vec![Some(h.clone())],
            (None, true) => vec![None],
            // A host with its own route on this path takes it there, as on
            // berth's edge: two Ingresses claiming one host and path conflict.
            (None, false) => edge
                .hosts
                .iter()
                .filter(|h| !edge.routes.iter().any(|r| r.path == route.path && r.host.as_ref() == Some(*h)))
                .cloned()
                .map(Some)
                .collect(),
        };
        let rules: Vec<IngressRule> = hosts
            .into_iter()
            .map(|host| IngressRule { host, http: Some(HTTPIngressRuleValue { paths: vec![path.clone()] }) })
            .collect();
        let canary = if nginx_class { canary_ingress(route, &rules, out) } else { None };
        let ingress = |name: String, annotations: BTreeMap<String, String>, rules: Vec<IngressRule>| {
            let mut meta = object_meta(plan, &name, "edge");
            meta.annotations.get_or_insert_with(BTreeMap::new).extend(annotations);
            Ingress {
                metadata: meta,
                spec: Some(IngressSpec {
                    ingress_class_name: class.clone(),
                    tls: edge.tls.as_ref().map(|_| {
                        vec![IngressTLS {
                            hosts: Some(edge.hosts.clone()).filter(|h| !h.is_empty()),
                            secret_name: Some(tls_secret.clone()),
                        }]
                    }),
                    rules: Some(rules),
                    ..IngressSpec::default()
                }),
                ..Ingress::default()
            }
        };
        m.push(&ingress(format!("{}-route-{i}", plan.project), annotations, rules));
        if let Some((annotations, rules)) = canary {
            m.push(&ingress(format!("{}-route-{i}-split", plan.project), annotations, rules));
        }
    }
}

/// A split route on ingress-nginx: a canary Ingress on the same hosts and
/// path, sending its `canary-weight` percent of requests to the split's
/// service; the controller takes every other setting (allowlist, limits,
/// timeouts) from the route's own Ingress. ingress-nginx allows one canary
/// per path and draws it per request, so a split to two services, or a
/// route kept by client address (a client would move between services),
/// is named instead (R001) and rendered without the split.
fn canary_ingress(
    route: &RoutePlan,
    rules: &[IngressRule],
    out: &mut Output,
) -> Option<(BTreeMap<String, String>, Vec<IngressRule>)> {
    let [share] = route.split.as_slice() else {
        if !route.split.is_empty() {
            out.unsupported(
                Target::Kubernetes,
                format!("the split of route `{}` to {} services", route.path, route.split.len()),
                "ingress-nginx has one canary Ingress per path: split to one service, or put berth's edge in front (`targets.kubernetes.gateway: true`)",
            );
        }
        return None;
    };
    if route.sticky == Some(berth_spec::Sticky::ClientIp) {
        out.unsupported(
            Target::Kubernetes,
            format!("the split of route `{}`, whose services keep clients by address", route.path),
            "ingress-nginx draws its canary per request, so a client would move between services; use `sticky: cookie` or berth's edge (`targets.kubernetes.gateway: true`)",
        );
        return None;
    }
    let a = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
    let mut annotations =
        BTreeMap::from([(a("canary"), "true".to_owned()), (a("canary-weight"), share.weight.to_string())]);
    if route.sticky == Some(berth_spec::Sticky::Cookie) {
        // A client given the canary's cookie stays with the split's service.
        annotations.insert(a("affinity"), "cookie".to_owned());
        annotations.insert(a("affinity-mode"), "persistent".to_owned());
        annotations.insert(a("affinity-canary-behavior"), "sticky".to_owned());
        annotations.insert(a("session-cookie-name"), berth_spec::Sticky::COOKIE.to_owned());
        annotations.insert(a("session-cookie-samesite"), "Lax".to_owned());
        annotations.insert(a("session-cookie-path"), "/".to_owned());
    }
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: share.service.clone(),
            port: Some(ServiceBackendPort { name: Some(share.port.name.clone()), number: None }),
        }),
        ..IngressBackend::default()
    };
    let rules = rules
        .iter()
        .map(|rule| IngressRule {
            host: rule.host.clone(),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some(route.path.clone()),
                    path_type: "Prefix".to_owned(),
                    backend: backend.clone(),
                }],
            }),
        })
        .collect();
    Some((annotations, rules))
}

/// ingress-nginx's rate annotations for a zone: `limit-rps` or `limit-rpm`
/// (per client address) and a burst as a whole multiple of the rate. What
/// they cannot say exactly is rendered stricter, never looser, and named.
fn rate_annotations(route: &RoutePlan, zone: &RateLimitPlan, out: &mut Output) -> Vec<(String, String)> {
    let a = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
    let (key, limit) = match zone.rate.per {
        RateUnit::Second => ("limit-rps", zone.rate.requests),
        RateUnit::Minute => ("limit-rpm", zone.rate.requests),
        RateUnit::Hour => {
            let per_minute = (zone.rate.requests / 60).max(1);
            if !zone.rate.requests.is_multiple_of(60) || zone.rate.requests < 60 {
                out.unsupported(
                    Target::Kubernetes,
                    format!(
                        "the rate `{}/h` of limit `{}` on `{}` exactly (ingress-nginx counts per second or minute; rendered {per_minute}/m)",
                        zone.rate.requests, zone.name, route.path
                    ),
                    "write the rate per minute or second",
                );
            }
            ("limit-rpm", per_minute)
        }
    };
    let multiplier = (zone.burst / limit).max(1);
    if multiplier * limit != zone.burst {
        out.unsupported(
            Target::Kubernetes,
            format!(
                "the burst {} of limit `{}` on `{}` exactly (ingress-nginx's burst is a whole multiple of the rate, {limit}; rendered {})",
                zone.burst,
                zone.name,
                route.path,
                multiplier * limit
            ),
            "make the burst a multiple of the rate",
        );
    }
    vec![(a(key), limit.to_string()), (a("limit-burst-multiplier"), multiplier.to_string())]
}
