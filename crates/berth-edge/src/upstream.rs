//! Backends and the choice among them: least connections over the healthy
//! primaries; the fallback backends only when no primary is healthy; and
//! when nothing is healthy, every primary (fail open: a wrong health check
//! must not take the whole service down).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Passive detection: this many failures within the window mark a backend down.
pub const MAX_FAILS: usize = 3;
pub const FAIL_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Backend {
    pub addr: SocketAddr,
    healthy: AtomicBool,
    /// Taken out of every pool by a deploy: its health checks stop.
    retired: AtomicBool,
    in_flight: AtomicUsize,
    failures: Mutex<Vec<Instant>>,
    /// What the last health check's `X-Version` said, for the status page.
    version: Mutex<Option<String>>,
    pub requests: AtomicU64,
    /// Answers with a 5xx status or no answer at all.
    pub errors: AtomicU64,
    /// Turned true when the WebSockets through this backend must close
    /// (a deploy retired it and its drain time is over).
    tunnels_closing: tokio::sync::watch::Sender<bool>,
    /// Open HTTP/1.1 connections to it, reused across requests.
    pub connections: crate::client::Connections,
}

impl Backend {
    pub fn new(addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            addr,
            healthy: AtomicBool::new(true),
            retired: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
            version: Mutex::new(None),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            tunnels_closing: tokio::sync::watch::channel(false).0,
            connections: crate::client::Connections::default(),
        })
    }

    /// Tells every WebSocket through this backend to close (1001).
    pub fn close_tunnels(&self) {
        self.tunnels_closing.send_replace(true);
    }

    /// For a new tunnel: turns true when it must close.
    pub fn tunnels_closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.tunnels_closing.subscribe()
    }

    pub fn version(&self) -> Option<String> {
        self.version.lock().ok().and_then(|v| v.clone())
    }

    pub fn set_version(&self, version: Option<String>) {
        if let Ok(mut v) = self.version.lock() {
            *v = version;
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
        if healthy && let Ok(mut f) = self.failures.lock() {
            f.clear();
        }
    }

    pub fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A request that could not reach the backend.
    pub fn record_failure(&self, now: Instant) {
        let Ok(mut failures) = self.failures.lock() else { return };
        failures.retain(|t| now.duration_since(*t) < FAIL_WINDOW);
        failures.push(now);
        if failures.len() >= MAX_FAILS {
            self.healthy.store(false, Ordering::Relaxed);
        }
    }
}

