//! The edge's configuration: the plan's edge, plus what only the runtime
//! knows (where each replica listens, the API keys' values).

use std::net::SocketAddr;
use std::time::Duration;

use berth_plan::{EdgePlan, Plan, ProbeCheck};
use berth_spec::{RateKey, RouteAuth};
use hyper::header::{HeaderName, HeaderValue};

use crate::EdgeError;
use crate::auth::{ApiKey, hash, parse_hex};
use crate::cidr::Cidr;
use crate::health::{Check, Probe};
use crate::jwt::Jwt;
use crate::tls::Pem;

/// One service a route sends requests to.
#[derive(Debug, Clone)]
pub struct ShareConfig {
    pub service: String,
    /// The service port routed to, as declared (replicas listen elsewhere).
    pub port: u16,
    /// Percent of the route's requests; the route's own service (the first
    /// share) takes what the others leave.
    pub weight: usize,
    pub upstreams: Vec<SocketAddr>,
    /// The service's readiness check, as the edge runs it.
    pub health: Option<Check>,
}

#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub path: String,
    pub host: Option<String>,
    /// The route's own service first, then its `split`.
    pub shares: Vec<ShareConfig>,
    pub fallback_service: Option<String>,
    /// The fallback service's port routed to, as declared (0: none).
    pub fallback_port: u16,
    pub fallback: Vec<SocketAddr>,
    pub strip_prefix: bool,
    /// Whether a WebSocket upgrade may pass; elsewhere it is refused.
    pub websocket: bool,
    pub timeout: Duration,
    pub body_limit: u64,
    pub allow: Vec<Cidr>,
    /// Index into [`EdgeConfig::rate_limits`].
    pub rate_limit: Option<usize>,
    pub auth: Option<RouteAuth>,
    /// Send each client to the same replica, and by what.
    pub sticky: Option<berth_spec::Sticky>,
}

impl RouteConfig {
    /// A route to one service.
    pub fn single(
        path: impl Into<String>,
        service: impl Into<String>,
        port: u16,
        upstreams: Vec<SocketAddr>,
        health: Option<Check>,
    ) -> Self {
        Self {
            path: path.into(),
            host: None,
            shares: vec![ShareConfig { service: service.into(), port, weight: 100, upstreams, health }],
            fallback_service: None,
            fallback_port: 0,
            fallback: Vec::new(),
            strip_prefix: false,
            websocket: false,
            timeout: Duration::from_secs(60),
            body_limit: 1 << 20,
            allow: Vec::new(),
            rate_limit: None,
            auth: None,
            sticky: None,
        }
    }

    /// The route's own service (logs, metrics and the status page name it).
    pub fn service(&self) -> &str {
        self.shares.first().map_or("", |s| s.service.as_str())
    }

    /// Prefix match on a path segment boundary: `/api` matches `/api` and `/api/x`, not `/apix`.
    pub fn matches(&self, host: Option<&str>, path: &str) -> bool {
        if let Some(want) = &self.host
            && host.is_none_or(|h| !h.eq_ignore_ascii_case(want))
        {
            return false;
        }
        // `;` ends a segment too: Java servers read `/admin;x` as `/admin`.
        let prefix = self.path.trim_end_matches('/');
        prefix.is_empty()
            || path == prefix
            || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/') || rest.starts_with(';'))
    }
}

/// A named rate limit.
#[derive(Debug, Clone)]
pub struct RateZone {
    pub name: String,
    pub per_second: f64,
    pub burst: u32,
    pub by: RateKey,
}

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The project's name, for the status page.
    pub name: String,
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub redirect_https: bool,
    pub tls: Option<(Pem, bool)>,
    /// TLS ends at a load balancer in front (an ALB with its ACM
    /// certificate): a request that a trusted proxy marks
    /// `X-Forwarded-Proto: https` came over HTTPS, so it gets HSTS and no
    /// redirect, and one marked `http` is redirected when the spec asks.
    pub tls_offloaded: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Host names answered, lower case (`*.example.com` allowed); empty: any.
    pub hosts: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    pub routes: Vec<RouteConfig>,
    pub rate_limits: Vec<RateZone>,
    pub api_keys: Vec<ApiKey>,
    pub jwt: Option<Jwt>,
    pub header_timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub gzip: bool,
    /// OpenTelemetry export of a span per request (`monitoring.tracing`).
    pub tracing: Option<crate::trace::TraceConfig>,
}

