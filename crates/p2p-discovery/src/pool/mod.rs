//! The peer pool: candidates from every source in, working eth sessions out.
//!
//! [`Pool::bind`] opens an RLPx [`Host`] running eth (through [`EthNode`]) and returns a [`PoolHandle`] (to add
//! candidates and read statistics), a [`PoolDriver`] (the loop that must be awaited or spawned) and the
//! receiver of [`Session`]s. The driver:
//!
//! - filters each candidate by its record's `eth` entry (dropped and counted when the fork id is incompatible
//!   with the [`ForkFilter`] given to the pool);
//! - dials within limits: outbound and inbound session caps, concurrent dials, sessions and dials per IP
//!   address, and an exponentially growing backoff per node after each failure;
//! - remembers each failure's reason ([`FailureReason`]);
//! - runs the RLPx and eth handshakes (`p2p-rlpx`, `eth-wire`) and hands each working eth session to the
//!   consumer, which sees an [`EthPeer`] (a `ChainSource`) and nothing of discovery;
//! - accepts inbound connections on the host's listener, counted against the inbound cap.
//!
//! Everything is bounded: the candidate channel, the queue of candidates waiting for a dial slot, the nodes
//! remembered, the report channel; when full, the newest candidate is dropped and counted.

mod book;
mod driver;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chain_types::forkid::ForkFilter;
use eth_wire::{EthNode, EthPeer, EthVersion};
use p2p_msg::{DisconnectReason, NodeId, ProtoRw};
use p2p_rlpx::{Direction, Enode, Host, HostConfig};
use tokio::sync::{mpsc, watch};

use crate::{Candidate, Error, Source};

pub use driver::PoolDriver;

/// Limits and timeouts of a [`Pool`].
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The most outbound eth sessions at once.
    pub max_outbound: usize,
    /// The most inbound eth sessions at once; further inbound peers are disconnected with `TooManyPeers`.
    pub max_inbound: usize,
    /// The most dials in progress at once (TCP, RLPx, Hello and Status).
    pub max_concurrent_dials: usize,
    /// The most sessions and dials per IP address.
    pub max_per_ip: usize,
    /// Whether [`PoolConfig::max_per_ip`] also applies to loopback addresses (off by default, so that a
    /// loopback network of many nodes works; tests turn it on).
    pub limit_loopback: bool,
    /// The backoff after a node's first failure; it doubles with each further failure.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// How long a dial may take until the eth session is up (TCP, RLPx, Hello and Status together).
    pub dial_timeout: Duration,
    /// Capacity of the candidate channel.
    pub candidate_capacity: usize,
    /// The most candidates waiting for a dial slot.
    pub max_queued: usize,
    /// The most nodes remembered (with their backoff and last failure).
    pub max_known: usize,
    /// Capacity of the session channel.
    pub session_capacity: usize,
    /// Whether to accept inbound connections on the host's listener.
    pub accept_inbound: bool,
    /// Whether to dial a node again (after its backoff) once its session ended or its dial failed, without
    /// waiting for a source to find it again.
    pub redial: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_outbound: 10,
            max_inbound: 20,
            max_concurrent_dials: 8,
            max_per_ip: 2,
            limit_loopback: false,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(600),
            dial_timeout: Duration::from_secs(15),
            candidate_capacity: 256,
            max_queued: 1024,
            max_known: 8192,
            session_capacity: 16,
            accept_inbound: true,
            redial: true,
        }
    }
}

/// Why a dial (or a session) failed; remembered per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureReason {
    /// The node said it has too many peers.
    TooManyPeers,
    /// The node shares no capability with us (or we with it).
    UselessPeer,
    /// The node broke the RLPx, devp2p or eth protocol.
    ProtocolError,
    /// The dial, a handshake or the session setup took too long.
    Timeout,
    /// The node is on another chain: its record's or its Status's fork id, network or genesis differ.
    IncompatibleFork,
    /// The TCP connection could not be made.
    Unreachable,
    /// The node disconnected for another reason (or the connection closed) before the session was up.
    Disconnected,
}

impl FailureReason {
    /// The reason's name as printed in reports (`too-many-peers`, `useless-peer`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooManyPeers => "too-many-peers",
            Self::UselessPeer => "useless-peer",
            Self::ProtocolError => "protocol-error",
            Self::Timeout => "timeout",
            Self::IncompatibleFork => "incompatible-fork",
            Self::Unreachable => "unreachable",
            Self::Disconnected => "disconnected",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A working eth session handed to the consumer.
#[derive(Debug)]
#[non_exhaustive]
pub struct Session {
    /// The eth peer (a `ChainSource`).
    pub peer: EthPeer<ProtoRw>,
    /// The remote node id.
    pub id: NodeId,
    /// Who dialed.
    pub direction: Direction,
    /// The source of the candidate (`Source::Inbound` for inbound sessions).
    pub source: Source,
    /// The remote client name from its Hello.
    pub client_id: String,
    /// The remote's eth capability versions from its Hello.
    pub eth_versions: Vec<u32>,
}

impl Session {
    /// The negotiated eth version.
    #[must_use]
    pub fn version(&self) -> EthVersion {
        self.peer.version()
    }
}

/// What happened to one dial, for reports (`peerwire crawl`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DialReport {
    /// The node dialed.
    pub enode: Enode,
    /// Where it came from.
    pub source: Source,
    /// `Ok` with the client name and eth versions of its Hello when the eth session came up; else the reason.
    pub outcome: Result<(String, Vec<u32>), FailureReason>,
}

