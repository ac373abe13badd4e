//! Interop with go-ethereum v1.17.10, started by `cargo xtask peers` (see `xtask/src/geth.rs`):
//!
//! - `peerwire sync` from the listening geth that holds the dev-made chain (every transaction type, logs,
//!   withdrawals), over eth/69 or later, in light, full and fast mode: every stored header, body and receipt is
//!   compared with what geth's JSON-RPC returns for the same block;
//! - a fresh geth whose only peer is `peerwire serve` full-syncs and executes the chain it serves (geth's
//!   `--synctarget`), for the dev-made chain and for geth's own eth test chain, ending on the same head and state
//!   root, and shows peerwire in `admin_peers` with eth/69 or later;
//! - geth's own eth protocol test suite (`devp2p rlpx eth-test`) against `peerwire serve` with the suite's chain.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chain_types::{ChainStore, H256, ReceiptStatus, RedbStore, keccak256};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;
use tokio::process::{Child, Command};

use peerwire_testkit::{GethNode, free_port};

use crate::support::{peer_env, peerwire, run_within};

/// A JSON-RPC client for a geth node.
fn rpc(url: &str) -> rpc_client::Client {
    let transport = rpc_http::HttpTransport::new(url).expect("geth's HTTP URL");
    rpc_client::ClientBuilder::new()
        .request_timeout(Duration::from_secs(20))
        .build_request(transport)
}

async fn call(client: &rpc_client::Client, method: &str, params: Value) -> Value {
    client
        .request(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn quantity(value: &Value) -> u64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a quantity"));
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex quantity")
}

fn hash(value: &Value) -> H256 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a hash"));
    H256::from_slice(&hex::decode(text.trim_start_matches("0x")).expect("hex hash"))
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex data").trim_start_matches("0x")).expect("hex data")
}

