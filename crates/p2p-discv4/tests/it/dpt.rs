//! @ethereumjs/devp2p's DPT as a second discv4 implementation, both directions.

use std::time::Duration;

use p2p_discv4::{Discv4, Discv4Config};
use p2p_rlpx::{Enode, NodeKey};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::geth::{env_path, free_port};
use crate::loopback::{config, eventually, within};

/// The DPT finds us (we enter its table), we find it by lookup, and a second peerwire node
/// that knows only the DPT finds the first through the DPT's table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn ethereumjs_dpt_and_peerwire_find_each_other() {
    let node_bin = env_path("PEERWIRE_NODE");
    let dir = env_path("PEERWIRE_PEERS_DIR");
    let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
    let port = free_port();
    let mut child = Command::new(node_bin)
        .arg(format!("{dir}/discovery/dpt.mjs"))
        .arg(a.local_enode().to_string())
        .arg(port.to_string())
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the DPT printed a line");
        serde_json::from_str(&line).unwrap()
    };
    let ready = within(30, next()).await;
    assert_eq!(ready["event"], "ready", "{ready}");
    let dpt_id = ready["id"].as_str().unwrap().to_owned();
    let dpt = Enode::new(
        format!("enode://{dpt_id}@127.0.0.1:{port}")
            .parse::<Enode>()
            .unwrap()
            .id,
        ([127, 0, 0, 1], port).into(),
    );
    let our_id = hex::encode(a.local_enode().id.as_bytes());
    // Direction 1: the DPT pings its bootnode and adds us.
    within(30, async {
        loop {
            let line = next().await;
            if line["event"] == "peer" && line["id"] == our_id.as_str() {
                assert_eq!(line["udpPort"], a.local_addr().port());
                break;
            }
        }
    })
    .await;
    // Direction 2: we find the DPT.
    within(
        30,
        eventually(|| async { a.table_nodes().await.iter().any(|r| r.enode.id == dpt.id) }),
    )
    .await;
    let found = a.lookup(dpt.id).await.unwrap();
    assert_eq!(found.first().map(|r| r.enode.id), Some(dpt.id), "{found:?}");
    // Through the DPT's table: a node that knows only the DPT finds `a`.
    let b = Discv4::bind(
        &NodeKey::generate(),
        Discv4Config {
            bootnodes: vec![dpt],
            ..config()
        },
    )
    .await
    .unwrap();
    let aid = a.local_enode().id;
    let found = within(60, async {
        loop {
            let found = b.lookup(aid).await.unwrap();
            if found.iter().any(|r| r.enode.id == aid) {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    assert_eq!(found[0].enode, a.local_enode());
    drop(child.stdin.take());
}
