//! The berth edge alone in front of one upstream, for `bench/edge-vs-nginx.sh`.
//!
//! usage: edge_bench LISTEN_PORT UPSTREAM_ADDR MODE
//! MODE: `plain` (keepalive to the upstream), `features` (plus a rate limit
//! high enough never to reject, security headers and the access log), `tls`
//! (features over TLS 1.3, certificate written to ./edge-cert.pem), `up`
//! (features with what `berth up` adds: eight routes matched by longest
//! prefix, an active health check of the backend every second, the admin
//! listener with its status counters on ADMIN_PORT = LISTEN_PORT + 100),
//! `ws` (plain, WebSocket upgrades allowed; see `ws_bench`).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, reason = "a benchmark harness")]

use std::net::SocketAddr;
use std::time::Duration;

use berth_edge::{Edge, EdgeConfig, RouteConfig, tls};
use hyper::header::{HeaderName, HeaderValue};

// The allocator the `berth` binary runs the edge with.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("listen port");
    let upstream: SocketAddr = args[2].parse().expect("upstream address");
    let mode = args[3].as_str();
    // `ws`: the plain route with WebSocket upgrades allowed, in front of
    // `ws_bench echo`.
    let features = mode != "plain" && mode != "ws";
    let up = mode == "up";
    let health = up.then(|| berth_edge::health::Check {
        probe: berth_edge::health::Probe::Http("/health".into()),
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        failure_threshold: 3,
        success_threshold: 1,
    });
    let route = RouteConfig {
        websocket: mode == "ws",
        timeout: Duration::from_secs(30),
        rate_limit: features.then_some(0),
        ..RouteConfig::single("/", "upstream", upstream.port(), vec![upstream], health)
    };
    // `berth up`'s routes: the catch-all last, seven prefixes before it
    // that the benchmark's `/` must be matched past.
    let mut routes: Vec<RouteConfig> = Vec::new();
    if up {
        for path in ["/api", "/api/v1/auth", "/api/v1/admin", "/static", "/live", "/metrics", "/v1/imports"] {
            routes.push(RouteConfig { path: path.into(), ..route.clone() });
        }
    }
    routes.push(route);
    let headers = if features {
        vec![
            (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
            (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
            (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("strict-origin-when-cross-origin")),
        ]
    } else {
        vec![]
    };
    let pem = (mode == "tls").then(|| {
        let pem = tls::self_signed(&["localhost".to_owned()]).unwrap();
        std::fs::write("edge-cert.pem", &pem.cert).unwrap();
        pem
    });
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let config = EdgeConfig {
        name: "bench".into(),
        http: if pem.is_some() { SocketAddr::from(([127, 0, 0, 1], 0)) } else { listen },
        https: pem.is_some().then_some(listen),
        admin: up.then(|| SocketAddr::from(([127, 0, 0, 1], port + 100))),
        redirect_https: false,
        tls_offloaded: false,
        tls: pem.map(|p| (p, true)),
        headers,
        routes,
        rate_limits: vec![berth_edge::config::RateZone {
            name: "bench".into(),
            per_second: 10_000_000.0,
            burst: 10_000_000,
            by: berth_spec::RateKey::ClientIp,
        }],
        hosts: vec![],
        trusted_proxies: vec![],
        api_keys: vec![],
        jwt: None,
        header_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(75),
        gzip: features,
        tracing: None,
    };
    // One thread, like the one nginx worker it is compared with.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let log = features.then(|| std::path::PathBuf::from("edge-access.log"));
        let edge = Edge::start(config, log).await.unwrap();
        println!("edge listening on {listen} ({mode})");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        edge.shutdown(Duration::from_secs(1)).await;
    });
}
