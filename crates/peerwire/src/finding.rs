//! `peerwire sync` without `--peer`: the peer pool finds the peers (static `--peer` ones, the bootnodes, discv4,
//! discv5 and DNS lists) and hands over working eth sessions, which the downloader sees as `ChainSource`s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chain_types::{ChainSpec, ChainStore, DynChainSource};
use eth_wire::EthVersion;
use p2p_discovery::pool::{Pool, PoolConfig, PoolHandle, PoolParts, PoolStats};
use p2p_discovery::{Candidate, Source};
use p2p_rlpx::{Enode, HostConfig, NodeKey};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::datadir::ChainId;
use crate::discover::{DiscoveryArgs, Sources};
use crate::node::{self, RlpxPeer};

/// How many late sessions may wait for the downloader to take them.
const LATE_PEERS: usize = 16;

/// How many peers to find and how long to look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// Sync once this many sessions are up.
    pub(crate) peers: usize,
    /// Fail when no session is up after this long.
    pub(crate) first_within: Duration,
    /// After the first session, wait at most this long for the others.
    pub(crate) others_within: Duration,
}

/// The peers found, with the pool (and its discovery) that keeps their connections going until dropped.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) peers: Vec<RlpxPeer>,
    handle: PoolHandle,
    driver: JoinHandle<()>,
    /// Forwards the sessions that come up after the first ones (replacements for dropped peers) to
    /// [`Found::take_late`]'s receiver; aborted on drop.
    forward: Option<JoinHandle<()>>,
    late: Option<mpsc::Receiver<Arc<dyn DynChainSource>>>,
    _sources: Sources,
}

impl Found {
    /// The pool's counters.
    pub(crate) fn stats(&self) -> PoolStats {
        self.handle.stats()
    }

    /// The peers that connect from now on (the pool keeps dialing up to its outbound cap, so a peer that
    /// drops out is replaced), for the downloader to register while it syncs.
    pub(crate) fn take_late(&mut self) -> Option<mpsc::Receiver<Arc<dyn DynChainSource>>> {
        self.late.take()
    }
}

impl Drop for Found {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.driver.abort();
        if let Some(forward) = &self.forward {
            forward.abort();
        }
    }
}

/// Starts the pool and discovery for `spec` and waits for `wanted` eth sessions.
pub(crate) async fn find_peers(
    spec: &ChainSpec,
    chain: &ChainId,
    store: Arc<dyn ChainStore>,
    args: &DiscoveryArgs,
    statics: &[Enode],
    wanted: Wanted,
) -> anyhow::Result<Found> {
    let node = node::eth_node(chain, store)?;
    let (_, filter) = node
        .local_status(EthVersion::Eth69)
        .context("cannot read the store's head")?;
    let key = NodeKey::generate();
    let mut host = HostConfig::new(key.clone());
    host.listen_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    host.client_id = node::client_id();
    let config = PoolConfig {
        max_outbound: wanted.peers.max(1),
        accept_inbound: false,
        ..PoolConfig::default()
    };
    let PoolParts {
        handle,
        driver,
        mut sessions,
        ..
    } = Pool::bind(config, host, node, Some(filter.clone()))
        .await
        .context("cannot start the peer pool")?;
    let driver = tokio::spawn(driver.run());
    for enode in statics {
        handle.add(Candidate::new(*enode, Source::Static));
    }
    let sources = Sources::start(
        Some(spec),
        args,
        &key,
        handle.local_enode().tcp_port,
        Some(p2p_discovery::eth_entry::EthEntry::new(filter.current())),
        handle.sender(),
        true,
    )
    .await?;
    let mut found = Found {
        peers: Vec::new(),
        handle,
        driver,
        forward: None,
        late: None,
        _sources: sources,
    };
    let first = tokio::time::timeout(wanted.first_within, sessions.recv()).await;
    match first {
        Ok(Some(session)) => found.peers.push(session.peer),
        Ok(None) => bail!("the peer pool stopped before any peer connected"),
        Err(_) => bail!(
            "no eth peer found within {:?} ({})",
            wanted.first_within,
            describe(&found.stats())
        ),
    }
    let deadline = tokio::time::sleep(wanted.others_within);
    tokio::pin!(deadline);
    while found.peers.len() < wanted.peers {
        tokio::select! {
            Some(session) = sessions.recv() => found.peers.push(session.peer),
            () = &mut deadline => break,
        }
    }
    tracing::info!(peers = found.peers.len(), stats = ?found.stats(), "peers found");
    let (late_tx, late_rx) = mpsc::channel(LATE_PEERS);
    found.late = Some(late_rx);
    found.forward = Some(tokio::spawn(async move {
        while let Some(session) = sessions.recv().await {
            tracing::info!(peer = %session.id, client = %session.client_id, "a peer joined the sync");
            if late_tx.send(Arc::new(session.peer)).await.is_err() {
                break;
            }
        }
    }));
    Ok(found)
}

/// A one-line account of a pool's counters, for an error message.
pub(crate) fn describe(stats: &PoolStats) -> String {
    let mut text = format!(
        "{} candidates, {} dials, {} incompatible",
        stats.candidates, stats.dials, stats.incompatible
    );
    for (reason, count) in &stats.failures {
        text.push_str(&format!(", {count} {reason}"));
    }
    text
}
