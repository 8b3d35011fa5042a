//! The edge's own Prometheus metrics, served on the admin listener.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by status class: 1xx..5xx.
    by_class: [AtomicU64; 6],
    pub rate_limited: AtomicU64,
    pub upstream_errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, status: u16, elapsed: Duration) {
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

    /// The exposition text; `health` lists (service, backend, healthy).
    pub fn render(&self, health: &[(String, String, bool)]) -> String {
        let mut out = String::from("# TYPE berth_edge_requests_total counter\n");
        for (class, n) in self.by_class.iter().enumerate().skip(1) {
            let _ = writeln!(out, "berth_edge_requests_total{{code=\"{class}xx\"}} {}", n.load(Ordering::Relaxed));
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
