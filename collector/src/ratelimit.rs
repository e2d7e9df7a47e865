//! Rate limits: a token bucket (`per_minute` events a minute on average, bursts of up to
//! `per_minute`), and per-client-network buckets ([`NetworkBuckets`]) for the control,
//! enrollment and heavy public reads. A network is an IPv4 /24 or an IPv6 /48, held in memory
//! only as a salted hash of the prefix (the salt is drawn at start and never written), so no
//! client address is kept. The number of tracked networks is bounded: only a bucket that has
//! refilled (it holds no state) is dropped for a newcomer; when none has, newcomers share one
//! overflow bucket, so a client holding many networks cannot cycle its own bucket out.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;
use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn per_minute(per_minute: u32) -> TokenBucket {
        let capacity = f64::from(per_minute.max(1));
        TokenBucket { capacity, per_second: capacity / 60.0, tokens: capacity, last: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// Take a token at `now`; Err is how long until one is available.
    pub fn take_at(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }

    pub fn take(&mut self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }

    /// Whether the bucket is full at `now` (it then holds no state: a new one is the same).
    fn is_full_at(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// A tracked client's key: the salted hash of its network's prefix (or of another identity).
type NetKey = [u8; 16];

/// The prefix a client shares with its network: IPv4 /24, IPv6 /48.
fn prefix(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3].to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets()[..3].to_vec(),
            None => v6.octets()[..6].to_vec(),
        },
    }
}

/// One bucket per client network, at most `max_networks` of them. A newcomer takes the place of
/// the least recently used bucket only if that one has refilled; otherwise it counts against
/// one shared overflow bucket until a place frees up (a flood of sources costs a bounded amount
/// of memory and cannot reset its own buckets).
#[derive(Debug)]
pub struct NetworkBuckets {
    per_minute: u32,
    max_networks: usize,
    salt: [u8; 32],
    inner: Mutex<Tracked>,
}

#[derive(Debug)]
struct Tracked {
    /// Least recently used first.
    buckets: LinkedHashMap<NetKey, TokenBucket>,
    /// Shared by the newcomers that found no refilled bucket to replace.
    overflow: TokenBucket,
}

impl NetworkBuckets {
    /// `per_minute` 0: no limit. `max_networks` is at least 1.
    pub fn new(per_minute: u32, max_networks: usize) -> NetworkBuckets {
        NetworkBuckets {
            per_minute,
            max_networks: max_networks.max(1),
            salt: rand::random(),
            inner: Mutex::new(Tracked { buckets: LinkedHashMap::new(), overflow: TokenBucket::per_minute(per_minute) }),
        }
    }

    fn key(&self, ip: Option<IpAddr>) -> NetKey {
        // Requests without a known address (no socket information) share one bucket.
        self.hash(b"net", &ip.map(prefix).unwrap_or_default())
    }

    fn hash(&self, kind: &[u8], id: &[u8]) -> NetKey {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(kind);
        h.update(id);
        let digest = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    /// Take a token for `ip`'s network at `now`; Err is how long until one is available.
    pub fn take_at(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        self.take_key_at(self.key(ip), now)
    }

    fn take_key_at(&self, key: NetKey, now: Instant) -> Result<(), Duration> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *guard;
        if let Some(bucket) = t.buckets.to_back(&key) {
            return bucket.take_at(now);
        }
        if t.buckets.len() >= self.max_networks {
            let refilled = t.buckets.front().is_some_and(|(_, b)| b.is_full_at(now));
            if !refilled {
                return t.overflow.take_at(now);
            }
            t.buckets.pop_front();
        }
        let mut bucket = TokenBucket::per_minute(self.per_minute);
        bucket.last = now;
        let taken = bucket.take_at(now);
        t.buckets.insert(key, bucket);
        taken
    }

    pub fn take(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.take_at(ip, Instant::now())
    }

    /// Take a token for the client named `id` (a probe key id) rather than a network.
    pub fn take_id_at(&self, id: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        self.take_key_at(self.hash(b"id", id.as_bytes()), now)
    }

    pub fn take_id(&self, id: &str) -> Result<(), Duration> {
        self.take_id_at(id, Instant::now())
    }

    /// How many networks are tracked now.
    pub fn tracked(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).buckets.len()
    }
}

/// What a rate-limited route counts against (each class has its own buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `POST /api/v1/control`: per network in `open` mode; in `enrolled` mode per probe key,
    /// and per network for refused authentications (`control_auth`).
    Control,
    /// `POST /api/v1/enroll` (every request; new open enrollments also have their own rate).
    Enroll,
    /// Heavy public reads: listings and exports, timelines, charts, reconciliation, pages.
    Read,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Control => "control",
            Class::Enroll => "enrollment",
            Class::Read => "read",
        }
    }
}

/// The per-network limits of a running collector.
#[derive(Debug)]
pub struct Limits {
    /// Control requests per network (`open` mode).
    pub control: NetworkBuckets,
    /// Authenticated control requests per probe key (`enrolled` mode).
    pub control_keys: NetworkBuckets,
    /// Control requests refused for their authentication, per network (`enrolled` mode).
    pub control_auth_failures: NetworkBuckets,
    pub enroll: NetworkBuckets,
    pub reads: NetworkBuckets,
    /// New open enrollments (`open_enrollments_per_minute`).
    pub open_enrollments: NetworkBuckets,
}

