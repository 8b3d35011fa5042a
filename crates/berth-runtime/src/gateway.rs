//! `berth edge`: the edge `berth up` runs, on its own, as the gateway of a
//! platform that runs the services itself (a Kubernetes Deployment, a
//! compose service). Every route feature is enforced exactly as under
//! `berth up`; only the backends differ: a service is reached by its name
//! on the platform's DNS (`api:8080`), resolved again every few seconds so
//! the edge follows containers and pods as they come and go.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use berth_plan::{EdgePlan, Plan};
use tokio::signal::unix::{SignalKind, signal};

use crate::{RuntimeError, SecretLookup, io};

/// Where and how the gateway serves.
pub struct GatewayOptions {
    /// The spec's directory: TLS files and JWT keys named in the spec start here.
    pub spec_dir: PathBuf,
    /// Address to serve HTTP on (the spec's `listen.http` port on every interface by default).
    pub http: SocketAddr,
    /// Address to serve HTTPS on when the spec has TLS.
    pub https: SocketAddr,
    /// The status page and metrics; they answer loopback host names only.
    pub admin: SocketAddr,
    /// Certificate and key files, instead of the spec's TLS mode (a
    /// Kubernetes TLS Secret mounted into the pod).
    pub tls_files: Option<(PathBuf, PathBuf)>,
    pub secrets: Box<SecretLookup>,
    /// How often service names are resolved again.
    pub resolve_every: Duration,
    /// The DNS domain services are found under (`api.<domain>`), such as an
    /// ECS service-discovery namespace; none: the bare name (Kubernetes,
    /// compose).
    pub domain: Option<String>,
    /// TLS ends at the load balancer in front (an ALB): serve plain HTTP
    /// only and believe its `X-Forwarded-Proto` (see `trusted_proxies`).
    pub tls_offloaded: bool,
    /// Peers believed about `X-Forwarded-For` and `X-Forwarded-Proto`
    /// besides the spec's `edge.trusted_proxies`: the load balancer's network.
    pub trusted_proxies: Vec<String>,
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("spec_dir", &self.spec_dir)
            .field("http", &self.http)
            .field("https", &self.https)
            .field("admin", &self.admin)
            .field("domain", &self.domain)
            .field("tls_offloaded", &self.tls_offloaded)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// One upstream the routes name: a service and the port of one of its routes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Upstream {
    service: String,
    port_name: String,
    port: u16,
    /// The name resolved: the service's, under the domain when there is one.
    host: String,
}

fn upstreams(plan: &Plan, edge: &EdgePlan, domain: Option<&str>) -> Vec<Upstream> {
    let host = |service: &str| domain.map_or_else(|| service.to_owned(), |d| format!("{service}.{d}"));
    let mut all: Vec<Upstream> = Vec::new();
    for route in &edge.routes {
        for share in route.shares() {
            all.push(Upstream {
                service: share.service.to_owned(),
                port_name: share.port.name.clone(),
                port: share.port.port,
                host: host(share.service),
            });
        }
        if let Some((service, port)) = &route.fallback {
            all.push(Upstream {
                service: service.clone(),
                port_name: port.name.clone(),
                port: port.port,
                host: host(service),
            });
        }
    }
    // Only services the plan knows: a route's service was checked by validation.
    all.retain(|u| plan.services.iter().any(|s| s.name == u.service));
    all.sort();
    all.dedup();
    all
}

/// The addresses `service:port` resolves to now, sorted; empty when the
/// name does not resolve (the service is not up yet: its routes answer 503).
async fn resolve(upstream: &Upstream) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((upstream.host.as_str(), upstream.port)).await.map(|a| a.collect()).unwrap_or_default();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    pub edge: EdgeHandle,
    upstreams: Vec<Upstream>,
    known: BTreeMap<(String, String), Vec<SocketAddr>>,
    resolve_every: Duration,
}