/// Everything the runtime supplies to turn a plan's edge into a config.
#[allow(missing_debug_implementations, reason = "holds closures")]
pub struct Inputs<'a> {
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub tls: Option<Pem>,
    /// Where a service's replicas listen, for a named port.
    pub replicas: &'a dyn Fn(&str, &str) -> Vec<SocketAddr>,
    /// A secret's value; API keys are only hashed here, never kept.
    pub secret: &'a dyn Fn(&str) -> Option<String>,
    /// A file's bytes, such as a JWT public key, by the spec's path.
    pub file: &'a dyn Fn(&str) -> Option<Vec<u8>>,
}

fn parse_date(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('-').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

impl EdgeConfig {
    pub fn from_plan(plan: &Plan, edge: &EdgePlan, inputs: &Inputs<'_>) -> Result<Self, EdgeError> {
        let mut headers = Vec::new();
        // HSTS is kept even without an HTTPS listener: each response decides
        // by the request's scheme, which a TLS-offloading proxy may make HTTPS.
        for (name, value) in &edge.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| EdgeError::Config(format!("header {name}: {e}")))?;
            let v = HeaderValue::from_str(value).map_err(|e| EdgeError::Config(format!("header {name}: {e}")))?;
            headers.push((n, v));
        }
        let rate_limits: Vec<RateZone> = edge
            .rate_limits
            .iter()
            .map(|z| RateZone { name: z.name.clone(), per_second: z.rate.per_second(), burst: z.burst, by: z.by })
            .collect();
        // Fail closed: an entry the edge cannot read is an error, never a
        // narrower or wider list than the spec's.
        let cidrs = |what: &str, entries: &[String]| {
            entries
                .iter()
                .map(|e| {
                    Cidr::parse(e).ok_or_else(|| EdgeError::Config(format!("{what}: `{e}` is not an address or CIDR")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut routes = Vec::new();
        for r in &edge.routes {
            let shares = r
                .shares()
                .map(|share| ShareConfig {
                    service: share.service.to_owned(),
                    port: share.port.port,
                    weight: usize::from(share.weight),
                    upstreams: (inputs.replicas)(share.service, &share.port.name),
                    health: readiness(plan, share.service, &share.port.name),
                })
                .collect();
            routes.push(RouteConfig {
                path: r.path.clone(),
                host: r.host.clone(),
                shares,
                fallback_service: r.fallback.as_ref().map(|(s, _)| s.clone()),
                fallback_port: r.fallback.as_ref().map_or(0, |(_, p)| p.port),
                fallback: r.fallback.as_ref().map(|(s, p)| (inputs.replicas)(s, &p.name)).unwrap_or_default(),
                strip_prefix: r.strip_prefix,
                websocket: r.websocket,
                timeout: r.timeout.0,
                body_limit: r.body_limit.0,
                allow: cidrs(&format!("route {} allow", r.path), &r.allow)?,
                rate_limit: match &r.rate_limit {
                    None => None,
                    Some(zone) => {
                        Some(rate_limits.iter().position(|z| &z.name == zone).ok_or_else(|| {
                            EdgeError::Config(format!("route {}: no rate limit named `{zone}`", r.path))
                        })?)
                    }
                },
                auth: r.auth.clone(),
                sticky: r.sticky,
            });
        }
        let mut api_keys = Vec::new();
        if let Some(auth) = &edge.auth {
            for key in &auth.api_keys {
                let sha256 = match (&key.secret, &key.sha256) {
                    (Some(secret), _) => hash(&(inputs.secret)(secret).ok_or_else(|| {
                        EdgeError::Config(format!("API key `{}`: secret `{secret}` has no value", key.name))
                    })?),
                    (None, Some(hex)) => parse_hex(hex)
                        .ok_or_else(|| EdgeError::Config(format!("API key `{}`: bad sha256", key.name)))?,
                    (None, None) => continue,
                };
                api_keys.push(ApiKey {
                    name: key.name.clone(),
                    sha256,
                    roles: key.roles.clone(),
                    expires: key.expires.as_deref().and_then(parse_date),
                });
            }
        }
        let jwt = match edge.auth.as_ref().and_then(|a| a.jwt.as_ref()) {
            None => None,
            Some(j) => {
                let leeway = j.leeway.map_or(30, |l| l.as_secs());
                let roles_claim = j.roles_claim.as_deref().unwrap_or("roles");
                Some(match j.algorithm {
                    berth_spec::JwtAlgorithm::HS256 => {
                        let name = j.secret.as_deref().unwrap_or_default();
                        let secret = (inputs.secret)(name)
                            .ok_or_else(|| EdgeError::Config(format!("JWT: secret `{name}` has no value")))?;
                        Jwt::hs256(secret.as_bytes(), j.issuer.as_deref(), j.audience.as_deref(), leeway, roles_claim)
                    }
                    berth_spec::JwtAlgorithm::RS256 => {
                        let path = j.public_key.as_deref().unwrap_or_default();
                        let pem = (inputs.file)(path)
                            .ok_or_else(|| EdgeError::Config(format!("JWT: cannot read the public key {path}")))?;
                        Jwt::rs256(&pem, j.issuer.as_deref(), j.audience.as_deref(), leeway, roles_claim)?
                    }
                })
            }
        };
        let min13 = edge.tls.as_ref().is_some_and(|t| t.min_version == berth_spec::TlsVersion::V1_3);
        Ok(Self {
            name: plan.project.clone(),
            http: inputs.http,
            https: inputs.https,
            admin: inputs.admin,
            redirect_https: edge.redirect_https && inputs.https.is_some(),
            tls: inputs.tls.clone().map(|pem| (pem, min13)),
            tls_offloaded: false,
            headers,
            hosts: edge.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            trusted_proxies: cidrs("trusted_proxies", &edge.trusted_proxies)?,
            routes,
            rate_limits,
            api_keys,
            jwt,
            header_timeout: edge.timeouts.header.0,
            connect_timeout: edge.timeouts.connect.0,
            idle_timeout: edge.timeouts.idle.0,
            gzip: edge.gzip,
            tracing: plan
                .tracing
                .as_ref()
                .map(|t| crate::trace::TraceConfig::new(t, &plan.project, plan.environment.as_deref()))
                .transpose()?,
        })
    }
}

/// `service`'s readiness check as the edge runs it against each replica's
/// routed port `port`: HTTP, or TCP on that port; none for an exec check
/// or a TCP check of another port (the edge knows the routed port only).
fn readiness(plan: &Plan, service: &str, port: &str) -> Option<Check> {
    let p = plan.services.iter().find(|s| s.name == service)?.probes.readiness.as_ref()?;
    let probe = match &p.check {
        ProbeCheck::Http { path, .. } => Probe::Http(path.clone()),
        ProbeCheck::Tcp { port: checked } if checked.name == port => Probe::Tcp,
        ProbeCheck::Tcp { .. } | ProbeCheck::Exec { .. } => return None,
    };
    Some(Check {
        probe,
        interval: p.interval.0.min(Duration::from_secs(2)),
        timeout: p.timeout.0,
        failure_threshold: p.failure_threshold,
        success_threshold: p.success_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> RouteConfig {
        RouteConfig::single(path, "s", 80, vec![], None)
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(route("/api").matches(None, "/api"));
        assert!(route("/api").matches(None, "/api/x"));
        assert!(!route("/api").matches(None, "/apix"));
        assert!(route("/").matches(None, "/anything"));
        assert!(route("/metrics").matches(None, "/metrics;jsessionid=x"), "`;` ends a segment");
    }
}
