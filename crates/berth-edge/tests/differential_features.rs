//! The spec's route features through berth's edge and through the nginx
//! berth renders from the same spec, both in front of the same berth-demo
//! on loopback: one request sequence goes to both, and the status codes
//! and security headers must agree. Covers allowlists, a rate limit,
//! security headers, edge and route body limits, host-specific routes and
//! unknown hosts, a route timeout, and WebSocket upgrades (on a WebSocket
//! route, and refused elsewhere). `tests/differential.rs` does the same for
//! path tricks and forwarded headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig};
use common::nginx::Nginx;
use common::{Raw, raw};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SPEC: &str = r#"
version: 1
name: features
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
edge:
  hosts: [localhost, api.localhost]
  headers: { content_security_policy: "default-src 'none'", frame_options: SAMEORIGIN }
  body_limit: 4Ki
  rate_limits:
    tight: { rate: 1/m, burst: 1 }
  routes:
    - { path: /api/hello, service: web, rate_limit: tight }
    - { path: /api/echo, service: web, body_limit: 1Ki }
    - { path: /api/slow, service: web, timeout: 1s }
    - { path: /metrics, service: web, allow: [10.0.0.0/8] }
    - { path: /version, service: web, host: api.localhost, allow: [10.0.0.0/8] }
    - { path: /ws, service: web, websocket: true }
    - { path: /, service: web }
"#;

/// The security headers both must send, with the same values.
const SECURITY_HEADERS: &[&str] =
    &["x-frame-options", "x-content-type-options", "referrer-policy", "content-security-policy"];

fn get(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

fn post(path: &str, body_len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {body_len}\r\n\r\n{}",
        "x".repeat(body_len)
    )
}

fn upgrade(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// The response head only: an upgraded connection stays open.
async fn head_only(addr: SocketAddr, request: &str) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !out.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Raw { status, head, body: String::new() }
}

struct Case {
    name: &'static str,
    request: String,
    /// What both must answer.
    status: u16,
    upgrade: bool,
}

