//! What a client connection may cost the edge while it is not being
//! served: a connection that sends nothing, dribbles its headers, or sits
//! idle between requests is closed on time, whatever the protocol.
//!
//! Every byte read or written through [`Watched`] marks the connection
//! active; the request handler counts requests in flight. A watchdog in
//! the connection's task then applies, while nothing is in flight:
//!
//! - no request yet: the first request's headers within `header` of the
//!   connection (or TLS handshake) being made;
//! - HTTP/1: a request's headers complete within `header` of its first
//!   byte (slowloris);
//! - between requests: closed after `idle` without a byte either way.
//!
//! hyper's own HTTP/1 header timer is off: it also ran between requests,
//! which cut idle keep-alive connections at `header` instead of `idle`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const NONE: u64 = u64::MAX;

/// Shared by a connection's IO, its request handler and its watchdog.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last byte either way.
    last_io: AtomicU64,
    /// When the first byte of a request's headers arrived (HTTP/1), or NONE.
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicU64,
    http2: AtomicBool,
    sniffed: AtomicBool,
    /// Set when the edge, out of connection slots, asks this one to go.
    evict: tokio::sync::Notify,
}

/// Why the watchdog closed a connection, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Nothing (or no complete request) within the header timeout.
    Silent,
    /// Headers not complete within the header timeout of their first byte.
    SlowHeaders,
    /// Idle between requests for the idle timeout.
    Idle,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            sniffed: AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        })
    }

    /// Resolves when the edge evicts this connection.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Milliseconds without a byte, or `None` while a request is in flight
    /// (such a connection is never evicted).
    fn idle_for(&self) -> Option<u64> {
        (self.in_flight.load(Ordering::Relaxed) == 0)
            .then(|| self.now().saturating_sub(self.last_io.load(Ordering::Relaxed)))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn read(&self, bytes: &[u8]) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if !self.sniffed.swap(true, Ordering::Relaxed) && bytes.starts_with(b"PRI * HTTP/2.0") {
            self.http2.store(true, Ordering::Relaxed);
        }
        // HTTP/2 frames between requests (pings, settings) are not headers.
        if !bytes.is_empty() && self.in_flight.load(Ordering::Relaxed) == 0 && !self.http2.load(Ordering::Relaxed) {
            let _ = self.head_started.compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request reached the handler; the guard ends it.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Whether the connection has outstayed its welcome.
    pub fn expired(&self, header: Duration, idle: Duration) -> Option<Expired> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.now();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE - 1);
        let head = self.head_started.load(Ordering::Relaxed);
        if head != NONE && now.saturating_sub(head) > ms(header) {
            return Some(Expired::SlowHeaders);
        }
        let quiet = now.saturating_sub(self.last_io.load(Ordering::Relaxed));
        if self.served.load(Ordering::Relaxed) == 0 {
            // No request yet: HTTP/2's preface and settings do not count.
            return (now > ms(header)).then_some(Expired::Silent);
        }
        (quiet > ms(idle)).then_some(Expired::Idle)
    }
}

/// The open connections, so that a new one can take the place of the
/// quietest idle one when every slot is taken: otherwise connections that
/// send nothing would hold every slot until their timeout and queue real
/// clients behind them (the kernel's accept queue is first come, first
/// served). Only connections with no request in flight are evicted.
#[derive(Debug, Default)]
pub struct Registry {
    open: Mutex<Vec<Weak<Activity>>>,
    seed: AtomicU64,
}

/// How many open connections an eviction looks at (approximate LRU, as
/// Redis does): constant work per accept however many are open.
const EVICTION_SAMPLE: usize = 16;

impl Registry {
    pub fn register(&self, activity: &Arc<Activity>) {
        let Ok(mut open) = self.open.lock() else { return };
        // Drop the entries of closed connections now and then.
        if open.len() >= 64 && open.len().is_power_of_two() {
            open.retain(|w| w.strong_count() > 0);
        }
        open.push(Arc::downgrade(activity));
    }

