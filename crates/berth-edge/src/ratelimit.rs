//! Token buckets per client and zone: `rate` refills, `burst` is the size
//! beyond the one request always allowed. Sharded so that concurrent
//! clients rarely wait on the same lock.
//!
//! A client is an address or, for `by: api-key` zones, the credential that
//! authenticated the request: every holder of one key shares its bucket,
//! wherever they connect from.

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

/// Whose bucket a request takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    Address(IpAddr),
    /// The name of the API key or the JWT subject that authenticated.
    Credential(String),
}

/// Failed authentications allowed per client address: a burst of this
/// many, then one per [`AUTH_FAILURE_REFILL`] second(s). Past it every
/// attempt from that address gets 429, right or wrong, so that keys and
/// tokens cannot be guessed at line rate.
pub const AUTH_FAILURE_BURST: u32 = 20;
pub const AUTH_FAILURE_REFILL: f64 = 6.0;

#[derive(Debug)]
pub struct Limiter<K = ClientKey> {
    per_second: f64,
    capacity: f64,
    shards: Vec<Mutex<HashMap<K, Bucket>>>,
}

impl Limiter<IpAddr> {
    /// The limiter of failed authentications.
    pub fn auth_failures() -> Self {
        Self::new(1.0 / AUTH_FAILURE_REFILL, AUTH_FAILURE_BURST - 1)
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            capacity: f64::from(burst) + 1.0,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, client: &K) -> &Mutex<HashMap<K, Bucket>> {
        let mut hasher = DefaultHasher::new();
        client.hash(&mut hasher);
        &self.shards[usize::try_from(hasher.finish()).unwrap_or(0) % SHARDS]
    }

    /// `Err(retry_after)` when the client's bucket is empty; takes nothing.
    pub fn peek(&self, client: &K, now: Instant) -> Result<(), Duration> {
        let Ok(buckets) = self.shard(client).lock() else { return Err(Duration::from_secs(1)) };
        let Some(bucket) = buckets.get(client) else { return Ok(()) };
        let tokens = (bucket.tokens + now.saturating_duration_since(bucket.last).as_secs_f64() * self.per_second)
            .min(self.capacity);
        if tokens >= 1.0 { Ok(()) } else { Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second)) }
    }

    /// `Ok` to pass, or `Err(retry_after)`.
    pub fn check(&self, client: &K, now: Instant) -> Result<(), Duration> {
        // A poisoned lock means a panic elsewhere; refusing is the safe side.
        let Ok(mut buckets) = self.shard(client).lock() else { return Err(Duration::from_secs(1)) };
        if buckets.len() > 100_000 {
            // Bound memory under a flood of clients: forget full buckets.
            let capacity = self.capacity;
            let rate = self.per_second;
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < capacity);
        }
        let bucket = buckets.entry(client.clone()).or_insert(Bucket { tokens: self.capacity, last: now });
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
        let ip = ClientKey::Address("127.0.0.1".parse().unwrap_or_else(|_| panic!()));
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(limiter.check(&ip, t0).is_ok());
        }
        let retry = limiter.check(&ip, t0).err().unwrap_or_default();
        assert!(retry > Duration::from_millis(400) && retry <= Duration::from_millis(500), "{retry:?}");
        assert!(limiter.check(&ip, t0 + Duration::from_millis(500)).is_ok());
        let other = ClientKey::Address("127.0.0.2".parse().unwrap_or_else(|_| panic!()));
        assert!(limiter.check(&other, t0).is_ok(), "clients have their own buckets");
        let key = ClientKey::Credential("ci".into());
        assert!(limiter.peek(&key, t0).is_ok());
        for _ in 0..4 {
            assert!(limiter.check(&key, t0).is_ok());
        }
        assert!(limiter.peek(&key, t0).is_err(), "a key has its own bucket, and peeking sees it empty");
        assert!(limiter.peek(&key, t0).is_err(), "peeking takes nothing");
    }
}
