//! Body and receipt fetching, shared by both sync modes: which open tasks go to which idle peer, and what a
//! reply teaches about its sender.
//!
//! Each idle peer gets the lowest open blocks it is not known to lack and whose range (if it announced one)
//! holds them, as many as it delivers in the target round trip. Blocks a reply left out *before* its last
//! delivered block are holes (servers skip unknown blocks) and are never offered to that peer again; blocks
//! after it were cut off by a serving limit and stay available.

use crate::{cache::Delivery, cache::ResultCache, peer::Kind, peer::SyncPeer};

/// Picks the blocks of `kind` to ask each of the idle `peers` (fastest first) for.
pub(crate) fn assign(
    cache: &ResultCache,
    kind: Kind,
    peers: &[&SyncPeer],
    target_rtt: f64,
    max: usize,
) -> Vec<(String, Vec<u64>)> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::new();
    for peer in peers {
        let cap = peer.capacity(kind, target_rtt, max);
        let picked: Vec<u64> = cache
            .tasks(kind)
            .iter()
            .copied()
            .filter(|n| !taken.contains(n) && !peer.is_lacking(kind, *n) && peer.serves_content(*n))
            .take(cap)
            .collect();
        if picked.is_empty() {
            continue;
        }
        taken.extend(picked.iter().copied());
        out.push((peer.id.clone(), picked));
        if taken.len() >= cache.tasks(kind).len() {
            break;
        }
    }
    out
}

/// Updates `peer` after a content reply: holes become "lacking", and a reply that gave nothing zeroes the
/// peer's throughput so that its next request is small.
pub(crate) fn learn(peer: &mut SyncPeer, kind: Kind, delivery: &Delivery, max_lacking: usize) {
    if !delivery.invalid {
        for n in delivery.holes() {
            peer.mark_lacking(kind, n, max_lacking);
        }
    }
    if delivery.accepted == 0 {
        peer.throughput[kind as usize] = 0.0;
    }
}

/// Updates `peer` after an empty content reply: it lacks every block asked for.
pub(crate) fn learn_empty(peer: &mut SyncPeer, kind: Kind, numbers: &[u64], max_lacking: usize) {
    for &n in numbers {
        peer.mark_lacking(kind, n, max_lacking);
    }
    peer.throughput[kind as usize] = 0.0;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chain_types::{
        BlockRange, Body, ChainSource, Error, H256, Header, HeadersRequest, Receipt, U256,
    };

    use super::*;
    use crate::{Config, SyncMode};

    struct Ranged(&'static str, Option<BlockRange>);

    impl ChainSource for Ranged {
        fn id(&self) -> &str {
            self.0
        }
        fn head(&self) -> (H256, U256) {
            (H256::zero(), U256::zero())
        }
        fn block_range(&self) -> Option<BlockRange> {
            self.1
        }
        async fn headers(&self, _: HeadersRequest) -> Result<Vec<Header>, Error> {
            Ok(vec![])
        }
        async fn bodies(&self, _: Vec<H256>) -> Result<Vec<Body>, Error> {
            Ok(vec![])
        }
        async fn receipts(&self, _: Vec<H256>) -> Result<Vec<Vec<Receipt>>, Error> {
            Ok(vec![])
        }
    }

    fn cache(n: u64) -> ResultCache {
        let mut c = ResultCache::new(SyncMode::Full, &Config::default(), 1);
        for i in 1..=n {
            c.push(
                Header {
                    number: i,
                    transactions_root: H256::repeat_byte(1),
                    ..Header::default()
                }
                .seal(),
            );
        }
        c
    }

    #[test]
    fn peers_get_disjoint_blocks_within_their_range_and_not_what_they_lack() {
        let c = cache(10);
        let range = BlockRange {
            earliest: 6,
            latest: 10,
            latest_hash: H256::zero(),
        };
        let mut a = SyncPeer::new(Arc::new(Ranged("a", Some(range))), [0.0; 3], 1.0);
        let b = SyncPeer::new(Arc::new(Ranged("b", None)), [0.0; 3], 1.0);
        a.throughput[Kind::Bodies as usize] = 3.0;
        a.mark_lacking(Kind::Bodies, 6, 10);
        let out = assign(&c, Kind::Bodies, &[&a, &b], 1.0, 128);
        assert_eq!(out[0], ("a".to_owned(), vec![7, 8, 9, 10]));
        assert_eq!(out[1], ("b".to_owned(), vec![1]));
    }

    #[test]
    fn holes_become_lacking_unless_the_reply_was_invalid() {
        let mut p = SyncPeer::new(Arc::new(Ranged("p", None)), [5.0; 3], 1.0);
        let d = Delivery {
            open: vec![Some(1), None, Some(3)],
            last_matched: 1,
            accepted: 1,
            invalid: false,
        };
        learn(&mut p, Kind::Bodies, &d, 10);
        assert!(p.is_lacking(Kind::Bodies, 1) && !p.is_lacking(Kind::Bodies, 3));
        let bad = Delivery {
            invalid: true,
            accepted: 0,
            ..d
        };
        let mut q = SyncPeer::new(Arc::new(Ranged("q", None)), [5.0; 3], 1.0);
        learn(&mut q, Kind::Receipts, &bad, 10);
        assert!(!q.is_lacking(Kind::Receipts, 1));
        assert_eq!(q.throughput[Kind::Receipts as usize], 0.0);
        learn_empty(&mut q, Kind::Bodies, &[4, 5], 10);
        assert!(q.is_lacking(Kind::Bodies, 5));
    }
}
