//! One request through the edge, phase by phase. Each phase may answer by
//! itself; only a request that passes them all is forwarded.
//!
//! 0. read: `OPTIONS *` is answered here and CONNECT refused (405); the
//!    host must be one the edge serves (`edge.hosts`, else 421; a missing
//!    or repeated `Host` is 400); the path is normalised ([`crate::path`],
//!    400 when it has no safe reading); the client's address is the peer's,
//!    or from `X-Forwarded-For` when the peer is a trusted proxy
//! 1. redirect: plain HTTP goes to HTTPS on the same (served) host, ACME
//!    challenges excepted
//! 2. route: longest matching prefix of the normalised path, else 404
//! 3. allowlist: client address in the route's ranges, else 403
//! 4. auth: a valid API key or JWT with a required role, else 401 / 403;
//!    a client past its failed attempts gets 429 whatever it presents
//! 5. rate limit: the client's (or the credential's) token bucket, else 429
//! 6. body limit: declared size within the route's limit, else 413; a
//!    streamed body is counted as it goes and cut off at the limit (413);
//!    a malformed body is the client's fault (400), not the service's
//! 7. forward: the normalised path, least-connections backend; an
//!    idempotent request that failed before any answer byte (refused,
//!    reset, closed) is retried once on another backend; WebSocket
//!    upgrades only on routes that allow them
//! 8. respond: hop-by-hop headers dropped, text gzip-compressed for clients
//!    that take it, security headers added
//!
//! With `monitoring.tracing`, the request's trace context is settled first
//! ([`crate::trace`]) and its span queued for export once the answer is known.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use berth_spec::Sticky;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};

use crate::auth::{self, Verdict};
use crate::body::{self, Body};
use crate::config::EdgeConfig;
use crate::host;
use crate::metrics::Metrics;
use crate::path;
use crate::ratelimit::{ClientKey, Limiter, client_address};
use crate::request_body::{ClientBody, Outcome};
use crate::upstream::Pool;

/// Shared by every connection.
#[derive(Debug)]
pub struct State {
    pub config: EdgeConfig,
    /// One pool per route, swapped whole by deploys.
    pub pools: Vec<RwLock<Arc<Pool>>>,
    pub limiters: Vec<Limiter>,
    /// Failed authentications per client address.
    pub auth_failures: Limiter<IpAddr>,
    pub metrics: Metrics,
    /// Bounded: when the disk cannot keep up, lines are dropped and
    /// counted, never queued without limit.
    pub access_log: Option<mpsc::Sender<String>>,
    /// Finished spans for the exporter (`monitoring.tracing`); bounded
    /// like the access log.
    pub traces: Option<mpsc::Sender<opentelemetry_proto::tonic::trace::v1::Span>>,
    /// Requests being forwarded at once ([`crate::limits::MAX_IN_FLIGHT`]).
    pub in_flight: Semaphore,
    /// The same, per client ([`crate::limits::MAX_IN_FLIGHT_PER_CLIENT`]).
    pub in_flight_by_client: crate::ratelimit::InFlight,
    /// Client connections at once ([`crate::limits::connection_cap`]).
    pub connection_slots: Arc<Semaphore>,
    /// The open client connections, for eviction when slots run out.
    pub connections: crate::conn::Registry,
    /// True once the edge is stopping (WebSockets close with 1001).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
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

/// Headers that name the client, its address, host, port or original URL,
/// which services and frameworks believe; never taken from a client.
pub const CLIENT_FORWARDING_HEADERS: [&str; 13] = [
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-original-url",
    "x-rewrite-url",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
];

/// HTTP/2 clients send each cookie as its own `cookie` field; an HTTP/1.1
/// service may read only the first of several, so they are joined with
/// `; ` into one field before forwarding (RFC 9113, 8.2.3).
fn join_cookies(headers: &mut HeaderMap) {
    let mut values = headers.get_all(header::COOKIE).iter();
    if values.nth(1).is_none() {
        return;
    }
    let joined: Vec<&[u8]> = headers.get_all(header::COOKIE).iter().map(HeaderValue::as_bytes).collect();
    if let Ok(value) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
        headers.insert(header::COOKIE, value);
    }
}

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

