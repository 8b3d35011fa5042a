//! Active health checks, off the request path: one task per backend GETs
//! the readiness path and flips the backend after the thresholds.

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

#[derive(Debug, Clone)]
pub struct Check {
    pub path: String,
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
        let uri = format!("http://{}{}", backend.addr, check.path);
        let ok = match Request::get(&uri).header("user-agent", "berth-edge-health").body(Empty::new()) {
            Ok(req) => match tokio::time::timeout(check.timeout, client.request(req)).await {
                Ok(Ok(r)) => {
                    let version = r.headers().get("x-version").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    backend.set_version(version);
                    berth_plan::http_probe_passes(r.status().as_u16())
                }
                _ => false,
            },
            Err(_) => false,
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
