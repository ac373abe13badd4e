//! Finding peers: `peerwire crawl` over the geth discovery network (discv4 and discv5), geth finding
//! `peerwire serve --discovery`, `peerwire sync` without `--peer`, and the discovery flags' errors.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{peer_env, peerwire, run, run_within};

/// The ids (128 hex digits) of a comma list of `enode://` URLs.
fn ids_of(enodes: &str) -> HashSet<String> {
    enodes
        .split(',')
        .filter_map(|e| e.strip_prefix("enode://"))
        .filter_map(|e| e.split('@').next())
        .map(str::to_owned)
        .collect()
}

/// geth's eth test chain: its genesis file and head number.
fn ethtest() -> (String, u64) {
    let testdata = PathBuf::from(peer_env("PEERWIRE_GETH_TESTDATA"));
    let head: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata.join("headblock.json")).expect("headblock.json"),
    )
    .expect("headblock.json is JSON");
    let number = head["number"]
        .as_str()
        .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
        .expect("a head number");
    (testdata.join("genesis.json").display().to_string(), number)
}

/// Crawls for `seconds` with `args` and returns the node lines and the summary.
async fn crawl(seconds: u64, args: &[&str]) -> (Vec<Value>, Value) {
    let (genesis, _) = ethtest();
    let duration = seconds.to_string();
    let mut all = vec![
        "crawl",
        "--chain",
        &genesis,
        "--duration",
        &duration,
        "--discovery-listen",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    let out = run_within(Duration::from_secs(seconds + 30), &all).await;
    let lines: Vec<Value> = out
        .succeeded()
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let (summary, nodes): (Vec<Value>, Vec<Value>) =
        lines.into_iter().partition(|l| l["summary"] == true);
    (nodes, summary.into_iter().next().expect("a summary line"))
}

fn assert_found_all(nodes: &[Value], source: &str) {
    let wanted = ids_of(&peer_env("PEERWIRE_GETH_DISC_ENODES"));
    let found: HashSet<String> = nodes
        .iter()
        .filter(|n| n["source"] == source)
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = wanted.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "not found via {source}: {missing:?} in {nodes:#?}"
    );
    for node in nodes
        .iter()
        .filter(|n| n["id"].as_str().is_some_and(|id| wanted.contains(id)))
    {
        assert_eq!(node["compatible"], true, "{node}");
        assert_eq!(node["dial"], "ok", "{node}");
        assert!(
            node["client"]
                .as_str()
                .is_some_and(|c| c.starts_with("Geth/")),
            "{node}"
        );
    }
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn crawl_finds_every_geth_node_through_discv5() {
    let boot = peer_env("PEERWIRE_GETH_DISC_BOOTNODE_ENR");
    let (nodes, summary) = crawl(15, &["--v5", "--bootnode", &boot]).await;
    assert_found_all(&nodes, "discv5");
    assert!(summary["nodes"].as_u64() >= Some(3), "{summary}");
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn crawl_finds_every_geth_node_through_discv4() {
    let boot = peer_env("PEERWIRE_GETH_DISC_BOOTNODE");
    let (nodes, summary) = crawl(15, &["--v4", "--bootnode", &boot]).await;
    assert_found_all(&nodes, "discv4");
    assert!(summary["nodes"].as_u64() >= Some(3), "{summary}");
}

/// `admin_peers` of a geth node over HTTP (HTTP/1.0, so the reply is never chunked).
async fn admin_peers(url: &str) -> Vec<Value> {
    let addr = url.trim_start_matches("http://");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"admin_peers","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("geth's HTTP endpoint");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let json = response.split_once("\r\n\r\n").map_or("", |(_, j)| j);
    let reply: Value = serde_json::from_str(json.trim()).expect("a JSON-RPC reply");
    reply["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_finds_and_dials_peerwire_serve_with_discovery() {
    let (genesis, _) = ethtest();
    let testdata = PathBuf::from(peer_env("PEERWIRE_GETH_TESTDATA"));
    let blocks = testdata.join("chain.rlp").display().to_string();
    let boot_enr = peer_env("PEERWIRE_GETH_DISC_BOOTNODE_ENR");
    let boot = peer_env("PEERWIRE_GETH_DISC_BOOTNODE");
    let https = peer_env("PEERWIRE_GETH_DISC_HTTP");
    let dir = tempfile::tempdir().expect("temp dir");
    let datadir = dir.path().display().to_string();
    let mut child = peerwire(&[
        "serve",
        "--datadir",
        &datadir,
        "--chain",
        &genesis,
        "--import",
        &blocks,
        "--listen",
        "127.0.0.1:0",
        "--discovery",
        "v4,v5",
        "--bootnode",
        &boot_enr,
        "--bootnode",
        &boot,
    ])
    .spawn()
    .expect("spawning peerwire serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("peerwire serve printed in time")
            .expect("reading stdout")
            .expect("a line")
    };
    let enode = next().await;
    let info: Value = serde_json::from_str(&next().await).expect("the record line is JSON");
    assert!(
        info["enr"].as_str().is_some_and(|e| e.starts_with("enr:")),
        "{info}"
    );
    let id = enode
        .strip_prefix("enode://")
        .and_then(|e| e.split('@').next())
        .expect("an enode")
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut seen = false;
        for url in https.split(',') {
            seen |= admin_peers(url)
                .await
                .iter()
                // geth's `id` is the hash of the key; its `enode` URL holds the key itself.
                .any(|p| p["enode"].as_str().is_some_and(|e| e.contains(id.as_str())));
        }
        if seen {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no geth node lists peerwire ({id}) in admin_peers after 90 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = child.kill().await;
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn sync_without_peer_finds_the_geth_network_and_reaches_its_head() {
    let (genesis, head) = ethtest();
    let boot = peer_env("PEERWIRE_GETH_DISC_BOOTNODE_ENR");
    let dir = tempfile::tempdir().expect("temp dir");
    let datadir = dir.path().display().to_string();
    let out = run_within(
        Duration::from_secs(180),
        &[
            "sync",
            "--chain",
            &genesis,
            "--datadir",
            &datadir,
            "--bootnode",
            &boot,
            "--discovery-listen",
            "127.0.0.1:0",
            "--max-peers",
            "3",
            "--json",
        ],
    )
    .await;
    let lines = out.succeeded();
    let summary: Value = serde_json::from_str(lines.last().expect("a summary")).expect("JSON");
    assert_eq!(summary["head_number"].as_u64(), Some(head), "{summary}");
    assert!(
        summary["peers"].as_u64() >= Some(2),
        "found through discovery too: {summary}"
    );
}

#[tokio::test]
async fn sync_without_peer_and_without_chain_says_what_it_needs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(&["sync", "--datadir", &dir.path().display().to_string()]).await;
    assert!(out.failed().contains("needs --chain"), "{out:#?}");
}

#[tokio::test]
async fn bad_discovery_flags_are_clear_errors() {
    let out = run(&[
        "crawl",
        "--chain",
        "mainnet",
        "--bootnode",
        "nonsense",
        "--duration",
        "1",
    ])
    .await;
    assert!(
        out.failed().contains("bad --bootnode `nonsense`"),
        "{out:#?}"
    );
    let out = run(&["crawl", "--chain", "mainnet", "--discovery", "v6"]).await;
    assert!(out.failed().contains("v6"), "{out:#?}");
    let out = run(&[
        "crawl",
        "--chain",
        "mainnet",
        "--dns",
        "enrtree://bad",
        "--duration",
        "1",
    ])
    .await;
    assert!(out.failed().contains("bad --dns"), "{out:#?}");
    let out = run(&["serve", "--datadir", "x", "--bootnode", "enr:abc"]).await;
    assert!(out.failed().contains("--discovery"), "{out:#?}");
}