/// The dev-made chain's head from `PEERWIRE_GETH_CHAIN_INFO`.
fn dev_chain_head() -> (u64, H256) {
    let info: Value = serde_json::from_str(&peer_env("PEERWIRE_GETH_CHAIN_INFO")).expect("JSON");
    (info["head"].as_u64().expect("head"), hash(&info["hash"]))
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `peerwire sync` in every mode from the serving geth, each block compared with geth's JSON-RPC.
#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn sync_from_geth_in_every_mode_equals_its_json_rpc() {
    let enode = peer_env("PEERWIRE_GETH_ENODE");
    let http = peer_env("PEERWIRE_GETH_HTTP");
    let genesis = peer_env("PEERWIRE_GETH_GENESIS");
    let (head, head_hash) = dev_chain_head();
    let geth = rpc(&http);
    let info = peer_env("PEERWIRE_GETH_CHAIN_INFO");
    for kind in ["0x0", "0x1", "0x2", "0x3", "0x4"] {
        assert!(
            info.contains(&format!("\"{kind}\"")),
            "the dev chain has type {kind} transactions: {info}"
        );
    }
    for mode in ["light", "full", "fast"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = run_within(
            Duration::from_secs(60),
            &[
                "sync",
                "--peer",
                &enode,
                "--datadir",
                s(dir.path()),
                "--chain",
                &genesis,
                "--head-from-rpc",
                &http,
                "--mode",
                mode,
                "--json",
            ],
        )
        .await;
        let lines = out.succeeded();
        let summary: Value = serde_json::from_str(lines[0]).expect("a JSON summary");
        assert_eq!(summary["head_number"], head, "{mode}");
        assert_eq!(summary["mode"], mode);
        let protocol = summary["protocol"].as_str().expect("protocol");
        let version: u8 = protocol
            .trim_start_matches("eth/")
            .parse()
            .expect("one eth version");
        assert!(version >= 69, "{mode}: geth spoke {protocol}");

        let store = RedbStore::open(dir.path().join("chain.redb")).expect("the synced store");
        let (stored_head, _) = store.head().expect("store").expect("a head");
        assert_eq!(stored_head.hash(), head_hash);
        let (mut txs, mut logs, mut withdrawals) = (0, 0, 0);
        for number in 0..=head {
            let block = call(
                &geth,
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), false]),
            )
            .await;
            let header = store
                .header_by_number(number)
                .expect("store")
                .expect("stored header");
            assert_eq!(
                header.hash(),
                hash(&block["hash"]),
                "{mode}: header {number}"
            );
            assert_eq!(header.state_root, hash(&block["stateRoot"]));
            if mode == "light" || number == 0 {
                continue;
            }
            let body = store
                .body(&header.hash())
                .expect("store")
                .expect("stored body");
            let tx_hashes: Vec<H256> = body.transactions.iter().map(|tx| keccak256(tx)).collect();
            let geth_txs: Vec<H256> = block["transactions"]
                .as_array()
                .expect("transactions")
                .iter()
                .map(hash)
                .collect();
            assert_eq!(
                tx_hashes, geth_txs,
                "{mode}: transactions of block {number}"
            );
            txs += tx_hashes.len();
            let geth_withdrawals = block["withdrawals"].as_array().expect("withdrawals");
            let ours = body.withdrawals.clone().unwrap_or_default();
            assert_eq!(
                ours.len(),
                geth_withdrawals.len(),
                "{mode}: withdrawals of {number}"
            );
            for (w, g) in ours.iter().zip(geth_withdrawals) {
                assert_eq!(w.index, quantity(&g["index"]));
                assert_eq!(w.validator_index, quantity(&g["validatorIndex"]));
                assert_eq!(
                    format!("{:#x}", w.address),
                    g["address"].as_str().expect("address")
                );
                assert_eq!(w.amount, quantity(&g["amount"]));
            }
            withdrawals += ours.len();
            if mode != "fast" {
                continue;
            }
            let receipts = store
                .receipts(&header.hash())
                .expect("store")
                .expect("stored receipts");
            let geth_receipts = call(
                &geth,
                "eth_getBlockReceipts",
                json!([format!("{number:#x}")]),
            )
            .await;
            let geth_receipts = geth_receipts.as_array().expect("receipts");
            assert_eq!(
                receipts.len(),
                geth_receipts.len(),
                "{mode}: receipts of {number}"
            );
            for (r, g) in receipts.iter().zip(geth_receipts) {
                assert_eq!(u64::from(r.tx_type), quantity(&g["type"]));
                let success = quantity(&g["status"]) == 1;
                assert_eq!(r.status == ReceiptStatus::Success, success);
                assert_eq!(r.cumulative_gas_used, quantity(&g["cumulativeGasUsed"]));
                assert_eq!(
                    r.logs_bloom.0.to_vec(),
                    bytes(&g["logsBloom"]),
                    "bloom of block {number}"
                );
                let geth_logs = g["logs"].as_array().expect("logs");
                assert_eq!(r.logs.len(), geth_logs.len());
                for (log, gl) in r.logs.iter().zip(geth_logs) {
                    assert_eq!(
                        format!("{:#x}", log.address),
                        gl["address"].as_str().expect("address")
                    );
                    let topics: Vec<H256> = gl["topics"]
                        .as_array()
                        .expect("topics")
                        .iter()
                        .map(hash)
                        .collect();
                    assert_eq!(log.topics, topics);
                    assert_eq!(log.data.to_vec(), bytes(&gl["data"]));
                }
                logs += r.logs.len();
            }
        }
        if mode != "light" {
            assert!(
                txs > 100 && withdrawals > 0,
                "{mode}: {txs} transactions, {withdrawals} withdrawals"
            );
        }
        if mode == "fast" {
            assert!(logs > 50, "{logs} logs compared");
        }
    }
}

/// A `peerwire serve` child with its enode.
struct Serving {
    /// Killed when dropped.
    _child: Child,
    enode: String,
    _dir: tempfile::TempDir,
}

/// `peerwire serve --chain GENESIS --import BLOCKS` on a free loopback port.
async fn serve(genesis: &str, blocks: &Path) -> Serving {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["--chain", genesis, "--import", s(blocks)];
    serve_dir(dir, &args).await
}

