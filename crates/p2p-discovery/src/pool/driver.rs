//! [`PoolDriver`]: the pool's loop. It reads candidates, eth sessions and host events, starts dials within the
//! limits of the [`Book`], and hands sessions out.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chain_types::forkid::ForkFilter;
use eth_wire::{EthNode, EthPeer};
use p2p_msg::{DisconnectReason, NodeId, PeerExit, ProtoRw, Protocol};
use p2p_rlpx::{Direction, Enode, Host, PeerEvent};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::debug;

use super::book::{Book, Refusal, State};
use super::{DialReport, FailureReason, PoolConfig, PoolStats, Session};
use crate::{Candidate, Source};

/// How often backed-off nodes are queued again and the consumer's presence is checked.
const TICK: Duration = Duration::from_millis(250);
/// How long the driver waits for its connections to end after a shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Client name and eth versions from each connection's Hello, until its eth session is handed out. At most one
/// entry per connection past Hello (the host's peer limit bounds them).
pub(super) type Hellos = Arc<Mutex<HashMap<NodeId, (String, Vec<u32>)>>>;

/// `node`'s eth protocols, each first noting the remote's Hello in `hellos`.
pub(super) fn recording_protocols(node: &Arc<EthNode>, hellos: &Hellos) -> Vec<Protocol> {
    node.protocols()
        .into_iter()
        .map(|inner| {
            let hellos = hellos.clone();
            let (name, version, length) = (inner.name.clone(), inner.version, inner.length);
            Protocol::new(name, version, length, move |info, rw| {
                let inner = inner.clone();
                let hellos = hellos.clone();
                async move {
                    let id = info.id();
                    let eth = info
                        .caps()
                        .iter()
                        .filter(|c| c.name == "eth")
                        .map(|c| c.version)
                        .collect();
                    if let Ok(mut h) = hellos.lock() {
                        h.insert(id, (info.client_id().to_owned(), eth));
                    }
                    let result = inner.run(info, rw).await;
                    if let Ok(mut h) = hellos.lock() {
                        h.remove(&id);
                    }
                    result
                }
            })
        })
        .collect()
}

/// How a dial ended.
enum DialResult {
    /// The connection ended (or never started) with this result.
    Done(Result<PeerExit, p2p_rlpx::Error>),
    /// No eth session within the dial timeout.
    TimedOut,
    /// The dial's task panicked.
    Panicked,
}

struct DialEnd {
    enode: Enode,
    result: DialResult,
}

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What [`super::Pool::bind`] gives the driver.
pub(super) struct Parts {
    pub(super) config: PoolConfig,
    pub(super) host: Host,
    pub(super) filter: Option<ForkFilter>,
    pub(super) candidates: mpsc::Receiver<Candidate>,
    pub(super) eth: mpsc::Receiver<EthPeer<ProtoRw>>,
    pub(super) events: mpsc::Receiver<PeerEvent>,
    pub(super) hellos: Hellos,
    pub(super) sessions: mpsc::Sender<Session>,
    pub(super) stats: Arc<Mutex<PoolStats>>,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) paused: Arc<AtomicBool>,
}

/// The pool's loop: await [`PoolDriver::run`] (or spawn it). It returns after [`super::PoolHandle::shutdown`] or
/// once the session receiver is dropped.
///
/// # Drop behavior
///
/// Dropping the driver shuts the host down: every connection is disconnected.
#[must_use = "the pool does nothing unless its driver runs"]
pub struct PoolDriver {
    parts: Parts,
    book: Book,
    stats: PoolStats,
    sources: HashMap<NodeId, Source>,
    up: HashMap<NodeId, Arc<AtomicBool>>,
    addrs: HashMap<NodeId, SocketAddr>,
    /// The node each running dial task is for (to account for a task that panicked).
    tasks: HashMap<tokio::task::Id, Enode>,
    reports: Option<mpsc::Sender<DialReport>>,
}

