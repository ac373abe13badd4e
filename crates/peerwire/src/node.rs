//! Running eth nodes over RLPx: serving a store to others and dialing peers to sync from (also a
//! peer of a chain we do not know yet).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chain_types::{BlockEntry, ChainSource as _, ChainStore, H256, HeadersRequest, U256};
use eth_wire::{EthNode, EthPeer, EthVersion};
use futures::stream::{FuturesUnordered, StreamExt as _};
use p2p_msg::ProtoRw;
use p2p_rlpx::{Enode, Host, HostConfig, NodeKey, PeerEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::datadir::ChainId;

/// An eth peer reached over RLPx.
pub(crate) type RlpxPeer = EthPeer<ProtoRw>;

/// How long dialing, the RLPx handshake, Hello and Status may take per peer.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An eth node that serves a store over RLPx until it is dropped.
#[derive(Debug)]
pub(crate) struct ServingNode {
    host: Host,
    run: JoinHandle<Result<(), p2p_rlpx::Error>>,
    events: JoinHandle<()>,
}

impl ServingNode {
    /// Binds `listen` and serves `store` (whose genesis defines the chain) as `chain`, offering the eth
    /// `versions`.
    pub(crate) async fn start(
        store: Arc<dyn ChainStore>,
        chain: &ChainId,
        versions: &[EthVersion],
        key: NodeKey,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let mut node = eth_node(chain, store)?;
        node.versions = versions.to_vec();
        let node = Arc::new(node);
        let mut config = HostConfig::new(key);
        config.listen_addr = listen;
        config.client_id = client_id();
        config.protocols = node.protocols();
        let (host, events) = Host::bind(config)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let run = host.spawn_run();
        let events = tokio::spawn(log_events(events));
        Ok(Self { host, run, events })
    }

    /// The node's `enode://` URL.
    pub(crate) fn enode(&self) -> Enode {
        self.host.enode()
    }

    /// Runs until the listener fails.
    pub(crate) async fn wait(&mut self) -> anyhow::Result<()> {
        match (&mut self.run).await {
            Ok(result) => result.context("the listener failed"),
            Err(e) => Err(e).context("the listener task failed"),
        }
    }
}

impl Drop for ServingNode {
    fn drop(&mut self) {
        self.host.shutdown();
        self.run.abort();
        self.events.abort();
    }
}

/// An eth node for `chain` that serves `store` and announces its head.
pub(crate) fn eth_node(chain: &ChainId, store: Arc<dyn ChainStore>) -> anyhow::Result<EthNode> {
    let mut node = EthNode::new(chain.network_id, chain.genesis);
    node.fork_blocks.clone_from(&chain.forks.blocks);
    node.fork_times.clone_from(&chain.forks.times);
    node.genesis_difficulty = store
        .header_by_number(0)?
        .map_or_else(U256::zero, |g| g.difficulty);
    node.store = Some(store);
    Ok(node)
}

/// Our client id in Hello.
pub(crate) fn client_id() -> String {
    format!("peerwire/v{}", env!("CARGO_PKG_VERSION"))
}

/// Reads a host's peer events so that the host never waits for room, logging them.
async fn log_events(mut events: mpsc::Receiver<PeerEvent>) {
    while let Some(event) = events.recv().await {
        tracing::debug!(?event, "peer event");
    }
}

/// A dialing node with its connected eth peers.
#[derive(Debug)]
pub(crate) struct Client {
    host: Host,
    connections: Vec<JoinHandle<Result<p2p_msg::PeerExit, p2p_rlpx::Error>>>,
    events: JoinHandle<()>,
}

impl Client {
    /// Dials every enode, runs eth (offering `versions`) on each connection (serving `store` to them, announcing
    /// its head) and waits until each is an eth peer, at most [`CONNECT_TIMEOUT`].
    ///
    /// Fails with a one-line reason naming the first peer that could not be reached or dropped us.
    pub(crate) async fn connect(
        enodes: &[Enode],
        chain: &ChainId,
        versions: &[EthVersion],
        store: Arc<dyn ChainStore>,
    ) -> anyhow::Result<(Self, Vec<RlpxPeer>)> {
        let mut node = eth_node(chain, store)?;
        node.versions = versions.to_vec();
        Self::connect_with(enodes, node).await
    }

    /// Dials one enode of a chain we do not know yet: eth's follower handshake mirrors the
    /// peer's Status (network, genesis, fork id) instead of checking it, so the caller learns
    /// the chain from [`EthPeer::remote_status`] and must check it itself.
    pub(crate) async fn connect_following(
        enode: &Enode,
        store: Arc<dyn ChainStore>,
    ) -> anyhow::Result<(Self, RlpxPeer)> {
        // The network and genesis given here are never announced: the follower mirrors the peer's.
        let mut node = EthNode::new(0, H256::zero());
        node.follow_remote_chain = true;
        node.store = Some(store);
        let (client, mut peers) = Self::connect_with(std::slice::from_ref(enode), node).await?;
        let peer = peers.pop().context("no eth peer after the handshake")?;
        Ok((client, peer))
    }

    async fn connect_with(
        enodes: &[Enode],
        mut node: EthNode,
    ) -> anyhow::Result<(Self, Vec<RlpxPeer>)> {
        let (peers_tx, mut peers_rx) = mpsc::channel(enodes.len().max(1));
        node.peers = Some(peers_tx);
        let node = Arc::new(node);
        let mut config = HostConfig::new(NodeKey::generate());
        config.client_id = client_id();
        config.protocols = node.protocols();
        let (host, events) = Host::bind(config).await.context("cannot bind the dialer")?;
        let events = tokio::spawn(log_events(events));

        let connections: Vec<_> = enodes.iter().map(|e| host.spawn_connect(*e)).collect();
        let mut client = Self {
            host,
            connections,
            events,
        };
        let peers = client.collect_peers(enodes, &mut peers_rx).await?;
        Ok((client, peers))
    }

    /// Waits for one eth peer per enode; a connection that ends first is an error.
    async fn collect_peers(
        &mut self,
        enodes: &[Enode],
        peers_rx: &mut mpsc::Receiver<RlpxPeer>,
    ) -> anyhow::Result<Vec<RlpxPeer>> {
        let mut ended: FuturesUnordered<_> = self
            .connections
            .iter_mut()
            .zip(enodes)
            .map(|(handle, enode)| async move { (enode, handle.await) })
            .collect();
        let mut peers = Vec::with_capacity(enodes.len());
        let deadline = tokio::time::sleep(CONNECT_TIMEOUT);
        tokio::pin!(deadline);
        while peers.len() < enodes.len() {
            tokio::select! {
                Some(peer) = peers_rx.recv() => peers.push(peer),
                Some((enode, result)) = ended.next() => {
                    let why = match result {
                        Ok(Ok(exit)) => format!("the connection ended during the eth handshake ({})", describe_exit(&exit)),
                        Ok(Err(e)) => error_chain(&e),
                        Err(e) => format!("the connection task failed: {e}"),
                    };
                    bail!("peer {}: {why}", enode_short(enode));
                }
                () = &mut deadline => bail!(
                    "only {} of {} peers completed the eth handshake within {CONNECT_TIMEOUT:?}",
                    peers.len(),
                    enodes.len()
                ),
            }
        }
        Ok(peers)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.host.shutdown();
        for connection in &self.connections {
            connection.abort();
        }
        self.events.abort();
    }
}

/// `enode://abcdef01…@addr`, short enough for an error line.
pub(crate) fn enode_short(enode: &Enode) -> String {
    let text = enode.to_string();
    match text.split_once('@') {
        Some((id, addr)) if id.len() > 24 => format!("{}…@{addr}", &id[..24]),
        _ => text,
    }
}

/// An error and its sources on one line: `outer: inner: innermost`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A one-line account of why a connection ended.
pub(crate) fn describe_exit(exit: &p2p_msg::PeerExit) -> String {
    let side = if exit.remote_requested {
        "the peer"
    } else {
        "we"
    };
    match &exit.error {
        Some(error) => format!(
            "{side} disconnected: {}: {}",
            exit.reason,
            error_chain(error)
        ),
        None => format!("{side} disconnected: {}", exit.reason),
    }
}

/// Fetches header 0 from `peer` and checks that it hashes to `genesis`.
pub(crate) async fn fetch_genesis(peer: &RlpxPeer, genesis: H256) -> anyhow::Result<BlockEntry> {
    let headers = peer
        .headers(HeadersRequest::rising(0, 1))
        .await
        .context("cannot fetch the genesis header")?;
    let Some(header) = headers.into_iter().next() else {
        bail!("the peer did not send its genesis header");
    };
    let header = header.seal();
    if header.number != 0 || header.hash() != genesis {
        bail!(
            "the peer's header 0 hashes to {:#x}, not to the genesis {:#x} of its Status",
            header.hash(),
            genesis
        );
    }
    Ok(BlockEntry::header_only(header))
}