/// `peerwire serve` of a data directory that `peerwire sync --mode fast` filled from `enode` (so that it holds
/// receipts, which geth's export format does not carry).
async fn serve_synced(genesis: &str, enode: &str) -> Serving {
    let dir = tempfile::tempdir().expect("temp dir");
    let synced = run_within(
        Duration::from_secs(120),
        &[
            "sync",
            "--peer",
            enode,
            "--datadir",
            s(dir.path()),
            "--chain",
            genesis,
            "--mode",
            "fast",
        ],
    )
    .await;
    synced.succeeded();
    serve_dir(dir, &["--chain", genesis]).await
}

async fn serve_dir(dir: tempfile::TempDir, args: &[&str]) -> Serving {
    let mut all = vec![
        "serve",
        "--datadir",
        s(dir.path()),
        "--listen",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    let mut child = peerwire(&all).spawn().expect("spawning peerwire serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let enode = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("peerwire serve printed its enode in time")
        .expect("reading stdout")
        .expect("an enode line");
    assert!(enode.starts_with("enode://"), "{enode}");
    Serving {
        _child: child,
        enode,
        _dir: dir,
    }
}

/// A fresh geth (same genesis) whose only peer is `peer`, told to full-sync to `target`.
async fn fresh_geth(genesis: &str, peer: &str, target: H256) -> GethNode {
    let chain_id = {
        let text = std::fs::read_to_string(genesis).expect("genesis.json");
        let value: Value = serde_json::from_str(&text).expect("genesis JSON");
        value["config"]["chainId"].as_u64().expect("chainId")
    };
    GethNode::builder()
        .genesis(genesis)
        .p2p_toml(&format!("StaticNodes = [\"{peer}\"]"))
        .args(["--networkid".to_owned(), chain_id.to_string()])
        .args(["--synctarget".to_owned(), format!("{target:#x}")])
        .http_api("admin,eth,net")
        .start()
        .await
}

/// Polls `client` until it has block `target` as its head block, or fails after `limit`.
async fn wait_for_head(
    client: &rpc_client::Client,
    target: H256,
    limit: Duration,
    log: &Path,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(block) = client
            .request::<Value, _>("eth_getBlockByNumber", json!(["latest", false]))
            .await
            && block["hash"]
                .as_str()
                .is_some_and(|h| hash(&json!(h)) == target)
        {
            return block;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            panic!(
                "geth did not reach {target:#x} within {limit:?}; its log ends:\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// geth executes what `peerwire serve` serves: the fresh geth ends on the served head with the same state root as
/// the reference, and shows peerwire in `admin_peers` over eth/69 or later.
async fn geth_full_syncs_from_peerwire(genesis: &str, blocks: &Path, head: H256, state_root: H256) {
    let served = serve(genesis, blocks).await;
    let geth = fresh_geth(genesis, &served.enode, head).await;
    let client = rpc(&geth.http_url());
    let block = wait_for_head(
        &client,
        head,
        Duration::from_secs(120),
        &geth.dir().join("geth.log"),
    )
    .await;
    assert_eq!(
        hash(&block["stateRoot"]),
        state_root,
        "geth's state root after executing the served chain"
    );
    let peers = call(&client, "admin_peers", json!([])).await;
    let ours = peers
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("peerwire/"))
        })
        .unwrap_or_else(|| panic!("peerwire is not among geth's peers: {peers}"));
    let version = ours["protocols"]["eth"]["version"]
        .as_u64()
        .expect("eth version");
    assert!(version >= 69, "geth speaks eth/{version} with peerwire");
    drop(geth);
    drop(served);
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_full_syncs_the_dev_chain_from_peerwire_serve() {
    let genesis = peer_env("PEERWIRE_GETH_GENESIS");
    let blocks = PathBuf::from(peer_env("PEERWIRE_GETH_BLOCKS"));
    let (head, head_hash) = dev_chain_head();
    let reference = rpc(&peer_env("PEERWIRE_GETH_HTTP"));
    let block = call(
        &reference,
        "eth_getBlockByNumber",
        json!([format!("{head:#x}"), false]),
    )
    .await;
    geth_full_syncs_from_peerwire(&genesis, &blocks, head_hash, hash(&block["stateRoot"])).await;
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_full_syncs_its_eth_test_chain_from_peerwire_serve() {
    let testdata = PathBuf::from(peer_env("PEERWIRE_GETH_TESTDATA"));
    let head: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata.join("headblock.json")).expect("headblock.json"),
    )
    .expect("JSON");
    let genesis = testdata.join("genesis.json");
    geth_full_syncs_from_peerwire(
        s(&genesis),
        &testdata.join("chain.rlp"),
        hash(&head["hash"]),
        hash(&head["stateRoot"]),
    )
    .await;
}

/// Tests of `devp2p rlpx eth-test` that need what `peerwire serve` does not have, with the reason. Every other test
/// of the suite must pass.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "GetBlockAccessLists",
        "eth/71 (block access lists, EIP-7928): peerwire offers eth/68 to eth/70",
    ),
    (
        "LargeTxRequest",
        "needs a transaction pool (and the engine API to include the transactions)",
    ),
    ("Transaction", "needs a transaction pool and the engine API"),
    ("InvalidTxs", "needs a transaction pool"),
    ("NewPooledTxs", "needs a transaction pool"),
    ("BlobViolations", "needs a blob transaction pool"),
    ("TestBlobTxWithoutSidecar", "needs a blob transaction pool"),
    (
        "TestBlobTxWithMismatchedSidecar",
        "needs a blob transaction pool",
    ),
    (
        "BlobTxAvailabilityFailure",
        "needs a blob transaction pool and cell custody (eth/72)",
    ),
    ("GetCells", "eth/72 (cells of blobs)"),
    ("BlobTxWithInvalidCells", "eth/72 (cells of blobs)"),
];

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geths_eth_test_suite_passes_against_peerwire_serve_but_for_the_listed_tests() {
    let testdata = PathBuf::from(peer_env("PEERWIRE_GETH_TESTDATA"));
    let devp2p = peer_env("PEERWIRE_GETH_DEVP2P");
    let genesis = testdata.join("genesis.json");
    let served = serve_synced(s(&genesis), &peer_env("PEERWIRE_GETH_ETHTEST_ENODE")).await;
    // peerwire has no engine API; the suite requires an endpoint and a secret, which only the tests listed in
    // NOT_APPLICABLE use.
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        Command::new(&devp2p)
            .args([
                "rlpx",
                "eth-test",
                "--tap",
                "--chain",
                s(&testdata),
                "--node",
                &served.enode,
            ])
            .args(["--engineapi", &format!("http://127.0.0.1:{}", free_port())])
            .args(["--jwtsecret", &format!("0x{}", "11".repeat(32))])
            .output(),
    )
    .await
    .expect("the eth test suite finished within 300 s")
    .expect("running devp2p");
    let tap = String::from_utf8_lossy(&output.stdout);
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for line in tap.lines() {
        let (ok, rest) = if let Some(rest) = line.strip_prefix("ok ") {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix("not ok ") {
            (false, rest)
        } else {
            continue;
        };
        let name = rest
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if ok {
            passed.push(name)
        } else {
            failed.push(name)
        }
    }
    eprintln!("eth-test against peerwire serve: passed {passed:?}, failed {failed:?}");
    for required in [
        "Status",
        "MaliciousHandshake",
        "BlockRangeUpdateExpired",
        "BlockRangeUpdateFuture",
        "BlockRangeUpdateInvalid",
        "GetBlockHeaders",
        "GetNonexistentBlockHeaders",
        "SimultaneousRequests",
        "SameRequestID",
        "ZeroRequestID",
        "GetBlockBodies",
        "GetReceipts",
        "GetLargeReceipts",
    ] {
        assert!(
            passed.iter().any(|p| p == required),
            "{required} did not pass:\n{tap}"
        );
    }
    for name in &failed {
        assert!(
            NOT_APPLICABLE.iter().any(|(n, _)| n == name),
            "{name} failed and is not listed as needing what peerwire lacks:\n{tap}"
        );
    }
    drop(served);
}
