//! geth as the other implementation: its `devp2p discv4 test` suite against a peerwire node,
//! and a geth node with discovery on that finds us and that we find.

use std::time::Duration;

use p2p_discv4::Discv4;
use p2p_rlpx::NodeKey;
use peerwire_testkit::GethNode;
use tokio::process::Command;

use crate::loopback::config;

pub(crate) use peerwire_testkit::{free_port, peer_env as env_path};

/// Every test of geth's suite (15 in v1.17.10) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_devp2p_discv4_suite_passes() {
    let devp2p = env_path("PEERWIRE_GETH_DEVP2P");
    let node = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
    let enode = node.local_enode().to_string();
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        Command::new(devp2p)
            .args(["discv4", "test", "--remote", &enode])
            .args(["--listen1", "127.0.0.1", "--listen2", "127.0.0.2"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the suite finishes in 5 minutes")
    .expect("devp2p runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    eprintln!("{:?}", node.stats());
    assert!(
        output.status.success(),
        "geth's discv4 suite failed:\n{text}"
    );
    let summary = text
        .lines()
        .find_map(|l| l.trim().strip_suffix(" tests passed."))
        .and_then(|l| l.split_once('/'))
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .expect("a summary line");
    assert!(
        summary.0 == summary.1 && summary.1 >= 14,
        "{summary:?}:\n{text}"
    );
}

/// A geth node with discovery v4 on loopback, bootstrapped from `bootnode`; its enode.
async fn start_geth(bootnode: &p2p_rlpx::Enode) -> (GethNode, p2p_rlpx::Enode) {
    let key = NodeKey::generate();
    let geth = GethNode::builder()
        .discv4(true)
        .max_peers(10)
        .nodekey_hex(key.to_hex())
        .bootnode(bootnode.to_string())
        .verbosity(4)
        .start()
        .await;
    let enode = p2p_rlpx::Enode::new(key.id(), ([127, 0, 0, 1], geth.p2p_port()).into());
    (geth, enode)
}

/// geth, bootstrapped from a peerwire node, enters its table and answers its lookup; a
/// second peerwire node that knows only geth finds the first through geth's table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_and_peerwire_find_each_other() {
    let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
    let (_geth, geth_enode) = start_geth(&a.local_enode()).await;
    let gid = geth_enode.id;
    // geth pings its bootnode at start; we ping it back and it enters our table.
    crate::loopback::within(
        90,
        crate::loopback::eventually(|| async { a.table_nodes().iter().any(|r| r.enode.id == gid) }),
    )
    .await;
    // A lookup counts only nodes that answered within the reply timeout; on a loaded machine geth's
    // first answer can miss it, so look again until geth is the closest node found.
    crate::loopback::within(60, async {
        loop {
            let found = a.lookup(gid).await.unwrap();
            if found.first().map(|r| r.enode.id) == Some(gid) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
    .await;
    let record = a.request_enr(&geth_enode).await.unwrap();
    assert_eq!(p2p_rlpx::node_id(&record.public_key()), gid);
    assert_eq!(record.udp4(), Some(geth_enode.udp_port));

    // The other direction: geth's table holds `a`, so a node that knows only geth finds it.
    let c_config = p2p_discv4::Discv4Config {
        bootnodes: vec![geth_enode],
        ..config()
    };
    let c = Discv4::bind(&NodeKey::generate(), c_config).await.unwrap();
    let aid = a.local_enode().id;
    let found = crate::loopback::within(60, async {
        loop {
            let found = c.lookup(aid).await.unwrap();
            if found.iter().any(|r| r.enode.id == aid) {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    assert_eq!(found[0].enode, a.local_enode());
}
