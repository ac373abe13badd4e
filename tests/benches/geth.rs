//! `cargo xtask bench geth`: peerwire against go-ethereum on loopback, in the same run.
//!
//! The reference peers of `cargo xtask peers` serve two chains: geth's own 600-block eth test chain
//! (`PEERWIRE_GETH_ETHTEST_*`) and the 195-block dev chain with real transactions (`PEERWIRE_GETH_*`).
//! `cargo xtask bench geth` starts them itself and passes their environment; the bench can also run
//! against peers already up (`source tests/peers/run/peers.env; cargo bench -p peerwire-tests --bench geth`).
//!
//! Two sections, for each chain:
//!
//! - **headers**: one RLPx connection to the serving geth (eth/69 or later); `ROUNDS` rounds, each a light
//!   trusted-head sync (`Downloader::sync_trusted`, the chain spec as validator) into a fresh `MemoryStore`
//!   and a floor round (8 concurrent `GetBlockHeaders` of up to 1024 headers that together cover blocks 1 to
//!   head, decoded only), alternating which goes first; beside it a second floor that asks for the whole chain
//!   in one request (the chains are shorter than 1024 headers). Reported: headers/s of each over all rounds,
//!   the median round, and the ratios sync / floor.
//! - **full**: `REPS` repetitions, alternating who goes first, of `peerwire sync --mode fast` (headers,
//!   bodies and receipts, every root checked; release build of the binary) and of a fresh geth
//!   (`geth init`, then `--synctarget HEAD --exitwhensynced`, a static peer, full sync: geth executes every
//!   block), both from the serving geth; wall time from start to exit of each (and for geth also until it logs
//!   "Sync target reached", before its shutdown), plus geth's own startup (a run with no peer, until it logs
//!   "Waiting for peers"), so that a startup-corrected figure can be given.
//!   Medians are reported with the ratios.
//!
//! Environment: `PEERWIRE_BENCH_ROUNDS` (default 200), `PEERWIRE_BENCH_REPS` (default 3),
//! `PEERWIRE_BENCH_GETH` (`headers`, `full` or both, comma-separated; default both), `PEERWIRE_BIN` (the
//! `peerwire` program as an absolute path, since the bench runs in `tests/`; default
//! `target/release/peerwire`, which `cargo xtask bench geth` builds first).

#![allow(clippy::print_stdout, missing_docs, unreachable_pub)]

#[path = "geth/full.rs"]
mod full;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chain_downloader::{Config, Downloader, SyncMode};
use chain_types::{
    BlockEntry, Body, ChainSource as _, ChainSpec, ChainStore as _, H256, HeadersRequest,
    MemoryStore,
};
use eth_wire::{EthNode, EthPeer};
use p2p_msg::{DisconnectReason, LocalHello, Peer, PeerHandle, ProtoRw};
use p2p_rlpx::{Enode, NodeKey, RlpxTransport, TransportConfig};

/// Alternating sync and floor rounds per chain.
const ROUNDS: usize = 200;
/// Repetitions of each full sync.
const REPS: usize = 3;
/// Requests in flight in the floor.
const IN_FLIGHT: u64 = 8;
/// The most headers one request asks for (geth serves at most 1024).
const MAX_HEADERS: u64 = 1024;
/// The bound on one header round (sync or floor) against the local geth.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// A chain served by one of the reference geth nodes.
struct Chain {
    name: &'static str,
    enode: String,
    genesis_path: PathBuf,
    spec: ChainSpec,
    head: H256,
    head_number: u64,
}

fn env(var: &str) -> anyhow::Result<String> {
    std::env::var(var).with_context(|| {
        format!(
            "{var} is not set: run `cargo xtask bench geth`, or source tests/peers/run/peers.env"
        )
    })
}

