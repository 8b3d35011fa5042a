//! Listeners and connections: plain HTTP, HTTPS (HTTP/1.1 and HTTP/2 by
//! ALPN) and the loopback admin listener with `/metrics`. Shutdown goes
//! through a watch channel: listeners stop accepting, connections finish.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::EdgeConfig;
use crate::conn::{Activity, Expired, Watched};
use crate::limits;
use crate::metrics::Metrics;
use crate::proxy::{self, Scheme, State};
use crate::ratelimit::Limiter;
use crate::status::Status;
use crate::upstream::{Backend, Pool, Share};
use crate::{EdgeError, health, tls};

/// A running edge.
#[derive(Debug)]
pub struct EdgeHandle {
    stop: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    reopen: watch::Sender<u64>,
    tasks: JoinSet<()>,
    pub state: Arc<State>,
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl EdgeHandle {
    /// Points every route's share of `service` (port `port`) at `stable`,
    /// plus a `canary` set that gets `canary_percent` of that share's
    /// requests, and every route falling back to `service` at `stable`. The
    /// swap is atomic per route; backends already known keep their health
    /// and counters. Returns the backends taken out, for the caller to drain.
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
            let share = route.shares.iter().position(|s| s.service == service && s.port == port);
            // A service's other ports (a deploy swaps each) are not the fallback's.
            let fallback = route.fallback_service.as_deref() == Some(service) && route.fallback_port == port;
            if share.is_none() && !fallback {
                continue;
            }
            let Ok(mut slot) = self.state.pools[index].write() else { continue };
            let current = Arc::clone(&slot);
            // A fallback's backends are watched with the route's own service's check.
            let check = share.map_or(0, |i| i);
            let health = route.shares.get(check).and_then(|s| s.health.clone());
            let mut reuse = |addr: &SocketAddr| {
                if let Some(b) = known.iter().find(|b| b.addr == *addr) {
                    return b.clone();
                }
                let backend = Backend::new(*addr);
                if let Some(check) = &health {
                    tokio::spawn(health::watch_backend(backend.clone(), check.clone(), self.stop_rx.clone()));
                }
                known.push(backend.clone());
                backend
            };
            let next = match share {
                Some(i) => {
                    let primaries = stable.iter().map(&mut reuse).collect();
                    let canary = canary.iter().map(&mut reuse).collect();
                    current.with_share(i, current.shares[i].replaced(primaries, canary, canary_percent))
                }
                None => current.with_fallbacks(stable.iter().map(&mut reuse).collect()),
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

    /// Reopens the access log (after logrotate renamed it).
    pub fn reopen_logs(&self) {
        self.reopen.send_modify(|n| *n += 1);
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
                let shares = r
                    .shares
                    .iter()
                    .map(|s| Share::new(&s.service, s.port, s.weight, s.upstreams.iter().map(&mut backend).collect()))
                    .collect();
                let fallbacks = r.fallback.iter().map(&mut backend).collect();
                RwLock::new(Arc::new(Pool::split(shares, fallbacks)))
            })
            .collect();
        // A replica is watched with its own service's check; a fallback's
        // with the check of the route's own service.
        let health_of = |addr: &SocketAddr| {
            let routes = &config.routes;
            routes
                .iter()
                .flat_map(|r| &r.shares)
                .find(|s| s.upstreams.contains(addr))
                .or_else(|| routes.iter().find(|r| r.fallback.contains(addr)).and_then(|r| r.shares.first()))
                .and_then(|s| s.health.clone())
        };
        for b in &registry {
            if let Some(check) = health_of(&b.addr) {
                tasks.spawn(health::watch_backend(b.clone(), check, stop_rx.clone()));
            }
        }
        let limiters = config.rate_limits.iter().map(|z| Limiter::new(z.per_second, z.burst)).collect();
        let open_files = limits::raise_open_files();
        let (reopen, reopen_rx) = watch::channel(0u64);
        let log_tx = access_log.map(|path| {
            let (tx, rx) = mpsc::channel(proxy::ACCESS_LOG_QUEUE);
            tasks.spawn(proxy::write_access_log(rx, path, reopen_rx.clone()));
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
            (Some((pem, min13)), Some(_)) => {
                Some(tokio_rustls::TlsAcceptor::from(tls::server_config(pem, *min13, &config.hosts)?))
            }
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
        let traces = config.tracing.clone().map(|trace| {
            let (tx, rx) = mpsc::channel(crate::trace::QUEUE);
            tasks.spawn(crate::trace::export(trace, rx, metrics.traces.clone(), stop_rx.clone()));
            tx
        });
        let state = Arc::new(State {
            config,
            pools,
            limiters,
            auth_failures: Limiter::auth_failures(),
            metrics,
            access_log: log_tx,
            traces,
            in_flight: tokio::sync::Semaphore::new(limits::MAX_IN_FLIGHT),
            in_flight_by_client: crate::ratelimit::InFlight::new(limits::MAX_IN_FLIGHT_PER_CLIENT),
            connection_slots: Arc::new(tokio::sync::Semaphore::new(limits::connection_cap(open_files))),
            connections: crate::conn::Registry::default(),
            shutdown: stop_rx.clone(),
        });
        tasks.spawn(sample_rates(state.clone(), stop_rx.clone()));
        tasks.spawn(accept(http, state.clone(), None, stop_rx.clone()));
        if let Some(listener) = https {
            tasks.spawn(accept(listener, state.clone(), tls, stop_rx.clone()));
        }
        if let Some(listener) = admin {
            tasks.spawn(admin_loop(listener, state.clone(), stop_rx.clone()));
        }
        Ok(EdgeHandle { stop, stop_rx, reopen, tasks, state, http: http_addr, https: https_addr, admin: admin_addr })
    }
}

fn builder(state: &State) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // The watchdog in `serve` times headers and idleness (see conn.rs);
        // hyper's timer would also cut idle keep-alive at the header timeout.
        .header_read_timeout(None)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits::H2_STREAMS_PER_CONNECTION)
        // Bounded buffers: what one stream may hold of a slow reader's
        // answer, and of a client's body before the service reads it.
        .max_send_buf_size(limits::H2_SEND_BUFFER)
        .initial_stream_window_size(limits::H2_STREAM_WINDOW)
        .initial_connection_window_size(limits::H2_CONNECTION_WINDOW)
        .max_header_list_size(limits::MAX_HEADER_BYTES)
        .max_pending_accept_reset_streams(limits::H2_PENDING_RESETS)
        .keep_alive_interval(Some(state.config.idle_timeout / 2));
    b
}

