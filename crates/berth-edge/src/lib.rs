//! The edge proxy berth runs in front of the services on one machine.
//!
//! A request goes through named phases, each able to answer on its own
//! (see [`proxy`]): read (host, normalised path, client address), redirect
//! to HTTPS, route, allowlist, authentication, rate limit, body limit, then
//! forward to a healthy replica chosen by least connections, with a retry
//! on another replica when an idempotent request failed before any answer.
//! Security headers are added to every answer. What a client can make the
//! edge hold is bounded in [`limits`]; connections that are silent, slow
//! or idle are closed by [`conn`]'s watchdog.

pub mod auth;
pub mod body;
pub mod cidr;
pub mod client;
pub mod config;
pub mod conn;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod host;
pub mod jwt;
pub mod limits;
pub mod metrics;
pub mod path;
pub mod proxy;
pub mod ratelimit;
pub mod request_body;
pub mod server;
pub mod status;
pub mod tls;
pub mod trace;
pub mod upstream;
pub mod websocket;

pub use config::{EdgeConfig, RouteConfig, ShareConfig};
pub use server::{Edge, EdgeHandle};

/// What can go wrong starting the edge.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("invalid edge configuration: {0}")]
    Config(String),
}
