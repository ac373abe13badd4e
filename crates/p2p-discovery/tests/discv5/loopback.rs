//! Loopback networks of peerwire discv5 nodes.

use std::collections::HashMap;

use enr::NodeId;
use p2p_discovery::Source;
use p2p_discovery::eth_entry::EthEntry;
use p2p_discovery::v5::{Discv5, node_id_of};
use p2p_rlpx::NodeKey;

use crate::support::{bounded, converge, eth_entry, loopback_config, network};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_id_and_record_match_the_secp256k1_key() {
    bounded(20, "bind", async {
        let key = NodeKey::generate();
        let node = Discv5::bind(&key, loopback_config(30_400)).await.unwrap();
        assert_eq!(node.node_id(), node_id_of(&key.id()).unwrap());
        let record = node.local_enr().unwrap();
        assert_eq!(record.public_key(), *key.public_key());
        assert_eq!(record.ip4(), Some(std::net::Ipv4Addr::LOCALHOST));
        assert_eq!(record.udp4(), Some(node.listen_addr().port()));
        assert_eq!(record.tcp4(), Some(30_400));
        assert_eq!(EthEntry::of(&record).unwrap(), Some(eth_entry()));
        assert!(node.local_enr_text().starts_with("enr:"));
        let reparsed = p2p_discovery::v5::parse_enr(&node.local_enr_text()).unwrap();
        assert_eq!(reparsed, record);
        node.shutdown();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_find_each_other_and_candidates_carry_the_eth_entry() {
    bounded(90, "loopback network", async {
        let nodes = network(5).await;
        let mut events = nodes[4].subscribe();
        let rounds = converge(&nodes, 10).await;
        eprintln!("converged after {rounds} rounds");
        // Every other node reached the last one's subscription as a candidate with the entry.
        let mut seen: HashMap<NodeId, Option<EthEntry>> = HashMap::new();
        let want: Vec<NodeId> = nodes[..4].iter().map(Discv5::node_id).collect();
        while !want.iter().all(|id| seen.contains_key(id)) {
            let candidate = events.recv().await.expect("subscription ended early");
            assert_eq!(candidate.source, Source::Discv5);
            let record = candidate
                .enr
                .clone()
                .expect("discv5 candidates carry their record");
            assert_eq!(candidate.enode.ip, std::net::IpAddr::from([127, 0, 0, 1]));
            seen.insert(record.node_id(), candidate.eth_entry().unwrap());
        }
        for id in &want {
            assert_eq!(seen[id], Some(eth_entry()), "{id}");
        }
        let stats = nodes[4].stats();
        assert!(
            stats.lookups >= 1 && stats.sessions >= 1 && stats.table_size >= 4,
            "{stats:?}"
        );
        for node in &nodes {
            node.shutdown();
        }
        // The subscription drains and then ends.
        while events.recv().await.is_some() {}
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_eth_entry_reaches_peers() {
    bounded(60, "entry update", async {
        let nodes = network(2).await;
        converge(&nodes, 10).await;
        let before = nodes[1].local_enr().unwrap().seq();
        let newer = EthEntry::new(chain_types::ChainSpec::sepolia().fork_id_at(0, 0));
        nodes[1].set_eth_entry(&newer).unwrap();
        let record = nodes[1].local_enr().unwrap();
        assert_eq!(record.seq(), before + 1);
        assert_eq!(EthEntry::of(&record).unwrap(), Some(newer));
        // The bootnode asks for the new record when it learns the sequence number: a lookup from
        // the updated node carries it in its handshake and PINGs.
        let id = nodes[1].node_id();
        let mut updated = false;
        for _ in 0..10 {
            let _ = nodes[1].lookup_random().await;
            let _ = nodes[0].find_node(id).await;
            updated = nodes[0]
                .table_entries()
                .iter()
                .any(|r| r.node_id() == id && EthEntry::of(r).ok().flatten() == Some(newer));
            if updated {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(updated, "the bootnode never saw the new record");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_fail_cleanly_after_shutdown() {
    bounded(20, "shutdown", async {
        let node = Discv5::bind(&NodeKey::generate(), loopback_config(1))
            .await
            .unwrap();
        let clone = node.clone();
        let mut events = node.subscribe();
        node.shutdown();
        let err = clone.lookup_random().await.unwrap_err();
        assert!(matches!(err, p2p_discovery::Error::Discv5Shutdown), "{err}");
        assert!(events.recv().await.is_none());
    })
    .await;
}

/// Resident memory of this process in KiB (Linux), zero elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_from_one_address_leaves_the_node_working() {
    bounded(120, "flood", async {
        // The node runs discv5's packet filter, as it would on a public address.
        let target = Discv5::bind(
            &NodeKey::generate(),
            loopback_config(30_303).packet_filter(true),
        )
        .await
        .unwrap();
        let addr = target.listen_addr();
        let before = rss_kib();
        // 20 000 datagrams of 0 to 1 280 pseudo-random bytes (some shaped like discv5 headers:
        // the 16-byte masking IV then garbage) from 127.0.0.3, as fast as the socket takes them.
        let flood = tokio::task::spawn_blocking(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut buf = [0u8; 1280];
            for _ in 0..20_000 {
                let len = usize::try_from(next() % 1281).unwrap();
                for b in &mut buf[..len] {
                    *b = next() as u8;
                }
                let _ = socket.send_to(&buf[..len], addr);
            }
        });
        flood.await.unwrap();
        let grown = rss_kib().saturating_sub(before);
        eprintln!("resident memory grew by {grown} KiB during the flood");
        assert!(grown < 64 * 1024, "memory grew by {grown} KiB");

        // A well-behaved node from another address still gets answers.
        let peer = Discv5::bind(
            &NodeKey::generate(),
            loopback_config(30_304).bootnode(target.local_enr().unwrap()),
        )
        .await
        .unwrap();
        let id = peer.node_id();
        let mut answered = false;
        for _ in 0..10 {
            let _ = peer.lookup_random().await;
            if target.table_entries().iter().any(|r| r.node_id() == id) {
                answered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(
            answered,
            "the flooded node never took the peer in: {:?}",
            target.stats()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_a_taken_port_is_a_bind_error() {
    bounded(20, "taken port", async {
        let first = Discv5::bind(&NodeKey::generate(), loopback_config(1))
            .await
            .unwrap();
        let config = p2p_discovery::v5::Discv5Config::new(first.listen_addr());
        let err = Discv5::bind(&NodeKey::generate(), config)
            .await
            .unwrap_err();
        assert!(
            matches!(err, p2p_discovery::Error::Discv5Bind { .. }),
            "{err:?}"
        );
    })
    .await;
}
