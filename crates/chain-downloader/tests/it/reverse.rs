//! The trusted-head sync (`sync_trusted`): reverse headers from many peers into the staging area, then bodies
//! and receipts forward, with lying, stalling, garbage and short-reply peers, block ranges, resumes, forks and
//! memory bounds; and `sync_best`, which survives a lying master.

use std::{sync::atomic::Ordering, time::Duration};

use chain_downloader::{Config, Error, SyncMode};
use chain_types::{BlockHashOrNumber, BlockRange, ChainStore, H256, HeadersRequest, U256};

use crate::support::*;

const MODES: [SyncMode; 3] = [SyncMode::Full, SyncMode::Fast, SyncMode::Light];

/// Small reverse batches so that a test chain needs many of them.
fn reverse_config() -> Config {
    test_config().with_reverse_batch(128)
}

/// The reverse requests a peer got: (top, amount).
fn reverse_asks(p: &MockPeer) -> Vec<(u64, u64)> {
    p.counters
        .header_asks
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r: &HeadersRequest| match r.origin {
            BlockHashOrNumber::Number(n) if r.reverse => Some((n, r.amount)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn plain_sync_from_one_peer_in_every_mode() {
    let chain = Chain::new(1000, 1);
    for mode in MODES {
        let mut t = Tester::new(&chain, reverse_config());
        let p = t.add(MockPeer::new("peer", &chain));
        t.sync_trusted(chain.head().0, mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert!(
            t.d.store().lowest_staged().unwrap().is_none(),
            "{mode}: staging emptied"
        );
        let asks = reverse_asks(&p);
        assert_eq!(
            asks.len(),
            8,
            "{mode}: 998 headers below the head in batches of 128"
        );
        assert!(asks.iter().all(|&(_, amount)| amount <= 128));
        assert_eq!(t.d.stats().staged, 999);
        assert!(t.dropped().is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn four_peers_share_the_reverse_download() {
    let chain = Chain::new(3000, 2);
    for mode in MODES {
        let mut t = Tester::new(&chain, reverse_config());
        let slow = Behaviour {
            delay: Duration::from_millis(50),
            ..Behaviour::default()
        };
        let peers: Vec<MockPeer> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| t.add(MockPeer::with(id, &chain, slow.clone())))
            .collect();
        t.sync_trusted(chain.head().0, mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        let mut total = 0;
        for p in &peers {
            let n = reverse_asks(p).len();
            assert!(n > 0, "{mode}: peer {} was asked for reverse batches", p.id);
            total += n;
        }
        assert_eq!(
            total, 24,
            "{mode}: every batch fetched once (2998 headers / 128)"
        );
        if mode.bodies() {
            assert!(
                peers
                    .iter()
                    .all(|p| p.counters.body_requests.load(Ordering::SeqCst) > 0)
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn liars_stallers_garbage_and_short_replies_are_dropped_or_worked_around() {
    let chain = Chain::new(2000, 3);
    // Same numbers, other hashes: its batches link internally but not to the trusted head.
    let fork = chain.fork(2, 2000, 33, 1);
    for mode in MODES {
        let mut t = Tester::new(&chain, reverse_config());
        t.add(MockPeer::new("honest", &chain));
        t.add(MockPeer::with(
            "short",
            &chain,
            Behaviour {
                cap: Some(50),
                ..Behaviour::default()
            },
        ));
        let fork_peer = MockPeer::new("liar", &fork);
        // The liar serves the trusted head itself, then its own chain below it.
        t.add(fork_peer);
        t.add(MockPeer::with(
            "stall",
            &chain,
            Behaviour {
                stall: true,
                ..Behaviour::default()
            },
        ));
        t.add(MockPeer::with(
            "garbage",
            &chain,
            Behaviour {
                flood: Some(3),
                ..Behaviour::default()
            },
        ));
        t.sync_trusted(chain.head().0, mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        let dropped = t.dropped();
        for bad in ["liar", "stall", "garbage"] {
            assert!(
                dropped.contains(&bad.to_owned()),
                "{mode}: {bad} dropped ({dropped:?})"
            );
        }
        assert!(!dropped.contains(&"honest".to_owned()));
        assert!(
            !dropped.contains(&"short".to_owned()),
            "{mode}: short but correct replies are kept"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_with_a_wrong_head_is_dropped() {
    let chain = Chain::new(300, 4);
    let other = chain.fork(100, 300, 44, 1);
    let mut t = Tester::new(&chain, reverse_config());
    // "a" sorts first and answers the head request by hash with a header of another hash.
    let mut liar = MockPeer::new("a", &other);
    liar.chain = std::sync::Arc::new({
        let mut c = other.clone();
        c.by_hash.insert(chain.head().0, other.len() - 1);
        c
    });
    t.add(liar);
    t.add(MockPeer::new("b", &chain));
    t.sync_trusted(chain.head().0, SyncMode::Full)
        .await
        .unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    assert_eq!(t.dropped(), ["a"]);
}

#[tokio::test(start_paused = true)]
async fn peers_whose_range_misses_the_blocks_are_not_asked() {
    let chain = Chain::new(1000, 5);
    let mut t = Tester::new(&chain, reverse_config());
    let behind = t.add(MockPeer::with(
        "behind",
        &chain,
        Behaviour {
            range: Some(BlockRange {
                earliest: 0,
                latest: 100,
                latest_hash: chain.headers[100].hash(),
            }),
            ..Behaviour::default()
        },
    ));
    let pruned = t.add(MockPeer::with(
        "pruned",
        &chain,
        Behaviour {
            range: Some(BlockRange {
                earliest: 900,
                latest: 999,
                latest_hash: chain.head().0,
            }),
            ..Behaviour::default()
        },
    ));
    t.add(MockPeer::new("full", &chain));
    t.sync_trusted(chain.head().0, SyncMode::Full)
        .await
        .unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    assert!(
        reverse_asks(&behind).iter().all(|&(top, _)| top <= 100),
        "no headers above its range"
    );
    let asked: Vec<H256> = pruned.counters.bodies_asked.lock().unwrap().clone();
    assert!(
        !asked.is_empty(),
        "the pruned peer serves bodies of its range"
    );
    assert!(
        asked.iter().all(|h| chain.by_hash[h] >= 900),
        "no bodies below its range"
    );
    // The peer announcing the trusted head is asked for it first.
    let first = pruned.counters.header_asks.lock().unwrap().first().copied();
    assert!(matches!(
        first,
        Some(HeadersRequest {
            origin: BlockHashOrNumber::Hash(_),
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn resume_after_an_abort_mid_reverse_reuses_the_staged_headers() {
    let chain = Chain::new(2000, 6);
    let mut t = Tester::new(&chain, reverse_config());
    let p = t.add(MockPeer::with(
        "peer",
        &chain,
        Behaviour {
            delay: Duration::from_secs(1),
            ..Behaviour::default()
        },
    ));
    let head = chain.head().0;
    // One request per second: abort after about half of the 16 reverse batches.
    let r = tokio::time::timeout(
        Duration::from_millis(8500),
        t.d.sync_trusted(head, SyncMode::Full),
    )
    .await;
    assert!(r.is_err(), "aborted");
    assert_eq!(p.counters.live.load(Ordering::SeqCst), 0);
    let low = t.d.store().lowest_staged().unwrap().unwrap();
    assert!(
        low.number > 1 && low.number < 1999,
        "staged down to {}",
        low.number
    );
    assert_eq!(t.d.store().highest_staged().unwrap().unwrap().hash(), head);
    let before = reverse_asks(&p).len();
    t.sync_trusted(head, SyncMode::Full).await.unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    let asks = reverse_asks(&p);
    assert!(
        asks[before..].iter().all(|&(top, _)| top < low.number),
        "nothing above the staged headers was asked again"
    );
    let heads_asked = p
        .counters
        .header_asks
        .lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r.origin, BlockHashOrNumber::Hash(_)))
        .count();
    assert_eq!(
        heads_asked, 1,
        "the resumed sync takes the head from the staging area"
    );
    assert!(
        asks.len() <= 17,
        "every batch fetched once over both runs, but the one in flight at the abort: {}",
        asks.len()
    );
}

#[tokio::test(start_paused = true)]
async fn resume_after_an_abort_mid_forward_fetches_no_headers() {
    let chain = Chain::new(1500, 7);
    let mut t = Tester::new(
        &chain,
        reverse_config()
            .with_import_batch(64)
            .with_cache(128, 64 << 20),
    );
    let p = t.add(MockPeer::with(
        "peer",
        &chain,
        Behaviour {
            body_delay: Duration::from_secs(1),
            ..Behaviour::default()
        },
    ));
    let head = chain.head().0;
    let abort = async {
        while t.head_number() < 300 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        r = t.d.sync_trusted(head, SyncMode::Full) => panic!("finished early: {r:?}"),
        () = abort => {}
    }
    let imported = t.head_number();
    assert!((300..1499).contains(&imported));
    let low = t.d.store().lowest_staged().unwrap().unwrap();
    assert!(
        low.number <= imported + 1,
        "imported headers left the staging area"
    );
    let headers_before = p.counters.header_requests.load(Ordering::SeqCst);
    t.sync_trusted(head, SyncMode::Full).await.unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    assert_eq!(
        p.counters.header_requests.load(Ordering::SeqCst),
        headers_before,
        "no header was fetched again"
    );
    assert!(t.d.store().lowest_staged().unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn an_unserved_trusted_head_fails_clearly_in_bounded_time() {
    let chain = Chain::new(200, 8);
    let mut t = Tester::new(&chain, reverse_config());
    t.add(MockPeer::new("a", &chain));
    t.add(MockPeer::with(
        "b",
        &chain,
        Behaviour {
            stall: true,
            ..Behaviour::default()
        },
    ));
    let started = tokio::time::Instant::now();
    let err = t
        .sync_trusted(H256::repeat_byte(0xab), SyncMode::Full)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HeadUnavailable), "{err}");
    assert!(err.is_head_unavailable() && err.is_retryable());
    assert!(
        started.elapsed() <= Duration::from_secs(121),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(t.head_number(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_trusted_chain_forking_below_the_local_head_rewinds() {
    let local = Chain::new(800, 9);
    let trusted = local.fork(300, 1200, 99, 1);
    for mode in MODES {
        let mut t = Tester::new(&local, reverse_config());
        t.add(MockPeer::new("old", &local));
        t.sync("old", mode).await.unwrap();
        assert_eq!(t.head_number(), 799);
        t.d.unregister_peer("old");
        let p = t.add(MockPeer::new("new", &trusted));
        t.sync_trusted(trusted.head().0, mode).await.unwrap();
        assert_own_chain(t.d.store(), &trusted, trusted.len(), mode);
        let lowest = reverse_asks(&p).iter().map(|&(top, n)| top + 1 - n).min();
        assert!(
            lowest.is_some_and(|l| l < 300 && l + 128 >= 300),
            "{mode}: went just below the fork: {lowest:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_trusted_head_on_the_local_chain_above_the_head_links_at_once() {
    let chain = Chain::new(1200, 10);
    let mut t = Tester::new(&chain, reverse_config());
    let short = MockPeer::new("short", &chain.shorten(700));
    t.add(short);
    t.sync("short", SyncMode::Full).await.unwrap();
    let p = t.add(MockPeer::new("peer", &chain));
    t.sync_trusted(chain.head().0, SyncMode::Full)
        .await
        .unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    let lowest = reverse_asks(&p).iter().map(|&(top, n)| top + 1 - n).min();
    assert_eq!(
        lowest,
        Some(700),
        "the reverse download stops at the local head"
    );
}

#[tokio::test(start_paused = true)]
async fn memory_stays_bounded_staged_headers_go_to_the_store() {
    let chain = Chain::new(6000, 11);
    let config = reverse_config()
        .with_max_queued_headers(512)
        .with_cache(256, 64 << 20);
    let mut t = Tester::new(&chain, config);
    for id in ["a", "b", "c", "d"] {
        t.add(MockPeer::with(
            id,
            &chain,
            Behaviour {
                delay: Duration::from_millis(10 + id.as_bytes()[0] as u64 % 7),
                ..Behaviour::default()
            },
        ));
    }
    t.sync_trusted(chain.head().0, SyncMode::Full)
        .await
        .unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    let s = t.d.stats();
    assert_eq!(s.staged, 5999);
    assert!(
        s.peak_unlinked_headers <= 512,
        "unlinked headers in memory: {}",
        s.peak_unlinked_headers
    );
    assert!(s.peak_unlinked_headers > 0);
    assert!(s.peak_cached_items <= 256, "cache: {}", s.peak_cached_items);
}

/// `synchronise` with the best peer fails when that peer lies about its total difficulty and stalls; `sync_best`
/// drops it and finishes from the honest peer.
#[tokio::test(start_paused = true)]
async fn sync_best_survives_a_lying_master() {
    let chain = Chain::new(600, 12);
    let (head, td) = chain.head();
    let liar_behaviour = Behaviour {
        td: Some(td + U256::one()),
        stall: true,
        ..Behaviour::default()
    };
    // The old behaviour: syncing with the best peer by TD fails although an honest peer is registered.
    let mut t = Tester::new(&chain, test_config());
    t.add(MockPeer::with("liar", &chain, liar_behaviour.clone()));
    t.add(MockPeer::new("honest", &chain));
    let (best, best_head, best_td) = t.d.best_peer().unwrap();
    assert_eq!(best, "liar");
    assert!(
        t.d.synchronise(&best, best_head, best_td, SyncMode::Full)
            .await
            .is_err()
    );
    assert_eq!(t.head_number(), 0);
    // The fix.
    let mut t = Tester::new(&chain, test_config());
    t.add(MockPeer::with("liar", &chain, liar_behaviour));
    t.add(MockPeer::new("honest", &chain));
    t.d.sync_best(SyncMode::Full).await.unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    assert_eq!(t.dropped(), ["liar"]);
    let _ = head;
    // A liar that sends a wrong chain (same announced head) is dropped too.
    let fork = chain.fork(100, 600, 5, 1);
    let mut t = Tester::new(&chain, test_config());
    let mut lying = MockPeer::with(
        "a-liar",
        &fork,
        Behaviour {
            td: Some(td * 2),
            head: Some(head),
            ..Behaviour::default()
        },
    );
    lying.id = "a-liar".into();
    t.add(lying);
    t.add(MockPeer::new("honest", &chain));
    t.d.sync_best(SyncMode::Light).await.unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Light);
    assert_eq!(t.dropped(), ["a-liar"]);
}

/// A trusted-head sync killed mid-reverse on a redb file (store and downloader dropped) resumes after reopening:
/// the staged headers survive, nothing linked is fetched again; a fork below the local head survives it too.
#[tokio::test(start_paused = true)]
async fn redb_resume_after_a_kill_mid_reverse_on_a_fork() {
    use std::sync::Arc;

    use chain_downloader::Downloader;
    use chain_types::{BlockEntry, RedbStore};

    let local = Chain::new(600, 13);
    let trusted = local.fork(200, 1800, 31, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        let entries: Vec<BlockEntry> = local
            .headers
            .iter()
            .cloned()
            .map(BlockEntry::from)
            .collect();
        store.insert_batch(entries).unwrap();
    }
    let peer = MockPeer::with(
        "peer",
        &trusted,
        Behaviour {
            delay: Duration::from_secs(1),
            ..Behaviour::default()
        },
    );
    let head = trusted.head().0;
    let low = {
        let d = Downloader::new(RedbStore::open(&path).unwrap(), reverse_config());
        d.register_peer(Arc::new(peer.clone()));
        let r = tokio::time::timeout(
            Duration::from_millis(12_500),
            d.sync_trusted(head, SyncMode::Light),
        )
        .await;
        assert!(r.is_err(), "killed");
        let low = d.store().lowest_staged().unwrap().unwrap();
        assert!(
            low.number < 600,
            "the reverse download went below the local head: {}",
            low.number
        );
        assert_eq!(
            d.store().head_number().unwrap(),
            Some(599),
            "nothing imported yet"
        );
        low
    };
    assert_eq!(peer.counters.live.load(Ordering::SeqCst), 0);
    let before = reverse_asks(&peer).len();
    let d = Downloader::new(RedbStore::open(&path).unwrap(), reverse_config());
    d.register_peer(Arc::new(peer.clone()));
    d.sync_trusted(head, SyncMode::Light).await.unwrap();
    assert_own_chain(d.store(), &trusted, trusted.len(), SyncMode::Light);
    assert_eq!(d.store().verify().unwrap(), 1800);
    assert!(
        reverse_asks(&peer)[before..]
            .iter()
            .all(|&(top, _)| top < low.number),
        "nothing staged was fetched again"
    );
    assert!(d.store().lowest_staged().unwrap().is_none());
}

/// Peers that mangle their replies at random (truncate, empty, reorder, drop, corrupt, duplicate, append, delay,
/// stall) beside one honest peer: the trusted-head sync still ends with exactly the trusted chain.
#[tokio::test(start_paused = true)]
async fn chaotic_peers_cannot_break_the_trusted_head_sync() {
    let chain = Chain::new(1500, 14);
    for mode in MODES {
        for round in 0..3 {
            let mut t = Tester::new(&chain, reverse_config().with_reverse_batch(64));
            t.add(MockPeer::new("honest", &chain));
            for i in 0..3 {
                t.add(MockPeer::with(
                    &format!("chaos{round}{i}"),
                    &chain,
                    Behaviour {
                        chaos: true,
                        chaos_after: 1,
                        ..Behaviour::default()
                    },
                ));
            }
            t.sync_trusted(chain.head().0, mode)
                .await
                .unwrap_or_else(|e| panic!("{mode} round {round}: {e}"));
            assert_own_chain(t.d.store(), &chain, chain.len(), mode);
            assert!(
                !t.dropped().contains(&"honest".to_owned()),
                "{mode} round {round}"
            );
        }
    }
}

/// Aborts a trusted-head sync to block `number` of `chain` from `p` mid-reverse; returns the lowest staged number.
async fn stage_part_of(t: &Tester, chain: &Chain, number: usize) -> u64 {
    let head = chain.headers[number].hash();
    let r = tokio::time::timeout(
        Duration::from_millis(6500),
        t.d.sync_trusted(head, SyncMode::Full),
    )
    .await;
    assert!(r.is_err(), "aborted");
    assert_eq!(t.d.store().highest_staged().unwrap().unwrap().hash(), head);
    let low = t.d.store().lowest_staged().unwrap().unwrap().number;
    assert!(low > 1 && low < number as u64, "staged down to {low}");
    low
}

#[tokio::test(start_paused = true)]
async fn staged_headers_of_an_older_head_are_extended_to_a_newer_one() {
    let chain = Chain::new(2000, 12);
    let mut t = Tester::new(&chain, reverse_config());
    let slow = Behaviour {
        delay: Duration::from_secs(1),
        ..Behaviour::default()
    };
    let p = t.add(MockPeer::with("peer", &chain, slow));
    let low = stage_part_of(&t, &chain, 1499).await;
    let before = reverse_asks(&p).len();
    t.sync_trusted(chain.head().0, SyncMode::Full)
        .await
        .unwrap();
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
    let asks = &reverse_asks(&p)[before..];
    assert!(
        asks.iter().all(|&(top, n)| top + 1 - n > 1499 || top < low),
        "nothing staged for the older head was asked again: {asks:?}"
    );
    let above: u64 = asks.iter().filter(|a| a.0 > 1499).map(|a| a.1).sum();
    assert_eq!(above, 1998 - 1499, "the gap was fetched exactly once");
    assert!(t.d.store().lowest_staged().unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn staged_headers_of_another_branch_or_a_higher_head_are_discarded() {
    let chain = Chain::new(2000, 13);
    // A new head above the staged one but on a branch off below it; a new head below the staged one; a new head
    // of the same chain too far above the staged one for the header window.
    let fork = chain.fork(1200, 2000, 77, 1);
    let lower = chain.shorten(1300);
    let cases = [
        ("fork", &fork, reverse_config()),
        ("lower", &lower, reverse_config()),
        (
            "window",
            &chain,
            reverse_config().with_max_queued_headers(300),
        ),
    ];
    for (name, trusted, config) in cases {
        let mut t = Tester::new(&chain, config);
        let slow = Behaviour {
            delay: Duration::from_secs(1),
            ..Behaviour::default()
        };
        t.add(MockPeer::with("old", &chain, slow));
        stage_part_of(&t, &chain, 1499).await;
        t.d.unregister_peer("old");
        t.add(MockPeer::new("new", trusted));
        t.sync_trusted(trusted.head().0, SyncMode::Full)
            .await
            .unwrap();
        assert_own_chain(t.d.store(), trusted, trusted.len(), SyncMode::Full);
        assert!(
            t.d.store().lowest_staged().unwrap().is_none(),
            "{name}: nothing left staged"
        );
    }
}