/// Counts a request against a backend while it is alive.
#[derive(Debug)]
pub struct Lease(pub Arc<Backend>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The backends of one service a route sends to, and its share of the
/// route's requests.
#[derive(Debug, Default)]
pub struct Share {
    pub service: String,
    /// The service port routed to, as declared.
    pub port: u16,
    /// Percent of the route's requests (the route's own service: the rest).
    pub weight: usize,
    pub primaries: Vec<Arc<Backend>>,
    /// A canary set that gets `canary_percent` of this share's requests while healthy.
    pub canary: Vec<Arc<Backend>>,
    pub canary_percent: usize,
    /// Rotates among equally loaded backends, so an idle share still spreads.
    turn: AtomicUsize,
}

impl Share {
    pub fn new(service: impl Into<String>, port: u16, weight: usize, primaries: Vec<Arc<Backend>>) -> Self {
        Self {
            service: service.into(),
            port,
            weight: weight.min(100),
            primaries,
            canary: Vec::new(),
            canary_percent: 0,
            turn: AtomicUsize::new(0),
        }
    }

    pub fn with_canary(mut self, canary: Vec<Arc<Backend>>, percent: usize) -> Self {
        self.canary = canary;
        self.canary_percent = percent.min(100);
        self
    }

    /// The same share with other backends (a deploy's swap). The turn goes
    /// on where it was, so a swap does not restart the canary's hundred.
    pub fn replaced(&self, primaries: Vec<Arc<Backend>>, canary: Vec<Arc<Backend>>, canary_percent: usize) -> Self {
        let next =
            Self::new(self.service.clone(), self.port, self.weight, primaries).with_canary(canary, canary_percent);
        next.turn.store(self.turn.load(Ordering::Relaxed), Ordering::Relaxed);
        next
    }

    fn copy(&self) -> Self {
        self.replaced(self.primaries.clone(), self.canary.clone(), self.canary_percent)
    }

    /// A healthy backend of this share: by `client` (rendezvous over the
    /// canary for its share of clients, else over the primaries), or the
    /// least loaded, with `canary_percent` of every hundred requests,
    /// spread evenly, on a healthy canary.
    fn pick_healthy(&self, exclude: Option<SocketAddr>, client: Option<u64>) -> Option<Arc<Backend>> {
        let usable = |b: &&Arc<Backend>| Some(b.addr) != exclude && b.is_healthy();
        if let Some(key) = client {
            let to_canary = !self.canary.is_empty() && (key % 100) < self.canary_percent as u64;
            return to_canary
                .then(|| rendezvous(self.canary.iter().filter(usable), key))
                .flatten()
                .or_else(|| rendezvous(self.primaries.iter().filter(usable), key));
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let canary_turn = !self.canary.is_empty() && (turn % 100) * self.canary_percent % 100 < self.canary_percent;
        let canary = if canary_turn { least(self.canary.iter().filter(usable), turn) } else { None };
        canary.or_else(|| least(self.primaries.iter().filter(usable), turn))
    }
}

/// A route's backends: one share per service it sends to (the route's own
/// service first, then its `split`), and the fallback service's backends.
#[derive(Debug, Default)]
pub struct Pool {
    pub shares: Vec<Share>,
    pub fallbacks: Vec<Arc<Backend>>,
    /// Chooses among the shares by weight, request by request.
    turn: AtomicUsize,
}

impl Pool {
    /// A route to one service (weight 100).
    pub fn new(primaries: Vec<Arc<Backend>>, fallbacks: Vec<Arc<Backend>>) -> Self {
        Self::split(vec![Share::new("", 0, 100, primaries)], fallbacks)
    }

    pub fn split(shares: Vec<Share>, fallbacks: Vec<Arc<Backend>>) -> Self {
        Self { shares, fallbacks, turn: AtomicUsize::new(0) }
    }

    /// The first share with a canary (tests and the single-service case).
    pub fn with_canary(mut self, canary: Vec<Arc<Backend>>, percent: usize) -> Self {
        if let Some(first) = self.shares.first_mut() {
            first.canary = canary;
            first.canary_percent = percent.min(100);
        }
        self
    }

    /// The same pool with one share's or the fallback's backends replaced;
    /// the other shares keep theirs.
    pub fn with_share(&self, index: usize, share: Share) -> Self {
        let mut shares: Vec<Share> = self.shares.iter().map(Share::copy).collect();
        if let Some(slot) = shares.get_mut(index) {
            *slot = share;
        }
        self.carried_on(Self::split(shares, self.fallbacks.clone()))
    }

    pub fn with_fallbacks(&self, fallbacks: Vec<Arc<Backend>>) -> Self {
        self.carried_on(Self::split(self.shares.iter().map(Share::copy).collect(), fallbacks))
    }

    /// `next` with this pool's turn: a deploy's swap does not restart the
    /// split's hundred (each restart would favour the first slots).
    fn carried_on(&self, next: Self) -> Self {
        next.turn.store(self.turn.load(Ordering::Relaxed), Ordering::Relaxed);
        next
    }

    /// Every backend of the pool, each once.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.shares.iter().flat_map(|s| s.primaries.iter().chain(&s.canary)).chain(&self.fallbacks)
    }

    pub fn pick(&self, exclude: Option<SocketAddr>) -> Option<Lease> {
        self.pick_for(exclude, None)
    }

    /// Where a request falls in the hundred the shares divide: `(key /
    /// 100) % 100` for a client (so one client stays with one service; the
    /// canary inside a share uses `key % 100`, an independent digit), or
    /// stepping through every hundred requests in an order that spreads
    /// each share evenly.
    fn slot(&self, client: Option<u64>) -> usize {
        if self.shares.len() < 2 {
            return 0;
        }
        match client {
            Some(key) => ((key / 100) % 100) as usize,
            // 37 is coprime with 100: each hundred turns visits every slot once.
            None => self.turn.fetch_add(1, Ordering::Relaxed) % 100 * 37 % 100,
        }
    }

    /// [`Pool::pick`], or with a `client` key (a sticky service) the same
    /// healthy backend for that client every time: rendezvous hashing over
    /// the healthy primaries, so a replica going away moves only its own
    /// clients, and a canary's or a split's share is chosen by client,
    /// never by request, so one client stays on one version. A share with
    /// nothing healthy gives its requests to the other shares, then to the
    /// fallback; when nothing is healthy anywhere, the chosen share's
    /// primaries take them anyway (least connections).
    pub fn pick_for(&self, exclude: Option<SocketAddr>, client: Option<u64>) -> Option<Lease> {
        let eligible = |b: &&Arc<Backend>| Some(b.addr) != exclude;
        let healthy = |b: &&Arc<Backend>| b.is_healthy();
        // No allocation here: this runs for every request.
        let slot = self.slot(client);
        let chosen_index = by_weight(self.shares.iter(), slot);
        let chosen = self.shares.get(chosen_index);
        // A share with nothing healthy gives its requests to the others in
        // proportion to their weights: the same slot among what is left.
        let others = self.shares.iter().enumerate().filter(move |(i, _)| *i != chosen_index).map(|(_, s)| s);
        let picked = chosen
            .and_then(|s| s.pick_healthy(exclude, client))
            .or_else(|| {
                let first = by_weight(others.clone(), slot);
                let mut order = others.clone().skip(first).chain(others.clone().take(first));
                order.find_map(|s| s.pick_healthy(exclude, client))
            })
            .or_else(|| {
                let turn = chosen.map_or(0, |s| s.turn.fetch_add(1, Ordering::Relaxed));
                least(self.fallbacks.iter().filter(eligible).filter(healthy), turn)
                    .or_else(|| chosen.and_then(|s| least(s.primaries.iter().filter(eligible), turn)))
                    .or_else(|| least(self.shares.iter().flat_map(|s| &s.primaries).filter(eligible), turn))
            })?;
        picked.in_flight.fetch_add(1, Ordering::Relaxed);
        picked.requests.fetch_add(1, Ordering::Relaxed);
        Some(Lease(picked))
    }
}

/// The index in `shares` whose part of the hundred holds `slot`, the
/// parts in proportion to the weights (in order; the last takes any
/// rounding).
fn by_weight<'a>(shares: impl Iterator<Item = &'a Share> + Clone, slot: usize) -> usize {
    let (count, total) = shares.clone().fold((0usize, 0usize), |(n, sum), s| (n + 1, sum + s.weight));
    if total == 0 {
        return 0;
    }
    let point = slot * total / 100;
    let mut upper = 0;
    for (i, share) in shares.enumerate() {
        upper += share.weight;
        if point < upper {
            return i;
        }
    }
    count.saturating_sub(1)
}