impl std::fmt::Debug for PoolDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolDriver")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PoolDriver {
    pub(super) fn new(parts: Parts) -> Self {
        let book = Book::new(parts.config.clone());
        Self {
            parts,
            book,
            stats: PoolStats::default(),
            sources: HashMap::new(),
            up: HashMap::new(),
            addrs: HashMap::new(),
            tasks: HashMap::new(),
            reports: None,
        }
    }

    /// Sends a [`DialReport`] for every finished dial to `reports` (dropped when the channel is full).
    pub fn with_reports(mut self, reports: mpsc::Sender<DialReport>) -> Self {
        self.reports = Some(reports);
        self
    }

    /// Runs the pool until it is shut down or the session receiver is dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every connection it drives.
    pub async fn run(mut self) {
        // Each dial, and the connection it becomes, runs on a task of its own; dropping the set aborts them.
        let mut dials: JoinSet<DialEnd> = JoinSet::new();
        let accept: BoxFut<()> = if self.parts.config.accept_inbound {
            let run = self.parts.host.run();
            Box::pin(async move {
                let _ = run.await;
                std::future::pending::<()>().await;
            })
        } else {
            Box::pin(std::future::pending())
        };
        let mut accept = accept;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = self.parts.stop.clone();
        loop {
            tokio::select! {
                Some(candidate) = self.parts.candidates.recv() => self.on_candidate(candidate),
                Some(peer) = self.parts.eth.recv() => self.on_session(peer),
                Some(event) = self.parts.events.recv() => self.on_event(event),
                Some(end) = dials.join_next_with_id(), if !dials.is_empty() => self.on_joined(end),
                () = &mut accept => {}
                _ = tick.tick() => {
                    if self.parts.sessions.is_closed() {
                        break;
                    }
                    self.book.requeue_due(Instant::now());
                }
                _ = stop.wait_for(|s| *s) => break,
            }
            self.start_dials(&mut dials);
            self.publish();
        }
        self.parts.host.shutdown();
        let drain = async {
            while let Some(end) = dials.join_next_with_id().await {
                self.on_joined(end);
            }
        };
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
        self.publish();
    }

    fn on_candidate(&mut self, candidate: Candidate) {
        self.stats.candidates += 1;
        if candidate.enode.id == self.parts.host.id() {
            return;
        }
        match (candidate.eth_entry(), &self.parts.filter) {
            (Err(_), _) => {
                self.stats.malformed += 1;
                return;
            }
            (Ok(Some(entry)), Some(filter)) if !entry.is_compatible(filter) => {
                self.stats.incompatible += 1;
                return;
            }
            _ => {}
        }
        match self
            .book
            .offer(candidate.enode, candidate.source, Instant::now())
        {
            Ok(()) => {}
            Err(Refusal::Busy) => {}
            Err(Refusal::BackedOff) => self.stats.backed_off += 1,
            Err(Refusal::Full) => self.stats.overflow += 1,
        }
    }

    /// A dial task ended: its result, or a failure of its node when the task panicked.
    fn on_joined(&mut self, joined: Result<(tokio::task::Id, DialEnd), tokio::task::JoinError>) {
        match joined {
            Ok((task, end)) => {
                self.tasks.remove(&task);
                self.on_dial_end(end);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a dial task failed");
                if let Some(enode) = self.tasks.remove(&e.id()) {
                    self.on_dial_end(DialEnd {
                        enode,
                        result: DialResult::Panicked,
                    });
                }
            }
        }
    }

    fn start_dials(&mut self, dials: &mut JoinSet<DialEnd>) {
        if self.parts.paused.load(Ordering::Acquire) {
            return;
        }
        while let Some(enode) = self.book.next_dial() {
            self.stats.dials += 1;
            let up = Arc::new(AtomicBool::new(false));
            self.up.insert(enode.id, up.clone());
            if let Some(record) = self.book.record(&enode.id) {
                self.sources.insert(enode.id, record.source);
            }
            let host = self.parts.host.clone();
            let timeout = self.parts.config.dial_timeout;
            let task = dials.spawn(async move {
                let connect = host.connect(&enode);
                tokio::pin!(connect);
                tokio::select! {
                    result = &mut connect => return DialEnd { enode, result: DialResult::Done(result) },
                    () = tokio::time::sleep(timeout) => {}
                }
                let result = if up.load(Ordering::Acquire) {
                    DialResult::Done(connect.await)
                } else {
                    DialResult::TimedOut
                };
                DialEnd { enode, result }
            });
            self.tasks.insert(task.id(), enode);
        }
    }

    fn take_hello(&self, id: &NodeId) -> (String, Vec<u32>) {
        self.parts
            .hellos
            .lock()
            .ok()
            .and_then(|mut h| h.remove(id))
            .unwrap_or_default()
    }

    fn on_session(&mut self, peer: EthPeer<ProtoRw>) {
        let Ok(id) = peer.peer_id().parse::<NodeId>() else {
            return;
        };
        let (client_id, eth_versions) = self.take_hello(&id);
        let dialing = self
            .book
            .record(&id)
            .is_some_and(|r| r.state == State::Dialing);
        let (direction, source) = if dialing {
            self.book.dial_connected(&id);
            if let Some(up) = self.up.get(&id) {
                up.store(true, Ordering::Release);
            }
            let source = self.sources.get(&id).copied().unwrap_or(Source::Static);
            if let Some(enode) = self.book.record(&id).map(|r| r.enode) {
                self.report(enode, source, Ok((client_id.clone(), eth_versions.clone())));
            }
            (Direction::Outbound, source)
        } else {
            let addr = self
                .addrs
                .get(&id)
                .copied()
                .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
            if !self.book.admit_inbound(Enode::new(id, addr)) {
                self.stats.inbound_refused += 1;
                self.parts
                    .host
                    .disconnect(&id, DisconnectReason::TooManyPeers);
                return;
            }
            (Direction::Inbound, Source::Inbound)
        };
        self.stats.sessions += 1;
        let session = Session {
            peer,
            id,
            direction,
            source,
            client_id,
            eth_versions,
        };
        if self.parts.sessions.try_send(session).is_err() {
            debug!(peer = %id, "no room for the session; disconnecting");
            self.parts
                .host
                .disconnect(&id, DisconnectReason::TooManyPeers);
        }
    }

    fn on_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::Added { id, addr, .. } => {
                self.addrs.insert(id, addr);
            }
            PeerEvent::Dropped { id, direction, .. } => {
                self.addrs.remove(&id);
                if direction == Direction::Inbound
                    && self
                        .book
                        .record(&id)
                        .is_some_and(|r| r.state == State::Connected(Direction::Inbound))
                {
                    self.book.ended(&id, None, Instant::now());
                }
            }
            _ => {}
        }
    }

    fn on_dial_end(&mut self, end: DialEnd) {
        let id = end.enode.id;
        self.up.remove(&id);
        let source = self.sources.remove(&id).unwrap_or(Source::Static);
        let was_dialing = self
            .book
            .record(&id)
            .is_some_and(|r| r.state == State::Dialing);
        if !was_dialing {
            // A session that ended (or a dial the book no longer tracks).
            if self
                .book
                .record(&id)
                .is_some_and(|r| r.state == State::Connected(Direction::Outbound))
            {
                self.book.ended(&id, None, Instant::now());
            }
            return;
        }
        let reason = classify(&end.result);
        debug!(peer = %id, %reason, "dial failed");
        *self.stats.failures.entry(reason).or_insert(0) += 1;
        self.book.ended(&id, Some(reason), Instant::now());
        self.report(end.enode, source, Err(reason));
    }

    fn report(
        &self,
        enode: Enode,
        source: Source,
        outcome: Result<(String, Vec<u32>), FailureReason>,
    ) {
        if let Some(reports) = &self.reports {
            let _ = reports.try_send(DialReport {
                enode,
                source,
                outcome,
            });
        }
    }

    fn publish(&mut self) {
        self.stats.outbound = self.book.outbound;
        self.stats.inbound = self.book.inbound;
        self.stats.dialing = self.book.dialing;
        self.stats.queued = self.book.queued();
        self.stats.known = self.book.known();
        self.stats.max_outbound_seen = self.stats.max_outbound_seen.max(self.book.outbound);
        self.stats.max_inbound_seen = self.stats.max_inbound_seen.max(self.book.inbound);
        if let Ok(mut shared) = self.parts.stats.lock() {
            shared.clone_from(&self.stats);
        }
    }
}

