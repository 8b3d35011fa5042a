//! The edge's own Prometheus metrics, served on the admin listener.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Requests and server errors (5xx) that one route answered.
#[derive(Debug, Default)]
pub struct RouteCounters {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
}

/// When, and each route's (requests, errors) then.
type Sample = (Instant, Vec<(u64, u64)>);

/// How far back the status page's rates look.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Metrics {
    pub routes: Vec<RouteCounters>,
    /// Snapshots of the route counters, oldest first, for rates.
    samples: Mutex<VecDeque<Sample>>,
    /// Requests by status class: 1xx..5xx.
    by_class: [AtomicU64; 6],
    pub rate_limited: AtomicU64,
    pub upstream_errors: AtomicU64,
    /// Failed authentications, and attempts refused for too many of them.
    pub auth_failures: AtomicU64,
    /// Requests refused because [`crate::limits::MAX_IN_FLIGHT`] were in flight.
    pub overloaded: AtomicU64,
    /// Connections closed by the watchdog: silent or slow before a
    /// complete request, and idle between requests.
    pub closed_silent: AtomicU64,
    pub closed_idle: AtomicU64,
    /// Idle connections closed to make room for a new one at the cap.
    pub closed_evicted: AtomicU64,
    /// Access-log lines dropped because the disk fell behind.
    pub access_log_dropped: AtomicU64,
    /// Accept errors from running out of descriptors or memory.
    pub accept_backoffs: AtomicU64,
    /// Spans exported, dropped (queue full or export failed), failed exports.
    pub traces: std::sync::Arc<crate::trace::Counters>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn new(routes: usize) -> Self {
        let metrics = Self { routes: (0..routes).map(|_| RouteCounters::default()).collect(), ..Self::default() };
        metrics.sample(Instant::now());
        metrics
    }

    fn snapshot(&self) -> Vec<(u64, u64)> {
        self.routes.iter().map(|r| (r.requests.load(Ordering::Relaxed), r.errors.load(Ordering::Relaxed))).collect()
    }

    /// Records the counters now; the edge calls this every few seconds.
    pub fn sample(&self, now: Instant) {
        let Ok(mut samples) = self.samples.lock() else { return };
        samples.push_back((now, self.snapshot()));
        while samples.len() > 2 && samples.get(1).is_some_and(|(t, _)| now.duration_since(*t) >= RATE_WINDOW) {
            samples.pop_front();
        }
    }

    /// Requests and errors per second for each route over the last minute.
    pub fn rates(&self, now: Instant) -> Vec<(f64, f64)> {
        let current = self.snapshot();
        let Some((then, old)) = self.samples.lock().ok().and_then(|s| s.front().cloned()) else {
            return vec![(0.0, 0.0); current.len()];
        };
        let secs = now.duration_since(then).as_secs_f64().max(1.0);
        current
            .iter()
            .zip(old)
            .map(|((r, e), (r0, e0))| (r.saturating_sub(r0) as f64 / secs, e.saturating_sub(e0) as f64 / secs))
            .collect()
    }

    pub fn observe(&self, route: Option<usize>, status: u16, elapsed: Duration) {
        if let Some(counters) = route.and_then(|r| self.routes.get(r)) {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            if status >= 500 {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        let class = usize::from(status / 100).min(5);
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            if secs <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The exposition text; `routes` names each route (path, service),
    /// `health` lists (service, backend, healthy).
    pub fn render(&self, routes: &[(String, String)], health: &[(String, String, bool)]) -> String {
        let mut out = String::from("# TYPE berth_edge_requests_total counter\n");
        for (class, n) in self.by_class.iter().enumerate().skip(1) {
            let _ = writeln!(out, "berth_edge_requests_total{{code=\"{class}xx\"}} {}", n.load(Ordering::Relaxed));
        }
        out.push_str("# TYPE berth_edge_route_requests_total counter\n");
        for ((path, service), c) in routes.iter().zip(&self.routes) {
            let _ = writeln!(
                out,
                "berth_edge_route_requests_total{{route=\"{path}\",service=\"{service}\"}} {}",
                c.requests.load(Ordering::Relaxed)
            );
        }
        out.push_str("# TYPE berth_edge_route_errors_total counter\n");
        for ((path, service), c) in routes.iter().zip(&self.routes) {
            let _ = writeln!(
                out,
                "berth_edge_route_errors_total{{route=\"{path}\",service=\"{service}\"}} {}",
                c.errors.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# TYPE berth_edge_rate_limited_total counter\nberth_edge_rate_limited_total {}",
            self.rate_limited.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE berth_edge_upstream_errors_total counter\nberth_edge_upstream_errors_total {}",
            self.upstream_errors.load(Ordering::Relaxed)
        );
        for (name, counter) in [
            ("berth_edge_auth_failures_total", &self.auth_failures),
            ("berth_edge_overloaded_total", &self.overloaded),
            ("berth_edge_accept_backoffs_total", &self.accept_backoffs),
            ("berth_edge_access_log_dropped_total", &self.access_log_dropped),
            ("berth_edge_trace_spans_exported_total", &self.traces.exported),
            ("berth_edge_trace_spans_dropped_total", &self.traces.dropped),
            ("berth_edge_trace_export_failures_total", &self.traces.failed_exports),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", counter.load(Ordering::Relaxed));
        }
        out.push_str("# TYPE berth_edge_connections_closed_total counter\n");
        for (reason, counter) in
            [("silent", &self.closed_silent), ("idle", &self.closed_idle), ("evicted", &self.closed_evicted)]
        {
            let _ = writeln!(
                out,
                "berth_edge_connections_closed_total{{reason=\"{reason}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# TYPE berth_edge_request_duration_seconds histogram\n");
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "berth_edge_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "berth_edge_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "berth_edge_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "berth_edge_request_duration_seconds_count {count}");
        out.push_str("# TYPE berth_edge_upstream_healthy gauge\n");
        for (service, backend, healthy) in health {
            let _ = writeln!(
                out,
                "berth_edge_upstream_healthy{{service=\"{service}\",backend=\"{backend}\"}} {}",
                u8::from(*healthy)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_cover_the_window_since_the_oldest_sample() {
        let m = Metrics::new(1);
        let start = Instant::now();
        for status in [200, 200, 503, 200] {
            m.observe(Some(0), status, Duration::from_millis(1));
        }
        let rates = m.rates(start + Duration::from_secs(2));
        assert!((rates[0].0 - 2.0).abs() < 0.1, "{rates:?}");
        assert!((rates[0].1 - 0.5).abs() < 0.1, "{rates:?}");
    }
}
