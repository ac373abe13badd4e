//! Crash safety over `RedbStore`: syncs aborted at random points (the sync future dropped after a random delay)
//! and resumed from the stored head on a reopened store never leave gaps, unlinked headers or blocks without
//! their content, and the final chain is complete.

use std::{sync::Arc, time::Duration};

use chain_downloader::{Config, Downloader, SyncMode};
use chain_types::{BlockEntry, ChainStore, RedbStore};

use crate::support::*;

/// A small deterministic generator (no external randomness).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Checks the stored chain: no gaps, every header linked, content present where the mode stores it, and equal to
/// the source chain.
fn check_store(store: &impl ChainStore, chain: &Chain, mode: SyncMode, checked: u64) -> u64 {
    let head = store.head_number().unwrap().unwrap();
    let mut prev = store.header_by_number(0).unwrap().unwrap();
    for n in 1..=head {
        let h = store
            .header_by_number(n)
            .unwrap()
            .unwrap_or_else(|| panic!("gap at {n}"));
        assert_eq!(h.parent_hash, prev.hash(), "unlinked at {n}");
        assert_eq!(
            h.hash(),
            chain.headers[n as usize].hash(),
            "foreign header at {n}"
        );
        if n <= checked {
            prev = h;
            continue;
        }
        if mode != SyncMode::Light {
            assert_eq!(
                store.body(&h.hash()).unwrap().as_ref(),
                Some(&chain.bodies[n as usize]),
                "body {n}"
            );
        }
        if mode == SyncMode::Fast {
            assert_eq!(
                store.receipts(&h.hash()).unwrap().as_ref(),
                Some(&chain.receipts[n as usize]),
                "receipts {n}"
            );
        }
        prev = h;
    }
    head
}

#[tokio::test(start_paused = true)]
async fn aborted_syncs_resume_without_gaps() {
    let chain = Chain::new(3000, 9);
    let mut rng = Lcg(0x5eed);
    {
        let mode = SyncMode::Fast;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store
                .insert_batch(vec![BlockEntry::header_only(chain.headers[0].clone())])
                .unwrap();
        }
        let peers = [
            MockPeer::with(
                "a",
                &chain,
                Behaviour {
                    delay: Duration::from_millis(10),
                    ..Behaviour::default()
                },
            ),
            MockPeer::with(
                "b",
                &chain,
                Behaviour {
                    delay: Duration::from_millis(10),
                    ..Behaviour::default()
                },
            ),
        ];
        let (head, td) = chain.head();
        let mut aborts = 0;
        let mut heads = Vec::new();
        while aborts < 25 {
            let store = RedbStore::open(&path).unwrap();
            let before = check_store(&store, &chain, mode, heads.last().copied().unwrap_or(0));
            heads.push(before);
            if before == chain.len() - 1 {
                break;
            }
            let config = Config::default()
                .with_import_batch(16 + rng.below(48) as usize)
                .with_cache(64, 64 << 20);
            let d = Downloader::new(store, config);
            for p in &peers {
                d.register_peer(Arc::new(p.clone()));
            }
            // Abort at a random point after the ancestor search (which every attempt repeats): when the
            // progress shows the target, wait a random time, then drop the sync future.
            let delay = Duration::from_micros(rng.below(60_000));
            let abort = async {
                while d.progress().highest_block != chain.len() - 1 || !d.is_syncing() {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                tokio::time::sleep(delay).await;
            };
            tokio::select! {
                r = d.synchronise("a", head, td, mode) => r.unwrap(),
                () = abort => aborts += 1,
            }
            for p in &peers {
                assert_eq!(p.counters.live.load(std::sync::atomic::Ordering::SeqCst), 0);
            }
        }
        assert!(aborts >= 20, "{mode}: only {aborts} aborts");
        assert!(
            heads.windows(2).any(|w| w[1] > w[0]),
            "{mode}: aborted syncs made progress: {heads:?}"
        );
        let store = RedbStore::open(&path).unwrap();
        let d = Downloader::new(store, Config::default());
        for p in &peers {
            d.register_peer(Arc::new(p.clone()));
        }
        d.synchronise("a", head, td, mode).await.unwrap();
        assert_eq!(check_store(d.store(), &chain, mode, 0), chain.len() - 1);
    }
}
