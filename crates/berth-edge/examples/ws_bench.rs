//! WebSocket message throughput for `bench/edge-vs-nginx.sh` (mode `ws`).
//!
//! usage: ws_bench echo PORT
//!        ws_bench load URL CONNECTIONS SECONDS
//!
//! `echo` is the upstream: it answers every message with itself. `load`
//! opens CONNECTIONS WebSockets through the proxy at URL and, on each,
//! sends a 64-byte text message and waits for its echo, again and again
//! for SECONDS; it prints "messages/s p99_ms" over all of them. One
//! current-thread runtime, so the load generator uses one core as wrk does.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a benchmark harness")]

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    match args.get(1).map(String::as_str) {
        Some("echo") => runtime.block_on(echo(args[2].parse().expect("port"))),
        Some("load") => runtime.block_on(load(
            args[2].clone(),
            args[3].parse().expect("connections"),
            Duration::from_secs(args[4].parse().expect("seconds")),
        )),
        _ => panic!("usage: ws_bench echo PORT | ws_bench load URL CONNECTIONS SECONDS"),
    }
}

async fn echo(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                } else if message.is_close() {
                    return;
                }
            }
        });
    }
}

async fn load(url: String, connections: usize, duration: Duration) {
    let authority = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let payload = "x".repeat(64);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, authority, payload) = (url.clone(), authority.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&authority).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream).await.unwrap();
            let mut latencies = Vec::new();
            let end = Instant::now() + duration;
            while Instant::now() < end {
                let sent = Instant::now();
                ws.send(Message::text(payload.clone())).await.unwrap();
                match ws.next().await {
                    Some(Ok(m)) if m.is_text() => latencies.push(sent.elapsed()),
                    other => panic!("no echo: {other:?}"),
                }
            }
            let _ = ws.close(None).await;
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or_default();
    println!("{:.1} {:.3}", all.len() as f64 / duration.as_secs_f64(), p99.as_secs_f64() * 1000.0);
}
