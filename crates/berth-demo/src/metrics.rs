//! Prometheus metrics with the names berth's alerts and dashboards read:
//! `http_requests_total{status}`, `http_request_duration_seconds`, and the
//! standard `process_*` series.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug)]
pub struct Metrics {
    started: f64,
    by_status: Mutex<Vec<(u16, u64)>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            started: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            by_status: Mutex::new(Vec::new()),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, status: u16, elapsed: Duration) {
        if let Ok(mut by_status) = self.by_status.lock() {
            match by_status.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => by_status.push((status, 1)),
            }
        }
        let secs = elapsed.as_secs_f64();
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            if secs <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP http_requests_total Requests answered, by status.\n# TYPE http_requests_total counter\n",
        );
        let mut by_status = self.by_status.lock().map(|v| v.clone()).unwrap_or_default();
        by_status.sort_unstable();
        for (status, n) in by_status {
            let _ = writeln!(out, "http_requests_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer a request.\n# TYPE http_request_duration_seconds histogram\n");
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            let _ =
                writeln!(out, "http_request_duration_seconds_bucket{{le=\"{le}\"}} {}", bucket.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ =
            writeln!(out, "http_request_duration_seconds_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "http_request_duration_seconds_count {count}");
        let _ = writeln!(out, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}", self.started);
        if let Some((rss, cpu)) = process_stats() {
            let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
            let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}");
        }
        out
    }
}

/// Resident memory (bytes) and CPU time (seconds) from /proc/self.
fn process_stats() -> Option<(u64, f64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in pages of 4 KiB and clock ticks of 1/100 s on every common platform.
    Some((rss_pages * 4096, (utime + stime) / 100.0))
}
