//! Listeners and connections: plain HTTP, HTTPS (HTTP/1.1 and HTTP/2 by
//! ALPN) and the loopback admin listener with `/metrics`. Shutdown goes
//! through a watch channel: listeners stop accepting, connections finish.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::EdgeConfig;
use crate::metrics::Metrics;
use crate::proxy::{self, Scheme, State};
use crate::ratelimit::Limiter;
use crate::status::Status;
use crate::upstream::{Backend, Pool};
use crate::{EdgeError, health, tls};

/// A running edge.
#[derive(Debug)]
pub struct EdgeHandle {
    stop: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    tasks: JoinSet<()>,
    pub state: Arc<State>,
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl EdgeHandle {
    /// Points every route of `service` (port `port`) at `stable`, plus a
    /// `canary` set that gets `canary_percent` of the requests. The swap is
    /// atomic per route; backends already known keep their health and
    /// counters. Returns the backends taken out, for the caller to drain.
    pub fn set_backends(
        &self,
        service: &str,
        port: u16,
        stable: &[SocketAddr],
        canary: &[SocketAddr],
        canary_percent: usize,
    ) -> Vec<Arc<Backend>> {
        let mut retired: Vec<Arc<Backend>> = Vec::new();
        // Every backend any route knows, so one address stays one Backend.
        let mut known: Vec<Arc<Backend>> = Vec::new();
        for i in 0..self.state.pools.len() {
            for b in self.state.pool(i).backends() {
                if !known.iter().any(|k| Arc::ptr_eq(k, b)) {
                    known.push(b.clone());
                }
            }
        }
        for (index, route) in self.state.config.routes.iter().enumerate() {
            let primary = route.service == service && route.port == port;
            let fallback = route.fallback_service.as_deref() == Some(service);
            if !primary && !fallback {
                continue;
            }
            let Ok(mut slot) = self.state.pools[index].write() else { continue };
            let current = Arc::clone(&slot);
            let mut reuse = |addr: &SocketAddr| {
                if let Some(b) = known.iter().find(|b| b.addr == *addr) {
                    return b.clone();
                }
                let backend = Backend::new(*addr);
                if let Some(check) = &route.health {
                    tokio::spawn(health::watch_backend(backend.clone(), check.clone(), self.stop_rx.clone()));
                }
                known.push(backend.clone());
                backend
            };
            let next = if primary {
                let fallbacks = current.fallbacks.clone();
                let primaries = stable.iter().map(&mut reuse).collect();
                Pool::new(primaries, fallbacks).with_canary(canary.iter().map(&mut reuse).collect(), canary_percent)
            } else {
                let fallbacks = stable.iter().map(&mut reuse).collect();
                Pool::new(current.primaries.clone(), fallbacks)
                    .with_canary(current.canary.clone(), current.canary_percent)
            };
            for old in current.backends() {
                if !next.backends().any(|b| Arc::ptr_eq(b, old)) && !retired.iter().any(|r| Arc::ptr_eq(r, old)) {
                    retired.push(old.clone());
                }
            }
            *slot = Arc::new(next);
        }
        // A backend still in some other route's pool is not retired.
        retired
            .retain(|r| !(0..self.state.pools.len()).any(|i| self.state.pool(i).backends().any(|b| Arc::ptr_eq(b, r))));
        for r in &retired {
            r.retire();
        }
        retired
    }

    /// Stops accepting, gives open connections `grace` to finish, then returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
        self.tasks.abort_all();
    }
}

#[derive(Debug)]
pub struct Edge;

async fn bind(addr: SocketAddr) -> Result<TcpListener, EdgeError> {
    TcpListener::bind(addr).await.map_err(|source| EdgeError::Bind { addr, source })
}