/// The one value of a header, or why there is not exactly one: a second
/// copy could be the one the service reads.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    first.map(|v| v.to_str().map_err(|_| ())).transpose()
}

/// `Authorization: Bearer <token>`, the scheme in any case (RFC 9110).
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    Ok(single(headers, "authorization")?.and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }))
}

/// API key or JWT, whichever the route accepts. A JWT comes only in
/// `Authorization: Bearer`; an API key in `X-API-Key` or there. Two copies
/// of either header are refused.
fn authenticate(cfg: &EdgeConfig, auth: &berth_spec::RouteAuth, headers: &HeaderMap) -> Verdict {
    let (Ok(bearer), Ok(api_key)) = (bearer(headers), single(headers, "x-api-key")) else {
        return Verdict::Unauthenticated;
    };
    let accepts = |m| auth.accept.contains(&m);
    if let (true, Some(jwt), Some(token)) = (accepts(berth_spec::AuthMethod::Jwt), &cfg.jwt, bearer)
        && token.matches('.').count() == 2
    {
        return match jwt.verify(token) {
            None => Verdict::Unauthenticated,
            Some(caller) if !auth.roles.is_empty() && !auth.roles.iter().any(|r| caller.roles.contains(r)) => {
                Verdict::Forbidden("the token lacks a required role")
            }
            Some(caller) => Verdict::Allowed(format!("jwt:{}", caller.subject.unwrap_or_default())),
        };
    }
    if accepts(berth_spec::AuthMethod::ApiKey) {
        return match auth::check(&cfg.api_keys, api_key.or(bearer), &auth.roles, today()) {
            Verdict::Allowed(name) => Verdict::Allowed(format!("key:{name}")),
            other => other,
        };
    }
    Verdict::Unauthenticated
}

fn today() -> (u32, u32, u32) {
    auth::civil_date(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// True when TLS ends at a trusted proxy in front and the proxy says this
/// request came over HTTPS. The last `X-Forwarded-Proto` value is the
/// proxy's own; an untrusted peer's claim is never believed.
fn offloaded_https(cfg: &EdgeConfig, peer: IpAddr, headers: &HeaderMap) -> bool {
    cfg.tls_offloaded
        && cfg.trusted_proxies.iter().any(|c| c.contains(peer))
        && headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// Who the client is: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not itself trusted.
/// Returns the client and the chain to forward (prior hops, then the peer).
fn client_of(cfg: &EdgeConfig, peer: IpAddr, headers: &HeaderMap) -> (IpAddr, String) {
    let trusted = |ip: IpAddr| cfg.trusted_proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return (peer, peer.to_string());
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(ip) {
                    break;
                }
            }
            // A hop that is not an address ends what can be believed.
            Err(_) => break,
        }
    }
    let mut chain = hops.join(", ");
    if !chain.is_empty() {
        chain.push_str(", ");
    }
    chain.push_str(&peer.to_string());
    (client, chain)
}

/// What the phases learned about a request, for forwarding and the log.
struct Facts {
    client: IpAddr,
    forwarded_for: String,
    host: Option<String>,
    path: String,
}

