//! Token buckets per client and zone: `rate` refills, `burst` is the size
//! beyond the one request always allowed. Sharded so that concurrent
//! clients rarely wait on the same lock.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct Limiter {
    per_second: f64,
    capacity: f64,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl Limiter {
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            capacity: f64::from(burst) + 1.0,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// `Ok` to pass, or `Err(retry_after)`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut hasher = DefaultHasher::new();
        client.hash(&mut hasher);
        let shard = usize::try_from(hasher.finish()).unwrap_or(0) % SHARDS;
        let Ok(mut buckets) = self.shards[shard].lock() else { return Ok(()) };
        if buckets.len() > 100_000 {
            // Bound memory under a flood of clients: forget full buckets.
            let capacity = self.capacity;
            let rate = self.per_second;
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: self.capacity, last: now });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = Limiter::new(2.0, 3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap_or_else(|_| panic!());
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        let retry = limiter.check(ip, t0).err().unwrap_or_default();
        assert!(retry > Duration::from_millis(400) && retry <= Duration::from_millis(500), "{retry:?}");
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_ok());
        let other: IpAddr = "127.0.0.2".parse().unwrap_or_else(|_| panic!());
        assert!(limiter.check(other, t0).is_ok(), "clients have their own buckets");
    }
}
