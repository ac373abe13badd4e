//! `peerwire sync`: syncs a chain from real peers into a data directory, resuming from the stored
//! head on later runs.
//!
//! - With `--chain` (a built-in chain or a geth `genesis.json`), the chain specification gives the genesis, the
//!   network id and the fork id announced to every peer, and validates every header against its fork's rules.
//! - Without it, the first peer's Status names the chain (eth's follower handshake mirrors it), and a data
//!   directory that holds a chain must hold that one.
//!
//! The target is a trusted head hash (`--head`, or `--head-from-rpc` asking a JSON-RPC endpoint), synced with
//! the post-merge reverse sync; without one, the head the peers announced: the highest eth/69 block range
//! (reverse sync, the head then trusted from the peer), or for eth/68 peers the best total difficulty (the seed's
//! forward `Synchronise`, moving on to the next peer when one fails).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chain_types::{ChainStore, DynChainSource, H256};
use eth_wire::EthNode;
use p2p_rlpx::Enode;

use crate::datadir::{self, ChainId};
use crate::discover::DiscoveryArgs;
use crate::endpoint::{ConnectArgs, Endpoint};
use crate::finding;
use crate::node::{self, Client, RlpxPeer};
use crate::syncing::{self, Mode, Target};

/// Options of `peerwire sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A peer to sync from (`enode://<id>@<host>:<port>`); repeat for more peers. Without it (or with a
    /// discovery flag), the peer pool finds peers on the `--chain`'s network itself.
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// How to find peers when none is given with `--peer`.
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// With the peer pool: sync once this many peers are connected.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=50))]
    max_peers: u16,
    /// With the peer pool: give up when no peer connected after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "S")]
    find_timeout: u64,
    /// The data directory (`chain.redb`, `chain.json`), created if missing.
    #[arg(long)]
    datadir: PathBuf,
    /// The chain: `mainnet`, `sepolia`, `hoodi` or the path of a geth `genesis.json`. Without it, the chain of
    /// the first peer (or of the data directory).
    #[arg(long)]
    chain: Option<String>,
    /// The trusted head hash to sync to (0x-hex).
    #[arg(long, conflicts_with = "head_from_rpc")]
    head: Option<String>,
    /// Take the trusted head from this JSON-RPC endpoint (http, https, ws or wss): the hash of `--head-block`.
    #[arg(long, value_name = "URL")]
    head_from_rpc: Option<String>,
    /// Which block of `--head-from-rpc` is the head: `latest`, `safe` or `finalized`.
    #[arg(long, default_value = "latest", requires = "head_from_rpc", value_parser = ["latest", "safe", "finalized"])]
    head_block: String,
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
    let spec = args.chain.as_deref().map(datadir::load_spec).transpose()?;
    let trusted = trusted_head(&args).await?;
    let store: Arc<dyn ChainStore> = datadir::open_store(&args.datadir)?;
    let use_pool = enodes.is_empty() || args.discovery.given();
    if use_pool && spec.is_none() {
        bail!(
            "sync without --peer needs --chain (the network to find peers on, and their fork id)"
        );
    }
    let mut found = None;
    let (clients, peers) = match &spec {
        Some(spec) if use_pool => {
            let id = ChainId::of_spec(spec);
            match datadir::ready(&args.datadir, store.as_ref())? {
                Some(stored) => stored.ensure_same(&id, &args.datadir)?,
                None => datadir::adopt(&args.datadir, store.as_ref(), &id, &spec.genesis)?,
            }
            let wanted = finding::Wanted {
                peers: usize::from(args.max_peers),
                first_within: Duration::from_secs(args.find_timeout),
                others_within: Duration::from_secs(5),
            };
            let mut pool =
                finding::find_peers(spec, &id, store.clone(), &args.discovery, &enodes, wanted)
                    .await?;
            let peers = std::mem::take(&mut pool.peers);
            found = Some(pool);
            (Vec::new(), peers)
        }
        Some(spec) => {
            let id = ChainId::of_spec(spec);
            match datadir::ready(&args.datadir, store.as_ref())? {
                Some(stored) => stored.ensure_same(&id, &args.datadir)?,
                None => datadir::adopt(&args.datadir, store.as_ref(), &id, &spec.genesis)?,
            }
            let (client, peers) =
                Client::connect(&enodes, &id, &EthNode::VERSIONS, store.clone()).await?;
            (vec![client], peers)
        }
        None => connect_following(&args, &enodes, store.clone()).await?,
    };
    let target = match trusted {
        Some(head) => Target::Trusted(head),
        None => announced_target(&peers),
    };
    let protocol = protocols(&peers);
    let sources: Vec<Arc<dyn DynChainSource>> = peers
        .into_iter()
        .map(|p| Arc::new(p) as Arc<dyn DynChainSource>)
        .collect();
    let validator = spec.map(|s| Arc::new(s) as Arc<dyn chain_downloader::HeaderValidator>);
    let late = found.as_mut().and_then(finding::Found::take_late);
    let mut outcome = syncing::sync_from(
        store.clone(),
        sources,
        args.mode,
        target,
        validator,
        !args.json,
        late,
    )
    .await?;
    outcome.protocol = Some(protocol);
    drop(clients);
    drop(found);
    let verified = syncing::verify(store.as_ref(), &outcome)?;
    syncing::print_summary(&outcome, &verified, "rlpx", args.json)
}

