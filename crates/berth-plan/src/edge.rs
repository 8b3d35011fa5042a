use berth_spec::model::units::{ByteSize, Duration, Rate};
use berth_spec::{Edge, EdgeAuth, RateKey, RouteAuth, Spec, TlsMode, TlsVersion};
use serde::Serialize;

use crate::service::{PortPlan, port};

#[derive(Debug, Clone, Serialize)]
pub struct EdgePlan {
    pub hosts: Vec<String>,
    pub listen: ListenPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsPlan>,
    pub redirect_https: bool,
    /// Response headers added everywhere, in order.
    pub headers: Vec<(String, String)>,
    /// The spec sets a header itself; otherwise `headers` are berth's defaults.
    pub headers_from_spec: bool,
    pub rate_limits: Vec<RateLimitPlan>,
    /// Longest prefix first, so the first match is the right one.
    pub routes: Vec<RoutePlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<EdgeAuth>,
    pub gzip: bool,
    pub body_limit: ByteSize,
    pub timeouts: TimeoutsPlan,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDRs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
}

/// Ports in containers (`http`, `https`) and when berth runs locally.
#[derive(Debug, Clone, Serialize)]
pub struct ListenPlan {
    pub http: u16,
    pub https: u16,
    pub local_http: u16,
    pub local_https: u16,
    pub admin: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsPlan {
    pub mode: TlsMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub min_version: TlsVersion,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateLimitPlan {
    pub name: String,
    pub rate: Rate,
    pub burst: u32,
    pub by: RateKey,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub service: String,
    pub port: PortPlan,
    /// Shares of the requests other services answer (`split`); `service`
    /// answers the rest ([`RoutePlan::weight`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitPlan>,
    /// Service (and its port) that answers while every replica of `service` is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<(String, PortPlan)>,
    pub websocket: bool,
    /// The service keeps each client on one replica (`sticky`), and by what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<berth_spec::Sticky>,
    pub strip_prefix: bool,
    pub timeout: Duration,
    pub body_limit: ByteSize,
    /// The spec sets the limit (on the route or the edge); otherwise it is berth's default.
    pub body_limit_from_spec: bool,
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<RouteAuth>,
}

/// A share of a route's requests for another service.
#[derive(Debug, Clone, Serialize)]
pub struct SplitPlan {
    pub service: String,
    pub port: PortPlan,
    /// Whole percent of the route's requests, 1 to 99.
    pub weight: u8,
}

/// One service a route sends requests to, with its share.
#[derive(Debug, Clone, Copy)]
pub struct RouteShare<'a> {
    pub service: &'a str,
    pub port: &'a PortPlan,
    /// Whole percent of the route's requests.
    pub weight: u8,
}

impl RoutePlan {
    /// The percent of requests the route's own `service` answers.
    pub fn weight(&self) -> u8 {
        100u8.saturating_sub(self.split.iter().map(|s| s.weight).sum())
    }

    /// Every service the route sends requests to, its own first: what a
    /// proxy must reach and a network policy must admit.
    pub fn shares(&self) -> impl Iterator<Item = RouteShare<'_>> {
        std::iter::once(RouteShare { service: &self.service, port: &self.port, weight: self.weight() })
            .chain(self.split.iter().map(|s| RouteShare { service: &s.service, port: &s.port, weight: s.weight }))
    }