fn env_number(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The `latest` block of a geth JSON-RPC endpoint: hash and number.
async fn latest(http: &str) -> anyhow::Result<(H256, u64)> {
    let body =
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}"#;
    let reply = reqwest::Client::new()
        .post(http)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .text()
        .await?;
    let reply: serde_json::Value = serde_json::from_str(&reply)?;
    let block = &reply["result"];
    let hash = block["hash"].as_str().context("no hash")?;
    let number = block["number"].as_str().context("no number")?;
    let hash: H256 = hash.parse().context("bad hash")?;
    let number = u64::from_str_radix(number.trim_start_matches("0x"), 16)?;
    Ok((hash, number))
}

async fn chain(
    name: &'static str,
    enode: &str,
    http: &str,
    genesis: PathBuf,
) -> anyhow::Result<Chain> {
    let spec = ChainSpec::from_path(&genesis).with_context(|| genesis.display().to_string())?;
    let (head, head_number) = latest(&env(http)?)
        .await
        .with_context(|| format!("the head of {name}"))?;
    Ok(Chain {
        name,
        enode: env(enode)?,
        genesis_path: genesis,
        spec,
        head,
        head_number,
    })
}

/// Dials the chain's geth and returns the eth peer, the connection running in a task.
async fn dial(chain: &Chain) -> anyhow::Result<(EthPeer<ProtoRw>, PeerHandle)> {
    let enode: Enode = chain.enode.parse()?;
    let key = NodeKey::generate();
    let transport = tokio::time::timeout(
        ROUND_TIMEOUT,
        RlpxTransport::dial(&enode, &key, &TransportConfig::default()),
    )
    .await
    .context("RLPx dial timed out")??;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let mut node = EthNode::for_spec(&chain.spec);
    node.peers = Some(tx);
    let peer = Peer::new(
        transport,
        LocalHello::new("peerwire-bench/geth", key.id()),
        Arc::new(node).protocols(),
    );
    let handle = peer.handle();
    tokio::spawn(async move {
        let exit = peer.run().await;
        eprintln!("connection to geth ended: {:?}", exit.reason);
    });
    let eth = tokio::time::timeout(ROUND_TIMEOUT, rx.recv())
        .await
        .context("eth handshake timed out")?
        .context("the connection ended before the eth handshake")?;
    Ok((eth, handle))
}

/// One light trusted-head sync into a fresh store; returns its time.
async fn sync_round(chain: &Chain, eth: &EthPeer<ProtoRw>) -> anyhow::Result<Duration> {
    let store = MemoryStore::new();
    store.insert_batch(vec![BlockEntry {
        header: chain.spec.genesis.clone(),
        body: Some(Body::default()),
        receipts: Some(Vec::new()),
    }])?;
    let downloader =
        Downloader::new(store, Config::default()).with_validator(Arc::new(chain.spec.clone()));
    downloader.register_peer(Arc::new(eth.clone()));
    let started = Instant::now();
    tokio::time::timeout(
        ROUND_TIMEOUT,
        downloader.sync_trusted(chain.head, SyncMode::Light),
    )
    .await
    .context("light sync timed out")??;
    let elapsed = started.elapsed();
    let head = downloader.store().head()?.context("empty store")?.0;
    if head.hash() != chain.head {
        bail!("the sync ended at #{}, not at the head", head.number);
    }
    Ok(elapsed)
}

/// The requests of one floor round: blocks 1 to head in `ways` ranges of at most `MAX_HEADERS`.
fn floor_requests(head: u64, ways: u64) -> Vec<HeadersRequest> {
    let per = head.div_ceil(ways).clamp(1, MAX_HEADERS);
    let mut requests = Vec::new();
    let mut from = 1;
    while from <= head {
        let amount = per.min(head + 1 - from);
        requests.push(HeadersRequest::rising(from, amount));
        from += amount;
    }
    requests
}