    fn random(&self) -> usize {
        // xorshift: cheap, and good enough to spread samples.
        let mut x = self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        usize::try_from(x % (usize::MAX as u64)).unwrap_or(0)
    }

    /// Asks the quietest of a sample of idle connections to close. Returns
    /// whether one was found.
    pub fn evict_one(&self) -> bool {
        let Ok(mut open) = self.open.lock() else { return false };
        let mut victim: Option<(u64, Arc<Activity>)> = None;
        for _ in 0..EVICTION_SAMPLE.min(open.len() * 2) {
            if open.is_empty() {
                break;
            }
            let i = self.random() % open.len();
            let Some(activity) = open[i].upgrade() else {
                open.swap_remove(i);
                continue;
            };
            if let Some(quiet) = activity.idle_for()
                && victim.as_ref().is_none_or(|(q, _)| quiet > *q)
            {
                victim = Some((quiet, activity));
            }
        }
        let Some((_, activity)) = victim else { return false };
        activity.evict.notify_one();
        true
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.wrote();
    }
}

/// An IO stream that reports its traffic to an [`Activity`].
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.activity.read(&buf.filled()[before..]);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.activity.wrote();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.activity.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(40);
    const IDLE: Duration = Duration::from_millis(120);

    #[test]
    fn a_silent_connection_expires_after_the_header_timeout() {
        let a = Activity::new();
        assert_eq!(a.expired(HEADER, IDLE), None);
        std::thread::sleep(HEADER + Duration::from_millis(20));
        assert_eq!(a.expired(HEADER, IDLE), Some(Expired::Silent));
    }

    #[test]
    fn dribbled_headers_expire_even_while_bytes_arrive() {
        let a = Activity::new();
        for _ in 0..4 {
            a.read(b"G");
            std::thread::sleep(Duration::from_millis(15));
        }
        assert_eq!(a.expired(HEADER, IDLE), Some(Expired::SlowHeaders));
    }

    #[test]
    fn idle_keepalive_lasts_until_the_idle_timeout() {
        let a = Activity::new();
        a.read(b"GET / HTTP/1.1\r\n\r\n");
        drop(a.begin());
        std::thread::sleep(HEADER + Duration::from_millis(20));
        assert_eq!(a.expired(HEADER, IDLE), None, "idle, not slow: the header timeout does not apply");
        std::thread::sleep(IDLE);
        assert_eq!(a.expired(HEADER, IDLE), Some(Expired::Idle));
    }

    #[test]
    fn nothing_expires_while_a_request_is_in_flight() {
        let a = Activity::new();
        let guard = a.begin();
        std::thread::sleep(IDLE + Duration::from_millis(20));
        assert_eq!(a.expired(HEADER, IDLE), None);
        drop(guard);
        assert_eq!(a.expired(HEADER, IDLE), None, "the end of a request counts as activity");
    }

    #[test]
    fn eviction_takes_an_idle_connection_never_a_busy_one() {
        let registry = Registry::default();
        let busy = Activity::new();
        let _request = busy.begin();
        registry.register(&busy);
        assert!(!registry.evict_one(), "a connection with a request in flight is never evicted");
        let idle = Activity::new();
        registry.register(&idle);
        assert!(registry.evict_one());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|_| panic!());
        let notified =
            runtime.block_on(async { tokio::time::timeout(Duration::from_millis(100), idle.evicted()).await.is_ok() });
        assert!(notified, "the idle connection was told to go");
        drop(idle);
        assert!(!registry.evict_one(), "closed connections are not candidates");
    }

    #[test]
    fn http2_frames_between_requests_are_not_slow_headers() {
        let a = Activity::new();
        a.read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        drop(a.begin());
        a.read(b"ping");
        std::thread::sleep(HEADER + Duration::from_millis(20));
        assert_eq!(a.expired(HEADER, IDLE), None);
    }
}
