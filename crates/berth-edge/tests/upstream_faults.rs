//! Services that misbehave behind the edge, on loopback with raw bytes:
//! one that answers before reading a request body (its unread body must
//! never be read as someone else's request), one that closes kept
//! connections as they are reused, one that stops halfway through a body,
//! one that sends both Transfer-Encoding and Content-Length, and a client
//! whose upload is slower than the route's timeout but keeps moving.
//! Found by an attack on the edge's upstream connections (2026-11-28).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use common::raw;

/// How a fake service answers each request it parses on a connection.
#[derive(Clone, Copy)]
enum Service {
    /// Answers from the head alone, leaving any body unread, so that
    /// bytes of a body are parsed as the next request: `path=<path>`, 403
    /// for a POST (an auth check that refuses from the head).
    Early,
    /// Answers the first request of a connection, then closes the
    /// connection when the next one arrives (a keep-alive timeout met).
    FirstOnly,
    /// Sends a head promising 100 bytes and 7 of them, then nothing.
    Stalls,
    /// Chunked with a contradicting Content-Length.
    ChunkedAndLength,
    /// Reads the whole body (Content-Length) and answers its size.
    CountsBody,
}

async fn service(kind: Service) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(connection(stream, kind));
        }
    });
    (addr, task)
}

async fn connection(mut stream: TcpStream, kind: Service) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut served = 0;
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let path = head.split_whitespace().nth(1).unwrap_or("?").to_owned();
            let answer = match kind {
                Service::Early => {
                    // A slow answer: the next client's request is on this
                    // connection by the time it comes.
                    if path.contains("slow") {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                    let text = format!("path={path}");
                    let status = if head.starts_with("POST") { "403 Forbidden" } else { "200 OK" };
                    format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{text}", text.len())
                }
                Service::FirstOnly if served > 0 => return,
                Service::FirstOnly => "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst".to_owned(),
                Service::Stalls => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n1234567").await;
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                Service::ChunkedAndLength => {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"
                        .to_owned()
                }
                Service::CountsBody => {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                        .unwrap_or(0);
                    while buf.len() < length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..length);
                    let text = format!("got={length}");
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}", text.len())
                }
            };
            served += 1;
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The edge with one route per fake service, each with one replica and a
/// 1 s timeout.
async fn edge() -> (EdgeHandle, Vec<JoinHandle<()>>) {
    let kinds = [
        ("early", Service::Early),
        ("first", Service::FirstOnly),
        ("stalls", Service::Stalls),
        ("both", Service::ChunkedAndLength),
        ("counts", Service::CountsBody),
    ];
    let mut addrs = std::collections::BTreeMap::new();
    let mut tasks = Vec::new();
    let mut services = String::new();
    let mut routes = String::new();
    for (i, (name, kind)) in kinds.iter().enumerate() {
        let (addr, task) = service(*kind).await;
        addrs.insert((*name).to_owned(), addr);
        tasks.push(task);
        services
            .push_str(&format!("  {name}:\n    run: {{ command: [unused] }}\n    ports: {{ http: {} }}\n", 8080 + i));
        routes.push_str(&format!("    - {{ path: /{name}, service: {name}, timeout: 1s }}\n"));
    }
    let text = format!(
        "version: 1\nname: faults\nservices:\n{services}edge:\n  hosts: [localhost]\n  body_limit: 1Mi\n  routes:\n{routes}"
    );
    let loaded = berth_spec::load(&text, None);
    let spec = loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let plan = berth_plan::build(&spec, None);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: None,
        admin: None,
        tls: None,
        replicas: &|service, _| addrs.get(service).into_iter().copied().collect(),
        secret: &|_| None,
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    (Edge::start(config, None).await.unwrap(), tasks)
}