fn cases() -> Vec<Case> {
    let case = |name, request, status| Case { name, request, status, upgrade: false };
    vec![
        case("catch-all", get("localhost", "/"), 200),
        case("allowlist refuses", get("localhost", "/metrics"), 403),
        case("host-specific route on its host", get("api.localhost", "/version"), 403),
        case("host-specific route elsewhere is the catch-all", get("localhost", "/version"), 200),
        case("unknown host", get("evil.example", "/"), 421),
        case("route body limit", post("/api/echo", 2048), 413),
        case("under the route body limit", post("/api/echo", 512), 200),
        case("edge body limit", post("/", 8192), 413),
        case("route timeout", get("localhost", "/api/slow?ms=2500"), 504),
        case("within the timeout", get("localhost", "/api/slow?ms=10"), 200),
        case("rate: the first request", get("localhost", "/api/hello"), 200),
        case("rate: the burst", get("localhost", "/api/hello"), 200),
        case("rate: over the limit", get("localhost", "/api/hello"), 429),
        Case { name: "WebSocket route upgrades", request: upgrade("/ws"), status: 101, upgrade: true },
        // The Upgrade is dropped off WebSocket routes: the demo answers plainly.
        Case { name: "no upgrade elsewhere", request: upgrade("/"), status: 200, upgrade: true },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_rendered_nginx_agree_on_every_route_feature() {
    let (demo, server) = common::demo().await;
    let plan = common::plan(SPEC);
    let inputs = Inputs {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: None,
        admin: None,
        tls: None,
        replicas: &|_, _| vec![demo],
        secret: &|_| None,
        file: &|_| None,
    };
    let edge =
        Edge::start(EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap(), None).await.unwrap();
    let rendered = berth_render::render(&plan, SPEC, &[berth_render::Target::Nginx]);
    for d in &rendered.diagnostics {
        assert!(d.severity == berth_diagnostics::Severity::Info, "nginx left out a feature: {}", d.message);
    }
    let conf = &rendered.files.iter().find(|f| f.path == "nginx/nginx.conf").unwrap().contents;
    let nginx = Nginx::start(conf, &|_| demo).await;

    let mut failures = Vec::new();
    for case in cases() {
        let (b, n) = if case.upgrade {
            (head_only(edge.http, &case.request).await, head_only(nginx.addr, &case.request).await)
        } else {
            (raw(edge.http, &case.request).await, raw(nginx.addr, &case.request).await)
        };
        if b.status != case.status || n.status != case.status {
            failures.push(format!("{}: berth {} nginx {} (want {})", case.name, b.status, n.status, case.status));
        }
        for header in SECURITY_HEADERS {
            if b.header(header) != n.header(header) {
                failures.push(format!(
                    "{}: {header}: berth {:?} nginx {:?}",
                    case.name,
                    b.header(header),
                    n.header(header)
                ));
            }
        }
        if case.status == 200 && b.header("content-security-policy") != Some("default-src 'none'") {
            failures.push(format!("{}: the spec's CSP is missing: {}", case.name, b.head));
        }
    }
    edge.shutdown(Duration::from_secs(1)).await;
    server.abort();
    assert!(
        failures.is_empty(),
        "berth's edge and its nginx disagree:\n{}\nnginx logs:\n{}",
        failures.join("\n"),
        nginx.logs()
    );
}

/// The fail2ban jail the systemd target renders for the host
/// (`targets.systemd.host`) matches exactly the refusals (403, 429) the
/// rendered nginx wrote to its access log, in its own format: checked by
/// `fail2ban-regex` on the real log, and the jail with its filter passes
/// `fail2ban-client -t` in a copy of the machine's fail2ban configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fail2ban_jail_matches_what_nginx_logs_as_refusals() {
    let (demo, server) = common::demo().await;
    let spec = format!("{SPEC}targets:\n  systemd:\n    host: {{ ban_after: 5 }}\n");
    let plan = common::plan(&spec);
    let rendered = berth_render::render(&plan, &spec, &[berth_render::Target::Nginx, berth_render::Target::Systemd]);
    let file = |path: &str| {
        rendered.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path}")).contents.clone()
    };
    let nginx = Nginx::start(&file("nginx/nginx.conf"), &|_| demo).await;
    let mut refused = 0;
    for (host, path) in
        [("localhost", "/metrics"), ("localhost", "/api/hello"), ("localhost", "/")].iter().cycle().take(12)
    {
        let r = raw(nginx.addr, &get(host, &format!("{path}?q=%22x%22"))).await;
        refused += usize::from(matches!(r.status, 401 | 403 | 429));
    }
    assert!(refused >= 6, "the requests were meant to be refused: {refused}");
    let dir = berth_test_support::temp_dir();
    let filter = dir.path().join("filter.conf");
    std::fs::write(&filter, file("systemd/host/fail2ban/filter.d/features-edge.conf")).unwrap();
    let log = std::fs::read_to_string(nginx.access_log()).unwrap();
    assert_eq!(log.lines().count(), 12, "{log}");
    let out = berth_test_support::run(
        &berth_test_support::tool("fail2ban-regex"),
        &[&nginx.access_log().to_string_lossy(), &filter.to_string_lossy()],
        dir.path(),
    );
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    let matched = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Lines: ").and_then(|l| l.split(", ").find_map(|p| p.strip_suffix(" matched"))))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert_eq!(matched, Some(refused), "fail2ban-regex:\n{}\nlog:\n{log}", out.stdout);

    // The jail and filter in a copy of the machine's configuration, with
    // the distribution's own jails (sshd, whose log a test machine lacks) off.
    let etc = dir.path().join("fail2ban");
    let copied = berth_test_support::run(
        &berth_test_support::tool("cp"),
        &["-a", "/etc/fail2ban", &etc.to_string_lossy()],
        dir.path(),
    );
    assert!(copied.success, "{}", copied.stderr);
    let _ = std::fs::remove_file(etc.join("jail.d/defaults-debian.conf"));
    std::fs::write(etc.join("filter.d/features-edge.conf"), file("systemd/host/fail2ban/filter.d/features-edge.conf"))
        .unwrap();
    let jail = file("systemd/host/fail2ban/jail.d/features-edge.conf")
        .replace(berth_render::EDGE_ACCESS_LOG, &nginx.access_log().to_string_lossy());
    std::fs::write(etc.join("jail.d/features-edge.conf"), jail).unwrap();
    let test = berth_test_support::run(
        &berth_test_support::tool("fail2ban-client"),
        &["-c", &etc.to_string_lossy(), "-t"],
        dir.path(),
    );
    assert!(test.success, "fail2ban-client -t:\n{}{}", test.stdout, test.stderr);
    drop(nginx);
    server.abort();
}