pub async fn handle(state: Arc<State>, mut req: Request<Incoming>, peer: SocketAddr, scheme: Scheme) -> Response<Body> {
    let start = Instant::now();
    let scheme = if scheme == Scheme::Http && offloaded_https(&state.config, peer.ip(), req.headers()) {
        Scheme::Https
    } else {
        scheme
    };
    let method = req.method().clone();
    let version = req.version();
    let raw_path = req.uri().path().to_owned();
    // The service sees the edge's span as its parent.
    let trace = state.config.tracing.as_ref().map(|t| {
        let trusted = state.config.trusted_proxies.iter().any(|c| c.contains(peer.ip()));
        crate::trace::Context::begin(t, req.headers_mut(), trusted)
    });
    let wants_gzip = state.config.gzip && body::accepts_gzip(req.headers());
    let (mut response, route, client) = phases(&state, req, peer.ip(), scheme).await;
    if wants_gzip {
        response = gzip(response);
    }
    for (name, value) in &state.config.headers {
        // HSTS means something only over HTTPS (RFC 6797, 7.2).
        if scheme == Scheme::Http && name == header::STRICT_TRANSPORT_SECURITY {
            continue;
        }
        response.headers_mut().insert(name.clone(), value.clone());
    }
    let status = response.status().as_u16();
    state.metrics.observe(route, status, start.elapsed());
    if let (Some(ctx), Some(queue)) = (trace.filter(|t| t.sampled), &state.traces) {
        let done = crate::trace::Finished {
            method: &method,
            route: route.map(|r| state.config.routes[r].path.as_str()),
            path: &raw_path,
            status,
            client,
            https: scheme == Scheme::Https,
            version,
        };
        if queue.try_send(crate::trace::span(&ctx, &done)).is_err() {
            state.metrics.traces.dropped.fetch_add(1, Relaxed);
        }
    }
    if let Some(log) = &state.access_log
        && log
            .try_send(format!(
                "{{\"client\":\"{client}\",\"method\":{},\"path\":{},\"status\":{status},\"route\":{},\"ms\":{:.3}}}\n",
                serde_quote(method.as_str()),
                serde_quote(&raw_path),
                route.map_or("null".to_owned(), |r| serde_quote(&state.config.routes[r].path)),
                start.elapsed().as_secs_f64() * 1e3
            ))
            .is_err()
    {
        state.metrics.access_log_dropped.fetch_add(1, Relaxed);
    }
    response
}

