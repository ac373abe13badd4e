//! geth: its discv5 test suite and geth as a peer.

use std::time::Duration;

use enr::NodeId;
use p2p_discovery::Candidate;
use p2p_discovery::v5::Discv5;
use p2p_discovery::v5::{log_distance, parse_enr};
use p2p_rlpx::NodeKey;
use peerwire_testkit::GethNode;

use crate::support::{bounded, env_path, loopback_config, run_bounded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_discv5_test_suite_passes() {
    let devp2p = env_path("PEERWIRE_GETH_DEVP2P");
    bounded(600, "devp2p discv5 test", async {
        let node = Discv5::bind(
            &NodeKey::generate(),
            // The default ping interval (30 s): `FindnodeResults` needs the bystanders revalidated
            // within 60 s.
            loopback_config(30_303).ping_interval(p2p_discovery::v5::DEFAULT_PING_INTERVAL),
        )
        .await
        .unwrap();
        let mut command = std::process::Command::new(devp2p);
        command
            .args([
                "discv5",
                "test",
                "--listen1",
                "127.0.0.1",
                "--listen2",
                "127.0.0.2",
            ])
            .arg(node.local_enr_text());
        let finished = run_bounded(command, 540).await;
        eprintln!("{}", finished.output);
        eprintln!("{:?}", node.stats());
        // All ten tests of the pinned suite pass (Ping, PingLargeRequestID, PingMultiIP,
        // HandshakeResend, TalkRequest, FindnodeWrongIP, FindnodeHandshake, FindnodeZeroDistance,
        // FindnodeResults, UnsolicitedNodes).
        assert!(finished.success, "devp2p discv5 test failed");
        assert!(!finished.output.contains("-- FAIL"), "a test failed");
        assert!(finished.output.contains("tests passed"), "no summary line");
    })
    .await;
}

/// A geth node with discv5 on and discv4 off, listening on 127.0.0.1, with `bootnode` (an
/// `enr:` text) as its only discv5 bootnode; killed on drop.
async fn start_geth(geth: &std::path::Path, bootnode: &str) -> GethNode {
    GethNode::builder()
        .binary(geth)
        .discv5(true)
        .max_peers(10)
        .nat("extip:127.0.0.1")
        .bootnode(bootnode)
        .verbosity(4)
        .start()
        .await
}

/// Runs lookups from `node` until one returns the node `id`; the candidate it returned.
async fn look_for(node: &Discv5, helper: &Discv5, id: NodeId) -> Option<Candidate> {
    for _ in 0..60 {
        let _ = helper.lookup_random().await;
        let result = node.find_node(id).await.unwrap_or_default();
        if let Some(c) = result
            .into_iter()
            .find(|c| c.enr.as_ref().map(enr::Enr::node_id) == Some(id))
        {
            return Some(c);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// Whether `remote`'s table (asked by `asker` at the right distance) holds `id`.
async fn table_holds(asker: &Discv5, remote: &p2p_discovery::Enr, id: NodeId) -> bool {
    let Some(distance) = log_distance(&remote.node_id(), &id) else {
        return false;
    };
    for _ in 0..20 {
        let records = asker
            .nodes_at(remote, vec![distance])
            .await
            .unwrap_or_default();
        if records.iter().any(|r| r.node_id() == id) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// Geth nodes in the network test.
const GETH_NODES: usize = 3;

// Peerwire's nodes speak only discv5 and geth's discv4 is off, so whatever the two sides learn
// of each other here went over discv5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_and_peerwire_find_each_other_over_discv5() {
    let geth_path = env_path("PEERWIRE_GETH");
    bounded(300, "geth over discv5", async {
        // A is the first geth's bootnode; the other geths boot from the first geth, and so does
        // B. B is told of no other node, so it can learn of geth 1 and 2 (and of A) only through
        // lookups, and geth 1 and 2 learn of B only when it contacts them.
        let a = Discv5::bind(&NodeKey::generate(), loopback_config(30_303))
            .await
            .unwrap();
        let mut geths = Vec::new();
        let mut records = Vec::new();
        for _ in 0..GETH_NODES {
            let bootnode = match records.first() {
                None => a.local_enr_text(),
                Some(first) => p2p_discovery::Enr::to_base64(first),
            };
            let geth = start_geth(&geth_path, &bootnode).await;
            let record = parse_enr(geth.enr()).unwrap();
            assert_eq!(
                record.ip4(),
                Some(std::net::Ipv4Addr::LOCALHOST),
                "{record:?}"
            );
            geths.push(geth);
            records.push(record);
        }
        let b = Discv5::bind(
            &NodeKey::generate(),
            loopback_config(30_304).bootnode(records[0].clone()),
        )
        .await
        .unwrap();
        let mut events = b.subscribe();

        // Peerwire finds every geth: B's lookups return each geth's record, with its RLPx
        // endpoint, and A's (which only the first geth had).
        for (geth, record) in geths.iter().zip(&records) {
            let found = look_for(&b, &a, record.node_id())
                .await
                .unwrap_or_else(|| panic!("no lookup found geth; log:\n{}", geth.log_tail()));
            assert_eq!(Some(found.enode.tcp_port), record.tcp4());
            assert_eq!(Some(found.enode.udp_port), record.udp4());
            // geth (on mainnet, at genesis) announces the fork id peerwire computes for it.
            assert_eq!(
                found.eth_entry().unwrap(),
                Some(crate::support::eth_entry())
            );
        }
        assert!(
            look_for(&b, &a, a.node_id()).await.is_some(),
            "B never found A"
        );
        // The subscription saw the gethes as candidates too.
        let mut missing: Vec<NodeId> = records.iter().map(enr::Enr::node_id).collect();
        while !missing.is_empty() {
            match tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
                Ok(Some(c)) => {
                    let id = c.enr.as_ref().map(enr::Enr::node_id);
                    missing.retain(|m| Some(*m) != id);
                }
                _ => panic!("B's subscription never reported {missing:?}"),
            }
        }

        // Geth knows peerwire: the first geth's table holds A (its bootnode), and every geth's
        // table holds B (which its lookups contacted).
        assert!(
            table_holds(&b, &records[0], a.node_id()).await,
            "the first geth's table lacks A; log:\n{}",
            geths[0].log_tail()
        );
        for (geth, record) in geths.iter().zip(&records) {
            assert!(
                table_holds(&a, record, b.node_id()).await,
                "a geth's table lacks B; log:\n{}",
                geth.log_tail()
            );
        }
        eprintln!("A: {:?}\nB: {:?}", a.stats(), b.stats());
    })
    .await;
}