/// The demo app as one replica answering `x-version: <version>`.
async fn demo_replica(version: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = std::sync::Arc::new(berth_demo::App::new(version));
    (addr, tokio::spawn(berth_demo::serve(listener, app, std::future::pending())))
}

/// berth's edge for `plan` in front of replicas `a` and `b`.
async fn edge_in_front(plan: &berth_plan::Plan, a: SocketAddr, b: SocketAddr) -> berth_edge::EdgeHandle {
    let inputs = Inputs {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: None,
        admin: None,
        tls: None,
        replicas: &|_, _| vec![a, b],
        secret: &|_| None,
        file: &|_| None,
    };
    Edge::start(EdgeConfig::from_plan(plan, plan.edge.as_ref().unwrap(), &inputs).unwrap(), None).await.unwrap()
}

const STICKY: &str = r#"
version: 1
name: sticky
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

/// A sticky service through berth's edge and through the nginx rendered
/// from the same spec, each in front of two replicas: every client address
/// (as the trusted proxy says) stays on one replica for all its requests,
/// and the clients spread over both. The two need not pick the same
/// replica for a client, only keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_rendered_nginx_both_keep_a_sticky_client_on_one_replica() {
    let ((a, task_a), (b, task_b)) = (demo_replica("a").await, demo_replica("b").await);
    let plan = common::plan(STICKY);
    let edge = edge_in_front(&plan, a, b).await;
    let rendered = berth_render::render(&plan, STICKY, &[berth_render::Target::Nginx]);
    let conf = &rendered.files.iter().find(|f| f.path == "nginx/nginx.conf").unwrap().contents;
    assert!(conf.contains("hash $remote_addr consistent;"), "{conf}");
    let nginx = Nginx::start_replicas(conf, None, &|_, n| if n == 0 { a } else { b }).await;
    for (who, addr) in [("berth", edge.http), ("nginx", nginx.addr)] {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..24 {
            let request = format!(
                "GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.{i}\r\nConnection: close\r\n\r\n"
            );
            let versions: std::collections::BTreeSet<String> =
                futures_util::future::join_all((0..5).map(|_| raw(addr, &request)))
                    .await
                    .iter()
                    .map(|r| r.header("x-version").unwrap_or("none").to_owned())
                    .collect();
            assert_eq!(versions.len(), 1, "{who}: client 198.51.100.{i} saw {versions:?}\n{}", nginx.logs());
            seen.extend(versions);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"], "{who}: clients spread over both replicas");
    }
    edge.shutdown(Duration::from_secs(1)).await;
    task_a.abort();
    task_b.abort();
}

const STICKY_COOKIE: &str = r#"
version: 1
name: sticky
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
    replicas: 2
    sticky: cookie
edge:
  routes:
    - { path: /, service: web }
"#;

