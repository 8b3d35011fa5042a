//! The edge's OpenTelemetry traces, received by a collector berth did not
//! write (`otlp/collector.py`: gRPC's reference server and the OpenTelemetry
//! project's protobuf definitions), over both OTLP transports; and the W3C
//! `traceparent` a service receives, read back from a real service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// The Python collector: its ports and where it writes spans.
struct Collector {
    child: Child,
    grpc: u16,
    http: u16,
    out: std::path::PathBuf,
    _dir: berth_test_support::TempDir,
}

impl Collector {
    fn start() -> Self {
        let dir = berth_test_support::temp_dir();
        let out = dir.path().join("spans.jsonl");
        let script = berth_test_support::workspace_root().join("crates/berth-edge/tests/otlp/collector.py");
        let mut child = berth_test_support::command(&berth_test_support::tool("python3").display().to_string())
            .arg(&script)
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ports: Vec<u16> = line.split_whitespace().map(|p| p.parse().unwrap()).collect();
        assert_eq!(ports.len(), 2, "the collector did not start: {line:?}");
        Self { child, grpc: ports[0], http: ports[1], out, _dir: dir }
    }

    /// Spans received so far.
    fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `n` spans have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() > deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service that answers with the trace headers it received.
async fn echo_service() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let seen = |name: &str| {
                        req.headers()
                            .get_all(name)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("?"))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    };
                    let response = Response::builder()
                        .status(if req.uri().path().ends_with("/fail") { 503 } else { 200 })
                        .header("x-seen-traceparent", seen("traceparent"))
                        .header("x-seen-tracestate", seen("tracestate"))
                        .body(Full::new(Bytes::from_static(b"ok")))
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, task)
}

/// An edge in front of `service`; with `trusted`, loopback is a trusted
/// proxy whose sampling decisions the edge keeps.
async fn edge(endpoint: &str, protocol: &str, sample: u32, service: SocketAddr, trusted: bool) -> EdgeHandle {
    let proxies = if trusted { "  trusted_proxies: [127.0.0.1/32]\n" } else { "" };
    let text = format!(
        "version: 1\nname: traced\nservices:\n  web:\n    run: {{ command: [\"unused\"] }}\n    ports: {{ http: 8080 }}\n\
         edge:\n{proxies}  routes:\n    - {{ path: /api, service: web }}\n\
         monitoring:\n  tracing: {{ endpoint: \"{endpoint}\", protocol: {protocol}, sample: {sample}% }}\n"
    );
    let plan = common::plan(&text);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: None,
        admin: Some(any),
        tls: None,
        replicas: &|_, _| vec![service],
        secret: &|_| None,
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    Edge::start(config, None).await.unwrap()
}

/// GET through the edge with extra headers: (status, traceparent and
/// tracestate the service saw).
async fn get(edge: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let raw = common::raw(edge, &request).await;
    let header = |name: &str| raw.header(name).unwrap_or_default().to_owned();
    (raw.status, header("x-seen-traceparent"), header("x-seen-tracestate"))
}

