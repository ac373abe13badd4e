//! The queue tests of the reference (section 5.3) and reth's cache-limit cases, by behaviour: the result cache
//! stays within its item and byte limits, empty blocks need no requests, and each block is requested once.

use std::{collections::HashSet, sync::atomic::Ordering};

use chain_downloader::SyncMode;
use chain_types::generator::{self, GeneratorOptions};

use crate::support::*;

/// TestBasics: a 10-slot cache; the sync completes while never holding more than 10 blocks, no body request is
/// larger than the window allows, and every non-empty body and receipt list is requested exactly once.
#[tokio::test(start_paused = true)]
async fn basics_small_cache() {
    let chain = Chain::new(129, 3);
    for mode in [SyncMode::Full, SyncMode::Fast] {
        let mut t = Tester::new(&chain, test_config().with_cache(10, 64 << 20));
        let p = t.add(MockPeer::new("peer", &chain));
        t.sync("peer", mode).await.unwrap();
        let stats = t.d.stats();
        assert!(
            stats.peak_cached_items <= 10,
            "{mode}: {}",
            stats.peak_cached_items
        );
        assert_eq!(
            stats.peak_cached_items, 10,
            "{mode}: the cache was used to its limit"
        );
        let asked = p.counters.bodies_asked.lock().unwrap().clone();
        let unique: HashSet<_> = asked.iter().collect();
        assert_eq!(asked.len(), unique.len(), "{mode}: no body asked twice");
        let non_empty = chain
            .headers
            .iter()
            .skip(1)
            .filter(|h| !h.has_empty_body())
            .count();
        assert_eq!(asked.len(), non_empty);
        if mode == SyncMode::Fast {
            let receipts = p.counters.receipts_asked.lock().unwrap().len();
            assert_eq!(
                receipts,
                chain
                    .headers
                    .iter()
                    .skip(1)
                    .filter(|h| !h.has_empty_receipts())
                    .count()
            );
        }
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
    }
}

/// TestEmptyBlocks: a chain of empty blocks completes without a single body or receipt request.
#[tokio::test(start_paused = true)]
async fn empty_blocks() {
    let generated = generator::Chain::generate(128, &GeneratorOptions::light(5));
    let chain = Chain::new(2, 5);
    let chain = Chain { generated, ..chain };
    let chain = chain.shorten(129);
    for mode in [SyncMode::Full, SyncMode::Fast] {
        let mut t = Tester::new(&chain, test_config().with_cache(10, 64 << 20));
        let p = t.add(MockPeer::new("peer", &chain));
        t.sync("peer", mode).await.unwrap();
        assert_eq!(p.counters.body_requests.load(Ordering::SeqCst), 0);
        assert_eq!(p.counters.receipt_requests.load(Ordering::SeqCst), 0);
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
    }
}

/// reth's `can_download_after_exceeding_limit`: a 1-byte cache budget still makes progress, one block at a time.
#[tokio::test(start_paused = true)]
async fn tiny_byte_budget_still_progresses() {
    let chain = Chain::new(200, 4);
    for mode in [SyncMode::Full, SyncMode::Fast, SyncMode::Light] {
        let mut t = Tester::new(&chain, test_config().with_cache(1024, 1));
        t.add(MockPeer::new("peer", &chain));
        t.sync("peer", mode).await.unwrap();
        assert!(
            t.d.stats().peak_cached_items <= 2,
            "{mode}: {}",
            t.d.stats().peak_cached_items
        );
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
    }
}

/// Request sizes: with a per-request limit of 10 bodies, no request asks for more, and all bodies arrive.
#[tokio::test(start_paused = true)]
async fn request_size_limit() {
    let chain = Chain::new(300, 6);
    let mut config = test_config();
    config.max_block_fetch = 10;
    let mut t = Tester::new(&chain, config);
    let p = t.add(MockPeer::new("peer", &chain));
    t.sync("peer", SyncMode::Full).await.unwrap();
    let non_empty = chain
        .headers
        .iter()
        .skip(1)
        .filter(|h| !h.has_empty_body())
        .count();
    let requests = p.counters.body_requests.load(Ordering::SeqCst);
    assert!(
        requests >= non_empty.div_ceil(10),
        "{requests} requests for {non_empty} bodies"
    );
    assert_eq!(p.counters.bodies_asked.lock().unwrap().len(), non_empty);
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
}
