//! Loopback networks of peerwire nodes: bonding, ENR exchange, lookups that converge.

use std::time::Duration;

use p2p_discv4::{Discv4, Discv4Config, Discv4Event, Timeouts};
use p2p_rlpx::NodeKey;

pub(crate) fn config() -> Discv4Config {
    Discv4Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..Discv4Config::default()
    }
}

pub(crate) async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test finished in time")
}

/// Polls `check` every 20 ms until it holds.
pub(crate) async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !check().await {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_nodes_bond_find_each_other_and_exchange_records() {
    within(20, async {
        let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let mut a_events = a.subscribe();
        let b = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        assert_eq!(
            a.ping(&b.local_enode()).await.unwrap(),
            Some(b.local_enr().seq())
        );
        // Both tables hold the other: a from the Pong, b from its Ping back.
        match a_events.recv().await.unwrap() {
            Discv4Event::NodeAdded(r) => assert_eq!(r.enode.id, b.local_enode().id),
            other => panic!("{other:?}"),
        }
        // b's record arrives by itself: its Ping back announced seq 1.
        loop {
            match a_events.recv().await.unwrap() {
                Discv4Event::NodeUpdated(r) if r.enode.id == b.local_enode().id => {
                    assert_eq!(r.enr, Some(b.local_enr()));
                    break;
                }
                _ => {}
            }
        }
        let (aid, bid) = (a.local_enode().id, b.local_enode().id);
        eventually(|| async { b.table_nodes().await.iter().any(|r| r.enode.id == aid) }).await;
        let found = a.lookup(bid).await.unwrap();
        assert_eq!(found[0].enode, b.local_enode());
        let found = b.lookup(aid).await.unwrap();
        assert_eq!(found[0].enode, a.local_enode());
        let enr = a.request_enr(&b.local_enode()).await.unwrap();
        assert_eq!(enr, b.local_enr());
        let enr = b.request_enr(&a.local_enode()).await.unwrap();
        assert_eq!(enr, a.local_enr());
    })
    .await;
}

#[tokio::test]
async fn a_changed_record_reaches_peers_through_the_seq_in_pongs() {
    within(20, async {
        let entries = vec![("eth".to_owned(), vec![0xc7, 0xc6, 0x84, 1, 2, 3, 4, 0x80])];
        let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let b = Discv4::bind(
            &NodeKey::generate(),
            Discv4Config {
                enr_entries: entries,
                ..config()
            },
        )
        .await
        .unwrap();
        assert!(b.local_enr().get_raw_rlp("eth").is_some());
        let seq = b.local_enr().seq();
        a.ping(&b.local_enode()).await.unwrap();
        let bid = b.local_enode().id;
        eventually(|| async {
            let aid = a.local_enode().id;
            b.table_nodes().await.iter().any(|r| r.enode.id == aid)
        })
        .await;
        b.set_enr_entry("x", vec![0x83, b'n', b'e', b'w'])
            .await
            .unwrap();
        assert_eq!(b.local_enr().seq(), seq + 1);
        // Setting the same value again changes nothing.
        b.set_enr_entry("x", vec![0x83, b'n', b'e', b'w'])
            .await
            .unwrap();
        assert_eq!(b.local_enr().seq(), seq + 1);
        assert_eq!(a.ping(&b.local_enode()).await.unwrap(), Some(seq + 1));
        eventually(|| async {
            a.table_nodes()
                .await
                .iter()
                .any(|r| r.enode.id == bid && r.enr_seq() == seq + 1)
        })
        .await;
        // A record over 300 bytes is refused and the old one kept.
        let err = b.set_enr_entry("big", vec![0xb8, 250].into_iter().chain([0; 250]).collect());
        assert!(err.await.is_err());
        assert_eq!(b.local_enr().seq(), seq + 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_converge_on_sixteen_loopback_nodes() {
    within(60, async {
        let timeouts = Timeouts {
            refresh_interval: Duration::from_secs(3600),
            ..Timeouts::default()
        };
        let boot = Discv4::bind(
            &NodeKey::generate(),
            Discv4Config {
                timeouts,
                ..config()
            },
        )
        .await
        .unwrap();
        let mut nodes = vec![boot.clone()];
        for _ in 0..15 {
            let cfg = Discv4Config {
                bootnodes: vec![boot.local_enode()],
                timeouts,
                ..config()
            };
            nodes.push(Discv4::bind(&NodeKey::generate(), cfg).await.unwrap());
        }
        // Two rounds of lookups of every node's own id, as a fresh node does.
        for _ in 0..2 {
            for n in &nodes {
                n.lookup(n.local_enode().id).await.unwrap();
            }
        }
        for n in &nodes {
            let known = n.table_nodes().await.len();
            assert!(known >= 12, "{} knows only {known} of 15", n.local_enode());
        }
        // A lookup for any node from any other finds it first.
        for (i, n) in nodes.iter().enumerate() {
            let target = &nodes[(i + 7) % nodes.len()];
            let found = n.lookup(target.local_enode().id).await.unwrap();
            assert_eq!(found.first().map(|r| r.enode), Some(target.local_enode()));
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_the_service() {
    within(10, async {
        let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let b = a.clone();
        a.shutdown().await;
        eventually(|| async {
            b.ping(&a.local_enode())
                .await
                .is_err_and(|e| e.is_stopped())
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn revalidation_removes_a_node_that_stopped_answering() {
    within(20, async {
        let timeouts = Timeouts {
            revalidate_interval: Duration::from_millis(100),
            response: Duration::from_millis(200),
            ..Timeouts::default()
        };
        let a = Discv4::bind(
            &NodeKey::generate(),
            Discv4Config {
                timeouts,
                ..config()
            },
        )
        .await
        .unwrap();
        let mut events = a.subscribe();
        let b = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let bid = b.local_enode().id;
        a.ping(&b.local_enode()).await.unwrap();
        assert_eq!(a.table_nodes().await.len(), 1);
        b.shutdown().await;
        loop {
            if let Discv4Event::NodeRemoved(id) = events.recv().await.unwrap() {
                assert_eq!(id, bid);
                break;
            }
        }
        assert!(a.table_nodes().await.is_empty());
    })
    .await;
}