/// (trace id, span id, flags) of a `traceparent`.
fn parts(traceparent: &str) -> (String, String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "{traceparent}");
    assert_eq!(p[0], "00");
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn spans_reach_a_real_collector_over_grpc_and_http_and_services_get_the_edges_span_as_parent() {
    let collector = Collector::start();
    let (service, task) = echo_service().await;
    for (protocol, port, transport) in [("grpc", collector.grpc, "grpc"), ("http/protobuf", collector.http, "http")] {
        let before = collector.spans().len();
        let edge = edge(&format!("http://127.0.0.1:{port}"), protocol, 100, service, true).await;
        // A new trace: the edge starts it, sampled at 100%.
        let (status, fresh, _) = get(edge.http, "/api/x", &[]).await;
        assert_eq!(status, 200);
        let (fresh_trace, fresh_span, flags) = parts(&fresh);
        assert_eq!(flags, "01");
        // The client's trace is continued, its tracestate passed on.
        let incoming = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
        let (_, continued, state) =
            get(edge.http, "/api/y", &[("traceparent", &incoming), ("tracestate", "vendor=1")]).await;
        let (trace, continued_span, _) = parts(&continued);
        assert_eq!(trace, CLIENT_TRACE);
        assert_ne!(continued_span, CLIENT_SPAN, "the service's parent is the edge's span");
        assert_eq!(state, "vendor=1");
        // The (trusted) caller decided not to sample: passed on, no span.
        let unsampled = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00");
        let (_, passed, _) = get(edge.http, "/api/z", &[("traceparent", &unsampled)]).await;
        assert!(passed.ends_with("-00"), "{passed}");
        // A forged traceparent is replaced and its tracestate dropped.
        let (_, replaced, state) =
            get(edge.http, "/api/w", &[("traceparent", "00-zz-yy-01"), ("tracestate", "forged=1")]).await;
        assert_ne!(parts(&replaced).0, CLIENT_TRACE);
        assert_eq!(state, "");
        // Errors: the service's 503, and the edge's own 404.
        assert_eq!(get(edge.http, "/api/fail", &[]).await.0, 503);
        assert_eq!(get(edge.http, "/nothing", &[]).await.0, 404);
        // A long path is cut in the span: a queue of spans stays small.
        let long = format!("/api/{}", "a".repeat(4000));
        assert_eq!(get(edge.http, &long, &[]).await.0, 200);

        let spans = collector.wait_for(before + 6).await;
        let spans: Vec<&Value> = spans[before..].iter().collect();
        assert_eq!(spans.len(), 6, "{spans:#?}");
        let cut = spans.iter().map(|s| s["attributes"]["url.path"].as_str().unwrap().len()).max().unwrap();
        assert_eq!(cut, berth_edge::trace::MAX_PATH);
        assert!(spans.iter().all(|s| s["transport"] == transport), "{spans:#?}");
        let find = |path: &str| {
            *spans.iter().find(|s| s["attributes"]["url.path"] == path).unwrap_or_else(|| panic!("{path}: {spans:#?}"))
        };
        let first = find("/api/x");
        assert_eq!(first["trace_id"], fresh_trace.as_str());
        assert_eq!(first["span_id"], fresh_span.as_str());
        assert_eq!(first["parent_span_id"], "");
        assert_eq!(first["name"], "GET /api");
        assert_eq!(first["kind"], 2, "SPAN_KIND_SERVER");
        assert_eq!(first["attributes"]["http.request.method"], "GET");
        assert_eq!(first["attributes"]["http.route"], "/api");
        assert_eq!(first["attributes"]["http.response.status_code"], 200);
        assert_eq!(first["attributes"]["client.address"], "127.0.0.1");
        assert_eq!(first["status"], 0);
        assert!(first["end"].as_u64().unwrap() >= first["start"].as_u64().unwrap());
        assert_eq!(first["resource"]["service.name"], "traced-edge");
        assert_eq!(first["resource"]["service.namespace"], "traced");
        assert_eq!(first["scope"], "berth-edge");
        let second = find("/api/y");
        assert_eq!(second["trace_id"], CLIENT_TRACE);
        assert_eq!(second["parent_span_id"], CLIENT_SPAN);
        assert_eq!(second["span_id"], continued_span.as_str());
        assert!(spans.iter().all(|s| s["attributes"]["url.path"] != "/api/z"), "an unsampled request was exported");
        assert_eq!(find("/api/fail")["status"], 2, "STATUS_CODE_ERROR on a 5xx");
        let missing = find("/nothing");
        assert_eq!(missing["attributes"]["http.response.status_code"], 404);
        assert!(missing["attributes"].get("http.route").is_none());
        assert_eq!(missing["name"], "GET");
        assert_eq!(edge.state.metrics.traces.exported.load(Ordering::Relaxed), 6);
        assert_eq!(edge.state.metrics.traces.dropped.load(Ordering::Relaxed), 0);
        edge.shutdown(Duration::from_secs(1)).await;
    }
    task.abort();
}

#[tokio::test]
async fn at_zero_percent_nothing_is_sent_whatever_a_client_asks() {
    let collector = Collector::start();
    let (service, task) = echo_service().await;
    let edge = edge(&format!("http://127.0.0.1:{}", collector.grpc), "grpc", 0, service, false).await;
    for _ in 0..20 {
        let (_, seen, _) = get(edge.http, "/api", &[]).await;
        assert!(seen.ends_with("-00"), "{seen}");
    }
    // A client that is no trusted proxy cannot have its requests recorded:
    // its trace continues, unsampled.
    let sampled = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let (_, seen, _) = get(edge.http, "/api", &[("traceparent", &sampled)]).await;
    assert!(seen.starts_with(&format!("00-{CLIENT_TRACE}-")) && seen.ends_with("-00"), "{seen}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(collector.spans().len(), 0, "{:#?}", collector.spans());
    assert_eq!(edge.state.metrics.traces.exported.load(Ordering::Relaxed), 0);
    edge.shutdown(Duration::from_secs(1)).await;
    task.abort();
}

#[tokio::test]
async fn a_collector_that_is_down_costs_requests_nothing() {
    let (service, task) = echo_service().await;
    let closed = berth_test_support::free_port();
    let edge = edge(&format!("http://127.0.0.1:{closed}"), "http/protobuf", 100, service, false).await;
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(get(edge.http, "/api", &[]).await.0, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "requests waited for the collector");
    let deadline = Instant::now() + Duration::from_secs(10);
    while edge.state.metrics.traces.dropped.load(Ordering::Relaxed) < 50 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(edge.state.metrics.traces.dropped.load(Ordering::Relaxed), 50);
    assert!(edge.state.metrics.traces.failed_exports.load(Ordering::Relaxed) >= 1);
    let text = edge.state.metrics.render(&[], &[]);
    assert!(text.contains("berth_edge_trace_spans_dropped_total 50"), "{text}");
    edge.shutdown(Duration::from_secs(1)).await;
    task.abort();
}