/// Whether an accept error means the process ran out of something (file
/// descriptors, memory), when retrying at once only spins.
fn resource_exhausted(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM)
    )
}

mod libc_errno {
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const ENOBUFS: i32 = 105;
}

/// Accepts connections while the edge has room for them. At the cap the
/// listener waits (the kernel's backlog holds new clients) until a
/// connection ends; out of descriptors it backs off instead of spinning.
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
        // Out of slots: make room by evicting the quietest idle connection,
        // so silent clients cannot hold the edge until their timeout.
        let permit = match state.connection_slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if state.connections.evict_one() {
                    state.metrics.closed_evicted.fetch_add(1, Relaxed);
                }
                tokio::select! {
                    permit = state.connection_slots.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        };
        let accepted = loop {
            tokio::select! {
                accepted = listener.accept() => break accepted,
                // A finished connection's task keeps its whole future's
                // memory until joined: join them as they end, not only when
                // the next client arrives (after a flood, none may).
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = stop.changed() => return drain(connections).await,
            }
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                if resource_exhausted(&error) {
                    state.metrics.accept_backoffs.fetch_add(1, Relaxed);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        let b = conn_builder.clone();
        connections.spawn(async move {
            let _permit = permit;
            let activity = Activity::new();
            state.connections.register(&activity);
            match tls {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(state.config.header_timeout, acceptor.accept(stream)).await;
                    let Ok(Ok(stream)) = handshake else {
                        state.metrics.closed_silent.fetch_add(1, Relaxed);
                        return;
                    };
                    // ALPN decided the protocol: a client that negotiated h2
                    // and then sends something else is refused, not re-read
                    // as HTTP/1.
                    let b = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => b.http2_only(),
                        _ => b.http1_only(),
                    };
                    serve(b, Watched::new(stream, activity.clone()), activity, state, peer, scheme, stop).await;
                }
                None => serve(b, Watched::new(stream, activity.clone()), activity, state, peer, scheme, stop).await,
            }
        });
    }
    drain(connections).await;
}

