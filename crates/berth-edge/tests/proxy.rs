//! The edge end to end on loopback: real TLS (a generated certificate the
//! client trusts), real demo services, real HTTP/1.1 and WebSocket clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle, tls};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

const SPEC: &str = r#"
version: 1
name: edge-test
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
    replicas: 2
    health:
      readiness: { http: /health/ready, interval: 1s, failure_threshold: 1 }
secrets:
  admin-key: {}
  jwt-key: {}
edge:
  hosts: [localhost]
  tls: { mode: self-signed }
  body_limit: 64Ki
  rate_limits:
    tight: { rate: 1/s, burst: 2 }
  routes:
    - { path: /, service: web }
    - { path: /limited, service: web, rate_limit: tight }
    - { path: /internal, service: web, allow: [10.0.0.0/8] }
    - { path: /api/admin, service: web, auth: { accept: [api-key], roles: [admin] } }
    - { path: /ws, service: web, websocket: true }
    - { path: /api/jwt, service: web, auth: { accept: [jwt], roles: [admin] } }
  auth:
    jwt: { algorithm: HS256, secret: jwt-key, issuer: berth-test, audience: edge-test }
    api_keys:
      - { name: ops, secret: admin-key, roles: [admin] }
      - { name: reader, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", roles: [read] }
      - { name: retired, sha256: "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4", roles: [admin], expires: "2020-01-01" }
"#;

const JWT_SECRET: &str = "an HS256 key for tests only";

/// An HS256 token with these claims, expiring `expires_in` seconds from now.
fn token(audience: &str, roles: &[&str], expires_in: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = serde_json::json!({ "sub": "alice", "iss": "berth-test", "aud": audience, "roles": roles, "exp": now + expires_in });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A demo replica in this process, reporting `version`.
async fn replica(version: &str) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Arc::new(berth_demo::App::new(version));
    (addr, tokio::spawn(berth_demo::serve(listener, app, std::future::pending())))
}

struct Setup {
    edge: EdgeHandle,
    cert: String,
    replicas: Vec<JoinHandle<()>>,
}

impl Setup {
    /// Drains the edge, then stops the in-process replicas.
    async fn stop(self) {
        self.edge.shutdown(Duration::from_secs(2)).await;
        for r in self.replicas {
            r.abort();
        }
    }
}

async fn start() -> Setup {
    let (a, task_a) = replica("a").await;
    let (b, task_b) = replica("b").await;
    let spec = berth_spec::load(SPEC, None).spec.unwrap();
    let plan = berth_plan::build(&spec, None);
    let pem = tls::self_signed(&["localhost".to_owned()]).unwrap();
    let cert = pem.cert.clone();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: Some(any),
        admin: Some(any),
        tls: Some(pem),
        replicas: &|_, _| vec![a, b],
        secret: &|name| match name {
            "admin-key" => Some("letmein".to_owned()),
            "jwt-key" => Some(JWT_SECRET.to_owned()),
            _ => None,
        },
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    let edge = Edge::start(config, None).await.unwrap();
    Setup { edge, cert, replicas: vec![task_a, task_b] }
}

async fn tls_stream(addr: SocketAddr, cert: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// One HTTPS request on a fresh connection, verified against the edge's certificate.
async fn https(setup: &Setup, path: &str, headers: &[(&str, &str)]) -> Reply {
    let (status, headers, body) = https_bytes(setup, path, headers).await;
    Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

async fn plain_http(addr: SocketAddr, path: &str) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    Reply { status: response.status(), headers: response.headers().clone(), body: String::new() }
}

#[tokio::test]
async fn edge_routes_balances_limits_and_guards() {
    let setup = start().await;

    // HTTP goes to HTTPS on the edge's HTTPS port.
    let redirect = plain_http(setup.edge.http, "/x?y=1").await;
    assert_eq!(redirect.status, StatusCode::MOVED_PERMANENTLY);
    let https_port = setup.edge.https.unwrap().port();
    assert_eq!(redirect.headers["location"], format!("https://localhost:{https_port}/x?y=1"));

    // Routing, security headers, and both replicas answering.
    let mut versions = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let r = https(&setup, "/", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.starts_with("berth-demo "));
        for h in ["strict-transport-security", "x-content-type-options", "x-frame-options", "referrer-policy"] {
            assert!(r.headers.contains_key(h), "missing security header {h}");
        }
        versions.insert(r.headers["x-version"].to_str().unwrap().to_owned());
    }
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), ["a", "b"], "load spreads over both replicas");

    // Rate limit: one plus a burst of two, then 429 with Retry-After.
    for _ in 0..3 {
        assert_ne!(https(&setup, "/limited", &[]).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let limited = https(&setup, "/limited", &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "1");
    assert!(limited.headers.contains_key("x-content-type-options"), "headers on edge answers too");

    // Allowlist: loopback is not in 10.0.0.0/8.
    assert_eq!(https(&setup, "/internal", &[]).await.status, StatusCode::FORBIDDEN);

    // Auth: no key 401, wrong role 403, expired 403, valid key reaches the service.
    assert_eq!(https(&setup, "/api/admin", &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(https(&setup, "/api/admin", &[("x-api-key", "abc")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(https(&setup, "/api/admin", &[("authorization", "Bearer old")]).await.status, StatusCode::FORBIDDEN);
    let allowed = https(&setup, "/api/admin", &[("authorization", "Bearer letmein")]).await;
    assert!(allowed.headers.contains_key("x-version"), "a valid key reaches the service (status {})", allowed.status);

    // JWT: valid with the role, expired, wrong audience, missing role, wrong signature.
    let bearer = |t: String| format!("Bearer {t}");
    let ok = https(&setup, "/api/jwt", &[("authorization", &bearer(token("edge-test", &["admin"], 300)))]).await;
    assert!(ok.headers.contains_key("x-version"), "a valid token reaches the service (status {})", ok.status);
    let expired = https(&setup, "/api/jwt", &[("authorization", &bearer(token("edge-test", &["admin"], -3600)))]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let other_audience =
        https(&setup, "/api/jwt", &[("authorization", &bearer(token("someone-else", &["admin"], 300)))]).await;
    assert_eq!(other_audience.status, StatusCode::UNAUTHORIZED);
    let no_role = https(&setup, "/api/jwt", &[("authorization", &bearer(token("edge-test", &["read"], 300)))]).await;
    assert_eq!(no_role.status, StatusCode::FORBIDDEN);
    let mut forged = token("edge-test", &["admin"], 300);
    forged.push('x');
    assert_eq!(https(&setup, "/api/jwt", &[("authorization", &bearer(forged))]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        https(&setup, "/api/jwt", &[("authorization", "Bearer letmein")]).await.status,
        StatusCode::UNAUTHORIZED,
        "API keys are not accepted on a JWT route"
    );

    // WebSocket through the edge, over TLS.
    let stream = tls_stream(setup.edge.https.unwrap(), &setup.cert).await;
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/ws", stream).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("echo me")).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "echo me");

    // The edge's own metrics count what happened.
    let admin = setup.edge.admin.unwrap();
    let tcp = TcpStream::connect(admin).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let metrics = sender
        .send_request(Request::get("/metrics").header("host", "localhost").body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&metrics.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert!(text.contains("berth_edge_rate_limited_total 1"), "{text}");
    assert!(text.contains("berth_edge_upstream_healthy{service=\"web\""), "{text}");

    setup.stop().await;
}

#[tokio::test]
async fn a_dead_replica_costs_no_idempotent_request() {
    let setup = start().await;
    // Kill replica b: its port now refuses connections.
    setup.replicas[1].abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..20 {
        let r = https(&setup, "/", &[]).await;
        assert_eq!(r.status, StatusCode::OK, "request {i} failed");
        assert_eq!(r.headers["x-version"], "a");
    }
    setup.edge.shutdown(Duration::from_secs(2)).await;
    setup.replicas[0].abort();
}

#[tokio::test]
async fn a_backend_swap_moves_traffic_at_once_and_a_canary_gets_its_share() {
    let setup = start().await;
    let (c, task_c) = replica("c").await;
    // Blue-green: only the new replica from now on; the old ones are handed back to drain.
    let retired = setup.edge.set_backends("web", 8080, &[c], &[], 0);
    assert_eq!(retired.len(), 2);
    for _ in 0..5 {
        assert_eq!(https(&setup, "/", &[]).await.headers["x-version"], "c");
    }
    // Canary: 50% to "d" while it is healthy.
    let (d, task_d) = replica("d").await;
    setup.edge.set_backends("web", 8080, &[c], &[d], 50);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let r = https(&setup, "/", &[]).await;
        *seen.entry(r.headers["x-version"].to_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(seen.get("d"), Some(&10), "{seen:?}");
    setup.edge.shutdown(Duration::from_secs(2)).await;
    for t in setup.replicas.into_iter().chain([task_c, task_d]) {
        t.abort();
    }
}

#[tokio::test]
async fn websockets_get_going_away_when_their_backend_retires_or_the_edge_stops() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let setup = start().await;
    let connect = || async {
        let stream = tls_stream(setup.edge.https.unwrap(), &setup.cert).await;
        let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/ws", stream).await.unwrap();
        ws.send(Message::text("before")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap().into_text().unwrap().as_str(), "before");
        ws
    };
    let close_code = |msg: Option<Result<Message, _>>| match msg {
        Some(Ok(Message::Close(Some(frame)))) => Some(frame.code),
        other => panic!("expected a Close frame, got {other:?}"),
    };
    // A deploy retires both replicas and, after its drain, closes their tunnels.
    let mut ws = connect().await;
    let (c, task_c) = replica("c").await;
    let retired = setup.edge.set_backends("web", 8080, &[c], &[], 0);
    for b in &retired {
        b.close_tunnels();
    }
    let msg = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap();
    assert_eq!(close_code(msg), Some(CloseCode::Away));
    // The edge stopping does the same.
    let mut ws = connect().await;
    let edge = setup.edge;
    let stopping = tokio::spawn(edge.shutdown(Duration::from_secs(2)));
    let msg = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.unwrap();
    assert_eq!(close_code(msg), Some(CloseCode::Away));
    let _ = stopping.await;
    for t in setup.replicas.into_iter().chain([task_c]) {
        t.abort();
    }
}

/// Sends `chunks` as a chunked (length-less) POST body.
async fn post_chunked(setup: &Setup, path: &str, chunks: Vec<Vec<u8>>) -> Reply {
    let stream = tls_stream(setup.edge.https.unwrap(), &setup.cert).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let frames =
        chunks.into_iter().map(|c| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(c))));
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let req = Request::post(path).header("host", "localhost").body(body).unwrap();
    let response = sender.send_request(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Reply { status, headers, body }
}

async fn https_bytes(setup: &Setup, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
    let stream = tls_stream(setup.edge.https.unwrap(), &setup.cert).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::get(path).header("host", "localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = sender.send_request(req.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn text_is_gzipped_for_clients_that_take_it() {
    let setup = start().await;
    let (_, plain_headers, plain) = https_bytes(&setup, "/api/lorem?kb=64", &[]).await;
    assert!(!plain_headers.contains_key("content-encoding"));
    assert_eq!(plain.len(), 64 * 1024);

    let (_, headers, compressed) = https_bytes(&setup, "/api/lorem?kb=64", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(headers.get_all("vary").iter().any(|v| v == "Accept-Encoding"));
    assert!(!headers.contains_key("content-length"));
    assert!(compressed.len() < plain.len() / 10, "64 KiB of text compresses well: {} bytes", compressed.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain, "the decompressed body is the service's body");

    let (_, small, _) = https_bytes(&setup, "/api/hello", &[("accept-encoding", "gzip")]).await;
    assert!(!small.contains_key("content-encoding"), "a short answer is not worth compressing");
    let (_, refused, _) = https_bytes(&setup, "/api/lorem", &[("accept-encoding", "gzip;q=0")]).await;
    assert!(!refused.contains_key("content-encoding"));
    setup.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_even_without_a_length() {
    let setup = start().await;
    let within = post_chunked(&setup, "/api/echo", vec![vec![b'a'; 16 * 1024]; 2]).await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.body);
    assert!(within.body.contains("\"body_bytes\":32768"), "{}", within.body);
    let streamed = post_chunked(&setup, "/api/echo", vec![vec![b'a'; 16 * 1024]; 8]).await;
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE, "128 KiB streamed past a 64 KiB limit");
    setup.stop().await;
}

async fn admin_get(addr: SocketAddr, path: &str) -> (StatusCode, HeaderMap, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

#[tokio::test]
async fn the_status_page_shows_replicas_versions_and_rates() {
    let setup = start().await;
    for _ in 0..6 {
        assert_eq!(https(&setup, "/", &[]).await.status, StatusCode::OK);
    }
    // Versions come from the health checks' X-Version; give one round time.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let admin = setup.edge.admin.unwrap();
    let (status, headers, page) = admin_get(admin, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(page.contains("<h1>edge-test</h1>"), "{page}");
    assert!(page.contains("2/2 healthy"), "{page}");
    assert!(page.contains("<td>a</td>") && page.contains("<td>b</td>"), "versions of both replicas: {page}");

    let (_, _, json) = admin_get(admin, "/status.json").await;
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let replicas = status["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2);
    let served: u64 = replicas.iter().map(|r| r["requests"].as_u64().unwrap()).sum();
    assert_eq!(served, 6);
    let root = status["routes"].as_array().unwrap().iter().find(|r| r["path"] == "/").unwrap();
    assert!(root["requests_per_second"].as_f64().unwrap() > 0.0, "{root}");

    let (_, _, metrics) = admin_get(admin, "/metrics").await;
    assert!(metrics.contains("berth_edge_route_requests_total{route=\"/\",service=\"web\"} 6"), "{metrics}");
    setup.stop().await;
}

/// Loads the status page in headless Chromium (with every name but the
/// loopback admin address unresolvable, so an external asset could not
/// load) and checks what a person would see: the DOM and a screenshot.
#[tokio::test]
async fn the_status_page_renders_in_a_real_browser() {
    let setup = start().await;
    for _ in 0..4 {
        https(&setup, "/", &[]).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let url = format!("http://{}/", setup.edge.admin.unwrap());
    let tmp = berth_test_support::temp_dir();
    let dir = tmp.path().to_owned();
    let shot = dir.join("status.png");
    let browser = berth_test_support::tool("chromium-headless-shell");
    let profile = format!("--user-data-dir={}", dir.join("profile").display());
    // The browser runs off the runtime's threads, so the edge keeps serving it.
    let browse = |last: Vec<String>| {
        let (browser, dir, profile) = (browser.clone(), dir.clone(), profile.clone());
        tokio::task::spawn_blocking(move || {
            let flags = [
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--force-color-profile=srgb",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1000,700",
                profile.as_str(),
            ];
            let args: Vec<&str> = flags.iter().copied().chain(last.iter().map(String::as_str)).collect();
            let r = berth_test_support::run(&browser, &args, &dir);
            assert!(r.success, "chromium failed: {}", r.stderr);
            r.stdout
        })
    };
    let dom = browse(vec!["--dump-dom".into(), url.clone()]).await.unwrap();
    assert!(dom.contains("2/2 healthy"), "{dom}");
    assert!(dom.contains("<td>a</td>") && dom.contains("<td>b</td>"), "{dom}");
    browse(vec![format!("--screenshot={}", shot.display()), url]).await.unwrap();

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1000, 700));
    let channels = frame.color_type.samples();
    let rgb: Vec<&[u8]> = pixels[..frame.buffer_size()].chunks(channels).map(|p| &p[..3]).collect();
    // The page's "healthy" green (#1a7f37), the text, and a mostly light background.
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 24);
    let green = rgb.iter().filter(|p| near(p, [0x1a, 0x7f, 0x37])).count();
    let dark = rgb.iter().filter(|p| p.iter().all(|c| *c < 90)).count();
    let light = rgb.iter().filter(|p| p.iter().all(|c| *c > 230)).count();
    assert!(green > 50, "the health dots and words are drawn in green ({green} px)");
    assert!(dark > 2_000, "text is drawn ({dark} px)");
    assert!(light > rgb.len() / 2, "a light page, not an error screen ({light} of {} px)", rgb.len());
    setup.stop().await;
}

const STICKY_SPEC: &str = r#"
version: 1
name: sticky-test
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
    replicas: 2
    sticky: client-ip
edge:
  trusted_proxies: [127.0.0.1/32]
  routes:
    - { path: /, service: web }
"#;

/// A sticky service through the real proxy: each client address (as the
/// trusted proxy in front says) gets one replica on every request, new
/// connections included, and the clients spread over both replicas.
#[tokio::test]
async fn a_sticky_service_keeps_each_client_on_one_replica() {
    let (a, task_a) = replica("a").await;
    let (b, task_b) = replica("b").await;
    let spec = berth_spec::load(STICKY_SPEC, None).spec.unwrap();
    let plan = berth_plan::build(&spec, None);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: None,
        admin: None,
        tls: None,
        replicas: &|_, _| vec![a, b],
        secret: &|_| None,
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    let edge = Edge::start(config, None).await.unwrap();
    let addr = edge.http;
    let version_for = |client: String| async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        let request = Request::get("/").header("host", "localhost").header("x-forwarded-for", client);
        let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
        response.headers()["x-version"].to_str().unwrap().to_owned()
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..24 {
        let client = format!("198.51.100.{i}");
        let first = version_for(client.clone()).await;
        for _ in 0..4 {
            assert_eq!(version_for(client.clone()).await, first, "client {client} moved");
        }
        seen.insert(first);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"], "24 clients spread over both replicas");
    edge.shutdown(Duration::from_secs(1)).await;
    task_a.abort();
    task_b.abort();
}
