//! @chainsafe/discv5 as a second implementation, driven by `tests/peers/discovery/discv5.mjs`.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use enr::NodeId;
use p2p_discovery::v5::{Discv5, log_distance, parse_enr};
use p2p_rlpx::NodeKey;
use tokio::sync::mpsc;

use crate::support::{bounded, env_path, loopback_config};

/// The script's process (killed on drop) and its JSON lines.
struct Script {
    child: Child,
    lines: mpsc::UnboundedReceiver<serde_json::Value>,
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Script {
    fn start(udp: u16, tcp: u16, bootnode: &str) -> Self {
        let node = env_path("PEERWIRE_NODE");
        let dir = env_path("PEERWIRE_PEERS_DIR");
        let mut child = Command::new(node)
            .arg(dir.join("discovery/discv5.mjs"))
            .args(["--port", &udp.to_string(), "--tcp", &tcp.to_string()])
            .args(["--bootnode", bootnode, "--duration", "120"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str(&line) {
                    Ok(value) => {
                        if sender.send(value).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("discv5.mjs: {line}"),
                }
            }
        });
        Self { child, lines }
    }

    /// The next line whose `event` is `event`.
    async fn next(&mut self, event: &str) -> serde_json::Value {
        loop {
            let line = self.lines.recv().await.expect("discv5.mjs exited");
            if line["event"] == event {
                return line;
            }
        }
    }
}

fn hex_id(id: &NodeId) -> String {
    hex::encode(id.raw())
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn chainsafe_discv5_and_peerwire_find_each_other() {
    bounded(120, "@chainsafe/discv5", async {
        // A is the script's bootnode; B knows only A. Each side can learn of the other's far
        // node only through lookups.
        let a = Discv5::bind(&NodeKey::generate(), loopback_config(30_303))
            .await
            .unwrap();
        let b = Discv5::bind(
            &NodeKey::generate(),
            loopback_config(30_304).bootnode(a.local_enr().unwrap()),
        )
        .await
        .unwrap();
        let _ = b.lookup_random().await;
        let mut script = Script::start(free_udp_port(), 30_999, &a.local_enr_text());
        let ready = script.next("ready").await;
        let js_record = parse_enr(ready["enr"].as_str().unwrap()).unwrap();
        let js_id = js_record.node_id();
        assert_eq!(ready["nodeId"].as_str(), Some(hex_id(&js_id).as_str()));

        // Peerwire finds the JS node: B's lookup for it (through A) returns its record with the
        // announced RLPx port.
        let mut found = None;
        for _ in 0..40 {
            let _ = a.lookup_random().await;
            let result = b.find_node(js_id).await.unwrap_or_default();
            found = result
                .into_iter()
                .find(|c| c.enr.as_ref().map(enr::Enr::node_id) == Some(js_id));
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let found = found.expect("no peerwire lookup found the @chainsafe/discv5 node");
        assert_eq!(found.enode.tcp_port, 30_999);

        // The JS node finds peerwire: its lookups report B (which it never got as a bootnode).
        let b_hex = hex_id(&b.node_id());
        loop {
            let line = script.lines.recv().await.expect("discv5.mjs exited");
            let discovered = line["event"] == "discovered" && line["nodeId"] == b_hex.as_str();
            let in_table = line["event"] == "table"
                && line["nodeIds"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| *id == b_hex.as_str()));
            if discovered || in_table {
                break;
            }
        }

        // And its table holds A, asked directly at A's distance.
        let distance = log_distance(&js_id, &a.node_id()).unwrap();
        let records = b.nodes_at(&js_record, vec![distance]).await.unwrap();
        assert!(
            records.iter().any(|r| r.node_id() == a.node_id()),
            "the JS node's table lacks A at distance {distance}"
        );
    })
    .await;
}
