//! reth's reply cases (partial, over-long, out-of-order and empty replies) and the peer-quality cases: lying,
//! stalling, slow and late-joining peers.

use std::{sync::Arc, time::Duration};

use chain_downloader::{Error, SyncMode};
use chain_types::ChainStore;

use crate::support::*;

const MODES: [SyncMode; 3] = [SyncMode::Full, SyncMode::Fast, SyncMode::Light];

/// Partial replies (a serving limit of 50 items): short fills are kept and the rest re-requested; nobody is
/// dropped.
#[tokio::test(start_paused = true)]
async fn partial_replies() {
    let chain = Chain::new(700, 1);
    for mode in MODES {
        let mut t = Tester::new(&chain, test_config());
        let capped = Behaviour {
            cap: Some(50),
            ..Behaviour::default()
        };
        t.add(MockPeer::with("a", &chain, capped.clone()));
        t.add(MockPeer::with("b", &chain, capped));
        t.sync("a", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert!(t.dropped().is_empty(), "{mode}: {:?}", t.dropped());
    }
}

/// Over-long replies: a helper answering with more than asked is dropped after repeated offences, and the sync
/// completes; a master doing it fails the sync as a bad peer.
#[tokio::test(start_paused = true)]
async fn over_long_replies() {
    let chain = Chain::new(700, 1);
    for mode in MODES {
        let mut t = Tester::new(&chain, test_config().with_header_fetch(32, 16));
        t.add(MockPeer::new("honest", &chain));
        t.add(MockPeer::with(
            "flood",
            &chain,
            Behaviour {
                flood: Some(500),
                ..Behaviour::default()
            },
        ));
        t.sync("honest", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert_eq!(t.dropped(), vec!["flood".to_owned()], "{mode}");
        assert!(t.d.stats().dropped_peers == 1);
    }
    let short = chain.shorten(100);
    let mut t = Tester::new(&short, test_config());
    t.add(MockPeer::new("flood", &short));
    let flood = t.peers["flood"].clone();
    let (head, td) = short.head();
    // The head and ancestor requests are honest; from then on every reply is over-long.
    let run = async {
        tokio::task::yield_now().await;
        t.sync_to("flood", head, td, SyncMode::Light).await
    };
    let poison = async {
        while flood
            .counters
            .header_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            < 2
        {
            tokio::time::sleep(Duration::from_micros(1)).await;
        }
        flood.behaviour.lock().unwrap().flood = Some(500);
    };
    let slow = Behaviour {
        delay: Duration::from_millis(5),
        ..Behaviour::default()
    };
    *flood.behaviour.lock().unwrap() = slow;
    let (r, ()) = tokio::join!(run, poison);
    assert!(matches!(r, Err(Error::BadPeer(_))), "{r:?}");
    assert_eq!(t.dropped(), vec!["flood".to_owned()]);
}

/// Out-of-order replies: bodies in reverse order are matched by their roots, not by position.
#[tokio::test(start_paused = true)]
async fn out_of_order_bodies() {
    let chain = Chain::new(400, 1);
    for mode in [SyncMode::Full, SyncMode::Fast] {
        let mut t = Tester::new(&chain, test_config());
        t.add(MockPeer::with(
            "rev",
            &chain,
            Behaviour {
                reverse_bodies: true,
                ..Behaviour::default()
            },
        ));
        t.sync("rev", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert!(t.dropped().is_empty());
    }
}

/// Empty replies: a helper that returns nothing is not dropped (it lacks the data), the others deliver; when
/// nobody can deliver, the sync fails with `PeersUnavailable` and the master is dropped.
#[tokio::test(start_paused = true)]
async fn empty_replies() {
    let chain = Chain::new(400, 1);
    for mode in [SyncMode::Full, SyncMode::Fast] {
        let mut t = Tester::new(&chain, test_config());
        t.add(MockPeer::new("honest", &chain));
        t.add(MockPeer::with(
            "empty",
            &chain,
            Behaviour {
                empty_content: true,
                ..Behaviour::default()
            },
        ));
        t.sync("honest", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert!(t.dropped().is_empty());

        let mut t = Tester::new(&chain, test_config());
        t.add(MockPeer::with(
            "empty",
            &chain,
            Behaviour {
                empty_content: true,
                ..Behaviour::default()
            },
        ));
        let e = t.sync("empty", mode).await.unwrap_err();
        assert!(matches!(e, Error::PeersUnavailable), "{mode}: {e}");
        assert_eq!(t.dropped(), vec!["empty".to_owned()]);
    }
}

/// A helper sending bodies that do not match their headers is dropped as a liar; the sync completes.
#[tokio::test(start_paused = true)]
async fn lying_helper_is_dropped() {
    let chain = Chain::new(600, 1);
    for mode in [SyncMode::Full, SyncMode::Fast] {
        let mut t = Tester::new(&chain, test_config());
        t.add(MockPeer::new("honest", &chain));
        t.add(MockPeer::with(
            "liar",
            &chain,
            Behaviour {
                bad_bodies: true,
                ..Behaviour::default()
            },
        ));
        t.sync("honest", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert_eq!(t.dropped(), vec!["liar".to_owned()]);
    }
}

/// A helper that never answers times out and is dropped as stalling; the sync completes without it. A slow but
/// answering helper is kept.
#[tokio::test(start_paused = true)]
async fn stalling_and_slow_helpers() {
    let chain = Chain::new(900, 1);
    for mode in MODES {
        let mut t = Tester::new(&chain, test_config());
        t.add(MockPeer::new("honest", &chain));
        t.add(MockPeer::with(
            "slow",
            &chain,
            Behaviour {
                delay: Duration::from_secs(1),
                ..Behaviour::default()
            },
        ));
        t.add(MockPeer::with(
            "stall",
            &chain,
            Behaviour {
                stall: true,
                ..Behaviour::default()
            },
        ));
        t.sync("honest", mode).await.unwrap();
        assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        assert_eq!(t.dropped(), vec!["stall".to_owned()], "{mode}");
    }
}

/// A stalling master fails the sync with a drop-set error.
#[tokio::test(start_paused = true)]
async fn stalling_master() {
    let chain = Chain::new(300, 1);
    let mut t = Tester::new(&chain, test_config());
    t.add(MockPeer::with(
        "stall",
        &chain,
        Behaviour {
            stall: true,
            ..Behaviour::default()
        },
    ));
    let e = t.sync("stall", SyncMode::Full).await.unwrap_err();
    assert!(matches!(e, Error::Timeout), "{e}");
    assert_eq!(t.dropped(), vec!["stall".to_owned()]);
}

/// A peer registered during a sync joins it.
#[tokio::test(start_paused = true)]
async fn late_peer_joins() {
    let chain = Chain::new(2000, 1);
    let mut t = Tester::new(&chain, test_config());
    t.add(MockPeer::with(
        "first",
        &chain,
        Behaviour {
            delay: Duration::from_millis(100),
            ..Behaviour::default()
        },
    ));
    let late = MockPeer::new("late", &chain);
    t.peers.insert("late".into(), late.clone());
    let join = async {
        tokio::time::sleep(Duration::from_millis(350)).await;
        t.d.register_peer(Arc::new(late.clone()));
    };
    let (r, ()) = tokio::join!(t.sync("first", SyncMode::Full), join);
    r.unwrap();
    assert!(
        late.counters
            .header_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    assert!(
        late.counters
            .body_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    assert_own_chain(t.d.store(), &chain, chain.len(), SyncMode::Full);
}

/// Peers that mangle replies at random (truncated, empty, reordered, with items dropped, corrupted, duplicated or
/// appended, delayed or stalled): with an honest master the sync completes with the exact chain; with a chaotic
/// master it ends (successfully or not) without panicking, the store holds only a linked prefix of the real
/// chain, and an honest peer then completes it.
#[tokio::test(start_paused = true)]
async fn chaotic_peers() {
    let chain = Chain::new(700, 1);
    let chaos = Behaviour {
        chaos: true,
        ..Behaviour::default()
    };
    for mode in MODES {
        for round in 0..4 {
            let config = test_config().with_header_fetch(32, 16);
            let mut t = Tester::new(&chain, config.clone());
            t.add(MockPeer::new("honest", &chain));
            for i in 0..3 {
                t.add(MockPeer::with(
                    &format!("chaos{round}{i}"),
                    &chain,
                    chaos.clone(),
                ));
            }
            t.sync("honest", mode)
                .await
                .unwrap_or_else(|e| panic!("{mode} round {round}: {e}"));
            assert_own_chain(t.d.store(), &chain, chain.len(), mode);
            assert!(!t.dropped().contains(&"honest".to_owned()));

            let mut t = Tester::new(&chain, config);
            let late = Behaviour {
                chaos_after: 14,
                ..chaos.clone()
            };
            t.add(MockPeer::with(&format!("master{round}"), &chain, late));
            t.add(MockPeer::new("helper1", &chain));
            t.add(MockPeer::new("helper2", &chain));
            let _ = t.sync(&format!("master{round}"), mode).await;
            let head = t.head_number();
            for n in 0..=head {
                let h = t.d.store().header_by_number(n).unwrap().unwrap();
                assert_eq!(
                    h.hash(),
                    chain.headers[n as usize].hash(),
                    "{mode} round {round}: header {n}"
                );
            }
            t.add(MockPeer::new("valid", &chain));
            t.sync("valid", mode).await.unwrap();
            assert_own_chain(t.d.store(), &chain, chain.len(), mode);
        }
    }
}
