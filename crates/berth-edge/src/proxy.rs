//! One request through the edge, phase by phase. Each phase may answer by
//! itself; only a request that passes them all is forwarded.
//!
//! 1. redirect: plain HTTP goes to HTTPS (ACME challenges excepted)
//! 2. route: longest matching prefix (the plan sorts routes), else 404
//! 3. allowlist: client address in the route's ranges, else 403
//! 4. auth: a valid API key with a required role, else 401 / 403
//! 5. rate limit: the client's token bucket, else 429 with Retry-After
//! 6. body limit: declared size within the route's limit, else 413; a
//!    streamed body is counted as it goes and cut off at the limit (413)
//! 7. forward: least-connections backend; an idempotent request that could
//!    not connect is retried once on another backend
//! 8. respond: hop-by-hop headers dropped, text gzip-compressed for clients
//!    that take it, security headers added

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{Either, Empty, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::auth::{self, Verdict};
use crate::body::{self, Body};
use crate::config::EdgeConfig;
use crate::metrics::Metrics;
use crate::ratelimit::Limiter;
use crate::upstream::{Backend, Pool};

pub type UpstreamBody = Either<Limited<Incoming>, Empty<Bytes>>;

/// Shared by every connection.
#[derive(Debug)]
pub struct State {
    pub config: EdgeConfig,
    /// One pool per route, swapped whole by deploys.
    pub pools: Vec<RwLock<Arc<Pool>>>,
    pub limiters: Vec<Limiter>,
    pub metrics: Metrics,
    pub client: Client<HttpConnector, UpstreamBody>,
    pub access_log: Option<mpsc::UnboundedSender<String>>,
}

impl State {
    /// The route's current pool; a deploy may swap it at any moment.
    pub fn pool(&self, index: usize) -> Arc<Pool> {
        self.pools[index].read().map(|p| Arc::clone(&p)).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::text(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    for name in HOP_BY_HOP.iter().map(|s| (*s).to_owned()).chain(listed) {
        headers.remove(name.as_str());
    }
}

fn host_of(req: &Request<Incoming>) -> Option<String> {
    let raw = req
        .uri()
        .host()
        .map(str::to_owned)
        .or_else(|| req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))?;
    // Strip a port, keeping IPv6 brackets intact.
    Some(match raw.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h.to_owned(),
        _ => raw,
    })
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).or_else(|| {
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    })
}

/// API key or JWT, whichever the route accepts; a token that looks like a
/// JWT is checked as one.
fn authenticate(cfg: &EdgeConfig, auth: &berth_spec::RouteAuth, headers: &HeaderMap) -> Verdict {
    let presented = presented_key(headers);
    let accepts = |m| auth.accept.contains(&m);
    if let (true, Some(jwt), Some(token)) = (accepts(berth_spec::AuthMethod::Jwt), &cfg.jwt, presented)
        && token.matches('.').count() == 2
    {
        return match jwt.verify(token) {
            None => Verdict::Unauthenticated,
            Some(caller) if !auth.roles.is_empty() && !auth.roles.iter().any(|r| caller.roles.contains(r)) => {
                Verdict::Forbidden("the token lacks a required role")
            }
            Some(caller) => Verdict::Allowed(caller.subject.unwrap_or_else(|| "jwt".to_owned())),
        };
    }
    if accepts(berth_spec::AuthMethod::ApiKey) {
        return auth::check(&cfg.api_keys, presented, &auth.roles, today());
    }
    Verdict::Unauthenticated
}

