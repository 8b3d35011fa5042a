//! The edge's resource bounds, in one place, so that what an attacker can
//! make the edge hold is a number anyone can read.
//!
//! Memory is bounded by connections × (per-connection buffers) plus
//! requests in flight × (their headers and buffers):
//!
//! - connections: [`connection_cap`], from the open-file limit;
//! - HTTP/1: 64 KiB read buffer per connection, headers at most
//!   [`MAX_HEADER_BYTES`];
//! - HTTP/2: [`H2_STREAMS_PER_CONNECTION`] streams, each buffering at most
//!   [`H2_SEND_BUFFER`] of its answer and [`H2_STREAM_WINDOW`] of its body;
//! - requests forwarded at once: [`MAX_IN_FLIGHT`] (each holds at most one
//!   connection to a service and its buffers); past it the edge answers 503
//!   at once instead of queueing; one client may hold at most
//!   [`MAX_IN_FLIGHT_PER_CLIENT`] of them (429 past it).

use std::time::Duration;

pub const H2_STREAMS_PER_CONNECTION: u32 = 100;
pub const H2_SEND_BUFFER: usize = 64 * 1024;
pub const H2_STREAM_WINDOW: u32 = 256 * 1024;
pub const H2_CONNECTION_WINDOW: u32 = 1024 * 1024;
pub const H2_PENDING_RESETS: usize = 20;
pub const MAX_HEADER_BYTES: u32 = 32 * 1024;
pub const MAX_IN_FLIGHT: usize = 1024;
/// Of those, one client (address, IPv6 /64) may hold at most this many.
pub const MAX_IN_FLIGHT_PER_CLIENT: usize = 128;
pub const ADMIN_CONNECTIONS: usize = 32;
pub const ADMIN_CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Descriptors kept back for listeners, logs, health checks, the admin
/// port and the supervisor.
const RESERVED_FILES: u64 = 256;
const MAX_CONNECTIONS: u64 = 65_536;

/// Raises the soft open-file limit to the hard one and returns it. The
/// default soft limit (1024) would cap the edge far below what the host
/// allows.
pub fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

/// Client connections served at once: each may need a second descriptor
/// towards a service, and some are kept back, so the edge never meets
/// EMFILE in the middle of a request.
pub fn connection_cap(open_files: u64) -> usize {
    let cap = (open_files.saturating_sub(RESERVED_FILES) / 2).clamp(16, MAX_CONNECTIONS);
    usize::try_from(cap).unwrap_or(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_room_for_upstreams_and_the_admin_port() {
        assert_eq!(connection_cap(1024), 384);
        assert_eq!(connection_cap(100), 16);
        assert_eq!(connection_cap(1 << 20), 65_536);
        assert!(raise_open_files() >= 16);
    }
}
