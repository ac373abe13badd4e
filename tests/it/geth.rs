//! A long eth session with go-ethereum v1.17.10 (started by `cargo xtask peers`), through the libraries:
//!
//! one peerwire node (a `p2p-rlpx` host running `eth-wire` over a `MemoryStore`, announcing the dev-made chain's
//! spec) dials the serving geth and syncs from it in two steps with `chain-downloader`'s trusted-head sync, while a
//! fresh geth dials the peerwire node and full-syncs from it. For more than two minutes: the connection stays up
//! (pings both ways, no disconnect for a protocol violation), geth's `admin_peers` shows eth/69 or later and the
//! block range our `BlockRangeUpdate`s announced, and the fresh geth's `BlockRangeUpdate` reaches us.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chain_downloader::{Config, Downloader, SyncMode};
use chain_types::{BlockEntry, Body, ChainSpec, ChainStore, H256, MemoryStore, SealedHeader};
use eth_wire::{EthNode, EthPeer};
use p2p_msg::ProtoRw;
use p2p_rlpx::{Enode, Host, HostConfig, NodeKey};
use peerwire_testkit::GethNode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{peer_env, within};

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

fn hash(value: &Value) -> H256 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a hash"));
    H256::from_slice(&hex::decode(text.trim_start_matches("0x")).expect("hex hash"))
}

/// Our client id in Hello, by which geth's `admin_peers` names us.
const CLIENT_ID: &str = "peerwire-interop/session";

/// Our entry in geth's `admin_peers`, if connected.
async fn geth_peer(client: &rpc_client::Client) -> Option<Value> {
    let peers = call(client, "admin_peers", json!([])).await;
    peers
        .as_array()?
        .iter()
        .find(|p| p["name"].as_str() == Some(CLIENT_ID))
        .cloned()
}

/// Starts a fresh geth on the dev chain's genesis whose only peer is `peer`, told to full-sync to `target`.
async fn fresh_geth(genesis: &str, peer: &Enode, target: H256) -> GethNode {
    GethNode::builder()
        .genesis(genesis)
        .p2p_toml(&format!("StaticNodes = [\"{peer}\"]"))
        .args(["--networkid", "1337"])
        .args(["--synctarget".to_owned(), format!("{target:#x}")])
        .http_api("admin,eth,net")
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn a_session_with_geth_stays_up_over_two_minutes_with_block_range_updates_both_ways() {
    let genesis_path = peer_env("PEERWIRE_GETH_GENESIS");
    let spec = ChainSpec::from_path(&genesis_path).expect("the dev chain's genesis.json");
    let geth_a = rpc(&peer_env("PEERWIRE_GETH_HTTP"));
    let enode_a: Enode = peer_env("PEERWIRE_GETH_ENODE").parse().expect("enode");
    let info: Value =
        serde_json::from_str(&peer_env("PEERWIRE_GETH_CHAIN_INFO")).expect("chain info");
    let head = info["head"].as_u64().expect("head");
    let head_hash = hash(&info["hash"]);
    assert!(head >= 100, "the dev chain has {head} blocks");
    let middle = call(&geth_a, "eth_getBlockByNumber", json!(["0x64", false])).await;
    let middle_hash = hash(&middle["hash"]);

    // Our node: the dev chain's spec, a store holding its genesis, range updates checked every 2 s.
    let store = Arc::new(MemoryStore::new());
    let genesis: SealedHeader = spec.genesis.clone();
    store
        .insert_batch(vec![BlockEntry {
            header: genesis,
            body: Some(Body::default()),
            receipts: Some(Vec::new()),
        }])
        .expect("genesis");
    let (peers_tx, mut peers_rx) = mpsc::channel::<EthPeer<ProtoRw>>(4);
    let mut node = EthNode::for_spec(&spec);
    node.store = Some(store.clone() as Arc<dyn ChainStore>);
    node.config.range_update_interval = Duration::from_secs(2);
    node.peers = Some(peers_tx);
    let mut config = HostConfig::new(NodeKey::generate());
    config.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.client_id = CLIENT_ID.into();
    config.protocols = Arc::new(node).protocols();
    let (host, mut events) = Host::bind(config).await.expect("listening");
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let _run = host.spawn_run();
    let started = Instant::now();
    let _dial = host.spawn_connect(enode_a);
    let peer_a = within(Duration::from_secs(15), peers_rx.recv())
        .await
        .expect("eth session with the serving geth");
    assert!(
        peer_a.version().number() >= 69,
        "eth/{}",
        peer_a.version().number()
    );
    let range = peer_a.block_range().expect("geth announces a block range");
    assert_eq!((range.latest, range.latest_hash), (head, head_hash));

    // Step 1: sync to block 100; our BlockRangeUpdate must tell geth.
    let downloader =
        Downloader::new(store.clone(), Config::default()).with_validator(Arc::new(spec.clone()));
    downloader.register_peer(Arc::new(peer_a.clone()));
    within(
        Duration::from_secs(60),
        downloader.sync_trusted(middle_hash, SyncMode::Fast),
    )
    .await
    .expect("sync to block 100");
    let seen_latest = |peer: &Option<Value>| peer.as_ref().map(|p| p["protocols"]["eth"].clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let eth = seen_latest(&geth_peer(&geth_a).await).expect("geth lists us");
        assert!(eth["version"].as_u64().expect("version") >= 69, "{eth}");
        if eth["latestBlock"].as_u64() == Some(100) {
            assert_eq!(hash(&eth["latestBlockHash"]), middle_hash);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "geth did not learn our range: {eth}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A fresh geth dials us and waits for the head we do not have yet.
    let geth_b_process = fresh_geth(&genesis_path, &host.enode(), head_hash).await;
    let geth_b = rpc(&geth_b_process.http_url());
    let peer_b = within(Duration::from_secs(60), peers_rx.recv())
        .await
        .expect("the fresh geth connected to us");
    assert!(peer_b.version().number() >= 69);
    assert_eq!(
        peer_b.block_range().map(|r| r.latest),
        Some(0),
        "the fresh geth holds only its genesis"
    );

    // Step 2: sync to the head; the fresh geth then finds its target through us, executes the chain and
    // announces its new range to us.
    within(
        Duration::from_secs(60),
        downloader.sync_trusted(head_hash, SyncMode::Fast),
    )
    .await
    .expect("sync to the head");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if peer_b.block_range().map(|r| (r.latest, r.latest_hash)) == Some((head, head_hash)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fresh geth's BlockRangeUpdate did not reach us: {:?}",
            peer_b.block_range()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let b_head = call(&geth_b, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(hash(&b_head["hash"]), head_hash);
    let a_head = call(&geth_a, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(b_head["stateRoot"], a_head["stateRoot"]);

    // Hold the session past two minutes: both geths keep us, over eth/69+, with our latest range.
    loop {
        for (name, client) in [("serving geth", &geth_a), ("fresh geth", &geth_b)] {
            let eth = seen_latest(&geth_peer(client).await)
                .unwrap_or_else(|| panic!("the {name} dropped us after {:?}", started.elapsed()));
            assert!(eth["version"].as_u64().expect("version") >= 69);
            if name == "serving geth" && started.elapsed() > Duration::from_secs(30) {
                assert_eq!(eth["latestBlock"].as_u64(), Some(head), "{eth}");
            }
        }
        if started.elapsed() > Duration::from_secs(125) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert!(peer_a.block_range().is_some() && peer_b.block_range().is_some());
    drop(geth_b_process);
    host.shutdown();
}