/// One floor round: the chain split into `ways` requests, sent `IN_FLIGHT` at a time, decoded only; returns its
/// time.
async fn floor_round(chain: &Chain, eth: &EthPeer<ProtoRw>, ways: u64) -> anyhow::Result<Duration> {
    let requests = floor_requests(chain.head_number, ways);
    let started = Instant::now();
    let mut got = 0u64;
    for wave in requests.chunks(IN_FLIGHT as usize) {
        let replies = tokio::time::timeout(
            ROUND_TIMEOUT,
            futures::future::join_all(wave.iter().map(|r| eth.headers(*r))),
        )
        .await
        .context("floor round timed out")?;
        for reply in replies {
            got += reply?.len() as u64;
        }
    }
    let elapsed = started.elapsed();
    if got != chain.head_number {
        bail!("the floor got {got} headers, not {}", chain.head_number);
    }
    Ok(elapsed)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn secs(values: &[Duration]) -> Vec<f64> {
    values.iter().map(Duration::as_secs_f64).collect()
}

async fn headers_section(chains: &[Chain], rounds: usize) -> anyhow::Result<()> {
    println!("\n## headers: light sync beside the bare fetch floor ({rounds} rounds each)\n");
    println!(
        "| chain | headers/round | sync headers/s | floor (8 in flight) headers/s | ratio | one-request floor headers/s | ratio | sync median round | floor median round | one-request median round |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for chain in chains {
        let (eth, handle) = dial(chain).await?;
        eprintln!(
            "{}: connected over eth/{}",
            chain.name,
            eth.version().number()
        );
        // Warm up both paths once.
        sync_round(chain, &eth).await?;
        floor_round(chain, &eth, IN_FLIGHT).await?;
        floor_round(chain, &eth, 1).await?;
        let mut sync = Vec::with_capacity(rounds);
        let mut floor = Vec::with_capacity(rounds);
        let mut single = Vec::with_capacity(rounds);
        for round in 0..rounds {
            if round % 2 == 0 {
                sync.push(sync_round(chain, &eth).await?);
                floor.push(floor_round(chain, &eth, IN_FLIGHT).await?);
                single.push(floor_round(chain, &eth, 1).await?);
            } else {
                single.push(floor_round(chain, &eth, 1).await?);
                floor.push(floor_round(chain, &eth, IN_FLIGHT).await?);
                sync.push(sync_round(chain, &eth).await?);
            }
        }
        handle.disconnect(DisconnectReason::Requested);
        let n = chain.head_number as f64;
        let total = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>();
        let sync_rate = n * rounds as f64 / total(&sync);
        let floor_rate = n * rounds as f64 / total(&floor);
        let single_rate = n * rounds as f64 / total(&single);
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} ms | {:.2} ms | {:.2} ms |",
            chain.name,
            chain.head_number,
            sync_rate,
            floor_rate,
            sync_rate / floor_rate,
            single_rate,
            sync_rate / single_rate,
            median(&secs(&sync)) * 1e3,
            median(&secs(&floor)) * 1e3,
            median(&secs(&single)) * 1e3,
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; anything else (a test run of the bench targets) only checks that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("geth bench: not run without --bench (use `cargo xtask bench geth`)");
        return Ok(());
    }
    let rounds = env_number("PEERWIRE_BENCH_ROUNDS", ROUNDS);
    let reps = env_number("PEERWIRE_BENCH_REPS", REPS);
    let sections = std::env::var("PEERWIRE_BENCH_GETH").unwrap_or_else(|_| "headers,full".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let chains = runtime.block_on(async {
        let testdata = PathBuf::from(env("PEERWIRE_GETH_TESTDATA")?);
        anyhow::Ok(vec![
            chain(
                "eth test chain",
                "PEERWIRE_GETH_ETHTEST_ENODE",
                "PEERWIRE_GETH_ETHTEST_HTTP",
                testdata.join("genesis.json"),
            )
            .await?,
            chain(
                "dev chain",
                "PEERWIRE_GETH_ENODE",
                "PEERWIRE_GETH_HTTP",
                PathBuf::from(env("PEERWIRE_GETH_GENESIS")?),
            )
            .await?,
        ])
    })?;
    for c in &chains {
        eprintln!("{}: head #{} {:#x}", c.name, c.head_number, c.head);
    }
    if sections.contains("headers") {
        runtime.block_on(headers_section(&chains, rounds))?;
    }
    if sections.contains("full") {
        full::full_section(&chains, reps)?;
    }
    Ok(())
}
