//! The edge's HTTP/1.1 connections to one service backend, kept open and
//! reused (nginx's upstream `keepalive`).
//!
//! hyper-util's pooled client hands every request through a channel to a
//! connection task and checks connections out and back in around each
//! response; here a request is written straight into a connection's
//! [`SendRequest`]. Connections stay in the backend's list while a response
//! is on its way; one whose previous response is complete is ready again
//! (hyper tells), so the next request takes it without waiting for the body
//! of someone else's response. A connection the service has closed is
//! dropped from the list when it is next looked at; one idle for longer than
//! [`IDLE_TIMEOUT`] is closed by the edge.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::request_body::ClientBody;

/// How long an unused connection is kept, as hyper-util's pool kept it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per backend (nginx's `keepalive 256`); busy ones
/// are not counted.
pub const MAX_KEPT: usize = 256;
/// Connections tracked per backend, busy and idle: past this a new one
/// closes once its response is done, so the list a request scans for a
/// ready connection stays short however many requests a slow service holds.
pub const MAX_TRACKED: usize = 4 * MAX_KEPT;

/// Why a request did not get an answer from the service.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("connecting to {addr} took over {timeout:?}")]
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    #[error("the HTTP/1.1 handshake with {addr} failed: {source}")]
    Handshake { addr: SocketAddr, source: hyper::Error },
    #[error("the service did not answer: {source}")]
    Exchange {
        #[source]
        source: hyper::Error,
        /// The connection had served a request before this one.
        reused: bool,
    },
}

impl UpstreamError {
    /// Nothing reached the service: the backend is unreachable, which feeds
    /// passive health, rather than failing to answer.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::ConnectTimeout { .. } | Self::Handshake { .. })
    }

    /// The exchange failed on a kept connection: most often the service
    /// closed it, idle, as the request went out; a new one will do.
    pub fn on_reused_connection(&self) -> bool {
        matches!(self, Self::Exchange { reused: true, .. })
    }
}

#[derive(Debug)]
struct Kept {
    id: u64,
    sender: SendRequest<ClientBody>,
    used: Instant,
}

/// One backend's open connections.
#[derive(Debug, Default)]
pub struct Connections {
    kept: Mutex<Vec<Kept>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Connections {
    /// Sends `request` (origin-form URI, `Host` set) on a kept connection
    /// that is ready, else on a new one. A request a kept connection could
    /// not even start to write (the service had just closed it) goes again
    /// on a new connection, whatever its method: the service never saw it.
    pub async fn send(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
        mut request: Request<ClientBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        loop {
            let (mut sender, kept) = match self.take_ready() {
                Some(sender) => (sender, true),
                None => (connect(addr, connect_timeout).await?, false),
            };
            let body = request.body().watch();
            let had_body = !body.ended();
            let answer = sender.try_send_request(request);
            let id = self.keep(sender);
            match answer.await {
                Ok(response) => {
                    // The service answered before it had the whole body:
                    // what it has not read of it would be read as the next
                    // request on this connection, someone else's answer
                    // (nginx's `request_body_sent` check). An error answer
                    // to a request with a body is the same risk even when
                    // the body was sent (an auth check that refuses from
                    // the head alone): those connections are not reused
                    // either, at the cost of a connection per refusal.
                    if !body.ended() || (had_body && response.status().as_u16() >= 400) {
                        self.retire(id);
                    }
                    return Ok(response);
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if kept => request = unsent,
                    _ => return Err(UpstreamError::Exchange { source: error.into_error(), reused: kept }),
                },
            }
        }
    }

    /// A kept connection ready for a request; drops closed and expired ones
    /// on the way.
    fn take_ready(&self) -> Option<SendRequest<ClientBody>> {
        let mut kept = self.kept.lock().ok()?;
        let now = Instant::now();
        let mut i = 0;
        while i < kept.len() {
            let k = &kept[i];
            if k.sender.is_closed() || (k.sender.is_ready() && now.duration_since(k.used) > IDLE_TIMEOUT) {
                kept.swap_remove(i);
                continue;
            }
            if k.sender.is_ready() {
                return Some(kept.swap_remove(i).sender);
            }
            i += 1;
        }
        None
    }

    /// A connection is kept while its exchange runs (so it can serve again
    /// once done), up to [`MAX_TRACKED`]; [`MAX_KEPT`] bounds the idle
    /// ones, which [`Self::close_idle`] trims.
    fn keep(&self, sender: SendRequest<ClientBody>) -> u64 {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut kept) = self.kept.lock()
            && kept.len() < MAX_TRACKED
        {
            kept.push(Kept { id, sender, used: Instant::now() });
        }
        id
    }