fn gzip(response: Response<Body>) -> Response<Body> {
    let (mut parts, inner) = response.into_parts();
    let inner = match inner {
        Body::Upstream(b) if body::should_compress(parts.status, &parts.headers, b.inner()) => {
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

async fn phases(
    state: &State,
    req: Request<Incoming>,
    peer: IpAddr,
    scheme: Scheme,
) -> (Response<Body>, Option<usize>, IpAddr) {
    let cfg = &state.config;
    let (client, forwarded_for) = client_of(cfg, peer, req.headers());
    let reply = |r: Response<Body>| (r, None, client);
    // CONNECT would tunnel anywhere; TRACE echoes credentials back (XST).
    if req.method() == Method::CONNECT || req.method() == Method::TRACE || req.method().as_str() == "TRACK" {
        return reply(answer(StatusCode::METHOD_NOT_ALLOWED, "this method is not served"));
    }
    if req.method() == Method::OPTIONS && req.uri() == "*" {
        let mut r = answer(StatusCode::OK, "");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
        return reply(r);
    }
    // A transfer coding other than chunked (`gzip, chunked`) would reach the
    // service decoded differently than sent. RFC 9112 suggests 501; 400
    // keeps a client's fault out of the 5xx the error-rate alert counts.
    let other_coding = req
        .headers()
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .any(|coding| !coding.trim().eq_ignore_ascii_case("chunked"));
    if other_coding {
        return reply(answer(StatusCode::BAD_REQUEST, "only the chunked transfer coding is accepted"));
    }
    let host = match host::of(req.version(), req.uri(), req.headers()) {
        Ok(h) => h,
        Err(e) => return reply(answer(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    if !host::served(&cfg.hosts, host.as_deref()) {
        return reply(answer(StatusCode::MISDIRECTED_REQUEST, "this host is not served here"));
    }
    let path = match path::normalize(req.uri().path()) {
        Ok(p) => p.into_owned(),
        Err(e) => return reply(answer(StatusCode::BAD_REQUEST, &format!("bad request path: {e}"))),
    };
    if scheme == Scheme::Http && cfg.redirect_https && !path.starts_with("/.well-known/acme-challenge/") {
        // Only ever to a host the edge serves: never the attacker's Host.
        let Some(name) = host.as_deref() else {
            return reply(answer(StatusCode::BAD_REQUEST, "HTTPS is required and the request names no host"));
        };
        let port = cfg.https.map_or(443, |a| a.port());
        let authority = if port == 443 { name.to_owned() } else { format!("{name}:{port}") };
        let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        let mut r = answer(StatusCode::MOVED_PERMANENTLY, "moved to HTTPS");
        if let Ok(v) = HeaderValue::from_str(&format!("https://{authority}{path}{query}")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return reply(r);
    }
    let Some(index) = cfg.routes.iter().position(|r| r.matches(host.as_deref(), &path)) else {
        return reply(answer(StatusCode::NOT_FOUND, "no route"));
    };
    let route = &cfg.routes[index];
    let within = |r: Response<Body>| (r, Some(index), client);
    if !route.allow.is_empty() && !route.allow.iter().any(|c| c.contains(client)) {
        return within(answer(StatusCode::FORBIDDEN, "forbidden from this address"));
    }
    let mut identity = None;
    if let Some(auth) = &route.auth {
        let now = Instant::now();
        let counted = client_address(client);
        if let Err(retry) = state.auth_failures.peek(&counted, now) {
            state.metrics.auth_failures.fetch_add(1, Relaxed);
            return within(too_many(retry, "too many failed authentications"));
        }
        match authenticate(cfg, auth, req.headers()) {
            Verdict::Allowed(who) => identity = Some(who),
            Verdict::Unauthenticated => {
                state.metrics.auth_failures.fetch_add(1, Relaxed);
                if let Err(retry) = state.auth_failures.check(&counted, now) {
                    return within(too_many(retry, "too many failed authentications"));
                }
                let mut r = answer(StatusCode::UNAUTHORIZED, "credentials required");
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return within(r);
            }
            Verdict::Forbidden(why) => return within(answer(StatusCode::FORBIDDEN, why)),
        }
    }
    if let Some(zone) = route.rate_limit {
        let key = match (cfg.rate_limits[zone].by, &identity) {
            (berth_spec::RateKey::ApiKey, Some(who)) => ClientKey::Credential(who.clone()),
            _ => ClientKey::Address(client_address(client)),
        };
        if let Err(retry) = state.limiters[zone].check(&key, Instant::now()) {
            state.metrics.rate_limited.fetch_add(1, Relaxed);
            return within(too_many(retry, "rate limit exceeded"));
        }
    }
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.body_limit) {
        if req.version() == hyper::Version::HTTP_2 {
            crate::request_body::drain_later(req.into_body());
        }
        return within(answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
    }
    let Some(_client_slot) = state.in_flight_by_client.enter(client) else {
        state.metrics.overloaded.fetch_add(1, Relaxed);
        return within(too_many(std::time::Duration::from_secs(1), "too many requests in flight from this client"));
    };
    let Ok(_slot) = state.in_flight.try_acquire() else {
        state.metrics.overloaded.fetch_add(1, Relaxed);
        let mut r = answer(StatusCode::SERVICE_UNAVAILABLE, "the edge is at capacity");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return within(r);
    };
    let facts = Facts { client, forwarded_for, host, path };
    // Boxed: only a forwarded request carries the client and upstream
    // futures; an answer of the edge own (429, 503, 404) stays small, which
    // is what most of a flood gets.
    within(Box::pin(forward(state, index, req, &facts, scheme)).await)
}

fn too_many(retry: std::time::Duration, why: &str) -> Response<Body> {
    let mut r = answer(StatusCode::TOO_MANY_REQUESTS, why);
    let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// The service's request target (origin-form): the normalised path (prefix
/// stripped if the route says so) and the query as the client sent it.
fn upstream_uri(path: &str, query: Option<&str>, strip: Option<&str>) -> Option<Uri> {
    let mut path = std::borrow::Cow::Borrowed(path);
    if let Some(prefix) = strip.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty())
        && let Some(rest) = path.strip_prefix(prefix)
    {
        path = if rest.starts_with('/') { rest.to_owned().into() } else { format!("/{rest}").into() };
    }
    match query {
        Some(q) => Uri::try_from(format!("{path}?{q}")).ok(),
        None => Uri::try_from(path.as_ref()).ok(),
    }
}

fn wants_websocket(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn forward(
    state: &State,
    index: usize,
    mut req: Request<Incoming>,
    facts: &Facts,
    scheme: Scheme,
) -> Response<Body> {
    let route = &state.config.routes[index];
    let pool = state.pool(index);
    // Only a route that allows WebSockets passes an upgrade; elsewhere the
    // Upgrade header is dropped like any hop-by-hop header, as nginx does.
    let upgrade = (route.websocket && wants_websocket(req.headers())).then(|| req.headers()[header::UPGRADE].clone());
    // Taken before the request is consumed: the client side of a WebSocket.
    let downstream_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    let has_body = headers.get(header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || headers.contains_key(header::TRANSFER_ENCODING)
        || (parts.version == hyper::Version::HTTP_2 && !hyper::body::Body::is_end_stream(&body));
    let retryable =
        matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) && !has_body && upgrade.is_none();
    strip_hop_by_hop(&mut headers);
    join_cookies(&mut headers);
    // The edge answers `100 Continue` itself when it reads the body; a
    // service told to expect one may answer before reading it.
    headers.remove(header::EXPECT);
    // Who the client is, where it connected and what it asked for are the
    // edge's to say: a client's own versions of these headers could undo an
    // allowlist or a route at a service that believes them.
    for name in CLIENT_FORWARDING_HEADERS {
        headers.remove(name);
    }
    if let Ok(v) = HeaderValue::from_str(&facts.forwarded_for) {
        headers.insert("x-forwarded-for", v);
    }
    headers
        .insert("x-forwarded-proto", HeaderValue::from_static(if scheme == Scheme::Https { "https" } else { "http" }));
    if let Ok(v) = HeaderValue::from_str(&facts.client.to_string()) {
        headers.insert("x-real-ip", v);
    }
    if let Some(v) = facts.host.as_deref().and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(header::HOST, v);
    }
    if let Some(value) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, value);
    }
    let strip = route.strip_prefix.then_some(route.path.as_str());
    let mut body = has_body.then_some(body);
    let mut excluded = None;
    // The affinity key, and the cookie to set when the client has none.
    let (sticky, new_cookie) = match route.sticky {
        None => (None, None),
        Some(Sticky::ClientIp) => (Some(crate::upstream::client_key(facts.client)), None),
        Some(Sticky::Cookie) => {
            let (key, new) = crate::upstream::cookie_key(&headers);
            (Some(key), new)
        }
    };
    for attempt in 0..2 {
        let Some(lease) = pool.pick_for(excluded, sticky) else {
            return if attempt == 0 {
                answer(StatusCode::SERVICE_UNAVAILABLE, "no backend for this route")
            } else {
                answer(StatusCode::BAD_GATEWAY, "the service failed to answer")
            };
        };
        let Some(uri) = upstream_uri(&facts.path, parts.uri.query(), strip) else {
            return answer(StatusCode::BAD_REQUEST, "bad request target");
        };
        let (upstream_body, watch) =
            ClientBody::new(body.take(), route.body_limit, parts.version == hyper::Version::HTTP_2);
        let mut upstream = Request::new(upstream_body);
        *upstream.method_mut() = parts.method.clone();
        *upstream.uri_mut() = uri;
        // Only a request that may go again keeps a copy for the second try.
        *upstream.headers_mut() =
            if retryable && attempt == 0 { headers.clone() } else { std::mem::take(&mut headers) };
        if !upstream.headers().contains_key(header::HOST)
            && let Ok(v) = HeaderValue::from_str(&lease.0.addr.to_string())
        {
            upstream.headers_mut().insert(header::HOST, v);
        }
        let sent = lease.0.connections.send(lease.0.addr, state.config.connect_timeout, upstream);
        match answer_within(route.timeout, sent, &watch).await {
            Ok(Ok(mut response)) => {
                if response.status().is_server_error() {
                    state.metrics.upstream_errors.fetch_add(1, Relaxed);
                    lease.0.errors.fetch_add(1, Relaxed);
                }
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    let Some(downstream) = downstream_upgrade else {
                        // The service switched protocols unasked: not passed on.
                        lease.0.errors.fetch_add(1, Relaxed);
                        return answer(StatusCode::BAD_GATEWAY, "the service switched protocols unasked");
                    };
                    let upstream = hyper::upgrade::on(&mut response);
                    // Closing when the backend is retired or the edge stops.
                    let mut closing = lease.0.tunnels_closing();
                    let mut shutdown = state.shutdown.clone();
                    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = closing.wait_for(|c| *c) => {}
                            _ = shutdown.wait_for(|s| *s) => {}
                        }
                        let _ = close_tx.send(true);
                    });
                    // The lease lives as long as the tunnel, so draining sees it.
                    tokio::spawn(async move {
                        let _lease = lease;
                        if let (Ok(down), Ok(up)) = (downstream.await, upstream.await) {
                            crate::websocket::tunnel(down, up, close_rx).await;
                        }
                    });
                } else {
                    // Chunked framing wins over a Content-Length beside it
                    // (RFC 9112 6.3): hyper read the body as chunked, and
                    // the length must not reach the client with it.
                    if response.headers().contains_key(header::TRANSFER_ENCODING) {
                        response.headers_mut().remove(header::CONTENT_LENGTH);
                    }
                    strip_hop_by_hop(response.headers_mut());
                }
                if let Some(value) = &new_cookie {
                    let secure = if scheme == Scheme::Https { "; Secure" } else { "" };
                    let cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}", Sticky::COOKIE);
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        response.headers_mut().append(header::SET_COOKIE, v);
                    }
                }
                let idle = route.timeout;
                return response.map(|b| Body::Upstream(body::Timed::new(b, idle)));
            }
            Ok(Err(error)) => match watch.outcome() {
                Outcome::TooLarge => return answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
                Outcome::Malformed => return answer(StatusCode::BAD_REQUEST, "malformed request body"),
                Outcome::Fine => {
                    if error.is_connect() {
                        lease.0.record_failure(Instant::now());
                    }
                    lease.0.errors.fetch_add(1, Relaxed);
                    state.metrics.upstream_errors.fetch_add(1, Relaxed);
                    // Nothing of an answer arrived: an idempotent request is
                    // safe to send again, elsewhere.
                    if !retryable || attempt == 1 {
                        return if error.is_connect() {
                            answer(StatusCode::BAD_GATEWAY, "the service could not be reached")
                        } else {
                            answer(StatusCode::BAD_GATEWAY, "the service failed to answer")
                        };
                    }
                    // A kept connection the service closed as the request
                    // went out fails on the same healthy backend: the second
                    // try goes there on a new connection.
                    if !error.on_reused_connection() {
                        excluded = Some(lease.0.addr);
                    }
                }
            },
            Err(_) => {
                lease.0.errors.fetch_add(1, Relaxed);
                return answer(StatusCode::GATEWAY_TIMEOUT, "the service took too long");
            }
        }
    }
    answer(StatusCode::BAD_GATEWAY, "the service could not be reached")
}

