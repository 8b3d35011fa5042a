//! Waiting for a replica's readiness check to pass.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Polls `GET path` until it answers 2xx/3xx or `timeout` passes.
pub async fn wait(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check(&client, addr, path).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

pub async fn check(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> bool {
    let Ok(req) = Request::get(format!("http://{addr}{path}")).body(Empty::new()) else { return false };
    matches!(tokio::time::timeout(Duration::from_secs(2), client.request(req)).await, Ok(Ok(r)) if r.status().is_success() || r.status().is_redirection())
}
