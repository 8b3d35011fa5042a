//! Active health checks, off the request path: one task per backend runs
//! the service's readiness probe (an HTTP GET, or a TCP connect) and flips
//! the backend after the thresholds. Exec probes need the replica's own
//! environment; `berth up` runs them when it gates a start or a deploy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

use crate::upstream::Backend;

/// What a check does against a backend's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// GET this path: any 2xx or 3xx passes.
    Http(String),
    /// The port opens.
    Tcp,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

/// Runs until `stop` changes.
pub async fn watch_backend(backend: Arc<Backend>, check: Check, mut stop: watch::Receiver<bool>) {
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let (mut fails, mut passes) = (0u32, 0u32);
    while !backend.is_retired() {
        let ok = match &check.probe {
            Probe::Http(path) => {
                let uri = format!("http://{}{path}", backend.addr);
                match Request::get(&uri).header("user-agent", "berth-edge-health").body(Empty::new()) {
                    Ok(req) => match tokio::time::timeout(check.timeout, client.request(req)).await {
                        Ok(Ok(r)) => {
                            let version = r.headers().get("x-version").and_then(|v| v.to_str().ok()).map(str::to_owned);
                            backend.set_version(version);
                            berth_plan::http_probe_passes(r.status().as_u16())
                        }
                        _ => false,
                    },
                    Err(_) => false,
                }
            }
            Probe::Tcp => {
                matches!(
                    tokio::time::timeout(check.timeout, tokio::net::TcpStream::connect(backend.addr)).await,
                    Ok(Ok(_))
                )
            }
        };
        if ok {
            fails = 0;
            passes += 1;
            if passes >= check.success_threshold.max(1) {
                backend.set_healthy(true);
            }
        } else {
            passes = 0;
            fails += 1;
            if fails >= check.failure_threshold.max(1) {
                backend.set_healthy(false);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(check.interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_check_takes_a_closed_port_out_and_brings_it_back() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|_| panic!());
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|_| panic!());
            let addr = listener.local_addr().unwrap_or_else(|_| panic!());
            drop(listener);
            let backend = Backend::new(addr);
            let check = Check {
                probe: Probe::Tcp,
                interval: Duration::from_millis(20),
                timeout: Duration::from_millis(200),
                failure_threshold: 2,
                success_threshold: 1,
            };
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(watch_backend(backend.clone(), check, stop_rx));
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(!backend.is_healthy(), "nothing listens: out of rotation");
            let _listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|_| panic!());
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(backend.is_healthy(), "listening again: back in rotation");
            let _ = stop.send(true);
            let _ = task.await;
        });
    }
}