/// Reads one response with a Content-Length body from `stream`.
async fn response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return String::from_utf8_lossy(&out[..end + 4 + length]).into_owned();
            }
        }
        let n = tokio::time::timeout(deadline - Instant::now(), stream.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "closed mid-response: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_body_the_service_did_not_read_never_becomes_another_clients_request() {
    let (edge, tasks) = edge().await;
    for round in 0..3 {
        // Whatever the last round left on the service's side has ended.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let smuggled = "GET /early/slow-smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut a = TcpStream::connect(edge.http).await.unwrap();
        let head = format!("POST /early/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", smuggled.len());
        a.write_all(head.as_bytes()).await.unwrap();
        assert!(response(&mut a).await.ends_with("path=/early/a"));
        // The body after the answer: a whole request, for the next client.
        a.write_all(smuggled.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let b = raw(edge.http, "GET /early/b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
        assert_eq!(b.body, "path=/early/b", "round {round}: client B got another request's answer");
        // With `Expect: 100-continue` the edge answers 100 itself and sends no Expect on.
        let mut c = TcpStream::connect(edge.http).await.unwrap();
        let head = format!(
            "POST /early/c HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            smuggled.len()
        );
        c.write_all(head.as_bytes()).await.unwrap();
        c.write_all(smuggled.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let d = raw(edge.http, "GET /early/d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
        assert_eq!(d.body, "path=/early/d", "round {round}: client D got another request's answer");
    }
    edge.shutdown(Duration::from_secs(1)).await;
    tasks.iter().for_each(JoinHandle::abort);
}

#[tokio::test]
async fn a_kept_connection_closed_under_a_request_is_retried_on_a_new_one() {
    let (edge, tasks) = edge().await;
    // One replica that serves one request per connection and then closes
    // as the next arrives: every reuse fails, and no GET may.
    let mut client = TcpStream::connect(edge.http).await.unwrap();
    for i in 0..6 {
        client.write_all(b"GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let answer = response(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "GET {i}: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    edge.shutdown(Duration::from_secs(1)).await;
    tasks.iter().for_each(JoinHandle::abort);
}

#[tokio::test]
async fn a_body_that_stops_halfway_closes_the_client_connection_after_the_timeout() {
    let (edge, tasks) = edge().await;
    let mut client = TcpStream::connect(edge.http).await.unwrap();
    client.write_all(b"GET /stalls HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the connection was still open after 10 s");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "closed after {elapsed:?}, the route's timeout is 1 s");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("1234567"), "{text}");
    edge.shutdown(Duration::from_secs(1)).await;
    tasks.iter().for_each(JoinHandle::abort);
}

#[tokio::test]
async fn chunked_framing_wins_over_a_content_length_beside_it() {
    let (edge, tasks) = edge().await;
    let r = raw(edge.http, "GET /both HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_ne!(r.header("content-length"), Some("3"), "{}", r.head);
    let body = if r.header("transfer-encoding").is_some() {
        r.body.split("\r\n").nth(1).unwrap_or_default().to_owned()
    } else {
        r.body.clone()
    };
    assert_eq!(body, "0123456789", "{r:?}");
    edge.shutdown(Duration::from_secs(1)).await;
    tasks.iter().for_each(JoinHandle::abort);
}

#[tokio::test]
async fn an_upload_that_keeps_moving_is_not_cut_by_the_read_timeout() {
    let (edge, tasks) = edge().await;
    let mut client = TcpStream::connect(edge.http).await.unwrap();
    let piece = vec![b'x'; 1000];
    let head = format!("POST /counts HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", 5 * piece.len());
    client.write_all(head.as_bytes()).await.unwrap();
    // 3 s of upload against a 1 s timeout, never 1 s without progress.
    for _ in 0..5 {
        client.write_all(&piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let answer = response(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("got=5000"), "{answer}");
    // A silent upload still times out.
    let mut silent = TcpStream::connect(edge.http).await.unwrap();
    silent.write_all(b"POST /counts HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc").await.unwrap();
    let answer = response(&mut silent).await;
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    edge.shutdown(Duration::from_secs(1)).await;
    tasks.iter().for_each(JoinHandle::abort);
}
