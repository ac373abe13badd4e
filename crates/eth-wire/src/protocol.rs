//! The eth protocol as [`p2p_msg::Protocol`]s (eth/70, eth/69 and eth/68, so that the node talks both to
//! eth/68-only peers and to geth, which speaks eth/69 and later only): per connection, the Status handshake from
//! the local chain's head, then serving from the store, handing the [`EthPeer`] to the application and routing
//! its requests until the connection ends.

use std::sync::Arc;
use std::time::Duration;

use chain_types::ChainStore;
use p2p_msg::{PeerInfo, ProtoRw, Protocol};
use primitive_types::{H256, U256};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::{
    Announcement, Error, EthPeer, EthVersion, ForkFilter, PeerConfig, Status, Status69,
    StatusMessage, establish, establish_following,
};

/// What a node needs to speak eth: its chain identity, optionally a store to serve from, and where to hand new
/// peers and announcements.
#[derive(Clone)]
pub struct EthNode {
    /// The network id announced and required.
    pub network_id: u64,
    /// The genesis hash announced and required.
    pub genesis: H256,
    /// Block numbers of the chain's forks (EIP-2124); forks at genesis may be listed or not.
    pub fork_blocks: Vec<u64>,
    /// Timestamps of the chain's timestamp forks (EIP-6122).
    pub fork_times: Vec<u64>,
    /// Total difficulty of the genesis block, announced when there is no store or it is empty.
    pub genesis_difficulty: U256,
    /// The store served from, whose head is announced. `None`: the node announces the genesis and answers every
    /// request with an empty list.
    pub store: Option<Arc<dyn ChainStore>>,
    /// A node with no chain yet (`peerwire sync` into an empty data directory): reads each remote's Status first
    /// and mirrors its network id, genesis and fork id instead of checking them (`network_id`, `genesis` and the
    /// forks above are then unused). The application must check that the remote's header 0 hashes to its
    /// announced genesis before storing anything.
    pub follow_remote_chain: bool,
    /// Connection settings.
    pub config: PeerConfig,
    /// The eth versions offered, newest first ([`EthNode::VERSIONS`] by default); the highest one the remote
    /// shares is used.
    pub versions: Vec<EthVersion>,
    /// New peers are sent here after their handshake (waiting at most the handshake timeout for room).
    pub peers: Option<mpsc::Sender<EthPeer<ProtoRw>>>,
    /// Announcements are forwarded here.
    pub announcements: Option<mpsc::Sender<Announcement>>,
}

impl std::fmt::Debug for EthNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthNode")
            .field("network_id", &self.network_id)
            .field("genesis", &self.genesis)
            .field("fork_blocks", &self.fork_blocks)
            .field("fork_times", &self.fork_times)
            .field("store", &self.store.is_some())
            .field("follow_remote_chain", &self.follow_remote_chain)
            .field("config", &self.config)
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

impl EthNode {
    /// A node on `network_id` with genesis `genesis` whose forks are all active at genesis, with no store.
    pub fn new(network_id: u64, genesis: H256) -> Self {
        Self {
            network_id,
            genesis,
            fork_blocks: Vec::new(),
            fork_times: Vec::new(),
            genesis_difficulty: U256::zero(),
            store: None,
            follow_remote_chain: false,
            config: PeerConfig::default(),
            versions: Self::VERSIONS.to_vec(),
            peers: None,
            announcements: None,
        }
    }

    /// A node of the chain `spec`: its network id, genesis, the forks of its fork id and its genesis difficulty,
    /// with no store.
    pub fn for_spec(spec: &chain_types::ChainSpec) -> Self {
        let (fork_blocks, fork_times) = spec.fork_id_activations();
        Self {
            fork_blocks,
            fork_times,
            genesis_difficulty: spec.genesis.difficulty,
            ..Self::new(spec.network_id, spec.genesis_hash())
        }
    }

    /// The eth versions a node offers, newest first.
    pub const VERSIONS: [EthVersion; 3] = [EthVersion::Eth70, EthVersion::Eth69, EthVersion::Eth68];

    /// Our Status for eth `version` (in that version's layout) and the fork filter at the current head. The
    /// eth/69 range starts at block 0 (the stores keep every block) and ends at the head.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if reading the head fails.
    pub fn local_status(&self, version: EthVersion) -> Result<(StatusMessage, ForkFilter), Error> {
        let head = match &self.store {
            Some(store) => store.head().map_err(Error::Store)?,
            None => None,
        };
        let (best, td, number, time) = match head {
            Some((h, td)) => (h.hash(), td, h.number, h.timestamp),
            None => (self.genesis, self.genesis_difficulty, 0, 0),
        };
        let filter = ForkFilter::new(
            self.genesis,
            self.fork_blocks.iter().copied(),
            self.fork_times.iter().copied(),
            number,
            time,
        );
        let status = if version.is_eth69_or_later() {
            StatusMessage::Eth69(Status69 {
                version: version.number(),
                network_id: self.network_id,
                genesis: self.genesis,
                fork_id: filter.current(),
                earliest: 0,
                latest: number,
                latest_hash: best,
            })
        } else {
            StatusMessage::Legacy(Status {
                version: version.number(),
                network_id: self.network_id,
                total_difficulty: td,
                best_hash: best,
                genesis: self.genesis,
                fork_id: filter.current(),
            })
        };
        Ok((status, filter))
    }

    /// The protocols of [`EthNode::versions`] (eth/70, eth/69 and eth/68 by default) for a [`p2p_msg::Peer`] (the
    /// highest shared one is used), each with its version's message count.
    pub fn protocols(self: &Arc<Self>) -> Vec<Protocol> {
        self.versions
            .iter()
            .map(|&version| {
                let node = self.clone();
                Protocol::new(
                    "eth",
                    u32::from(version.number()),
                    version.message_count(),
                    move |info, rw| {
                        let node = node.clone();
                        async move { node.run(version, info, rw).await }
                    },
                )
            })
            .collect()
    }

    /// Runs one connection: handshake, then the driver. A clean end by the remote is `Ok(())`.
    async fn run(
        self: Arc<Self>,
        version: EthVersion,
        info: PeerInfo,
        rw: ProtoRw,
    ) -> Result<(), p2p_msg::Error> {
        let id = info.id().to_string();
        let short = id.get(..16).unwrap_or(&id).to_owned();
        let result = async {
            let (peer, mut driver) = if self.follow_remote_chain {
                establish_following(rw, id.clone(), version, self.config).await?
            } else {
                let (local, filter) = self.local_status(version)?;
                establish(rw, id.clone(), local, &filter, self.config).await?
            };
            info!(peer = %short, client = info.client_id(), %version, "eth peer connected");
            if let Some(store) = &self.store {
                driver = driver.with_store(store.clone());
            }
            if let Some(tx) = &self.announcements {
                driver = driver.with_announcements(tx.clone());
            }
            if let Some(tx) = &self.peers {
                let wait: Duration = self.config.handshake_timeout;
                if tokio::time::timeout(wait, tx.send(peer))
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    debug!(peer = %short, "no room to hand the peer out; serving only");
                }
            }
            Err::<(), Error>(driver.run().await)
        }
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.is_closed() => {
                debug!(peer = %short, error = %e, "eth peer left");
                Ok(())
            }
            Err(Error::Msg(e)) => Err(e),
            Err(e) => {
                info!(peer = %short, error = %e, "eth peer dropped");
                Err(p2p_msg::Error::transport(e))
            }
        }
    }
}
