//! The forward cache: digests of messages already seen, so that each message is processed
//! (delivered, forwarded) at most once per node.
//!
//! Deviation from the reference (which keeps a digest for a fixed 10 s or 30 s): an entry lives
//! until the message itself expires, so that a replay within the message's lifetime is still
//! recognised; afterwards the expiry check drops it anyway. The cache is bounded: when it is full
//! the oldest entry is evicted (counted in [`ForwardCache::evicted`]).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use crate::Digest;

/// Hashes digests for the cache's map: `foldhash`'s quality hasher with a random seed per
/// cache, much cheaper than SipHash for the 32 bytes of every send and receipt. A peer cannot
/// choose messages whose digests collide in the map: the digests are SHA-256 outputs it controls
/// only by grinding, and without the seed it cannot tell which of them collide.
type DigestHash = foldhash::quality::RandomState;

/// Entries allocated up front (the cache grows beyond them up to its capacity): enough for
/// a burst of sends without growing the map, small enough for many nodes in a process.
const INITIAL_CAPACITY: usize = 1024;

/// An expiry as the cache keeps it.
fn clamp(expire: u64) -> u32 {
    u32::try_from(expire).unwrap_or(u32::MAX)
}

/// Digests with their expiry (Unix seconds), bounded.
#[derive(Debug)]
pub struct ForwardCache {
    capacity: usize,
    /// Expiries are kept as `u32` (what a message carries), so that an entry is 36 bytes.
    entries: HashMap<Digest, u32, DigestHash>,
    /// Insertion order, for eviction and expiry (expiries are not monotonic, so expired entries
    /// are removed from the front only when they are also the oldest).
    order: VecDeque<(Digest, u32)>,
    evicted: u64,
}

impl ForwardCache {
    /// A cache of at most `capacity` digests (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::with_capacity_and_hasher(
                capacity.clamp(1, INITIAL_CAPACITY),
                DigestHash::default(),
            ),
            order: VecDeque::with_capacity(capacity.clamp(1, INITIAL_CAPACITY)),
            evicted: 0,
        }
    }

    /// Records `digest` until `expire` (Unix seconds); `false` if it was already there and has
    /// not expired at `now` (a duplicate).
    pub fn insert(&mut self, digest: Digest, expire: u64, now: u64) -> bool {
        let expire = clamp(expire);
        self.prune(now);
        if self.entries.len() < self.capacity {
            // Room without eviction: one hash lookup.
            match self.entries.entry(digest) {
                Entry::Occupied(mut e) => {
                    if u64::from(*e.get()) >= now {
                        return false;
                    }
                    e.insert(expire);
                }
                Entry::Vacant(e) => {
                    e.insert(expire);
                }
            }
            self.order.push_back((digest, expire));
            return true;
        }
        if let Some(&until) = self.entries.get(&digest)
            && u64::from(until) >= now
        {
            return false;
        }
        while self.entries.len() >= self.capacity {
            let Some((old, until)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&old) == Some(&until) {
                self.entries.remove(&old);
                self.evicted += 1;
            }
        }
        self.entries.insert(digest, expire);
        self.order.push_back((digest, expire));
        true
    }

    /// Whether `digest` is recorded and not expired at `now`.
    #[must_use]
    pub fn contains(&self, digest: &Digest, now: u64) -> bool {
        self.entries
            .get(digest)
            .is_some_and(|&until| u64::from(until) >= now)
    }

    /// The number of digests held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries evicted early because the cache was full.
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn prune(&mut self, now: u64) {
        while let Some(&(digest, until)) = self.order.front() {
            if u64::from(until) >= now {
                break;
            }
            self.order.pop_front();
            if self.entries.get(&digest) == Some(&until) {
                self.entries.remove(&digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // TestCache: insert, match and expiry.
    #[test]
    fn insert_match_and_expiry() {
        let mut c = ForwardCache::new(10);
        let d = Digest([1; 32]);
        assert!(c.insert(d, 100, 50));
        assert!(!c.insert(d, 100, 60), "a duplicate before expiry");
        assert!(c.contains(&d, 100));
        assert!(!c.contains(&d, 101));
        assert!(c.insert(d, 200, 101), "accepted again after expiry");
    }

    #[test]
    fn digest_hash_depends_on_every_word_and_the_key() {
        use std::hash::BuildHasher as _;
        let key = DigestHash::default();
        let base = key.hash_one(Digest([0; 32]));
        for word in 0..4 {
            let mut d = [0u8; 32];
            d[word * 8] = 1;
            assert_ne!(key.hash_one(Digest(d)), base, "word {word}");
        }
        let other = DigestHash::default();
        assert_ne!(other.hash_one(Digest([0; 32])), base, "another key");
    }

    #[test]
    fn bounded_with_oldest_evicted() {
        let mut c = ForwardCache::new(3);
        for i in 0..5u8 {
            assert!(c.insert(Digest([i; 32]), 1000, 0));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.evicted(), 2);
        assert!(!c.contains(&Digest([0; 32]), 0));
        assert!(c.contains(&Digest([4; 32]), 0));
    }
}
