//! `peerwire sync`: syncs a chain from real peers into a data directory, resuming from the stored
//! head on later runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chain_types::{ChainStore, DynChainSource};
use p2p_rlpx::Enode;

use crate::datadir::{self, ChainId};
use crate::node::{self, Client};
use crate::syncing::{self, Mode};

/// Options of `peerwire sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A peer to sync from (`enode://<id>@<host>:<port>`); repeat for more peers.
    #[arg(long = "peer", required = true)]
    peers: Vec<String>,
    /// The data directory (`chain.redb`, `chain.json`), created if missing.
    #[arg(long)]
    datadir: PathBuf,
    /// What to download.
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    mode: Mode,
    /// Print one JSON object at the end instead of text.
    #[arg(long)]
    json: bool,
}

/// Parses the `--peer` URLs, naming the bad one.
fn parse_enodes(texts: &[String]) -> anyhow::Result<Vec<Enode>> {
    texts
        .iter()
        .map(|text| {
            text.parse::<Enode>()
                .with_context(|| format!("bad --peer `{text}`"))
        })
        .collect()
}

/// Runs `peerwire sync`.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let enodes = parse_enodes(&args.peers)?;
    let store: Arc<dyn ChainStore> = datadir::open_store(&args.datadir)?;
    // The first peer's Status names its chain (the follower handshake mirrors it); a stored chain
    // must be the same one.
    let (first, rest) = enodes.split_first().context("no --peer given")?;
    let (first_client, first_peer) = Client::connect_following(first, store.clone()).await?;
    let status = first_peer.remote_status();
    let remote = ChainId {
        network_id: status.network_id(),
        genesis: status.genesis(),
    };
    match datadir::ready(&args.datadir, store.as_ref())? {
        Some(stored) => stored.ensure_same(&remote, &args.datadir)?,
        None => {
            let genesis = node::fetch_genesis(&first_peer, remote.genesis)
                .await
                .with_context(|| format!("peer {}", node::enode_short(first)))?;
            datadir::adopt(&args.datadir, store.as_ref(), remote, &genesis.header)?;
        }
    }
    let (rest_client, rest_peers) = if rest.is_empty() {
        (None, Vec::new())
    } else {
        let (client, peers) = Client::connect(rest, remote, store.clone()).await?;
        (Some(client), peers)
    };
    let peers: Vec<_> = std::iter::once(first_peer).chain(rest_peers).collect();
    let sources: Vec<Arc<dyn DynChainSource>> = peers
        .into_iter()
        .map(|p| Arc::new(p) as Arc<dyn DynChainSource>)
        .collect();
    let outcome = syncing::sync_from(store.clone(), sources, args.mode, !args.json).await?;
    drop((first_client, rest_client));
    let verified = syncing::verify(store.as_ref(), &outcome)?;
    syncing::print_summary(&outcome, &verified, "rlpx", args.json)
}
