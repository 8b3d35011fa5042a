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
    /// See [`client_address`]: IPv6 clients count by their /64.
    Address(IpAddr),
    /// The name of the API key or the JWT subject that authenticated.
    Credential(String),
}

/// The address a limit counts a client by. One IPv6 host usually has a
/// whole /64 to pick addresses from, so it counts as one client.
pub fn client_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// Buckets per shard before full ones are forgotten: bounds the limiter's
/// memory under a flood of distinct clients (16 shards × this many).
const MAX_BUCKETS_PER_SHARD: usize = 8192;

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
        if buckets.len() > MAX_BUCKETS_PER_SHARD {
            // Bound memory under a flood of clients: forget full buckets.
            let capacity = self.capacity;
            let rate = self.per_second;
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < capacity);
            if buckets.len() > MAX_BUCKETS_PER_SHARD {
                // Still too many clients mid-limit: keep the half closest to
                // being refused, so those who are limited stay limited.
                let mut levels: Vec<(f64, K)> = buckets.iter().map(|(k, b)| (b.tokens, k.clone())).collect();
                levels.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (_, key) in levels.into_iter().skip(MAX_BUCKETS_PER_SHARD / 2) {
                    buckets.remove(&key);
                }
            }
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

/// Requests in flight per client address, so that one client cannot hold
/// every slot of [`crate::limits::MAX_IN_FLIGHT`] with slow requests.
#[derive(Debug)]
pub struct InFlight {
    per_client: usize,
    shards: Vec<Mutex<HashMap<IpAddr, usize>>>,
}

/// One request counted against its client until dropped.
#[derive(Debug)]
pub struct InFlightSlot<'a> {
    owner: &'a InFlight,
    client: IpAddr,
}

impl InFlight {
    pub fn new(per_client: usize) -> Self {
        Self { per_client, shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, client: &IpAddr) -> &Mutex<HashMap<IpAddr, usize>> {
        let mut hasher = DefaultHasher::new();
        client.hash(&mut hasher);
        &self.shards[usize::try_from(hasher.finish()).unwrap_or(0) % SHARDS]
    }

    /// A slot for one more request of `client`, or `None` at its cap.
    pub fn enter(&self, client: IpAddr) -> Option<InFlightSlot<'_>> {
        let client = client_address(client);
        let mut counts = self.shard(&client).lock().ok()?;
        let count = counts.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(InFlightSlot { owner: self, client })
    }
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.owner.shard(&self.client).lock()
            && let Some(count) = counts.get_mut(&self.client)
        {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
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

    #[test]
    fn a_flood_of_clients_is_bounded_and_limited_clients_stay_limited() {
        let limiter = Limiter::new(1.0 / 60.0, 5);
        let t0 = Instant::now();
        let limited = ClientKey::Address("192.0.2.1".parse().unwrap_or_else(|_| panic!()));
        while limiter.check(&limited, t0).is_ok() {}
        for i in 0..300_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let _ = limiter.check(&ClientKey::Address(IpAddr::V4(ip)), t0);
        }
        let total: usize = limiter.shards.iter().map(|s| s.lock().map_or(0, |b| b.len())).sum();
        assert!(total <= SHARDS * (MAX_BUCKETS_PER_SHARD + 1), "{total} buckets");
        assert!(limiter.check(&limited, t0).is_err(), "an empty bucket is not forgotten");
    }

    #[test]
    fn in_flight_is_capped_per_client_and_given_back() {
        let in_flight = InFlight::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap_or_else(|_| panic!());
        let b: IpAddr = "192.0.2.2".parse().unwrap_or_else(|_| panic!());
        let first = in_flight.enter(a);
        let second = in_flight.enter(a);
        assert!(first.is_some() && second.is_some());
        assert!(in_flight.enter(a).is_none(), "a third request of the same client");
        assert!(in_flight.enter(b).is_some(), "another client is not affected");
        drop(first);
        assert!(in_flight.enter(a).is_some(), "a finished request gives its slot back");
        drop(second);
        assert!(in_flight.shards.iter().all(|s| s.lock().is_ok_and(|m| m.is_empty())), "nothing left behind");
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or_else(|_| panic!());
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap_or_else(|_| panic!());
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|_| panic!());
        assert_eq!(client_address(a), client_address(b));
        assert_ne!(client_address(a), client_address(other));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap_or_else(|_| panic!());
        assert_eq!(client_address(mapped), "10.1.2.3".parse::<IpAddr>().unwrap_or_else(|_| panic!()));
    }
}
