//! `peerwire serve`: serves a stored (or freshly generated) chain over eth on RLPx and prints
//! its `enode://` URL on the first line of stdout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chain_types::ChainStore;
use chain_types::generator::{Chain, GeneratorOptions};
use p2p_rlpx::NodeKey;

use crate::devnet::DEVNET_NETWORK_ID;
use crate::node::{ChainId, ServingNode};
use crate::syncing;

/// How many blocks go into one store batch when a generated chain is stored.
const GENERATE_BATCH: u64 = 2048;

/// Options of `peerwire serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The data directory holding the chain (`chain.redb`, `chain.json`).
    #[arg(long)]
    datadir: PathBuf,
    /// The TCP address to listen on.
    #[arg(long, default_value = "127.0.0.1:30303")]
    listen: SocketAddr,
    /// Generate a chain of this many blocks first if the data directory is empty.
    #[arg(long)]
    generate: Option<u64>,
    /// The node key file (hex); created if missing. Default: `nodekey` in the data directory.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Seed of the chain generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs `peerwire serve` until interrupted.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let store = syncing::open_store(&args.datadir)?;
    let id = match (ChainId::load(&args.datadir)?, args.generate) {
        (Some(id), _) => {
            if store.head_number()?.is_none() {
                bail!(
                    "{} has chain.json but an empty chain store",
                    args.datadir.display()
                );
            }
            id
        }
        (None, Some(blocks)) => {
            if store.head_number()?.is_some() {
                bail!(
                    "{} holds a chain store but no chain.json",
                    args.datadir.display()
                );
            }
            generate_into(store.as_ref(), blocks, args.seed)?
        }
        (None, None) => bail!(
            "{} holds no chain: give --generate N to create one, or sync one first",
            args.datadir.display()
        ),
    };
    id.save(&args.datadir)?;
    let key_path = args.key.unwrap_or_else(|| args.datadir.join("nodekey"));
    let key = NodeKey::load_or_generate(&key_path)
        .with_context(|| format!("cannot load the node key {}", key_path.display()))?;
    let mut node = ServingNode::start(store.clone(), id, key, args.listen).await?;
    crate::output::line(&node.enode().to_string()).context("cannot write to stdout")?;
    if let Some((head, td)) = store.head()? {
        tracing::info!(number = head.number, hash = %head.hash(), %td, "serving");
    }
    tokio::select! {
        result = node.wait() => result,
        signal = tokio::signal::ctrl_c() => signal.context("cannot listen for Ctrl-C"),
    }
}

/// Generates a chain of `blocks` blocks into an empty store and returns its identity.
fn generate_into(store: &dyn ChainStore, blocks: u64, seed: u64) -> anyhow::Result<ChainId> {
    if blocks == 0 {
        bail!("--generate must be at least 1");
    }
    let chain = Arc::new(Chain::generate(blocks, &GeneratorOptions::seeded(seed)));
    let len = chain.len() as u64;
    let mut from = 0;
    while from < len {
        let to = (from + GENERATE_BATCH).min(len);
        store.insert_batch(chain.entries(from..to, true, true))?;
        from = to;
    }
    Ok(ChainId {
        network_id: DEVNET_NETWORK_ID,
        genesis: chain.genesis().hash(),
    })
}