    /// Never hands the connection out again; it closes once its exchange
    /// is over.
    fn retire(&self, id: u64) {
        if let Ok(mut kept) = self.kept.lock()
            && let Some(i) = kept.iter().position(|k| k.id == id)
        {
            kept.swap_remove(i);
        }
    }

    /// Closes connections idle past [`IDLE_TIMEOUT`] and forgets closed
    /// ones, without waiting for the next request to look (the edge calls
    /// it every few seconds).
    pub fn close_idle(&self) {
        let Ok(mut kept) = self.kept.lock() else { return };
        let now = Instant::now();
        kept.retain(|k| !(k.sender.is_closed() || (k.sender.is_ready() && now.duration_since(k.used) > IDLE_TIMEOUT)));
        // Past MAX_KEPT idle ones, the longest idle go (nginx's `keepalive`).
        let idle = kept.iter().filter(|k| k.sender.is_ready()).count();
        if idle > MAX_KEPT {
            let mut ages: Vec<Instant> = kept.iter().filter(|k| k.sender.is_ready()).map(|k| k.used).collect();
            ages.sort_unstable();
            let cutoff = ages[idle - MAX_KEPT - 1];
            let mut dropped = 0;
            kept.retain(|k| {
                let drop = dropped < idle - MAX_KEPT && k.sender.is_ready() && k.used <= cutoff;
                dropped += usize::from(drop);
                !drop
            });
        }
    }

    /// Connections open now (kept, busy or idle), for tests and status.
    pub fn open(&self) -> usize {
        self.kept.lock().map(|k| k.iter().filter(|k| !k.sender.is_closed()).count()).unwrap_or(0)
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<SendRequest<ClientBody>, UpstreamError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
        Err(_) => return Err(UpstreamError::ConnectTimeout { addr, timeout }),
    };
    // Small requests and answers go out at once, as nginx's `tcp_nodelay`.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| UpstreamError::Handshake { addr, source })?;
    // The connection lives in its own task; WebSocket tunnels take it over.
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A raw HTTP/1.1 server on loopback that answers `ok` and counts the
    /// connections it accepted; with `close_after_each` it closes every
    /// connection after one answer while still announcing keep-alive, as a
    /// service with a short keep-alive timeout does.
    async fn server(close_after_each: bool) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        let n = match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                            if close_after_each {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn get(addr: SocketAddr) -> Request<ClientBody> {
        let (body, _) = ClientBody::new(None, 1 << 20, false);
        Request::builder().uri("/").header("host", addr.to_string()).body(body).unwrap()
    }

    async fn text(response: Response<Incoming>) -> String {
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn one_connection_serves_requests_one_after_another() {
        let (addr, accepted) = server(false).await;
        let connections = Connections::default();
        for _ in 0..5 {
            let response = connections.send(addr, Duration::from_secs(1), get(addr)).await.unwrap();
            assert_eq!(text(response).await, "ok\n");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(connections.open(), 1);
    }

    #[tokio::test]
    async fn requests_at_once_get_connections_of_their_own() {
        let (addr, accepted) = server(false).await;
        let connections = Arc::new(Connections::default());
        let (a, b) = tokio::join!(
            connections.send(addr, Duration::from_secs(1), get(addr)),
            connections.send(addr, Duration::from_secs(1), get(addr)),
        );
        // Both headers are in before either body is read: two connections.
        assert_eq!(text(a.unwrap()).await, "ok\n");
        assert_eq!(text(b.unwrap()).await, "ok\n");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_service_closed_is_not_used_again() {
        let (addr, accepted) = server(true).await;
        let connections = Connections::default();
        for _ in 0..3 {
            let response = connections.send(addr, Duration::from_secs(1), get(addr)).await.unwrap();
            assert_eq!(text(response).await, "ok\n");
            // The service's FIN arrives while the connection is kept.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn idle_connections_are_closed_without_waiting_for_a_request() {
        let (addr, _) = server(false).await;
        let connections = Connections::default();
        let response = connections.send(addr, Duration::from_secs(1), get(addr)).await.unwrap();
        assert_eq!(text(response).await, "ok\n");
        connections.close_idle();
        assert_eq!(connections.open(), 1, "a connection used just now stays");
        for k in connections.kept.lock().unwrap().iter_mut() {
            k.used -= IDLE_TIMEOUT + Duration::from_secs(1);
        }
        connections.close_idle();
        assert_eq!(connections.open(), 0);
    }

    #[tokio::test]
    async fn an_unreachable_backend_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let error = Connections::default().send(port, Duration::from_secs(1), get(port)).await.unwrap_err();
        assert!(error.is_connect(), "{error}");
    }
}
