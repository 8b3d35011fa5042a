//! The demo's endpoints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::App;

type Body = Full<Bytes>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

fn json(value: &serde_json::Value) -> Response<Body> {
    let mut r = text(StatusCode::OK, value.to_string());
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    let path = req.uri().path().to_owned();
    let mut response = match path.as_str() {
        "/health" => text(StatusCode::OK, "ok\n"),
        "/health/ready" => ready(&app).await,
        "/metrics" => {
            let mut r = text(StatusCode::OK, app.metrics.render());
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            r
        }
        "/version" => json(&serde_json::json!({ "version": app.version })),
        "/ws" => websocket(req),
        "/api/hello" => json(&serde_json::json!({ "message": "hello from berth-demo", "version": app.version })),
        "/api/slow" => {
            let ms: u64 = query_number(&req, "ms").unwrap_or(500).min(60_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json(&serde_json::json!({ "slept_ms": ms, "version": app.version }))
        }
        "/api/echo" => {
            let headers: serde_json::Map<String, serde_json::Value> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v.to_str().unwrap_or(""))))
                .collect();
            let body_bytes = match req.into_body().collect().await {
                Ok(body) => body.to_bytes().len(),
                Err(_) => return Ok(text(StatusCode::BAD_REQUEST, "the request body broke off\n")),
            };
            json(
                &serde_json::json!({ "path": path, "headers": headers, "body_bytes": body_bytes, "version": app.version }),
            )
        }
        "/api/notes" => notes(&app, req).await,
        "/api/visits" => match &app.redis {
            None => unwired("REDIS_URL", "redis"),
            Some(redis) => match redis.visit().await {
                Ok(n) => json(&serde_json::json!({ "visits": n, "version": app.version })),
                Err(e) => failure(&e),
            },
        },
        "/api/lorem" => {
            let kib: usize = query_number(&req, "kb").unwrap_or(16).min(4096);
            let mut r = text(StatusCode::OK, lorem(kib * 1024));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            r
        }
        "/" => text(StatusCode::OK, format!("berth-demo {}\n", app.version)),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if let Ok(v) = HeaderValue::from_str(&app.version) {
        response.headers_mut().insert("x-version", v);
    }
    app.metrics.observe(response.status().as_u16(), start.elapsed());
    Ok(response)
}

fn unwired(env: &str, kind: &str) -> Response<Body> {
    let mut r = json(&serde_json::json!({
        "error": format!("{env} is not set: add a {kind} dependency and list it under the service's `uses`")
    }));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

fn failure(error: &str) -> Response<Body> {
    let mut r = json(&serde_json::json!({ "error": error }));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

fn note_json(note: &crate::store::Note) -> serde_json::Value {
    serde_json::json!({ "id": note.id, "body": note.body, "created_at": note.created_at })
}

/// `POST /api/notes` stores the body as a note; `GET` lists the newest.
async fn notes(app: &App, req: Request<Incoming>) -> Response<Body> {
    let Some(db) = &app.postgres else { return unwired("DATABASE_URL", "postgres") };
    match *req.method() {
        hyper::Method::POST => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return text(StatusCode::BAD_REQUEST, "the request body broke off\n"),
            };
            let Ok(body) = std::str::from_utf8(&body) else {
                return text(StatusCode::BAD_REQUEST, "a note is UTF-8 text\n");
            };
            if body.is_empty() || body.len() > 4096 {
                return text(StatusCode::UNPROCESSABLE_ENTITY, "a note is 1 to 4096 bytes\n");
            }
            match db.add_note(body).await {
                Ok(note) => {
                    let mut r = json(&note_json(&note));
                    *r.status_mut() = StatusCode::CREATED;
                    r
                }
                Err(e) => failure(&e),
            }
        }
        hyper::Method::GET => {
            let limit = query_number(&req, "limit").unwrap_or(50).clamp(1, 1000);
            match db.notes(limit).await {
                Ok(notes) => json(&serde_json::json!({
                    "notes": notes.iter().map(note_json).collect::<Vec<_>>(),
                    "version": app.version
                })),
                Err(e) => failure(&e),
            }
        }
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n"),
    }
}

fn query_number<T: std::str::FromStr>(req: &Request<Incoming>, name: &str) -> Option<T> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

/// `len` bytes of readable text, for responses worth compressing.
fn lorem(len: usize) -> String {
    const WORDS: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore \
                         et dolore magna aliqua berth runs services behind its edge with health checks and rate limits ";
    WORDS.chars().cycle().take(len).collect()
}

async fn ready(app: &App) -> Response<Body> {
    if app.never_ready {
        return text(StatusCode::SERVICE_UNAVAILABLE, "never ready (BERTH_DEMO_NEVER_READY=1)\n");
    }
    let mut down = Vec::new();
    for dep in &app.dependencies {
        if !dep.reachable().await {
            down.push(format!("{} ({}:{})", dep.env, dep.host, dep.port));
        }
    }
    if down.is_empty() {
        text(StatusCode::OK, "ready\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, format!("unreachable: {}\n", down.join(", ")))
    }
}

/// Answers the upgrade, then echoes every message on the upgraded stream.
fn websocket(req: Request<Incoming>) -> Response<Body> {
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes())) else {
        return text(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade\n");
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else { return };
        let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut r = text(StatusCode::SWITCHING_PROTOCOLS, Bytes::new());
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}
