//! `peerwire devnet`: the main job. Generates a chain, serves it from several nodes over real
//! RLPx on loopback, syncs it into an embedded store with the downloader, verifies it and prints
//! what it did and how fast.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chain_types::generator::{Chain, ChainServer, GeneratorOptions};
use chain_types::{BlockEntry, ChainStore, DynChainSource, MemoryStore};
use eth_wire::EthVersion;
use p2p_rlpx::NodeKey;

use crate::datadir::{self, ChainId};
use crate::node::{Client, ServingNode};
use crate::syncing::{self, Mode, Target};

/// The network id of generated chains.
pub(crate) const DEVNET_NETWORK_ID: u64 = 1337;

/// How many blocks go into one store batch when the serving store is filled.
const FILL_BATCH: u64 = 2048;

/// Options of `peerwire devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Blocks in the generated chain, after the genesis.
    #[arg(long, default_value_t = 20_000)]
    blocks: u64,
    /// Serving nodes to sync from.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    peers: u16,
    /// What to download.
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    mode: Mode,
    /// Keep the synced chain in this directory (default: a temporary one, removed at the end).
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Print one JSON object at the end instead of text.
    #[arg(long)]
    json: bool,
    /// Where the chain is served from: `rlpx` (nodes on loopback) or `memory` (in-process
    /// sources without networking: the baseline of `cargo xtask bench devnet`).
    #[arg(long, value_enum, default_value_t = Source::Rlpx)]
    source: Source,
    /// Seed of the chain generator: the same seed gives the same chain.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The eth version the nodes speak: 68 (the pre-merge protocol with total difficulty), 69 or 70.
    #[arg(long, default_value_t = 69, value_parser = clap::value_parser!(u8).range(68..=70))]
    eth: u8,
    /// The sync: `reverse` (post-merge, back from the generated head as a trusted head) or `forward` (the
    /// seed's `Synchronise` from the best peer by total difficulty).
    #[arg(long = "sync", value_enum, default_value_t = Strategy::Reverse)]
    strategy: Strategy,
}

/// Which sync `devnet` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Strategy {
    /// Back from the trusted head, then bodies and receipts forward.
    Reverse,
    /// The seed's forward sync from the best peer.
    Forward,
}

/// Where the chain is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Source {
    /// Serving nodes over RLPx on loopback.
    Rlpx,
    /// In-process sources, no networking.
    Memory,
}

/// Runs `peerwire devnet`.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if args.blocks == 0 {
        bail!("--blocks must be at least 1");
    }
    let started = Instant::now();
    let chain = Arc::new(Chain::generate(
        args.blocks,
        &GeneratorOptions::seeded(args.seed),
    ));
    let id = ChainId::genesis_only(DEVNET_NETWORK_ID, chain.genesis().hash());
    tracing::info!(blocks = args.blocks, elapsed = ?started.elapsed(), "chain generated");

    let temp;
    let dir = match &args.datadir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary data directory")?;
            temp.path().to_path_buf()
        }
    };
    let store: Arc<dyn ChainStore> = datadir::open_store(&dir)?;
    match datadir::ready(&dir, store.as_ref())? {
        Some(stored) => stored.ensure_same(&id, &dir)?,
        None => datadir::adopt(&dir, store.as_ref(), &id, &chain.genesis().header)?,
    }

    let versions =
        [EthVersion::from_number(u64::from(args.eth)).context("--eth must be 68, 69 or 70")?];
    let (sources, _nodes, _client): (Vec<Arc<dyn DynChainSource>>, _, _) = match args.source {
        Source::Memory => {
            let sources = (0..args.peers)
                .map(|i| {
                    Arc::new(ChainServer::new(format!("memory-{i}"), chain.clone()))
                        as Arc<dyn DynChainSource>
                })
                .collect();
            (sources, Vec::new(), None)
        }
        Source::Rlpx => {
            let serving = serving_store(&chain)?;
            let mut nodes = Vec::with_capacity(usize::from(args.peers));
            for _ in 0..args.peers {
                let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                nodes.push(
                    ServingNode::start(
                        serving.clone(),
                        &id,
                        &versions,
                        NodeKey::generate(),
                        listen,
                    )
                    .await?,
                );
            }
            let enodes: Vec<_> = nodes.iter().map(ServingNode::enode).collect();
            let (client, peers) = Client::connect(&enodes, &id, &versions, store.clone()).await?;
            let sources = peers
                .into_iter()
                .map(|p| Arc::new(p) as Arc<dyn DynChainSource>)
                .collect();
            (sources, nodes, Some(client))
        }
    };

    let target = match args.strategy {
        Strategy::Reverse => Target::Trusted(chain.head().hash()),
        Strategy::Forward => Target::Best,
    };
    let mut outcome = syncing::sync_from(
        store.clone(),
        sources,
        args.mode,
        target,
        None,
        !args.json,
        None,
    )
    .await?;
    if args.source == Source::Rlpx {
        outcome.protocol = Some(format!("eth/{}", args.eth));
    }
    if outcome.head.hash() != chain.head().hash() {
        bail!("the synced head is not the generated chain's head");
    }
    let verified = syncing::verify(store.as_ref(), &outcome)?;
    let source = match args.source {
        Source::Rlpx => "rlpx",
        Source::Memory => "memory",
    };
    syncing::print_summary(&outcome, &verified, source, args.json)
}

/// The store the serving nodes share: the whole generated chain with bodies and receipts.
fn serving_store(chain: &Chain) -> anyhow::Result<Arc<dyn ChainStore>> {
    let store = MemoryStore::new();
    let len = chain.len() as u64;
    let mut from = 0;
    while from < len {
        let to = (from + FILL_BATCH).min(len);
        let batch: Vec<BlockEntry> = chain.entries(from..to, true, true);
        store.insert_batch(batch)?;
        from = to;
    }
    Ok(Arc::new(store))
}
