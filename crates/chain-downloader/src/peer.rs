//! Per-peer capacity estimation and the shared round-trip tuner.
//!
//! Each peer has a throughput estimate per data kind (items per second) and one round-trip estimate, both
//! exponential moving averages with weight 0.1 over its deliveries. A request is sized to what the peer delivers
//! in about 0.9 × the shared round-trip estimate, and times out after 3 × that estimate divided by the
//! confidence in it (capped at the configured limit), as in go-ethereum's downloader before `p2p/msgrate`.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chain_types::DynChainSource;

use crate::Config;

/// Weight of a new measurement in the per-peer averages.
const MEASUREMENT_IMPACT: f64 = 0.1;
/// Weight of the median in the shared round-trip estimate.
const TUNING_IMPACT: f64 = 0.25;
/// With at least this many peers the median of the best ones is used.
const TUNING_PEERS: usize = 5;
/// With at least this many peers a new peer does not lower the confidence.
const CONFIDENCE_CAP: usize = 10;
/// Lowest confidence.
const MIN_CONFIDENCE: f64 = 0.1;
/// Timeout = this × round-trip estimate / confidence.
const TTL_SCALING: f64 = 3.0;
/// Capacity bias that lets a peer escape a low estimate.
const CAPACITY_OVERESTIMATION: f64 = 1.01;
/// Shortest elapsed time a measurement is taken to have (in-process sources answer in zero time).
const MIN_ELAPSED_SECS: f64 = 0.001;

/// The data kinds a peer is asked for; each has one request slot per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Headers: skeleton, fill, tail, head and reverse requests.
    Headers = 0,
    /// Block bodies.
    Bodies = 1,
    /// Receipt lists.
    Receipts = 2,
}

/// A peer taking part in one sync.
pub(crate) struct SyncPeer {
    /// The source.
    pub(crate) source: Arc<dyn DynChainSource>,
    /// Its id.
    pub(crate) id: String,
    /// Throughput per kind, items per second.
    pub(crate) throughput: [f64; 3],
    /// Round-trip estimate, seconds.
    pub(crate) rtt: f64,
    /// The request id in flight per kind.
    pub(crate) busy: [Option<u64>; 3],
    /// Block numbers whose bodies (index 0) or receipts (index 1) the peer did not deliver.
    pub(crate) lacking: [HashSet<u64>; 2],
    /// Invalid deliveries so far.
    pub(crate) strikes: u32,
}

impl std::fmt::Debug for SyncPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncPeer")
            .field("id", &self.id)
            .field("throughput", &self.throughput)
            .field("rtt", &self.rtt)
            .field("busy", &self.busy)
            .field("strikes", &self.strikes)
            .finish_non_exhaustive()
    }
}

impl SyncPeer {
    /// A new peer with the given initial estimates.
    pub(crate) fn new(source: Arc<dyn DynChainSource>, throughput: [f64; 3], rtt: f64) -> Self {
        let id = source.id().to_owned();
        Self {
            source,
            id,
            throughput,
            rtt,
            busy: [None; 3],
            lacking: [HashSet::new(), HashSet::new()],
            strikes: 0,
        }
    }

    /// Whether no request of `kind` is in flight.
    pub(crate) fn idle(&self, kind: Kind) -> bool {
        self.busy[kind as usize].is_none()
    }

    /// How many items of `kind` to ask for: what the peer delivers in `target_rtt`, at least 1, at most `max`.
    pub(crate) fn capacity(&self, kind: Kind, target_rtt: f64, max: usize) -> usize {
        let estimate = 1.0 + CAPACITY_OVERESTIMATION * self.throughput[kind as usize] * target_rtt;
        // A float-to-int `as` saturates; `max` bounds the result anyway.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let items = estimate.max(1.0) as usize;
        items.clamp(1, max.max(1))
    }

    /// Records a delivery of `items` items of `kind` after `elapsed`.
    pub(crate) fn update(&mut self, kind: Kind, items: usize, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(MIN_ELAPSED_SECS);
        let slot = &mut self.throughput[kind as usize];
        if items == 0 {
            *slot = 0.0;
        } else {
            #[allow(clippy::cast_precision_loss)]
            let measured = items as f64 / secs;
            *slot = (1.0 - MEASUREMENT_IMPACT) * *slot + MEASUREMENT_IMPACT * measured;
            self.rtt = (1.0 - MEASUREMENT_IMPACT) * self.rtt + MEASUREMENT_IMPACT * secs;
        }
    }

    /// Remembers that the peer lacks block `number` for `kind` (bodies or receipts), with a bounded set.
    pub(crate) fn mark_lacking(&mut self, kind: Kind, number: u64, max: usize) {
        let set = match kind {
            Kind::Bodies => &mut self.lacking[0],
            Kind::Receipts => &mut self.lacking[1],
            Kind::Headers => return,
        };
        if set.len() >= max {
            // Evict an arbitrary entry (hash-set order is effectively random).
            if let Some(&victim) = set.iter().next() {
                set.remove(&victim);
            }
        }
        set.insert(number);
    }

    /// Whether the peer may serve headers up to block `top`: it announced no block range, or one reaching `top`.
    pub(crate) fn serves_headers(&self, top: u64) -> bool {
        self.source.block_range().is_none_or(|r| r.latest >= top)
    }