/// `sticky: cookie` through berth's edge and the nginx rendered from the
/// same spec, in front of two replicas, every client on one address (an
/// office behind NAT): a new client gets a random `berth_affinity` cookie
/// and stays on one replica while it sends it back; clients spread over
/// both replicas; a cookie berth could not have set (too long, other
/// characters) is replaced, never echoed; a valid one is not set again;
/// and the route keeps the security headers (nginx drops inherited
/// `add_header`s in a location with its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_rendered_nginx_both_keep_a_cookie_client_on_one_replica() {
    let ((a, task_a), (b, task_b)) = (demo_replica("a").await, demo_replica("b").await);
    let plan = common::plan(STICKY_COOKIE);
    let edge = edge_in_front(&plan, a, b).await;
    let rendered = berth_render::render(&plan, STICKY_COOKIE, &[berth_render::Target::Nginx]);
    let conf = &rendered.files.iter().find(|f| f.path == "nginx/nginx.conf").unwrap().contents;
    assert!(conf.contains("hash $berth_affinity_key consistent;"), "{conf}");
    let nginx = Nginx::start_replicas(conf, None, &|_, n| if n == 0 { a } else { b }).await;
    let get = |cookie: Option<String>| {
        let cookie = cookie.map_or_else(String::new, |c| format!("Cookie: theme=dark; {c}\r\n"));
        format!("GET / HTTP/1.1\r\nHost: localhost\r\n{cookie}Connection: close\r\n\r\n")
    };
    let issued = |r: &Raw, who: &str| -> String {
        let set = r.header("set-cookie").unwrap_or_else(|| panic!("{who}: no cookie set\n{}", r.head));
        let value = set.strip_prefix("berth_affinity=").and_then(|s| s.split(';').next()).unwrap_or_default();
        assert_eq!(
            set,
            format!("berth_affinity={value}; Path=/; HttpOnly; SameSite=Lax"),
            "{who}: the cookie's attributes"
        );
        assert!(value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()), "{who}: {value}");
        value.to_owned()
    };
    for (who, addr) in [("berth", edge.http), ("nginx", nginx.addr)] {
        let mut seen = std::collections::BTreeSet::new();
        let mut values = std::collections::BTreeSet::new();
        for _ in 0..24 {
            let first = raw(addr, &get(None)).await;
            assert_eq!(first.status, 200, "{who}: {}", first.head);
            assert!(first.header("x-content-type-options").is_some(), "{who}: security headers dropped");
            let value = issued(&first, who);
            values.insert(value.clone());
            let with_cookie = get(Some(format!("berth_affinity={value}")));
            let again: Vec<Raw> = futures_util::future::join_all((0..4).map(|_| raw(addr, &with_cookie))).await;
            let versions: std::collections::BTreeSet<&str> =
                again.iter().map(|r| r.header("x-version").unwrap_or("none")).collect();
            assert_eq!(versions.len(), 1, "{who}: cookie {value} saw {versions:?}\n{}", nginx.logs());
            assert!(again.iter().all(|r| r.header("set-cookie").is_none()), "{who}: a valid cookie was set again");
            seen.extend(versions.into_iter().map(str::to_owned));
        }
        assert_eq!(values.len(), 24, "{who}: every new client gets its own cookie");
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"], "{who}: clients spread over both replicas");
        for forged in ["<script>alert(1)</script>", "a b", &"x".repeat(65), ""] {
            let r = raw(addr, &get(Some(format!("berth_affinity={forged}")))).await;
            let value = issued(&r, who);
            assert!(!r.head.contains("script"), "{who}: the forged cookie was echoed");
            assert_ne!(value, forged, "{who}");
        }
    }
    edge.shutdown(Duration::from_secs(1)).await;
    task_a.abort();
    task_b.abort();
}

const SPLIT: &str = r#"
version: 1
name: split
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
  web-next:
    run: { command: ["unused"] }
    ports: { http: 8081 }
edge:
  routes:
    - { path: /, service: web, split: [{ service: web-next, weight: 25 }] }
"#;

