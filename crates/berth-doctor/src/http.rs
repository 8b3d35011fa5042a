//! Plain HTTP GETs with a deadline, for health checks and the edge's
//! status page.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub millis: u128,
    pub body: Bytes,
}

/// `GET http://{authority}{path}`; the error reads like `connection refused`.
pub async fn get(authority: &str, path: &str, timeout: Duration) -> Result<Answer, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = hyper::Request::get(format!("http://{authority}{path}"))
        .header("user-agent", "berth-doctor")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let exchange = async {
        let response = client.request(request).await.map_err(|e| cause(&e))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, body))) => Ok(Answer { status, millis: started.elapsed().as_millis(), body }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

/// The innermost cause: `connection refused` rather than `client error (Connect)`.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = inner.to_string();
    // io errors print `Connection refused (os error 111)`.
    text.split(" (os error").next().unwrap_or(&text).to_lowercase()
}