    /// Whether the peer may serve the body and receipts of block `number`: it announced no block range, or one
    /// containing `number`.
    pub(crate) fn serves_content(&self, number: u64) -> bool {
        self.source.block_range().is_none_or(|r| r.contains(number))
    }

    /// Whether the peer is known to lack block `number` for `kind`.
    pub(crate) fn is_lacking(&self, kind: Kind, number: u64) -> bool {
        match kind {
            Kind::Bodies => self.lacking[0].contains(&number),
            Kind::Receipts => self.lacking[1].contains(&number),
            Kind::Headers => false,
        }
    }
}

/// Adds the `registered` peers missing from `peers`, each starting with the average throughput and the median
/// round trip of the others; every join lowers the confidence of `qos`.
pub(crate) fn join(
    peers: &mut HashMap<String, SyncPeer>,
    registered: HashMap<String, Arc<dyn DynChainSource>>,
    qos: &mut Qos,
) {
    let n = peers.len().max(1);
    let mut avg = [0.0; 3];
    for p in peers.values() {
        for (a, t) in avg.iter_mut().zip(p.throughput) {
            #[allow(clippy::cast_precision_loss)]
            let share = t / n as f64;
            *a += share;
        }
    }
    let median = qos.median_rtt(peers.values());
    for (id, source) in registered {
        if let std::collections::hash_map::Entry::Vacant(e) = peers.entry(id) {
            e.insert(SyncPeer::new(source, avg, median));
            qos.peer_joined(peers.len());
        }
    }
}

/// The ids of the peers with no request of `kind` in flight, fastest first (ties by id, for determinism).
pub(crate) fn idle(peers: &HashMap<String, SyncPeer>, kind: Kind) -> Vec<String> {
    let mut idle: Vec<&SyncPeer> = peers.values().filter(|p| p.idle(kind)).collect();
    idle.sort_by(|a, b| {
        b.throughput[kind as usize]
            .total_cmp(&a.throughput[kind as usize])
            .then(a.id.cmp(&b.id))
    });
    idle.into_iter().map(|p| p.id.clone()).collect()
}

/// The shared round-trip estimate and the confidence in it.
#[derive(Debug, Clone)]
pub(crate) struct Qos {
    /// Round-trip estimate, seconds.
    pub(crate) rtt_estimate: f64,
    /// Confidence in the estimate, in [0.1, 1].
    pub(crate) confidence: f64,
    min: f64,
    max: f64,
    ttl_limit: f64,
}

impl Qos {
    /// The initial state: the largest estimate, full confidence.
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            rtt_estimate: config.rtt_max.as_secs_f64(),
            confidence: 1.0,
            min: config.rtt_min.as_secs_f64(),
            max: config.rtt_max.as_secs_f64(),
            ttl_limit: config.ttl_limit.as_secs_f64(),
        }
    }

    /// The round trip requests are sized for (0.9 × the estimate).
    pub(crate) fn target_rtt(&self) -> f64 {
        0.9 * self.rtt_estimate
    }

    /// The timeout of a request.
    pub(crate) fn ttl(&self) -> Duration {
        let ttl = (TTL_SCALING * self.rtt_estimate / self.confidence.max(MIN_CONFIDENCE))
            .min(self.ttl_limit);
        Duration::from_secs_f64(ttl.max(0.001))
    }

    /// The median round trip of `peers`' estimates (of the best five when there are at least five), clamped.
    pub(crate) fn median_rtt<'a>(&self, peers: impl Iterator<Item = &'a SyncPeer>) -> f64 {
        let mut rtts: Vec<f64> = peers.map(|p| p.rtt).collect();
        if rtts.is_empty() {
            return self.max;
        }
        rtts.sort_by(f64::total_cmp);
        let median = if rtts.len() >= TUNING_PEERS {
            rtts[TUNING_PEERS / 2]
        } else {
            rtts[rtts.len() / 2]
        };
        median.clamp(self.min, self.max)
    }

    /// One tuning step towards the peers' median round trip.
    pub(crate) fn tune(&mut self, median: f64) {
        self.rtt_estimate = (1.0 - TUNING_IMPACT) * self.rtt_estimate + TUNING_IMPACT * median;
        self.confidence += (1.0 - self.confidence) / 2.0;
    }

    /// Lowers the confidence when a peer joins a set of `peers` (the count before it joined plus one).
    pub(crate) fn peer_joined(&mut self, peers: usize) {
        if peers >= CONFIDENCE_CAP || peers <= 1 {
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let factor = (peers as f64 - 1.0) / peers as f64;
        self.confidence = (self.confidence * factor).max(MIN_CONFIDENCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_follows_estimate_and_confidence() {
        let config = Config::default();
        let mut q = Qos::new(&config);
        assert_eq!(q.ttl(), Duration::from_secs(60));
        q.rtt_estimate = 2.0;
        assert_eq!(q.ttl(), Duration::from_secs(6));
        q.confidence = 0.1;
        assert_eq!(q.ttl(), Duration::from_secs(60));
        q.peer_joined(3);
        assert!(q.confidence >= MIN_CONFIDENCE);
        q.confidence = 0.5;
        q.tune(2.0);
        assert!((q.confidence - 0.75).abs() < 1e-9);
    }

    #[test]
    fn median_uses_the_best_five() {
        let config = Config::default();
        let q = Qos::new(&config);
        assert!((q.median_rtt(std::iter::empty()) - 20.0).abs() < 1e-9);
    }
}