/// The follower path: the first peer's Status names the chain, the other peers are dialed with it.
async fn connect_following(
    args: &Args,
    enodes: &[Enode],
    store: Arc<dyn ChainStore>,
) -> anyhow::Result<(Vec<Client>, Vec<RlpxPeer>)> {
    let (first, rest) = enodes.split_first().context("no --peer given")?;
    let (first_client, first_peer) = Client::connect_following(first, store.clone()).await?;
    let status = first_peer.remote_status();
    let remote = ChainId::genesis_only(status.network_id(), status.genesis());
    match datadir::ready(&args.datadir, store.as_ref())? {
        Some(stored) => stored.ensure_same(&remote, &args.datadir)?,
        None => {
            let genesis = node::fetch_genesis(&first_peer, remote.genesis)
                .await
                .with_context(|| format!("peer {}", node::enode_short(first)))?;
            datadir::adopt(&args.datadir, store.as_ref(), &remote, &genesis.header)?;
        }
    }
    let mut clients = vec![first_client];
    let mut peers = vec![first_peer];
    if !rest.is_empty() {
        let (client, more) = Client::connect(rest, &remote, &EthNode::VERSIONS, store).await?;
        clients.push(client);
        peers.extend(more);
    }
    Ok((clients, peers))
}

/// The head the peers announced: the highest eth/69 block range (synced back from its hash), else the best total
/// difficulty (the forward sync).
fn announced_target(peers: &[RlpxPeer]) -> Target {
    peers
        .iter()
        .filter_map(|p| p.block_range())
        .max_by_key(|range| range.latest)
        .map_or(Target::Best, |range| Target::Trusted(range.latest_hash))
}

/// The eth versions the peers speak, e.g. `eth/70` or `eth/68+eth/70`.
fn protocols(peers: &[RlpxPeer]) -> String {
    let mut versions: Vec<u8> = peers.iter().map(|p| p.version().number()).collect();
    versions.sort_unstable();
    versions.dedup();
    let names: Vec<String> = versions.iter().map(|v| format!("eth/{v}")).collect();
    names.join("+")
}

/// The trusted head of `--head` or `--head-from-rpc`, if given.
async fn trusted_head(args: &Args) -> anyhow::Result<Option<H256>> {
    if let Some(text) = &args.head {
        return datadir::parse_h256(text).map(Some).context("bad --head");
    }
    let Some(url) = &args.head_from_rpc else {
        return Ok(None);
    };
    let endpoint = Endpoint::parse(url)?;
    let connect = ConnectArgs {
        headers: Vec::new(),
        timeout: Duration::from_secs(30),
    };
    let client = endpoint.connect(&connect).await?;
    let block: Result<serde_json::Value, _> = client
        .request("eth_getBlockByNumber", (&args.head_block, false))
        .await;
    client.close().await;
    let block = block.with_context(|| {
        format!(
            "eth_getBlockByNumber({}) at {}",
            args.head_block,
            endpoint.display()
        )
    })?;
    let Some(hash) = block.get("hash").and_then(serde_json::Value::as_str) else {
        bail!(
            "{} has no {} block (eth_getBlockByNumber returned {})",
            endpoint.display(),
            args.head_block,
            if block.is_null() { "null" } else { "no hash" }
        );
    };
    let hash = datadir::parse_h256(hash).with_context(|| {
        format!(
            "the {} block hash of {}",
            args.head_block,
            endpoint.display()
        )
    })?;
    tracing::info!(%hash, block = %args.head_block, "trusted head from JSON-RPC");
    Ok(Some(hash))
}