/// Waits for the service's answer: `timeout` after the request body went
/// out, and while it is still going out, as long as each `timeout` sees
/// some of it move (nginx's `proxy_send_timeout`, then `proxy_read_timeout`).
async fn answer_within<F: Future>(
    timeout: std::time::Duration,
    answer: F,
    body: &crate::request_body::Watch,
) -> Result<F::Output, ()> {
    tokio::pin!(answer);
    let mut sent = body.sent();
    loop {
        match tokio::time::timeout(timeout, &mut answer).await {
            Ok(output) => return Ok(output),
            Err(_) if !body.ended() && body.sent() > sent => sent = body.sent(),
            Err(_) => return Err(()),
        }
    }
}

/// Access-log lines waiting for the disk at most.
pub const ACCESS_LOG_QUEUE: usize = 16 * 1024;

/// Writes access-log lines in batches, off the request path. A change on
/// `reopen` (SIGHUP from `berth up`) reopens the file, for logrotate's
/// rename-and-signal rotation.
pub async fn write_access_log(
    mut lines: mpsc::Receiver<String>,
    path: std::path::PathBuf,
    mut reopen: tokio::sync::watch::Receiver<u64>,
) {
    let open = |path: std::path::PathBuf| async move {
        let file = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await.ok()?;
        Some(tokio::io::BufWriter::with_capacity(64 * 1024, file))
    };
    let Some(mut file) = open(path.clone()).await else { return };
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => { let _ = file.write_all(line.as_bytes()).await; }
                None => break,
            },
            _ = tick.tick() => { let _ = file.flush().await; }
            changed = reopen.changed() => {
                if changed.is_err() {
                    break;
                }
                let _ = file.flush().await;
                if let Some(fresh) = open(path.clone()).await {
                    file = fresh;
                }
            }
        }
    }
    let _ = file.flush().await;
}
