//! Flood protection: a token bucket per source IP in a map of bounded size, and a bounded
//! filter of recently seen packet hashes (replays within the expiration window are dropped).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Limits on what one source and the whole node may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Packets per second one source IP may send (the token refill rate).
    pub packets_per_second: f64,
    /// The burst one source IP may send at once (the bucket size).
    pub burst: f64,
    /// How many source IPs the rate limiter tracks; the stalest one is evicted beyond this.
    pub max_tracked_sources: usize,
    /// How many requests may wait for replies at once.
    pub max_pending: usize,
    /// How many packet hashes the replay filter remembers.
    pub max_seen_hashes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            packets_per_second: 200.0,
            burst: 400.0,
            max_tracked_sources: 4096,
            max_pending: 2048,
            max_seen_hashes: 16_384,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tokens {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by source IP.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    cap: usize,
    buckets: HashMap<IpAddr, Tokens>,
}

impl RateLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            rate: limits.packets_per_second,
            burst: limits.burst,
            cap: limits.max_tracked_sources.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `ip`; false when its bucket is empty.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.cap {
            self.evict(now);
        }
        let entry = self.buckets.entry(ip).or_insert(Tokens {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(entry.last).as_secs_f64();
        entry.tokens = (entry.tokens + elapsed * self.rate).min(self.burst);
        entry.last = now;
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops full buckets (sources idle long enough to have refilled); if none, the stalest.
    fn evict(&mut self, now: Instant) {
        let full_after = Duration::from_secs_f64((self.burst / self.rate.max(1e-9)).min(3600.0));
        let before = self.buckets.len();
        self.buckets
            .retain(|_, t| now.saturating_duration_since(t.last) < full_after);
        if self.buckets.len() == before {
            let stalest = self
                .buckets
                .iter()
                .min_by_key(|(_, t)| t.last)
                .map(|(ip, _)| *ip);
            if let Some(ip) = stalest {
                self.buckets.remove(&ip);
            }
        }
    }

    /// How many sources are tracked.
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}

/// Recently seen packet hashes, oldest evicted first.
#[derive(Debug)]
pub(crate) struct ReplayFilter {
    cap: usize,
    seen: HashMap<[u8; 32], u64>,
    order: VecDeque<[u8; 32]>,
}

impl ReplayFilter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Records `hash` (valid until Unix time `expiration`); false if it was already seen.
    pub(crate) fn insert(&mut self, hash: [u8; 32], expiration: u64, now_unix: u64) -> bool {
        if let Some(exp) = self.seen.get(&hash)
            && *exp >= now_unix
        {
            return false;
        }
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        // Entries also leave once expired, from the front (roughly in expiration order).
        while let Some(front) = self.order.front() {
            match self.seen.get(front) {
                Some(exp) if *exp < now_unix => {
                    self.seen.remove(front);
                    self.order.pop_front();
                }
                _ => break,
            }
        }
        if self.seen.insert(hash, expiration).is_none() {
            self.order.push_back(hash);
        }
        true
    }

    /// How many hashes are remembered.
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_burst_then_the_refill_rate() {
        let limits = Limits {
            packets_per_second: 10.0,
            burst: 5.0,
            ..Limits::default()
        };
        let mut rl = RateLimiter::new(&limits);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!((0..10).filter(|_| rl.allow(ip, t0)).count(), 5);
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!((0..10).filter(|_| rl.allow(ip, t1)).count(), 2);
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(rl.allow(other, t1));
    }

    #[test]
    fn the_source_map_stays_under_its_cap() {
        let limits = Limits {
            max_tracked_sources: 100,
            ..Limits::default()
        };
        let mut rl = RateLimiter::new(&limits);
        let now = Instant::now();
        for i in 0..10_000u32 {
            rl.allow(IpAddr::from(i.to_be_bytes()), now);
            assert!(rl.len() <= 100);
        }
    }

    #[test]
    fn replays_are_refused_and_the_filter_is_bounded() {
        let mut f = ReplayFilter::new(8);
        assert!(f.insert([1; 32], 100, 50));
        assert!(!f.insert([1; 32], 100, 50));
        for i in 0..100u8 {
            f.insert([i.wrapping_add(2); 32], 100, 50);
            assert!(f.len() <= 8);
        }
    }
}
