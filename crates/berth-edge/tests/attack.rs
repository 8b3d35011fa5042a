//! The edge under attack, on loopback, with raw bytes on the wire: what an
//! attacker sends is exactly what the edge reads (no client library to
//! tidy a path or a header first).
//!
//! The service behind the edge *normalises* paths the way web frameworks
//! do (decodes every escape, resolves dot segments, merges slashes) and
//! answers `SECRET` on `/metrics` and `/admin`. A request the edge routes to
//! the open catch-all but the service reads as a protected path is a bypass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle, tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use common::{METRICS_BYPASSES, Raw, raw, service_view};

const JWT_SECRET: &str = "an HS256 key for the attack tests";
const API_KEY: &str = "correct-horse-battery-staple";
const OTHER_KEY: &str = "another-key-for-the-same-client";

fn spec(extra_edge: &str) -> String {
    format!(
        r#"
version: 1
name: attack
services:
  web:
    run: {{ command: ["unused"] }}
    ports: {{ http: 8080 }}
  demo:
    run: {{ command: ["unused"] }}
    ports: {{ http: 8081 }}
  flaky:
    run: {{ command: ["unused"] }}
    ports: {{ http: 8082 }}
secrets:
  key-a: {{}}
  key-b: {{}}
  jwt-key: {{}}
edge:
  hosts: [localhost, "*.apps.localhost"]
  timeouts: {{ header: 1s, idle: 3s }}
  body_limit: 64Ki
  rate_limits:
    per-key: {{ rate: 1/m, burst: 2, by: api-key }}
  routes:
    - {{ path: /, service: web }}
    - {{ path: /metrics, service: web, allow: [10.0.0.0/8] }}
    - {{ path: /status, service: web, allow: [127.0.0.1] }}
    - {{ path: /admin, service: web, auth: {{ accept: [api-key] }} }}
    - {{ path: /api, service: web, auth: {{ accept: [api-key] }}, rate_limit: per-key }}
    - {{ path: /token, service: web, auth: {{ accept: [jwt] }} }}
    - {{ path: /ws, service: demo, websocket: true }}
    - {{ path: /demo, service: demo, strip_prefix: true }}
    - {{ path: /flaky, service: flaky }}
  auth:
    jwt: {{ algorithm: HS256, secret: jwt-key, issuer: https://id.example, audience: attack }}
    api_keys:
      - {{ name: a, secret: key-a }}
      - {{ name: b, secret: key-b }}
{extra_edge}
"#
    )
}

/// The normalising service: `SECRET` on protected paths, and what it saw in
/// headers, so tests can read what the edge forwarded.
async fn normalising_service() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let raw = req.uri().path().to_owned();
                    let view = service_view(&raw);
                    let protected = view == "/metrics" || view.starts_with("/metrics/") || view.starts_with("/admin");
                    let seen = |name: &str| {
                        req.headers()
                            .get_all(name)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("?"))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    };
                    let (xff, real_ip, upgrade, host) =
                        (seen("x-forwarded-for"), seen("x-real-ip"), seen("upgrade"), seen("host"));
                    let cookie = seen("cookie");
                    let spoofable: Vec<&str> = berth_edge::proxy::CLIENT_FORWARDING_HEADERS
                        .iter()
                        .copied()
                        .filter(|name| req.headers().contains_key(*name))
                        .collect();
                    let spoofable = spoofable.join(",");
                    let body = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                    let text = if protected { format!("SECRET {view}") } else { format!("public {view}") };
                    let response = Response::builder()
                        .header("x-seen-path", raw)
                        .header("x-seen-xff", xff)
                        .header("x-seen-real-ip", real_ip)
                        .header("x-seen-upgrade", upgrade)
                        .header("x-seen-host", host)
                        .header("x-seen-cookie", cookie)
                        .header("x-seen-spoofable", spoofable)
                        .header("x-seen-body", body.to_string())
                        .body(Full::new(Bytes::from(text)))
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, task)
}