fn today() -> (u32, u32, u32) {
    auth::civil_date(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>, client: SocketAddr, scheme: Scheme) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let wants_gzip = state.config.gzip && body::accepts_gzip(req.headers());
    let (mut response, route) = phases(&state, req, client.ip(), scheme).await;
    if wants_gzip {
        response = gzip(response);
    }
    for (name, value) in &state.config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    let status = response.status().as_u16();
    state.metrics.observe(route, status, start.elapsed());
    if let Some(log) = &state.access_log {
        let _ = log.send(format!(
            "{{\"client\":\"{}\",\"method\":\"{method}\",\"path\":{},\"status\":{status},\"route\":{},\"ms\":{:.3}}}\n",
            client.ip(),
            serde_quote(&path),
            route.map_or("null".to_owned(), |r| serde_quote(&state.config.routes[r].path)),
            start.elapsed().as_secs_f64() * 1e3
        ));
    }
    response
}

fn gzip(response: Response<Body>) -> Response<Body> {
    let (mut parts, inner) = response.into_parts();
    let inner = match inner {
        Body::Upstream(b) if body::should_compress(parts.status, &parts.headers, &b) => {
            body::compress(&mut parts.headers, b)
        }
        other => other,
    };
    Response::from_parts(parts, inner)
}

/// A JSON string literal, without pulling a serializer into the hot path.
fn serde_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn phases(state: &State, req: Request<Incoming>, ip: IpAddr, scheme: Scheme) -> (Response<Body>, Option<usize>) {
    let cfg = &state.config;
    let host = host_of(&req);
    let path = req.uri().path();
    if scheme == Scheme::Http && cfg.redirect_https && !path.starts_with("/.well-known/acme-challenge/") {
        let port = cfg.https.map_or(443, |a| a.port());
        let authority = match (host.as_deref(), port) {
            (Some(h), 443) => h.to_owned(),
            (Some(h), p) => format!("{h}:{p}"),
            (None, _) => "localhost".to_owned(),
        };
        let location = format!("https://{authority}{}", req.uri().path_and_query().map_or("/", |p| p.as_str()));
        let mut r = answer(StatusCode::MOVED_PERMANENTLY, "moved to HTTPS");
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return (r, None);
    }
    let Some(index) = cfg.routes.iter().position(|r| r.matches(host.as_deref(), path)) else {
        return (answer(StatusCode::NOT_FOUND, "no route"), None);
    };
    let route = &cfg.routes[index];
    if !route.allow.is_empty() && !route.allow.iter().any(|c| c.contains(ip)) {
        return (answer(StatusCode::FORBIDDEN, "forbidden from this address"), Some(index));
    }
    if let Some(auth) = &route.auth {
        match authenticate(cfg, auth, req.headers()) {
            Verdict::Allowed(_) => {}
            Verdict::Unauthenticated => {
                let mut r = answer(StatusCode::UNAUTHORIZED, "credentials required");
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return (r, Some(index));
            }
            Verdict::Forbidden(why) => return (answer(StatusCode::FORBIDDEN, why), Some(index)),
        }
    }
    if let Some(zone) = route.rate_limit
        && let Err(retry) = state.limiters[zone].check(ip, Instant::now())
    {
        state.metrics.rate_limited.fetch_add(1, Relaxed);
        let mut r = answer(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return (r, Some(index));
    }
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.body_limit) {
        return (answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"), Some(index));
    }
    (forward(state, index, req, ip, scheme).await, Some(index))
}

fn upstream_uri(backend: &Backend, req_uri: &Uri, strip: Option<&str>) -> Option<Uri> {
    let mut path_and_query = req_uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if let Some(prefix) = strip.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty())
        && let Some(rest) = path_and_query.strip_prefix(prefix)
    {
        path_and_query = if rest.starts_with('/') { rest.to_owned() } else { format!("/{rest}") };
    }
    format!("http://{}{path_and_query}", backend.addr).parse().ok()
}