/// Waits for the open connections to finish (the caller bounds the time).
async fn drain(mut connections: JoinSet<()>) {
    while connections.join_next().await.is_some() {}
}

const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves one connection until it ends, the edge stops, or the watchdog
/// finds it silent, slow or idle for too long.
async fn serve<IO>(
    b: auto::Builder<TokioExecutor>,
    io: Watched<IO>,
    activity: Arc<Activity>,
    state: Arc<State>,
    peer: SocketAddr,
    scheme: Scheme,
    mut stop: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header = state.config.header_timeout;
    let idle = state.config.idle_timeout;
    let handler_state = state.clone();
    let handler_activity = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let state = handler_state.clone();
        let guard = handler_activity.begin();
        async move {
            let response = proxy::handle(state, req, peer, scheme).await;
            drop(guard);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = b.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(WATCHDOG_TICK.min(header / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.changed() => break,
            () = activity.evicted() => break,
            _ = tick.tick() => {
                if let Some(why) = activity.expired(header, idle) {
                    let counter = match why {
                        Expired::Silent | Expired::SlowHeaders => &state.metrics.closed_silent,
                        Expired::Idle => &state.metrics.closed_idle,
                    };
                    counter.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
    }
    // HTTP/2 gets a GOAWAY, HTTP/1 closes once the current answer is out.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(GOAWAY_GRACE, conn).await;
}

const WATCHDOG_TICK: Duration = Duration::from_secs(1);
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// Snapshots the route counters so the status page can show rates, and
/// closes upstream connections idle for too long.
async fn sample_rates(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                state.metrics.sample(std::time::Instant::now());
                for index in 0..state.config.routes.len() {
                    for backend in state.pool(index).backends() {
                        backend.connections.close_idle();
                    }
                }
            }
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
                state.config.routes.iter().map(|r| (r.path.clone(), r.service().to_owned())).collect();
            // One series per (service, backend), however many routes reach it:
            // the exposition format allows no duplicates.
            let health: std::collections::BTreeSet<(String, String, bool)> = state
                .config
                .routes
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    let p = state.pool(i);
                    let row =
                        |service: &str, b: &Arc<Backend>| (service.to_owned(), b.addr.to_string(), b.is_healthy());
                    let fallback = r.fallback_service.as_deref().unwrap_or(r.service());
                    p.shares
                        .iter()
                        .flat_map(|s| s.primaries.iter().chain(&s.canary).map(|b| row(&s.service, b)))
                        .chain(p.fallbacks.iter().map(|b| row(fallback, b)))
                        .collect::<Vec<_>>()
                })
                .collect();
            let health: Vec<(String, String, bool)> = health.into_iter().collect();
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

/// The admin listener: loopback only, a few connections at a time, each
/// for a bounded time, so a flood of the public ports never reaches it and
/// a stuck client never holds it.
async fn admin_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits::ADMIN_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    if resource_exhausted(&error) {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                // Only loopback names: a web page that rebinds its own name to
                // 127.0.0.1 (DNS rebinding) must not read the status page.
                let local = crate::host::of(req.version(), req.uri(), req.headers())
                    .ok()
                    .flatten()
                    .is_some_and(|h| matches!(h.as_str(), "localhost" | "127.0.0.1" | "[::1]"));
                // `/health` says only "ok": a load balancer's health check,
                // which names the target's address as its host, may read it.
                let answer = if local || req.uri().path() == "/health" {
                    admin_answer(&state, req.uri().path())
                } else {
                    let mut r =
                        Response::new(Full::new(Bytes::from_static(b"the admin port answers loopback names only\n")));
                    *r.status_mut() = StatusCode::MISDIRECTED_REQUEST;
                    r
                };
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
            let mut b = auto::Builder::new(TokioExecutor::new());
            b.http1().timer(TokioTimer::new()).header_read_timeout(limits::ADMIN_CONNECTION_TIME);
            let conn = b.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits::ADMIN_CONNECTION_TIME, conn).await;
        });
    }
}