/// A replica that reads a request and resets the connection without a byte.
async fn resetting_service() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    (addr, task)
}

struct Setup {
    edge: EdgeHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl Setup {
    async fn stop(self) {
        self.edge.shutdown(Duration::from_secs(1)).await;
        for t in self.tasks {
            t.abort();
        }
    }

    fn http(&self) -> SocketAddr {
        self.edge.http
    }
}

async fn start_with(extra_edge: &str, tls: bool) -> Setup {
    let (web, web_task) = normalising_service().await;
    let (reset, reset_task) = resetting_service().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo = listener.local_addr().unwrap();
    let demo_task =
        tokio::spawn(berth_demo::serve(listener, Arc::new(berth_demo::App::new("d")), std::future::pending()));
    let text = spec(extra_edge);
    let loaded = berth_spec::load(&text, None);
    let spec = loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let plan = berth_plan::build(&spec, None);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let pem = tls.then(|| tls::self_signed(&["localhost".to_owned()]).unwrap());
    let inputs = Inputs {
        http: any,
        https: tls.then_some(any),
        admin: Some(any),
        tls: pem,
        replicas: &|service, _| match service {
            "web" => vec![web],
            "demo" => vec![demo],
            _ => vec![reset, web],
        },
        secret: &|name| match name {
            "key-a" => Some(API_KEY.to_owned()),
            "key-b" => Some(OTHER_KEY.to_owned()),
            "jwt-key" => Some(JWT_SECRET.to_owned()),
            _ => None,
        },
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    let edge = Edge::start(config, None).await.unwrap();
    Setup { edge, tasks: vec![web_task, reset_task, demo_task] }
}

const TLS: &str = "  tls: { mode: self-signed }";

async fn start() -> Setup {
    start_with("", false).await
}

async fn get(addr: SocketAddr, target: &str, headers: &[&str]) -> Raw {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw(addr, &request).await
}

#[tokio::test]
async fn path_tricks_never_reach_an_allowlisted_route() {
    let setup = start().await;
    let mut outcomes = Vec::new();
    for path in METRICS_BYPASSES {
        let r = get(setup.http(), path, &[]).await;
        assert!(!r.body.contains("SECRET"), "{path} reached the protected path: {} {}", r.status, r.body);
        assert!(matches!(r.status, 400 | 403), "{path}: expected 400 or 403, got {} {}", r.status, r.body);
        outcomes.push((path, r.status));
    }
    // The allowlisted client reaches the normalised route, and the service
    // is handed the normal form the edge judged.
    for path in ["/status", "/x/../status", "//status", "/%73tatus", "/./status/"] {
        let r = get(setup.http(), path, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let seen = r.header("x-seen-path").unwrap();
        assert!(seen == "/status" || seen == "/status/", "{path} was forwarded as {seen}");
    }
    // Reserved escapes pass through encoded; the query is kept as sent.
    let r = get(setup.http(), "/files/a%20b%3F?q=%2e%2e/x", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-path"), Some("/files/a%20b%3F"));
    setup.stop().await;
}

#[tokio::test]
async fn path_tricks_never_skip_authentication() {
    let setup = start().await;
    let admin: Vec<String> = METRICS_BYPASSES.iter().map(|p| p.replace("metrics", "admin")).collect();
    for path in &admin {
        let r = get(setup.http(), path, &[]).await;
        assert!(!r.body.contains("SECRET"), "{path} reached /admin without a key: {} {}", r.status, r.body);
        // 403: still a `/metrics` path (`/%6detrics` has no `metrics` to replace).
        assert!(matches!(r.status, 400 | 401 | 403 | 429), "{path}: got {}", r.status);
    }
    // Case is not folded by the service here, so `/ADMIN` is another path.
    let key = format!("X-API-Key: {API_KEY}");
    for path in ["/admin", "/x/../admin", "/%61dmin/"] {
        let r = get(setup.http(), path, &[&key]).await;
        assert_eq!(r.status, 200, "{path} with the key: {}", r.body);
        assert!(r.body.contains("SECRET"));
    }
    setup.stop().await;
}

fn jwt(claims: &serde_json::Value, secret: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &jsonwebtoken::EncodingKey::from_secret(secret))
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[tokio::test]
async fn jwt_vectors() {
    // A fresh edge per vector family keeps the failed-attempt limit out of
    // the way; it has its own test below.
    let setup = start().await;
    let good = serde_json::json!({"sub": "ann", "iss": "https://id.example", "aud": "attack", "exp": now() + 300});
    let without = |keys: &[&str]| {
        let mut c = good.clone();
        for k in keys {
            c.as_object_mut().unwrap().remove(*k);
        }
        c
    };
    let with = |k: &str, v: serde_json::Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let hs = |c: &serde_json::Value| jwt(c, JWT_SECRET.as_bytes(), jsonwebtoken::Algorithm::HS256);
    let none = format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), b64url(good.to_string().as_bytes()));
    let vectors: Vec<(&str, String)> = vec![
        ("no aud", hs(&without(&["aud"]))),
        ("no iss", hs(&without(&["iss"]))),
        ("neither aud nor iss", hs(&without(&["aud", "iss"]))),
        ("no exp", hs(&without(&["exp"]))),
        ("wrong aud", hs(&with("aud", "other".into()))),
        ("wrong iss", hs(&with("iss", "https://evil.example".into()))),
        ("expired", hs(&with("exp", (now() - 3600).into()))),
        ("not yet valid", hs(&with("nbf", (now() + 3600).into()))),
        ("wrong key", jwt(&good, b"not the key", jsonwebtoken::Algorithm::HS256)),
        ("HS512", jwt(&good, JWT_SECRET.as_bytes(), jsonwebtoken::Algorithm::HS512)),
        ("alg none", none),
    ];
    for (what, token) in &vectors {
        let r = get(setup.http(), "/token", &[&format!("Authorization: Bearer {token}")]).await;
        assert_eq!(r.status, 401, "{what}: {} {}", r.status, r.body);
    }
    let r = get(setup.http(), "/token", &[&format!("Authorization: Bearer {}", hs(&good))]).await;
    assert_eq!(r.status, 200, "a good token: {}", r.body);
    setup.stop().await;
}

#[tokio::test]
async fn rs256_refuses_key_confusion_through_the_edge() {
    let public = include_str!("fixtures/jwt-rs256.pub.pem");
    let private = include_bytes!("fixtures/jwt-rs256.key.pem");
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("jwt.pub.pem");
    std::fs::write(&key_path, public).unwrap();
    let text = spec("").replace(
        "jwt: { algorithm: HS256, secret: jwt-key, issuer: https://id.example, audience: attack }",
        &format!(
            "jwt: {{ algorithm: RS256, public_key: {}, issuer: https://id.example, audience: attack }}",
            key_path.display()
        ),
    );
    let spec = berth_spec::load(&text, None).spec.unwrap();
    let plan = berth_plan::build(&spec, None);
    let (web, web_task) = normalising_service().await;
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: None,
        admin: None,
        tls: None,
        replicas: &|_, _| vec![web],
        secret: &|_| Some("unused".to_owned()),
        file: &|p| std::fs::read(p).ok(),
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    let edge = Edge::start(config, None).await.unwrap();
    let claims = serde_json::json!({"sub": "ann", "iss": "https://id.example", "aud": "attack", "exp": now() + 300});
    let confused = jwt(&claims, public.as_bytes(), jsonwebtoken::Algorithm::HS256);
    let r = get(edge.http, "/token", &[&format!("Authorization: Bearer {confused}")]).await;
    assert_eq!(r.status, 401, "HS256 signed with the public key");
    let real = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(private).unwrap(),
    )
    .unwrap();
    let r = get(edge.http, "/token", &[&format!("Authorization: Bearer {real}")]).await;
    assert_eq!(r.status, 200, "a real RS256 token");
    edge.shutdown(Duration::from_secs(1)).await;
    web_task.abort();
}

#[tokio::test]
async fn hosts_are_enforced_and_redirects_stay_on_them() {
    let setup = start().await;
    let http = setup.http();
    let with_host = |host: &str| format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw(http, &with_host("localhost")).await.status, 200);
    assert_eq!(raw(http, &with_host("LOCALHOST.:8080")).await.status, 200, "case, trailing dot and port");
    assert_eq!(raw(http, &with_host("a.apps.localhost")).await.status, 200, "wildcard host");
    for host in ["evil.example", "localhost.evil.example", "a.b.apps.localhost", "127.0.0.1", "apps.localhost"] {
        assert_eq!(raw(http, &with_host(host)).await.status, 421, "Host: {host}");
    }
    for bad in ["local host", "localhost:x", "user@localhost", ""] {
        assert_eq!(raw(http, &with_host(bad)).await.status, 400, "Host: {bad:?}");
    }
    let missing = raw(http, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(missing.status, 400, "no Host on HTTP/1.1");
    let twice = raw(http, "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n").await;
    assert_eq!(twice.status, 400, "two Host headers");
    let absolute = raw(http, "GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(absolute.status, 421, "absolute-form names the host, and it is not served");
    let absolute_ok =
        raw(http, "GET http://localhost/x/../status HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n").await;
    assert_eq!(absolute_ok.status, 200, "absolute-form for a served host wins over Host");
    assert_eq!(absolute_ok.header("x-seen-host"), Some("localhost"), "the service sees the host that was judged");
    setup.stop().await;

    // With TLS, plain HTTP redirects, but only ever to a served host.
    let setup = start_with(TLS, true).await;
    let http = setup.http();
    let https_port = setup.edge.https.unwrap().port();
    let r = raw(http, "GET /x/../docs?a=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some(format!("https://localhost:{https_port}/docs?a=1").as_str()));
    for evil in ["evil.example", "evil.example:443"] {
        let r = raw(http, &with_host(evil)).await;
        assert_eq!(r.status, 421, "Host: {evil}");
        assert!(r.header("location").is_none(), "a redirect to the attacker's host: {:?}", r.header("location"));
    }
    let r = raw(http, "GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(r.header("location").is_none_or(|l| !l.contains("evil")), "{r:?}");
    setup.stop().await;
}

#[tokio::test]
async fn rate_limits_follow_the_key_and_failed_attempts_are_limited() {
    let setup = start().await;
    let http = setup.http();
    let a = format!("X-API-Key: {API_KEY}");
    let b = format!("X-API-Key: {OTHER_KEY}");
    // `per-key` allows 1 + 2 at once per key, from the same address.
    for i in 0..3 {
        assert_eq!(get(http, "/api", &[&a]).await.status, 200, "key a, request {i}");
    }
    assert_eq!(get(http, "/api", &[&a]).await.status, 429, "key a is spent");
    assert_eq!(get(http, "/api", &[&b]).await.status, 200, "key b has its own bucket on the same address");

    // Guessing keys: after the burst of failures, even the right key gets 429.
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(get(http, "/admin", &[&format!("X-API-Key: guess-{i}")]).await.status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    let right = get(http, "/admin", &[&a]).await;
    assert_eq!(right.status, 429, "a client past its failures is refused whatever it presents");
    assert!(right.header("retry-after").is_some());
    assert_eq!(get(http, "/", &[]).await.status, 200, "routes without auth are not affected");
    setup.stop().await;
}

#[tokio::test]
async fn forwarded_for_is_ours_unless_the_peer_is_trusted() {
    let setup = start().await;
    let http = setup.http();
    let r = get(http, "/", &["X-Forwarded-For: 10.1.2.3", "X-Real-IP: 10.1.2.3"]).await;
    assert_eq!(r.header("x-seen-xff"), Some("127.0.0.1"), "the client's X-Forwarded-For is replaced");
    assert_eq!(r.header("x-seen-real-ip"), Some("127.0.0.1"));
    let r = get(http, "/metrics", &["X-Forwarded-For: 10.1.2.3"]).await;
    assert_eq!(r.status, 403, "a forged X-Forwarded-For does not pass an allowlist");
    setup.stop().await;

    let setup = start_with("  trusted_proxies: [127.0.0.1]", false).await;
    let http = setup.http();
    let r = get(http, "/metrics", &["X-Forwarded-For: 192.0.2.7, 10.1.2.3"]).await;
    assert_eq!(r.status, 200, "the trusted proxy says the client is 10.1.2.3: {}", r.body);
    assert_eq!(r.header("x-seen-xff"), Some("192.0.2.7, 10.1.2.3, 127.0.0.1"));
    assert_eq!(r.header("x-seen-real-ip"), Some("10.1.2.3"));
    let r = get(http, "/metrics", &["X-Forwarded-For: 10.1.2.3, 192.0.2.7"]).await;
    assert_eq!(r.status, 403, "the nearest untrusted hop is the client, not one it claims");
    let r = get(http, "/metrics", &["X-Forwarded-For: 10.1.2.3, garbage"]).await;
    assert_eq!(r.status, 403, "an unreadable hop ends what is believed");
    setup.stop().await;
}

#[tokio::test]
async fn websocket_upgrades_only_where_the_route_allows() {
    let setup = start().await;
    let http = setup.http();
    let upgrade = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    let mut stream = TcpStream::connect(http).await.unwrap();
    stream.write_all(upgrade("/ws").as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"), "the websocket route upgrades");
    drop(stream);
    let mut stream = TcpStream::connect(http).await.unwrap();
    stream.write_all(upgrade("/").as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "a plain answer, no upgrade: {head}");
    assert!(head.to_ascii_lowercase().contains("x-seen-upgrade: \r\n"), "the service saw no Upgrade: {head}");
    setup.stop().await;
}

#[tokio::test]
async fn client_faults_are_client_errors() {
    let setup = start().await;
    let http = setup.http();
    let bad_chunks = "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let r = raw(http, bad_chunks).await;
    assert!(matches!(r.status, 400 | 0), "malformed chunked body: {r:?}");
    let gzip_chunked = "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(raw(http, gzip_chunked).await.status, 400, "a transfer coding the edge does not implement");
    let options = raw(http, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(options.status, 200, "{options:?}");
    assert!(options.header("allow").is_some());
    let connect = raw(http, "CONNECT localhost:22 HTTP/1.1\r\nHost: localhost:22\r\n\r\n").await;
    assert!(matches!(connect.status, 400 | 405), "{connect:?}");
    let metrics = admin_metrics(&setup).await;
    assert!(
        metrics.contains("berth_edge_upstream_errors_total 0"),
        "client faults counted against the service:\n{metrics}"
    );
    assert!(metrics.contains("berth_edge_requests_total{code=\"5xx\"} 0"), "{metrics}");
    setup.stop().await;
}

#[tokio::test]
async fn the_admin_port_answers_loopback_names_only_and_lists_each_backend_once() {
    let setup = start().await;
    let admin = setup.edge.admin.unwrap();
    let rebound = raw(admin, "GET /status.json HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n").await;
    assert_eq!(rebound.status, 421, "DNS rebinding: {rebound:?}");
    for host in ["localhost", "127.0.0.1:9180", "[::1]"] {
        let r = raw(admin, &format!("GET /status.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
        assert_eq!(r.status, 200, "Host: {host}");
    }
    let metrics = admin_metrics(&setup).await;
    let series: Vec<&str> = metrics.lines().filter(|l| l.starts_with("berth_edge_upstream_healthy{")).collect();
    let unique: std::collections::BTreeSet<&str> = series.iter().map(|l| l.rsplit_once(' ').unwrap().0).collect();
    assert_eq!(series.len(), unique.len(), "duplicate series:\n{metrics}");
    setup.stop().await;
}

#[tokio::test]
async fn forwarding_headers_and_duplicate_credentials_from_clients_are_not_believed() {
    let setup = start().await;
    let http = setup.http();
    let spoofed = [
        "Forwarded: for=10.0.0.1;proto=https",
        "X-Original-URL: /metrics",
        "X-Rewrite-URL: /metrics",
        "X-Forwarded-Host: evil.example",
        "True-Client-IP: 10.0.0.1",
    ];
    let r = get(http, "/", &spoofed).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-spoofable"), Some(""), "the service saw client-made forwarding headers");
    let key = format!("X-API-Key: {API_KEY}");
    let twice = get(http, "/admin", &[&key, "X-API-Key: something-else"]).await;
    assert_eq!(twice.status, 401, "two API keys: which one would the service read?");
    let bearer = get(http, "/admin", &[&format!("Authorization: bearer {API_KEY}")]).await;
    assert_eq!(bearer.status, 200, "the scheme is case-insensitive");
    let trace = raw(http, "TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(trace.status, 405);
    setup.stop().await;
}

async fn admin_metrics(setup: &Setup) -> String {
    let r =
        raw(setup.edge.admin.unwrap(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await;
    r.body
}

#[tokio::test]
async fn a_reset_before_any_answer_is_retried_for_idempotent_requests() {
    let setup = start().await;
    let http = setup.http();
    // `flaky` has two replicas: one resets every connection, one answers.
    for i in 0..10 {
        let r = get(http, "/flaky", &[]).await;
        assert_eq!(r.status, 200, "GET {i}: {}", r.body);
    }
    let mut failed_posts = 0;
    for _ in 0..10 {
        let r =
            raw(http, "POST /flaky HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
                .await;
        assert!(matches!(r.status, 200 | 502), "{r:?}");
        failed_posts += usize::from(r.status == 502);
    }
    assert!(failed_posts > 0, "a POST is never sent twice, so the resetting replica costs some");
    setup.stop().await;
}

/// Seconds until the edge closes a connection that has been sent `sent`.
async fn seconds_until_closed(mut stream: TcpStream, sent: &[u8]) -> f64 {
    let start = Instant::now();
    stream.write_all(sent).await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut sink)).await;
    start.elapsed().as_secs_f64()
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_on_time() {
    // header: 1s, idle: 3s
    let setup = start_with(TLS, true).await;
    let http = setup.http();
    let silent = seconds_until_closed(TcpStream::connect(http).await.unwrap(), b"").await;
    assert!((0.9..2.5).contains(&silent), "a connection that never sends a byte: closed after {silent:.1}s");

    // Slowloris: a byte every 200 ms never completes its headers.
    let mut slow = TcpStream::connect(http).await.unwrap();
    let start = Instant::now();
    let mut closed_after = None;
    for b in
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter().cycle().take(100)
    {
        if slow.write_all(&[*b]).await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        let mut probe = [0u8; 64];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(200), slow.read(&mut probe)).await {
            closed_after = Some(start.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("a slowloris connection was never closed").as_secs_f64();
    assert!(closed_after < 3.0, "slowloris closed after {closed_after:.1}s");

    // Idle keep-alive lasts past the header timeout, and ends at the idle one.
    let mut keep = TcpStream::connect(http).await.unwrap();
    keep.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = keep.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 301"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    keep.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let n = keep.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 301"), "idle 2s (over the 1s header timeout) and still open");
    let idle = seconds_until_closed(keep, b"").await;
    assert!((2.5..5.0).contains(&idle), "idle keep-alive closed after {idle:.1}s, expected ~3s");

    // After a TLS handshake, silence is closed just the same.
    let https = setup.edge.https.unwrap();
    let tcp = TcpStream::connect(https).await.unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    let start = Instant::now();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut sink)).await;
    let after_tls = start.elapsed().as_secs_f64();
    assert!(after_tls < 2.5, "silent after the TLS handshake: closed after {after_tls:.1}s");
    // And a TLS connection that never finishes its handshake.
    let half = seconds_until_closed(TcpStream::connect(https).await.unwrap(), b"\x16\x03\x01").await;
    assert!(half < 2.5, "a stalled TLS handshake: closed after {half:.1}s");

    let metrics = admin_metrics(&setup).await;
    assert!(metrics.contains("berth_edge_connections_closed_total{reason=\"idle\"} 1"), "{metrics}");
    setup.stop().await;
}

#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// An HTTP/2 client sends each cookie as its own field; the HTTP/1.1
/// service behind the edge gets them as one `Cookie` (RFC 9113, 8.2.3), or
/// it would read only the first, and a session cookie after a tracking
/// cookie would be lost. HTTP/1.1 clients that send several are joined too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_cookies_reach_the_service_as_one_header() {
    let setup = start().await;
    let http1 = get(setup.http(), "/", &["Cookie: a=1", "Cookie: session=s3cr3t"]).await;
    assert_eq!(http1.header("x-seen-cookie"), Some("a=1; session=s3cr3t"), "HTTP/1.1: {http1:?}");
    setup.stop().await;
    let setup = start_with(TLS, true).await;
    let https = setup.edge.https.unwrap();
    let out = berth_test_support::command("curl")
        .args(["-sS", "-k", "--http2", "--max-time", "15", "-o", "/dev/null", "-D", "-"])
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", https.port())])
        .args(["-H", "cookie: a=1", "-H", "cookie: session=s3cr3t"])
        .arg(format!("https://localhost:{}/", https.port()))
        .output()
        .expect("curl is a test dependency (scripts/install-test-deps)");
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/2 "), "not HTTP/2: {head}");
    assert!(head.contains("x-seen-cookie: a=1; session=s3cr3t\r\n"), "HTTP/2: {head}");
    setup.stop().await;
}

/// curl over HTTP/2 with TLS: a body over the route's limit gets a clean
/// 413 (no stream error), streamed or declared, and quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_bodies_over_the_limit_get_413() {
    let setup = start_with(TLS, true).await;
    let https = setup.edge.https.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 2 << 20]).unwrap();
    let url = format!("https://localhost:{}/", https.port());
    let resolve = format!("localhost:{}:127.0.0.1", https.port());
    let run = |args: Vec<String>| {
        let start = Instant::now();
        let out = berth_test_support::command("curl")
            .args(["-sS", "-k", "--http2", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
            .args(["--resolve", &resolve])
            .args(args)
            .output()
            .expect("curl is a test dependency (scripts/install-test-deps)");
        (out, start.elapsed())
    };
    let (out, took) = run(vec!["--data-binary".into(), format!("@{}", big.display()), url.clone()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "declared: curl failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "413 2", "declared length");
    assert!(took < Duration::from_secs(5), "declared took {took:?}");
    // A streamed body without a length, fed through curl's stdin.
    let start = Instant::now();
    let mut child = berth_test_support::command("curl")
        .args(["-sS", "-k", "--http2", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .args(["--resolve", &resolve, "-X", "POST", "-T", "-", &url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write as _;
        for _ in 0..32 {
            if stdin.write_all(&[b'y'; 64 * 1024]).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "streamed: curl failed: {} ({stdout})", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "413 2", "streamed");
    assert!(start.elapsed() < Duration::from_secs(5), "streamed took {:?}", start.elapsed());
    setup.stop().await;
}