    /// Whether `service` answers some of this route's requests (its own or a split's).
    pub fn sends_to(&self, service: &str) -> bool {
        self.shares().any(|s| s.service == service)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TimeoutsPlan {
    pub connect: Duration,
    pub read: Duration,
    pub send: Duration,
    pub header: Duration,
    pub idle: Duration,
}

const DAY: u64 = 86_400;

pub(crate) fn plan(spec: &Spec, edge: &Edge) -> EdgePlan {
    let t = &edge.timeouts;
    let timeouts = TimeoutsPlan {
        connect: t.connect.unwrap_or(Duration::secs(5)),
        read: t.read.unwrap_or(Duration::secs(60)),
        send: t.send.unwrap_or(Duration::secs(60)),
        header: t.header.unwrap_or(Duration::secs(10)),
        idle: t.idle.unwrap_or(Duration::secs(75)),
    };
    let body_limit = edge.body_limit.unwrap_or(ByteSize(1 << 20));
    let mut headers = Vec::new();
    let h = &edge.headers;
    if edge.tls.is_some() {
        let max_age = h.hsts.unwrap_or(Duration::secs(365 * DAY));
        if !max_age.0.is_zero() {
            headers.push((
                "Strict-Transport-Security".to_owned(),
                format!("max-age={}; includeSubDomains", max_age.as_secs()),
            ));
        }
    }
    headers.push(("X-Content-Type-Options".to_owned(), "nosniff".to_owned()));
    headers.push(("X-Frame-Options".to_owned(), h.frame_options.clone().unwrap_or_else(|| "DENY".to_owned())));
    headers.push((
        "Referrer-Policy".to_owned(),
        h.referrer_policy.clone().unwrap_or_else(|| "strict-origin-when-cross-origin".to_owned()),
    ));
    if let Some(csp) = &h.content_security_policy {
        headers.push(("Content-Security-Policy".to_owned(), csp.clone()));
    }
    headers.extend(h.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut routes: Vec<RoutePlan> = edge
        .routes
        .iter()
        .filter_map(|r| {
            let service = spec.services.get(&r.service)?;
            Some(RoutePlan {
                path: r.path.clone(),
                host: r.host.clone(),
                service: r.service.clone(),
                port: port(service, r.port.as_deref())?,
                split: r
                    .split
                    .iter()
                    .filter_map(|s| {
                        Some(SplitPlan {
                            service: s.service.clone(),
                            port: port(spec.services.get(&s.service)?, s.port.as_deref())?,
                            // Validation holds it to whole percents from 1 to 99.
                            weight: s.weight.0 as u8,
                        })
                    })
                    .collect(),
                fallback: r.fallback.as_ref().and_then(|f| Some((f.clone(), port(spec.services.get(f)?, None)?))),
                websocket: r.websocket,
                sticky: service.sticky,
                strip_prefix: r.strip_prefix,
                timeout: r.timeout.unwrap_or(timeouts.read),
                body_limit: r.body_limit.unwrap_or(body_limit),
                body_limit_from_spec: r.body_limit.is_some() || edge.body_limit.is_some(),
                allow: r.allow.clone(),
                rate_limit: r.rate_limit.clone(),
                auth: r.auth.clone(),
            })
        })
        .collect();
    // Host-specific routes before catch-alls, then longest prefix first; the
    // sort is stable, so equal keys keep the spec's order.
    routes.sort_by(|a, b| b.host.is_some().cmp(&a.host.is_some()).then(b.path.len().cmp(&a.path.len())));
    EdgePlan {
        hosts: edge.hosts.clone(),
        listen: ListenPlan {
            http: edge.listen.http.unwrap_or(80),
            https: edge.listen.https.unwrap_or(443),
            local_http: edge.listen.http.unwrap_or(8080),
            local_https: edge.listen.https.unwrap_or(8443),
            admin: edge.listen.admin.unwrap_or(9180),
        },
        tls: edge.tls.as_ref().map(|t| TlsPlan {
            mode: t.mode,
            email: t.email.clone(),
            acme_directory: (t.mode == TlsMode::Acme).then(|| {
                t.acme_directory.clone().unwrap_or_else(|| "https://acme-v02.api.letsencrypt.org/directory".to_owned())
            }),
            cert: t.cert.clone(),
            key: t.key.clone(),
            min_version: t.min_version.unwrap_or(TlsVersion::V1_2),
        }),
        redirect_https: edge.tls.is_some() && edge.redirect_https.unwrap_or(true),
        headers,
        headers_from_spec: h.hsts.is_some()
            || h.frame_options.is_some()
            || h.referrer_policy.is_some()
            || h.content_security_policy.is_some()
            || !h.extra.is_empty(),
        rate_limits: edge
            .rate_limits
            .iter()
            .map(|(n, l)| RateLimitPlan {
                name: n.clone(),
                rate: l.rate,
                burst: l.burst,
                by: l.by.unwrap_or(RateKey::ClientIp),
            })
            .collect(),
        routes,
        auth: edge.auth.clone(),
        gzip: edge.gzip.unwrap_or(true),
        body_limit,
        timeouts,
        trusted_proxies: edge.trusted_proxies.clone(),
    }
}