async fn forward(
    state: &State,
    index: usize,
    mut req: Request<Incoming>,
    ip: IpAddr,
    scheme: Scheme,
) -> Response<Body> {
    let route = &state.config.routes[index];
    let pool = state.pool(index);
    let upgrade = req.headers().get(header::UPGRADE).cloned();
    // Taken before the request is consumed: the client side of a WebSocket.
    let downstream_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    let has_body = headers.get(header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let retryable =
        matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) && !has_body && upgrade.is_none();
    strip_hop_by_hop(&mut headers);
    let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert("x-forwarded-for", v);
    }
    headers
        .insert("x-forwarded-proto", HeaderValue::from_static(if scheme == Scheme::Https { "https" } else { "http" }));
    if let Ok(v) = HeaderValue::from_str(&ip.to_string()) {
        headers.insert("x-real-ip", v);
    }
    if let Some(value) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, value);
    }
    let strip = route.strip_prefix.then_some(route.path.as_str());
    let mut body = Some(body);
    let mut excluded = None;
    for attempt in 0..2 {
        let Some(lease) = pool.pick(excluded) else {
            return answer(StatusCode::SERVICE_UNAVAILABLE, "no backend for this route");
        };
        let Some(uri) = upstream_uri(&lease.0, &parts.uri, strip) else {
            return answer(StatusCode::BAD_REQUEST, "bad request target");
        };
        let upstream_body = match body.take() {
            Some(b) => Either::Left(Limited::new(b, usize::try_from(route.body_limit).unwrap_or(usize::MAX))),
            None => Either::Right(Empty::new()),
        };
        let mut upstream = Request::new(upstream_body);
        *upstream.method_mut() = parts.method.clone();
        *upstream.uri_mut() = uri;
        *upstream.headers_mut() = headers.clone();
        match tokio::time::timeout(route.timeout, state.client.request(upstream)).await {
            Ok(Ok(mut response)) => {
                if response.status().is_server_error() {
                    state.metrics.upstream_errors.fetch_add(1, Relaxed);
                    lease.0.errors.fetch_add(1, Relaxed);
                }
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    if let Some(downstream) = downstream_upgrade {
                        let upstream = hyper::upgrade::on(&mut response);
                        // The lease lives as long as the tunnel, so draining sees it.
                        tokio::spawn(async move {
                            let _lease = lease;
                            if let (Ok(down), Ok(up)) = (downstream.await, upstream.await) {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut TokioIo::new(down), &mut TokioIo::new(up)).await;
                            }
                        });
                    }
                } else {
                    strip_hop_by_hop(response.headers_mut());
                }
                return response.map(Body::Upstream);
            }
            Ok(Err(error)) if error.is_connect() => {
                lease.0.record_failure(Instant::now());
                lease.0.errors.fetch_add(1, Relaxed);
                state.metrics.upstream_errors.fetch_add(1, Relaxed);
                if !retryable || attempt == 1 {
                    return answer(StatusCode::BAD_GATEWAY, "the service could not be reached");
                }
                excluded = Some(lease.0.addr);
            }
            Ok(Err(error)) if body_too_large(&error) => {
                return answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            }
            Ok(Err(_)) => {
                lease.0.errors.fetch_add(1, Relaxed);
                state.metrics.upstream_errors.fetch_add(1, Relaxed);
                return answer(StatusCode::BAD_GATEWAY, "the service failed to answer");
            }
            Err(_) => {
                lease.0.errors.fetch_add(1, Relaxed);
                return answer(StatusCode::GATEWAY_TIMEOUT, "the service took too long");
            }
        }
    }
    answer(StatusCode::BAD_GATEWAY, "the service could not be reached")
}

/// The client streamed more than the route's limit and the body was cut.
fn body_too_large(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Writes access-log lines in batches, off the request path.
pub async fn write_access_log(mut lines: mpsc::UnboundedReceiver<String>, path: std::path::PathBuf) {
    let Ok(file) = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await else { return };
    let mut file = tokio::io::BufWriter::with_capacity(64 * 1024, file);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => { let _ = file.write_all(line.as_bytes()).await; }
                None => break,
            },
            _ = tick.tick() => { let _ = file.flush().await; }
        }
    }
    let _ = file.flush().await;
}
