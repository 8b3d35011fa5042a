//! `berth backup exporter`: the state of every backup destination as
//! Prometheus metrics on `/metrics`, listed at most every 30 seconds
//! however often it is scraped (object storage bills per request).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use berth_backup::metrics::Observed;
use berth_backup::{BackupMethod, Destination};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

use super::dependencies::{destination, load_target, selected};
use super::runtime;
use crate::cli::BackupTarget;
use crate::{Outcome, output};

const REFRESH: Duration = Duration::from_secs(30);

struct Watched {
    dependency: String,
    physical: bool,
    destination: Destination,
}

async fn observe(watched: &[Watched]) -> String {
    let mut observed = Vec::new();
    for w in watched {
        let listed = berth_backup::list(&w.destination, &w.dependency).await;
        // One listing of the WAL archive: its newest segment and its gaps.
        let archived = match w.physical {
            true => berth_backup::wal::archived(&w.destination, &w.dependency).await.ok(),
            false => None,
        };
        let wal_shipped = archived.as_deref().and_then(berth_backup::wal::newest).and_then(|(_, at)| at);
        if let Err(e) = &listed {
            output::stderr(&format!("warning: cannot list the backups of `{}`: {e}\n", w.dependency));
        }
        observed.push(Observed {
            dependency: w.dependency.clone(),
            up: listed.is_ok(),
            backups: listed.unwrap_or_default(),
            wal_shipped,
            wal_archived: archived.map(|all| all.into_iter().map(|(name, _)| name).collect()),
        });
    }
    berth_backup::metrics::render(&observed)
}

pub fn run(target: &BackupTarget, listen: SocketAddr, color: bool) -> anyhow::Result<Outcome> {
    let loaded = load_target(target, color)?;
    let mut watched = Vec::new();
    for subject in selected(&loaded, target)? {
        let job = subject.job();
        watched.push(Watched {
            dependency: subject.name().to_owned(),
            physical: job.method == BackupMethod::Physical,
            destination: destination(&loaded, job)?,
        });
    }
    let watched = Arc::new(watched);
    let cache: Arc<Mutex<Option<(Instant, String)>>> = Arc::new(Mutex::new(None));
    runtime()?.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        output::stderr(&format!("serving backup metrics on http://{}/metrics\n", listener.local_addr()?));
        loop {
            let (stream, _) = listener.accept().await?;
            let (watched, cache) = (watched.clone(), cache.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (watched, cache) = (watched.clone(), cache.clone());
                    async move {
                        if request.uri().path() != "/metrics" {
                            let mut not_found = Response::new(Full::new(Bytes::from_static(b"see /metrics\n")));
                            *not_found.status_mut() = StatusCode::NOT_FOUND;
                            return Ok::<_, Infallible>(not_found);
                        }
                        // One listing at a time; scrapes in between get the last one.
                        let mut cached = cache.lock().await;
                        let text = match cached.as_ref().filter(|(at, _)| at.elapsed() < REFRESH) {
                            Some((_, text)) => text.clone(),
                            None => {
                                let text = observe(&watched).await;
                                *cached = Some((Instant::now(), text.clone()));
                                text
                            }
                        };
                        let mut response = Response::new(Full::new(Bytes::from(text)));
                        if let Ok(value) = "text/plain; version=0.0.4; charset=utf-8".parse() {
                            response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
                        }
                        Ok(response)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}