/// The backend whose (key, address) hash is highest.
fn rendezvous<'a>(set: impl Iterator<Item = &'a Arc<Backend>>, key: u64) -> Option<Arc<Backend>> {
    use std::hash::{Hash as _, Hasher as _};
    set.max_by_key(|b| {
        let mut h = std::hash::DefaultHasher::new();
        (key, b.addr).hash(&mut h);
        h.finish()
    })
    .map(Arc::clone)
}

/// The longest affinity cookie berth accepts back: it sets 32 characters.
const MAX_COOKIE: usize = 64;

/// The affinity key of a `sticky: cookie` service: the client's
/// `berth_affinity` cookie when it is one berth could have set (1 to 64
/// of `A-Z a-z 0-9 _ -`, as nginx's rendering accepts too), else a new
/// random value, returned so the response sets it. The value is only
/// hashed: it is never echoed, and it names no replica.
pub fn cookie_key(headers: &hyper::HeaderMap) -> (u64, Option<String>) {
    let valid = |v: &&str| {
        (1..=MAX_COOKIE).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    // HTTP/2 clients may split cookies over several headers.
    let found = headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == berth_spec::Sticky::COOKIE)
        .map(|(_, value)| value.trim())
        .filter(valid);
    match found {
        Some(value) => (text_key(value), None),
        None => {
            let value = new_cookie_value();
            (text_key(&value), Some(value))
        }
    }
}