/// A route split 75/25 between two services, through berth's edge and the
/// nginx rendered from the same spec, each service one replica: both send
/// exactly a quarter of 200 requests to the split's service (each hundred
/// carries its share), and every request is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_rendered_nginx_split_a_route_by_weight() {
    let ((a, task_a), (b, task_b)) = (demo_replica("web").await, demo_replica("next").await);
    let plan = common::plan(SPLIT);
    let by_service = |service: &str| if service == "web-next" { b } else { a };
    let inputs = Inputs {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: None,
        admin: None,
        tls: None,
        replicas: &|service, _| vec![by_service(service)],
        secret: &|_| None,
        file: &|_| None,
    };
    let edge =
        Edge::start(EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap(), None).await.unwrap();
    let rendered = berth_render::render(&plan, SPLIT, &[berth_render::Target::Nginx]);
    let conf = &rendered.files.iter().find(|f| f.path == "nginx/nginx.conf").unwrap().contents;
    assert!(conf.contains("weight=3 ") && conf.contains("weight=1 "), "{conf}");
    // The split's upstream lists web's replica, then web-next's.
    let nginx = Nginx::start_replicas(conf, None, &|_, n| if n == 0 { a } else { b }).await;
    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for (who, addr) in [("berth", edge.http), ("nginx", nginx.addr)] {
        let mut next = 0;
        for i in 0..200 {
            let r = raw(addr, request).await;
            assert_eq!(r.status, 200, "{who}: request {i}: {}\n{}", r.head, nginx.logs());
            next += usize::from(r.header("x-version") == Some("next"));
        }
        assert_eq!(next, 50, "{who}: a quarter of 200 requests to web-next");
    }
    edge.shutdown(Duration::from_secs(1)).await;
    task_a.abort();
    task_b.abort();
}

/// A deploy swaps one service's backends: on a split route only that
/// service's share changes (the other keeps its backends), and a fallback
/// service is swapped by its routed port only (a deploy calls once per
/// port; its metrics port must not become the fallback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_changes_one_share_and_the_fallback_by_its_port() {
    const SPEC: &str = r#"
version: 1
name: swap
services:
  web: { run: { command: ["unused"] }, ports: { http: 8080 } }
  next: { run: { command: ["unused"] }, ports: { http: 8081 } }
  page: { run: { command: ["unused"] }, ports: { http: 8090, metrics: 9100 } }
edge:
  routes:
    - { path: /, service: web, split: [{ service: next, weight: 50 }], fallback: page }
"#;
    let plan = common::plan(SPEC);
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let inputs = Inputs {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: None,
        admin: None,
        tls: None,
        replicas: &|service, port| match (service, port) {
            ("web", _) => vec![at(1)],
            ("next", _) => vec![at(2)],
            ("page", "http") => vec![at(3)],
            _ => vec![at(4)],
        },
        secret: &|_| None,
        file: &|_| None,
    };
    let edge =
        Edge::start(EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap(), None).await.unwrap();
    let addrs = |set: &[std::sync::Arc<berth_edge::upstream::Backend>]| set.iter().map(|b| b.addr).collect::<Vec<_>>();
    let retired = edge.set_backends("next", 8081, &[at(5)], &[], 0);
    assert_eq!(retired.iter().map(|b| b.addr).collect::<Vec<_>>(), [at(2)]);
    let pool = edge.state.pool(0);
    assert_eq!((addrs(&pool.shares[0].primaries), addrs(&pool.shares[1].primaries)), (vec![at(1)], vec![at(5)]));
    assert_eq!(pool.shares[1].weight, 50);
    edge.set_backends("page", 9100, &[at(6)], &[], 0);
    assert_eq!(addrs(&edge.state.pool(0).fallbacks), [at(3)], "the metrics port is not the fallback");
    edge.set_backends("page", 8090, &[at(7)], &[], 0);
    assert_eq!(addrs(&edge.state.pool(0).fallbacks), [at(7)]);
    edge.shutdown(Duration::from_secs(1)).await;
}