/// Starts the edge with the plan's routes and every service resolved by name.
pub async fn start(plan: &Plan, options: &GatewayOptions) -> Result<Gateway, RuntimeError> {
    let Some(edge) = &plan.edge else {
        return Err(RuntimeError::Unsupported(
            "the spec has no `edge`: there is nothing for the gateway to serve".into(),
        ));
    };
    let tls = match (&options.tls_files, &edge.tls) {
        _ if options.tls_offloaded => None,
        (Some((cert, key)), _) => Some(berth_edge::tls::from_files(cert, key)?),
        (None, Some(t)) if t.mode == berth_spec::TlsMode::Files => {
            let (cert, key) = (t.cert.clone().unwrap_or_default(), t.key.clone().unwrap_or_default());
            Some(berth_edge::tls::from_files(&options.spec_dir.join(cert), &options.spec_dir.join(key))?)
        }
        (None, Some(t)) if t.mode == berth_spec::TlsMode::Acme => {
            return Err(RuntimeError::Unsupported(
                "`tls.mode: acme`: the gateway does not request certificates; give it the issued ones with --tls-cert and --tls-key (a TLS Secret cert-manager keeps current)".into(),
            ));
        }
        (None, Some(_)) => Some(berth_edge::tls::self_signed(&edge.hosts)?),
        (None, None) => None,
    };
    let mut resolved: BTreeMap<(String, String), Vec<SocketAddr>> = BTreeMap::new();
    let all = upstreams(plan, edge, options.domain.as_deref());
    for u in &all {
        resolved.insert((u.service.clone(), u.port_name.clone()), resolve(u).await);
    }
    let replicas_of =
        |service: &str, port: &str| resolved.get(&(service.to_owned(), port.to_owned())).cloned().unwrap_or_default();
    let secret_of = |name: &str| plan.secrets.iter().find(|s| s.name == name).and_then(|s| (options.secrets)(s));
    let file_of = |path: &str| std::fs::read(options.spec_dir.join(path)).ok();
    let inputs = Inputs {
        http: options.http,
        https: tls.is_some().then_some(options.https),
        admin: Some(options.admin),
        tls,
        replicas: &replicas_of,
        secret: &secret_of,
        file: &file_of,
    };
    let mut config = EdgeConfig::from_plan(plan, edge, &inputs)?;
    if options.tls_offloaded {
        config.tls_offloaded = true;
        config.redirect_https = edge.redirect_https && edge.tls.is_some();
    }
    for proxy in &options.trusted_proxies {
        let cidr = berth_edge::cidr::Cidr::parse(proxy).ok_or_else(|| {
            RuntimeError::Unsupported(format!("--trusted-proxy {proxy}: not an address or CIDR block"))
        })?;
        config.trusted_proxies.push(cidr);
    }
    let edge = Edge::start(config, None).await?;
    Ok(Gateway { edge, upstreams: all, known: resolved, resolve_every: options.resolve_every })
}

impl Gateway {
    /// Resolves every upstream again and points the routes at what the
    /// names resolve to where that changed; returns one line per change.
    /// Backends that left finish their requests (the edge retires them).
    pub async fn refresh(&mut self) -> Vec<String> {
        let mut changes = Vec::new();
        for u in &self.upstreams {
            let now = resolve(u).await;
            let key = (u.service.clone(), u.port_name.clone());
            if self.known.get(&key) != Some(&now) {
                let shown: Vec<String> = now.iter().map(ToString::to_string).collect();
                changes.push(format!("{}:{} is now [{}]", u.service, u.port, shown.join(", ")));
                self.edge.set_backends(&u.service, u.port, &now, &[], 0);
                self.known.insert(key, now);
            }
        }
        changes
    }

    /// Serves, following the service names, until SIGTERM or SIGINT; then
    /// stops accepting and gives in-flight requests `drain` to finish.
    pub async fn serve(mut self, drain: Duration, report: impl Fn(&str)) -> Result<(), RuntimeError> {
        let mut terminate = signal(SignalKind::terminate()).map_err(io("cannot watch SIGTERM"))?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(io("cannot watch SIGINT"))?;
        let mut hangup = signal(SignalKind::hangup()).map_err(io("cannot watch SIGHUP"))?;
        let mut tick = tokio::time::interval(self.resolve_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = hangup.recv() => self.edge.reopen_logs(),
                _ = tick.tick() => {
                    for change in self.refresh().await {
                        report(&change);
                    }
                }
            }
        }
        self.edge.shutdown(drain).await;
        Ok(())
    }
}