impl Limits {
    pub fn new(c: &crate::Config) -> Limits {
        let n = c.max_tracked_networks;
        Limits {
            control: NetworkBuckets::new(c.control_per_minute, n),
            control_keys: NetworkBuckets::new(c.control_per_key_per_minute, n),
            control_auth_failures: NetworkBuckets::new(c.control_auth_failures_per_minute, n),
            enroll: NetworkBuckets::new(c.enroll_per_minute, n),
            reads: NetworkBuckets::new(c.reads_per_minute, n),
            // Never unlimited (0 is refused at start, `cli.rs`): a configuration built in code
            // with 0 gets the tightest limit rather than none.
            open_enrollments: NetworkBuckets::new(c.open_enrollments_per_minute.max(1), n),
        }
    }

    pub fn of(&self, class: Class) -> &NetworkBuckets {
        match class {
            Class::Control => &self.control,
            Class::Enroll => &self.enroll,
            Class::Read => &self.reads,
        }
    }
}

/// Seconds for a `Retry-After` header: the wait rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn one_bucket_per_network_of_a_24_or_a_48() {
        let b = NetworkBuckets::new(2, 100);
        let t0 = Instant::now();
        assert!(b.take_at(ip("192.0.2.1"), t0).is_ok());
        assert!(b.take_at(ip("192.0.2.200"), t0).is_ok());
        assert!(b.take_at(ip("192.0.2.7"), t0).is_err(), "same /24, bucket empty");
        assert!(b.take_at(ip("::ffff:192.0.2.9"), t0).is_err(), "IPv4-mapped is the same /24");
        assert!(b.take_at(ip("192.0.3.1"), t0).is_ok(), "another /24");
        assert!(b.take_at(ip("2001:db8:1:aaaa::1"), t0).is_ok());
        assert!(b.take_at(ip("2001:db8:1:bbbb::2"), t0).is_ok());
        assert!(b.take_at(ip("2001:db8:1:cccc::3"), t0).is_err(), "same /48");
        assert!(b.take_at(ip("2001:db8:2::1"), t0).is_ok(), "another /48");
        assert_eq!(b.tracked(), 4);
        let wait = b.take_at(ip("192.0.2.1"), t0).unwrap_err();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(b.take_at(ip("192.0.2.1"), t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn the_tracked_networks_are_bounded_and_only_refilled_buckets_make_room() {
        let b = NetworkBuckets::new(1, 50);
        let t0 = Instant::now();
        assert!(b.take_at(ip("198.51.100.1"), t0).is_ok());
        assert!(b.take_at(ip("198.51.100.1"), t0).is_err(), "its bucket is empty");
        // A client holding 10,000 networks (an IPv6 holder has far more /48s) fills the table...
        for i in 0..49u32 {
            let v4 = std::net::Ipv4Addr::from((10 << 24) | (i << 8));
            assert!(b.take_at(Some(v4.into()), t0).is_ok(), "a new network has a full bucket");
        }
        assert_eq!(b.tracked(), 50);
        // ... then every further newcomer shares one overflow bucket.
        let refused = (49..10_000u32)
            .filter(|i| b.take_at(Some(std::net::Ipv4Addr::from((10 << 24) | (i << 8)).into()), t0).is_err())
            .count();
        assert_eq!(refused, 10_000 - 49 - 1, "one token in the overflow bucket");
        assert_eq!(b.tracked(), 50);
        // The first network was not evicted to make room: its bucket is still empty.
        assert!(b.take_at(ip("198.51.100.1"), t0).is_err(), "cycling networks does not refill a bucket");
        // A minute later every bucket has refilled and holds nothing worth keeping: the least
        // recently used makes room for a newcomer.
        let t1 = t0 + Duration::from_secs(60);
        assert!(b.take_at(ip("203.0.113.1"), t1).is_ok());
        assert_eq!(b.tracked(), 50);
        assert!(b.take_at(ip("198.51.100.1"), t1).is_ok());
    }

    #[test]
    fn zero_is_no_limit_and_keys_are_salted() {
        let b = NetworkBuckets::new(0, 1);
        assert!((0..1000).all(|_| b.take(ip("192.0.2.1")).is_ok()));
        assert_eq!(b.tracked(), 0);
        let (x, y) = (NetworkBuckets::new(1, 1), NetworkBuckets::new(1, 1));
        assert_ne!(x.key(ip("192.0.2.1")), y.key(ip("192.0.2.1")), "a salt per process");
        assert_eq!(x.key(ip("192.0.2.1")), x.key(ip("192.0.2.254")));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn a_burst_then_refill_at_the_rate() {
        let mut b = TokenBucket::per_minute(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(b.take_at(t0).is_ok());
        }
        let wait = b.take_at(t0).unwrap_err();
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6), "{wait:?}");
        assert!(b.take_at(t0 + Duration::from_secs(6)).is_ok());
        assert!(b.take_at(t0 + Duration::from_secs(6)).is_err());
    }
}
