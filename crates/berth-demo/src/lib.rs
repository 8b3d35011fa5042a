//! berth-demo: a small HTTP service for the quickstart and the runtime's
//! end-to-end tests. It reports its version on every response (`X-Version`)
//! so a test can see which version answered during a deploy.
//!
//! Environment: `PORT` (default 8080), `BERTH_VERSION` or `BERTH_DEMO_VERSION` (default the
//! crate version), `BERTH_DEMO_NEVER_READY=1` (readiness always fails, to
//! test a deploy that must roll back), `DATABASE_URL` / `REDIS_URL`
//! (readiness fails while they are unreachable; `/api/notes` keeps notes in
//! PostgreSQL and `/api/visits` counts visits in Redis).

pub mod deps;
pub mod metrics;
mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// What every request handler can read.
#[derive(Debug)]
pub struct App {
    pub version: String,
    pub never_ready: bool,
    pub dependencies: Vec<deps::Dependency>,
    pub metrics: metrics::Metrics,
    pub postgres: Option<store::Postgres>,
    pub redis: Option<store::Redis>,
}

impl App {
    /// A demo that reports `version`, with no dependencies (for tests).
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            never_ready: false,
            dependencies: Vec::new(),
            metrics: metrics::Metrics::new(),
            postgres: None,
            redis: None,
        }
    }
}

#[allow(clippy::disallowed_methods, reason = "the demo is configured by its environment, like the services berth runs")]
pub fn config() -> App {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut dependencies = Vec::new();
    for name in ["DATABASE_URL", "REDIS_URL"] {
        if let Some(dep) = var(name).as_deref().and_then(|url| deps::Dependency::from_url(name, url)) {
            dependencies.push(dep);
        }
    }
    App {
        // `berth deploy --version` sets BERTH_VERSION; it wins over the spec's setting.
        version: var("BERTH_VERSION")
            .or_else(|| var("BERTH_DEMO_VERSION"))
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
        never_ready: var("BERTH_DEMO_NEVER_READY").is_some_and(|v| v == "1"),
        dependencies,
        metrics: metrics::Metrics::new(),
        postgres: var("DATABASE_URL").as_deref().and_then(store::Postgres::from_url),
        redis: var("REDIS_URL").as_deref().and_then(store::Redis::from_url),
    }
}

#[allow(clippy::disallowed_methods, reason = "PORT comes from the environment by convention")]
pub fn port() -> u16 {
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| routes::handle(app.clone(), req));
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    // Stop accepting, let in-flight requests finish, then return.
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}