impl Edge {
    /// Binds every listener (so a port clash fails here, not later) and serves.
    pub async fn start(config: EdgeConfig, access_log: Option<std::path::PathBuf>) -> Result<EdgeHandle, EdgeError> {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(connector);
        // One Backend per address, shared by every route that reaches it, so
        // least-connections and health see all of its traffic.
        let mut registry: Vec<Arc<Backend>> = Vec::new();
        let mut backend = |addr: &SocketAddr| match registry.iter().find(|b| b.addr == *addr) {
            Some(b) => b.clone(),
            None => {
                let b = Backend::new(*addr);
                registry.push(b.clone());
                b
            }
        };
        let pools: Vec<RwLock<Arc<Pool>>> = config
            .routes
            .iter()
            .map(|r| {
                let primaries = r.upstreams.iter().map(&mut backend).collect();
                let fallbacks = r.fallback.iter().map(&mut backend).collect();
                RwLock::new(Arc::new(Pool::new(primaries, fallbacks)))
            })
            .collect();
        let health_of = |addr: &SocketAddr| {
            config
                .routes
                .iter()
                .find(|r| r.upstreams.contains(addr) || r.fallback.contains(addr))
                .and_then(|r| r.health.clone())
        };
        for b in &registry {
            if let Some(check) = health_of(&b.addr) {
                tasks.spawn(health::watch_backend(b.clone(), check, stop_rx.clone()));
            }
        }
        let limiters = config.rate_limits.iter().map(|(_, rate, burst)| Limiter::new(*rate, *burst)).collect();
        let log_tx = access_log.map(|path| {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.spawn(proxy::write_access_log(rx, path));
            tx
        });
        let http = bind(config.http).await?;
        let https = match config.https {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let admin = match config.admin {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let tls = match (&config.tls, &https) {
            (Some((pem, min13)), Some(_)) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(pem, *min13)?)),
            _ => None,
        };
        let local = |l: &TcpListener| {
            l.local_addr().map_err(|source| EdgeError::Bind { addr: SocketAddr::from(([0, 0, 0, 0], 0)), source })
        };
        let http_addr = local(&http)?;
        let https_addr = https.as_ref().map(local).transpose()?;
        let admin_addr = admin.as_ref().map(local).transpose()?;
        // Redirects name the port actually bound (tests bind port 0).
        let mut config = config;
        config.https = https_addr;
        let metrics = Metrics::new(config.routes.len());
        let state = Arc::new(State { config, pools, limiters, metrics, client, access_log: log_tx });
        tasks.spawn(sample_rates(state.clone(), stop_rx.clone()));
        tasks.spawn(accept(http, state.clone(), None, stop_rx.clone()));
        if let Some(listener) = https {
            tasks.spawn(accept(listener, state.clone(), tls, stop_rx.clone()));
        }
        if let Some(listener) = admin {
            tasks.spawn(admin_loop(listener, state.clone(), stop_rx.clone()));
        }
        Ok(EdgeHandle { stop, stop_rx, tasks, state, http: http_addr, https: https_addr, admin: admin_addr })
    }
}

fn builder(state: &State) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // Slowloris: a client that dribbles its headers is cut off.
        .header_read_timeout(state.config.header_timeout)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(state.config.idle_timeout / 2));
    b
}

async fn accept(
    listener: TcpListener,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let scheme = if tls.is_some() { Scheme::Https } else { Scheme::Http };
    let conn_builder = builder(&state);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        let mut stop = stop.clone();
        let b = conn_builder.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(proxy::handle(state, req, peer, scheme).await) }
            });
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn = b.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => { conn.as_mut().graceful_shutdown(); let _ = conn.await; }
                    }
                }
                None => {
                    let conn = b.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => { conn.as_mut().graceful_shutdown(); let _ = conn.await; }
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Snapshots the route counters so the status page can show rates.
async fn sample_rates(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => state.metrics.sample(std::time::Instant::now()),
            _ = stop.changed() => return,
        }
    }
}

fn admin_answer(state: &State, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/" | "/status" => {
            (StatusCode::OK, "text/html; charset=utf-8", Status::collect(state, std::time::Instant::now()).html())
        }
        "/status.json" => (
            StatusCode::OK,
            "application/json",
            serde_json::to_string_pretty(&Status::collect(state, std::time::Instant::now())).unwrap_or_default(),
        ),
        "/metrics" => {
            let routes: Vec<(String, String)> =
                state.config.routes.iter().map(|r| (r.path.clone(), r.service.clone())).collect();
            let health: Vec<(String, String, bool)> = state
                .config
                .routes
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    let p = state.pool(i);
                    p.backends().map(|b| (r.service.clone(), b.addr.to_string(), b.is_healthy())).collect::<Vec<_>>()
                })
                .collect();
            (StatusCode::OK, "text/plain; version=0.0.4", state.metrics.render(&routes, &health))
        }
        "/health" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    r.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    r
}

async fn admin_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let answer = admin_answer(&state, req.uri().path());
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