/// Counters of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Outbound sessions now.
    pub outbound: usize,
    /// Inbound sessions now.
    pub inbound: usize,
    /// Dials in progress now.
    pub dialing: usize,
    /// Candidates waiting for a dial slot now.
    pub queued: usize,
    /// Nodes remembered now.
    pub known: usize,
    /// The most outbound sessions ever at once.
    pub max_outbound_seen: usize,
    /// The most inbound sessions ever at once.
    pub max_inbound_seen: usize,
    /// Candidates received.
    pub candidates: u64,
    /// Candidates dropped because their record's fork id is incompatible.
    pub incompatible: u64,
    /// Candidates dropped because their record is unusable (malformed `eth` entry).
    pub malformed: u64,
    /// Candidates ignored because their node is in backoff.
    pub backed_off: u64,
    /// Candidates dropped because the queue or the node table was full.
    pub overflow: u64,
    /// Dials started.
    pub dials: u64,
    /// Sessions handed out.
    pub sessions: u64,
    /// Inbound peers refused over the inbound cap.
    pub inbound_refused: u64,
    /// Failures by reason.
    pub failures: BTreeMap<FailureReason, u64>,
}

/// The consumer's side of a pool: adds candidates, reads statistics, disconnects peers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PoolHandle {
    candidates: mpsc::Sender<Candidate>,
    stats: Arc<Mutex<PoolStats>>,
    host: Host,
    stop: Arc<watch::Sender<bool>>,
    paused: Arc<AtomicBool>,
}

impl PoolHandle {
    /// Stops (`false`) or resumes (`true`) starting new dials; sessions up and dials in progress go on, and
    /// candidates keep queuing (within the queue's bound). A consumer that has the peers it wants pauses.
    pub fn set_dialing(&self, on: bool) {
        self.paused.store(!on, Ordering::Release);
    }

    /// A sender for a discovery source to feed candidates into.
    #[must_use]
    pub fn sender(&self) -> mpsc::Sender<Candidate> {
        self.candidates.clone()
    }

    /// Adds a candidate without waiting; returns `false` when the channel is full or the pool stopped (the
    /// candidate is then dropped).
    pub fn add(&self, candidate: Candidate) -> bool {
        self.candidates.try_send(candidate).is_ok()
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The pool's own RLPx address.
    #[must_use]
    pub fn local_enode(&self) -> Enode {
        self.host.enode()
    }

    /// Disconnects a peer (its session then ends and frees its slot); returns whether it was connected.
    pub fn disconnect(&self, id: &NodeId, reason: DisconnectReason) -> bool {
        self.host.disconnect(id, reason)
    }

    /// Stops the pool: disconnects every peer and makes the driver return.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        self.host.shutdown();
    }
}

/// What [`Pool::bind`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub struct PoolParts {
    /// Adds candidates, reads statistics.
    pub handle: PoolHandle,
    /// The loop to await or spawn.
    pub driver: PoolDriver,
    /// The working sessions.
    pub sessions: mpsc::Receiver<Session>,
}

/// The peer pool (see the module docs).
#[derive(Debug)]
pub struct Pool;

impl Pool {
    /// Binds an RLPx host (from `host`, whose `protocols` are replaced by `node`'s eth protocols and whose
    /// peer limit is raised to the pool's caps) and builds the pool. `filter`, when given, drops candidates whose
    /// record's `eth` entry is incompatible with it.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] when the listen address cannot be bound.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn bind(
        config: PoolConfig,
        mut host: HostConfig,
        mut node: EthNode,
        filter: Option<ForkFilter>,
    ) -> Result<PoolParts, Error> {
        let slots = config.max_outbound + config.max_inbound;
        let (eth_tx, eth_rx) = mpsc::channel(slots.max(1));
        node.peers = Some(eth_tx);
        let hellos = driver::Hellos::default();
        host.protocols = driver::recording_protocols(&Arc::new(node), &hellos);
        // One spare slot per direction, so that the host admits the peer the pool then refuses politely.
        host.max_peers = slots + 2;
        host.max_pending_handshakes = host.max_pending_handshakes.max(config.max_inbound.max(1));
        let (host, events) = Host::bind(host).await.map_err(Error::Bind)?;
        let (cand_tx, cand_rx) = mpsc::channel(config.candidate_capacity.max(1));
        let (session_tx, session_rx) = mpsc::channel(config.session_capacity.max(1));
        let stats = Arc::new(Mutex::new(PoolStats::default()));
        let stop = Arc::new(watch::Sender::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let driver = PoolDriver::new(driver::Parts {
            config,
            host: host.clone(),
            filter,
            candidates: cand_rx,
            eth: eth_rx,
            events,
            hellos,
            sessions: session_tx,
            stats: stats.clone(),
            stop: stop.subscribe(),
            paused: paused.clone(),
        });
        Ok(PoolParts {
            handle: PoolHandle {
                candidates: cand_tx,
                stats,
                host,
                stop,
                paused,
            },
            driver,
            sessions: session_rx,
        })
    }
}