impl Drop for PoolDriver {
    fn drop(&mut self) {
        self.parts.host.shutdown();
    }
}

/// Why a dial that never became a session failed.
fn classify(result: &DialResult) -> FailureReason {
    let exit = match result {
        DialResult::TimedOut => return FailureReason::Timeout,
        DialResult::Panicked => return FailureReason::ProtocolError,
        DialResult::Done(Err(e)) => {
            return match e {
                p2p_rlpx::Error::Io(_) => FailureReason::Unreachable,
                p2p_rlpx::Error::Timeout { .. } => FailureReason::Timeout,
                p2p_rlpx::Error::TooManyPeers => FailureReason::TooManyPeers,
                p2p_rlpx::Error::Closed => FailureReason::Disconnected,
                _ => FailureReason::ProtocolError,
            };
        }
        DialResult::Done(Ok(exit)) => exit,
    };
    if exit.error.as_ref().is_some_and(is_incompatible_chain) {
        return FailureReason::IncompatibleFork;
    }
    // The remote ended the connection with a subprotocol error after Hello but before the eth session came up:
    // its Status check failed (geth and peerwire both disconnect so on a network, genesis or fork id mismatch).
    if exit.remote_requested
        && exit.reason == DisconnectReason::SubprotocolError
        && exit.remote.is_some()
    {
        return FailureReason::IncompatibleFork;
    }
    match exit.reason {
        DisconnectReason::TooManyPeers => FailureReason::TooManyPeers,
        DisconnectReason::UselessPeer => FailureReason::UselessPeer,
        DisconnectReason::ReadTimeout => FailureReason::Timeout,
        DisconnectReason::ProtocolError
        | DisconnectReason::SubprotocolError
        | DisconnectReason::IncompatibleVersion
        | DisconnectReason::InvalidIdentity
        | DisconnectReason::UnexpectedIdentity => FailureReason::ProtocolError,
        _ => FailureReason::Disconnected,
    }
}

/// Whether the error that ended a connection is the eth handshake finding another chain.
fn is_incompatible_chain(error: &p2p_msg::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = match error {
        p2p_msg::Error::Transport(inner) => Some(inner.as_ref()),
        other => Some(other),
    };
    while let Some(e) = current {
        if let Some(eth) = e.downcast_ref::<eth_wire::Error>() {
            return matches!(
                eth,
                eth_wire::Error::ForkId(_)
                    | eth_wire::Error::NetworkMismatch { .. }
                    | eth_wire::Error::GenesisMismatch { .. }
            );
        }
        current = e.source();
    }
    false
}
