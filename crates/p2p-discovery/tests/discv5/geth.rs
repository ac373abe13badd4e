//! geth: its discv5 test suite and geth as a peer.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use p2p_discovery::v5::Discv5;
use p2p_discovery::v5::{log_distance, parse_enr};
use p2p_rlpx::NodeKey;

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

/// A geth node with discv5 on and discv4 off, listening on 127.0.0.1; killed on drop.
struct Geth {
    child: Child,
    http: u16,
    log: std::path::PathBuf,
}

impl Drop for Geth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Geth {
    /// Starts geth in `dir` with `bootnode` (an `enr:` text) as its only discv5 bootnode.
    fn start(geth: &Path, dir: &Path, bootnode: &str) -> Self {
        let p2p = free_port();
        let http = free_port();
        let config = dir.join("geth.toml");
        std::fs::write(
            &config,
            format!(
                "[Node.P2P]\nListenAddr = \"127.0.0.1:{p2p}\"\nDiscoveryV4 = false\nDiscoveryV5 = true\nMaxPeers = 10\n"
            ),
        )
        .unwrap();
        let log = dir.join("geth.log");
        let mut command = Command::new(geth);
        command
            .arg("--config")
            .arg(&config)
            .arg("--datadir")
            .arg(dir.join("data"))
            .args(["--nat", "extip:127.0.0.1", "--bootnodes", bootnode])
            .args(["--http", "--http.addr", "127.0.0.1", "--http.port"])
            .arg(http.to_string())
            .args(["--http.api", "admin", "--ipcdisable"])
            .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port"])
            .arg(free_port().to_string())
            .args(["--verbosity", "4"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", geth.display()));
        Self { child, http, log }
    }

    /// geth's record, from `admin_nodeInfo`, once its RPC answers.
    async fn enr(&mut self) -> p2p_discovery::Enr {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("geth exited ({status}); log:\n{}", self.log_tail());
            }
            if let Some(reply) = http_rpc(self.http, "admin_nodeInfo")
                && let Some(text) = reply["result"]["enr"].as_str()
            {
                return parse_enr(text).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "geth's RPC did not answer in 30 s; log:\n{}",
            self.log_tail()
        );
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// A free TCP port on 127.0.0.1 (geth uses the same number for UDP).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One JSON-RPC call without parameters over HTTP/1.0 on 127.0.0.1.
fn http_rpc(port: u16, method: &str) -> Option<serde_json::Value> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":[]}}"#);
    let request = format!(
        "POST / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, json) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(json.trim()).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_and_peerwire_find_each_other_over_discv5() {
    let geth_path = env_path("PEERWIRE_GETH");
    let dir = tempfile::tempdir().unwrap();
    bounded(180, "geth over discv5", async {
        // A is geth's bootnode; B knows only A, so B can learn of geth only through a lookup.
        let a = Discv5::bind(&NodeKey::generate(), loopback_config(30_303))
            .await
            .unwrap();
        let a_record = a.local_enr().unwrap();
        let b = Discv5::bind(
            &NodeKey::generate(),
            loopback_config(30_304).bootnode(a_record.clone()),
        )
        .await
        .unwrap();
        let mut events = b.subscribe();
        let mut geth = Geth::start(&geth_path, dir.path(), &a.local_enr_text());
        let geth_record = geth.enr().await;
        let geth_id = geth_record.node_id();
        assert_eq!(
            geth_record.ip4(),
            Some(std::net::Ipv4Addr::LOCALHOST),
            "{geth_record:?}"
        );

        // Peerwire finds geth: B's lookups (through A, which geth contacted as its bootnode)
        // return geth's record, with geth's RLPx endpoint.
        let mut found = None;
        for _ in 0..60 {
            let _ = a.lookup_random().await;
            let result = b.find_node(geth_id).await.unwrap_or_default();
            if let Some(c) = result
                .into_iter()
                .find(|c| c.enr.as_ref().map(enr::Enr::node_id) == Some(geth_id))
            {
                found = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let found =
            found.unwrap_or_else(|| panic!("no lookup found geth; log:\n{}", geth.log_tail()));
        assert_eq!(Some(found.enode.tcp_port), geth_record.tcp4());
        assert_eq!(Some(found.enode.udp_port), geth_record.udp4());
        // The subscription saw it as a candidate too.
        let mut via_events = false;
        while let Ok(Some(c)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            if c.enr.as_ref().map(enr::Enr::node_id) == Some(geth_id) {
                via_events = true;
                break;
            }
        }
        assert!(via_events, "geth never reached B's subscription");

        // Geth knows peerwire: geth's own table, asked by B at the distance of A from geth,
        // holds A's record.
        let distance = log_distance(&geth_id, &a.node_id()).unwrap();
        let mut known = false;
        for _ in 0..20 {
            let records = b
                .nodes_at(&geth_record, vec![distance])
                .await
                .unwrap_or_default();
            if records.iter().any(|r| r.node_id() == a.node_id()) {
                known = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            known,
            "geth's table lacks A at distance {distance}; log:\n{}",
            geth.log_tail()
        );
        eprintln!("A: {:?}\nB: {:?}", a.stats(), b.stats());
    })
    .await;
}