fn text_key(text: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// 128 random bits as 32 hex characters: each `RandomState` is seeded
/// from the OS's randomness, so the values are unpredictable and unique.
fn new_cookie_value() -> String {
    use std::hash::BuildHasher as _;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::hash::RandomState::new();
    format!("{:016x}{:016x}", state.hash_one((n, 0u8)), state.hash_one((n, 1u8)))
}

/// A client address as a sticky key.
pub fn client_key(client: std::net::IpAddr) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::hash::DefaultHasher::new();
    client.hash(&mut h);
    h.finish()
}

/// The backend with the fewest requests in flight; `turn` rotates among
/// ties. Each counter is read once, into a snapshot: other requests change
/// them all the time, and judging the minimum and the ties on two separate
/// reads could find no backend at the minimum.
fn least<'a>(set: impl Iterator<Item = &'a Arc<Backend>>, turn: usize) -> Option<Arc<Backend>> {
    let snapshot: Vec<(&Arc<Backend>, usize)> = set.map(|b| (b, b.in_flight())).collect();
    let min = snapshot.iter().map(|(_, load)| *load).min()?;
    let ties = snapshot.iter().filter(|(_, load)| *load == min).count();
    snapshot.iter().filter(|(_, load)| *load == min).nth(turn % ties.max(1)).map(|(b, _)| Arc::clone(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn least_connections_then_fallback_then_fail_open() {
        let pool = Pool::new(vec![Backend::new(addr(1)), Backend::new(addr(2))], vec![Backend::new(addr(9))]);
        let a = pool.pick(None).unwrap_or_else(|| panic!());
        let b = pool.pick(None).unwrap_or_else(|| panic!());
        assert_ne!(a.0.addr, b.0.addr, "the second request goes to the idle backend");
        drop((a, b));
        for p in &pool.shares[0].primaries {
            p.set_healthy(false);
        }
        assert_eq!(pool.pick(None).map(|l| l.0.addr), Some(addr(9)), "fallback while every primary is down");
        pool.fallbacks[0].set_healthy(false);
        assert!(pool.pick(None).is_some_and(|l| l.0.addr.port() < 9), "never eject the last backend: fail open");
    }

    #[test]
    fn an_affinity_cookie_is_read_back_and_a_bad_one_replaced() {
        let headers = |cookies: &[&str]| {
            let mut h = hyper::HeaderMap::new();
            for c in cookies {
                h.append(hyper::header::COOKIE, hyper::header::HeaderValue::from_str(c).unwrap());
            }
            h
        };
        let (key, new) = cookie_key(&headers(&[]));
        let value = new.unwrap();
        assert!(value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()), "{value}");
        // Sent back, in the second of two Cookie headers (HTTP/2 splits them).
        let again = cookie_key(&headers(&["theme=dark", &format!("sid=1; berth_affinity={value}")]));
        assert_eq!(again, (key, None));
        // Every new client gets another value.
        assert_ne!(cookie_key(&headers(&[])).1.unwrap(), value);
        for forged in ["berth_affinity=<b>", "berth_affinity=", &format!("berth_affinity={}", "a".repeat(65))] {
            let (_, new) = cookie_key(&headers(&[forged]));
            assert!(new.is_some_and(|v| !forged.contains(&v)), "{forged}");
        }
    }

    #[test]
    fn a_sticky_client_stays_on_its_backend_until_it_goes() {
        let pool = Pool::new((1..=4).map(|p| Backend::new(addr(p))).collect(), vec![]);
        let clients: Vec<u64> = (0..200u8).map(|i| client_key(std::net::IpAddr::from([10, 0, 0, i]))).collect();
        let first: Vec<SocketAddr> = clients.iter().map(|c| pool.pick_for(None, Some(*c)).unwrap().0.addr).collect();
        // Load does not move a sticky client.
        let _held: Vec<Lease> = (0..50).filter_map(|_| pool.pick_for(None, Some(clients[0]))).collect();
        let again: Vec<SocketAddr> = clients.iter().map(|c| pool.pick_for(None, Some(*c)).unwrap().0.addr).collect();
        assert_eq!(first, again);
        for p in 1..=4 {
            let share = first.iter().filter(|a| a.port() == p).count();
            assert!((25..=75).contains(&share), "backend {p} got {share} of 200 clients");
        }
        // A backend going down moves only its own clients.
        pool.shares[0].primaries[0].set_healthy(false);
        for (c, was) in clients.iter().zip(&first) {
            let now = pool.pick_for(None, Some(*c)).unwrap().0.addr;
            if was.port() == 1 {
                assert_ne!(now.port(), 1);
            } else {
                assert_eq!(now, *was);
            }
        }
        // A retry may go elsewhere: the failed backend is excluded.
        let c = clients[1];
        let home = pool.pick_for(None, Some(c)).unwrap().0.addr;
        assert_ne!(pool.pick_for(Some(home), Some(c)).unwrap().0.addr, home);
    }

    #[test]
    fn a_sticky_client_sees_one_version_during_a_canary() {
        let pool = Pool::new(vec![Backend::new(addr(1))], vec![]).with_canary(vec![Backend::new(addr(2))], 10);
        let clients: Vec<u64> = (0..=255u8).map(|i| client_key(std::net::IpAddr::from([10, 0, 1, i]))).collect();
        for c in &clients {
            let first = pool.pick_for(None, Some(*c)).unwrap().0.addr;
            assert!((0..5).all(|_| pool.pick_for(None, Some(*c)).unwrap().0.addr == first));
        }
        let on_canary = clients.iter().filter(|c| pool.pick_for(None, Some(**c)).unwrap().0.addr == addr(2)).count();
        assert!((10..=45).contains(&on_canary), "{on_canary} of 256 clients on a 10% canary");
    }

    #[test]
    fn canary_gets_its_share() {
        let pool = Pool::new(vec![Backend::new(addr(1))], vec![]).with_canary(vec![Backend::new(addr(2))], 10);
        let canary = (0..1000).filter(|_| pool.pick(None).is_some_and(|l| l.0.addr == addr(2))).count();
        assert_eq!(canary, 100);
    }

    fn split_pool(weight: usize) -> Pool {
        Pool::split(
            vec![
                Share::new("web", 8080, 100 - weight, vec![Backend::new(addr(1)), Backend::new(addr(2))]),
                Share::new("web-next", 8081, weight, vec![Backend::new(addr(3))]),
            ],
            vec![Backend::new(addr(9))],
        )
    }

    #[test]
    fn a_split_gives_each_service_its_share_spread_evenly() {
        for weight in [1, 10, 25, 50, 99] {
            let pool = split_pool(weight);
            let picks: Vec<bool> = (0..1000).map(|_| pool.pick(None).unwrap().0.addr == addr(3)).collect();
            assert_eq!(picks.iter().filter(|p| **p).count(), weight * 10, "{weight}% of 1000");
            // Every hundred requests carry the share, not only the thousand.
            for hundred in picks.chunks(100) {
                assert_eq!(hundred.iter().filter(|p| **p).count(), weight, "{weight}% of each hundred");
            }
        }
        // Within the route's own service, least connections still spreads.
        let pool = split_pool(10);
        let ports: std::collections::BTreeSet<u16> = (0..20).map(|_| pool.pick(None).unwrap().0.addr.port()).collect();
        assert_eq!(ports.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn a_sticky_client_stays_with_one_service_of_a_split() {
        let pool = split_pool(20);
        let clients: Vec<u64> = (0..=255u8).map(|i| client_key(std::net::IpAddr::from([10, 0, 2, i]))).collect();
        let mut on_next = 0;
        for c in &clients {
            let first = pool.pick_for(None, Some(*c)).unwrap().0.addr;
            assert!((0..5).all(|_| pool.pick_for(None, Some(*c)).unwrap().0.addr == first));
            on_next += usize::from(first == addr(3));
        }
        assert!((25..=80).contains(&on_next), "{on_next} of 256 clients on a 20% split");
    }

    #[test]
    fn a_split_service_that_is_down_gives_its_share_to_the_others_then_the_fallback() {
        let pool = split_pool(50);
        pool.shares[1].primaries[0].set_healthy(false);
        assert!((0..100).all(|_| pool.pick(None).unwrap().0.addr.port() <= 2), "the healthy service takes it all");
        for b in &pool.shares[0].primaries {
            b.set_healthy(false);
        }
        assert!((0..10).all(|_| pool.pick(None).unwrap().0.addr == addr(9)), "then the fallback");
        pool.fallbacks[0].set_healthy(false);
        assert!((0..10).all(|_| pool.pick(None).is_some()), "nothing healthy: fail open");
    }

    #[test]
    fn a_share_that_is_down_is_spread_over_the_others_by_weight() {
        let pool = Pool::split(
            vec![
                Share::new("a", 1, 60, vec![Backend::new(addr(1))]),
                Share::new("b", 2, 20, vec![Backend::new(addr(2))]),
                Share::new("c", 3, 20, vec![Backend::new(addr(3))]),
            ],
            vec![],
        );
        pool.shares[1].primaries[0].set_healthy(false);
        let mut got = [0; 4];
        for _ in 0..100 {
            got[usize::from(pool.pick(None).unwrap().0.addr.port())] += 1;
        }
        assert_eq!(got, [0, 75, 0, 25], "b's 20 go 3:1 to a and c, as nginx skips a dead server");
        // A deploy's swap keeps the turn: the hundred goes on where it was.
        let swapped = pool.with_share(2, pool.shares[2].replaced(vec![Backend::new(addr(3))], vec![], 0));
        assert_eq!(swapped.turn.load(Ordering::Relaxed), 100);
    }

    /// Many threads pick and release at once while health flips under them:
    /// every pick finds a backend, none panics, and the counters return to
    /// zero (the race that once emptied the tie set).
    #[test]
    fn picking_under_concurrency_never_fails_or_panics() {
        let primaries: Vec<_> = (1..=4).map(|p| Backend::new(addr(p))).collect();
        let pool = Arc::new(
            Pool::new(primaries.clone(), vec![Backend::new(addr(9))]).with_canary(vec![Backend::new(addr(5))], 25),
        );
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..20_000usize {
                        if i % 97 == t {
                            pool.shares[0].primaries[i % 4].set_healthy(i % 2 == 0);
                        }
                        let exclude = (i % 7 == 0).then(|| addr(1 + (i % 4) as u16));
                        let Some(lease) = pool.pick(exclude) else { return false };
                        held.push(lease);
                        if held.len() > (i % 5) {
                            held.clear();
                        }
                    }
                    true
                })
            })
            .collect();
        for t in threads {
            assert!(matches!(t.join(), Ok(true)), "a pick found no backend or panicked");
        }
        assert!(pool.backends().all(|b| b.in_flight() == 0), "every lease was given back");
    }

    #[test]
    fn ties_rotate() {
        let pool = Pool::new((1..=3).map(|p| Backend::new(addr(p))).collect(), vec![]);
        let mut seen: Vec<u16> = (0..3).filter_map(|_| pool.pick(None).map(|l| l.0.addr.port())).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2, 3], "idle backends take turns");
    }

    #[test]
    fn passive_failures_mark_down() {
        let b = Backend::new(addr(1));
        let now = Instant::now();
        for _ in 0..MAX_FAILS {
            b.record_failure(now);
        }
        assert!(!b.is_healthy());
    }
}
