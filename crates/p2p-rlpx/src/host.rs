//! [`Host`]: listens for and dials RLPx connections, runs the registered protocols on each
//! through [`p2p_msg::Peer`], enforces a peer limit and reports [`PeerEvent`]s on a bounded
//! channel.
//!
//! The host never spawns tasks by itself: [`Host::run`] is the accept loop as a future that
//! also drives every accepted connection, and [`Host::connect`] dials one peer and drives it
//! to its end. [`Host::spawn_run`] and [`Host::spawn_connect`] are the spawning conveniences
//! (one task per connection, so connections use every core).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;
use p2p_msg::{
    DisconnectReason, FrameTransport, LocalHello, Msg, NodeId, Peer, PeerExit, PeerHandle, Protocol,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tracing::{debug, warn};

use crate::Error;
use crate::enode::Enode;
use crate::key::NodeKey;
use crate::transport::{RlpxTransport, TransportConfig};

/// Default peer limit.
pub const DEFAULT_MAX_PEERS: usize = 50;
/// Default capacity of the event channel.
pub const DEFAULT_EVENT_CAPACITY: usize = 256;
/// How long an event send may wait for room in a full channel before the event is dropped.
const EVENT_SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// Deadline for writing the Disconnect that rejects a peer over the limit.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed accept.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Message code of the base protocol's Disconnect.
const DISCONNECT_CODE: u64 = 0x01;

/// One step of the accept loop.
enum Step<C> {
    Accepted(Option<C>),
    Stop,
    Finished,
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The remote dialed us.
    Inbound,
    /// We dialed the remote.
    Outbound,
}

/// Something that happened to a peer of a [`Host`].
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent {
    /// The RLPx handshake succeeded and the peer was admitted; the Hello exchange follows.
    Added {
        /// The remote node id.
        id: NodeId,
        /// The remote address.
        addr: SocketAddr,
        /// Who dialed.
        direction: Direction,
    },
    /// An admitted peer's connection ended.
    Dropped {
        /// The remote node id.
        id: NodeId,
        /// The remote address.
        addr: SocketAddr,
        /// Who dialed.
        direction: Direction,
        /// The disconnect reason.
        reason: DisconnectReason,
        /// Whether the remote sent the Disconnect.
        remote_requested: bool,
        /// The error that ended the connection, if any, as text.
        error: Option<String>,
        /// The remote client id, if the Hello exchange completed.
        client_id: Option<String>,
    },
    /// A connection failed before the peer was admitted (handshake error, peer limit, ...).
    Rejected {
        /// The remote address.
        addr: SocketAddr,
        /// Who dialed.
        direction: Direction,
        /// Why.
        error: Error,
    },
}

/// What a [`Host`] needs: its key, where to listen, its Hello and protocols, and limits.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The node key.
    pub key: NodeKey,
    /// The TCP address to listen on (port 0 picks a free port).
    pub listen_addr: SocketAddr,
    /// The client id sent in the Hello.
    pub client_id: String,
    /// The protocols run on every connection.
    pub protocols: Vec<Protocol>,
    /// The most peers admitted at once; further ones get `TooManyPeers`.
    pub max_peers: usize,
    /// The most inbound handshakes in progress at once; further connections are dropped.
    pub max_pending_handshakes: usize,
    /// Capacity of the event channel.
    pub event_capacity: usize,
    /// Timeouts of each connection.
    pub transport: TransportConfig,
}

impl HostConfig {
    /// A config listening on `127.0.0.1:0` with the defaults and no protocols.
    #[must_use]
    pub fn new(key: NodeKey) -> Self {
        Self {
            key,
            listen_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            client_id: format!("peerwire/v{}", env!("CARGO_PKG_VERSION")),
            protocols: Vec::new(),
            max_peers: DEFAULT_MAX_PEERS,
            max_pending_handshakes: DEFAULT_MAX_PEERS,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            transport: TransportConfig::default(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: HostConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
    peers: Mutex<HashMap<NodeId, PeerHandle>>,
    events: mpsc::Sender<PeerEvent>,
    shutdown: watch::Sender<bool>,
    pending: Arc<Semaphore>,
}

/// An RLPx node: a listener, a dialer and the registry of its connected peers.
///
/// Cheap to clone (a shared handle).
#[derive(Debug, Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

/// Removes a peer from the registry when its connection ends (or is dropped).
struct Registration {
    inner: Arc<Inner>,
    id: NodeId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut peers) = self.inner.peers.lock() {
            peers.remove(&self.id);
        }
    }
}

impl Host {
    /// Binds the listener; returns the host and the receiver of its peer events.
    ///
    /// Keep reading the events: when the channel is full, an event waits up to a second for
    /// room and is then dropped (with a warning).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the address cannot be bound.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn bind(config: HostConfig) -> Result<(Self, mpsc::Receiver<PeerEvent>), Error> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let local_addr = listener.local_addr()?;
        let (events, receiver) = mpsc::channel(config.event_capacity.max(1));
        let pending = Arc::new(Semaphore::new(config.max_pending_handshakes.max(1)));
        let inner = Inner {
            config,
            listener,
            local_addr,
            peers: Mutex::new(HashMap::new()),
            events,
            shutdown: watch::Sender::new(false),
            pending,
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            receiver,
        ))
    }

    /// This node's id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.inner.config.key.id()
    }

    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// This node's `enode://` URL (an unspecified listen IP is shown as loopback).
    #[must_use]
    pub fn enode(&self) -> Enode {
        let mut addr = self.inner.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        Enode::new(self.id(), addr)
    }

    /// The number of admitted peers.
    #[must_use]
    pub fn peer_count(&self) -> usize {
        self.inner.peers.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// The ids of the admitted peers.
    #[must_use]
    pub fn peers(&self) -> Vec<NodeId> {
        self.inner
            .peers
            .lock()
            .map(|p| p.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Disconnects a peer with `reason`; returns whether it was connected.
    pub fn disconnect(&self, id: &NodeId, reason: DisconnectReason) -> bool {
        let handle = self
            .inner
            .peers
            .lock()
            .ok()
            .and_then(|p| p.get(id).cloned());
        handle.map(|h| h.disconnect(reason)).is_some()
    }

    /// Stops accepting, disconnects every peer with `Quitting`, and makes [`Host::run`]
    /// return once its connections have ended.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let handles: Vec<_> = self
            .inner
            .peers
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default();
        for handle in handles {
            handle.disconnect(DisconnectReason::Quitting);
        }
    }

    fn is_shut_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// The accept loop: accepts connections and drives each one (handshake, peer limit,
    /// [`Peer::run`]) inside this future, until [`Host::shutdown`].
    ///
    /// All connections then share the task that polls this future; use [`Host::spawn_run`] to
    /// give each its own task.
    ///
    /// # Errors
    ///
    /// None so far: accept errors are logged and retried after a short pause.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every connection it drives without a Disconnect.
    pub fn run(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let host = self.clone();
        async move {
            let mut connections = FuturesUnordered::new();
            let mut shutdown = host.inner.shutdown.subscribe();
            loop {
                let step = {
                    let accept = pin!(host.accept_one());
                    let stop = pin!(shutdown.wait_for(|s| *s));
                    let next_done = pin!(async {
                        if connections.is_empty() {
                            std::future::pending::<()>().await;
                        }
                        let _ = connections.next().await;
                    });
                    match select(accept, select(stop, next_done)).await {
                        Either::Left((accepted, _)) => Step::Accepted(accepted),
                        Either::Right((Either::Left(_), _)) => Step::Stop,
                        Either::Right((Either::Right(_), _)) => Step::Finished,
                    }
                };
                match step {
                    Step::Accepted(Some(conn)) => connections.push(conn),
                    Step::Accepted(None) | Step::Finished => {}
                    Step::Stop => break,
                }
            }
            while connections.next().await.is_some() {}
            Ok(())
        }
    }

    /// Like [`Host::run`], but each accepted connection runs on its own spawned task; the
    /// accept loop itself is spawned too.
    pub fn spawn_run(&self) -> tokio::task::JoinHandle<Result<(), Error>> {
        let host = self.clone();
        tokio::spawn(async move {
            let mut shutdown = host.inner.shutdown.subscribe();
            loop {
                let accept = host.accept_one();
                let stop = shutdown.wait_for(|s| *s);
                match select(pin!(accept), pin!(stop)).await {
                    Either::Left((Some(conn), _)) => {
                        tokio::spawn(conn);
                    }
                    Either::Left((None, _)) => {}
                    Either::Right(_) => return Ok(()),
                }
            }
        })
    }

    /// Accepts one TCP connection; returns the future that runs it (or `None` if it was
    /// refused because too many handshakes are pending).
    async fn accept_one(&self) -> Option<impl Future<Output = ()> + Send + 'static> {
        let (stream, addr) = match self.inner.listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Accept errors are per connection or temporary (such as running out of file
                // descriptors); back off briefly instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                return None;
            }
        };
        let Ok(permit) = self.inner.pending.clone().try_acquire_owned() else {
            debug!(%addr, "too many pending handshakes, dropping connection");
            return None;
        };
        let host = self.clone();
        Some(async move {
            let _ = host.run_connection(stream, addr, None, Some(permit)).await;
        })
    }

    /// Dials `enode`, runs the handshake and then the peer until the connection ends.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyPeers`] if the limit is reached (checked before dialing and again
    /// after the handshake), [`Error::AlreadyConnected`], [`Error::ConnectedToSelf`],
    /// [`Error::ShutDown`], and dial or handshake errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the connection without a Disconnect.
    pub async fn connect(&self, enode: &Enode) -> Result<PeerExit, Error> {
        if self.is_shut_down() {
            return Err(Error::ShutDown);
        }
        if enode.id == self.id() {
            return Err(Error::ConnectedToSelf);
        }
        if self.peers().contains(&enode.id) {
            return Err(Error::AlreadyConnected);
        }
        if self.peer_count() >= self.inner.config.max_peers {
            return Err(Error::TooManyPeers);
        }
        let addr = enode.tcp_addr();
        let config = &self.inner.config.transport;
        let stream = match tokio::time::timeout(config.dial_timeout, TcpStream::connect(addr)).await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Error::Io(e)),
            Err(_) => {
                return Err(Error::Timeout {
                    what: "tcp connect",
                });
            }
        };
        self.run_connection(stream, addr, Some(enode.id), None)
            .await
    }

    /// Spawns [`Host::connect`] on its own task.
    pub fn spawn_connect(&self, enode: Enode) -> tokio::task::JoinHandle<Result<PeerExit, Error>> {
        let host = self.clone();
        tokio::spawn(async move { host.connect(&enode).await })
    }

    async fn run_connection(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        dial: Option<NodeId>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<PeerExit, Error> {
        let direction = if dial.is_some() {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let config = &self.inner.config;
        let transport =
            match RlpxTransport::handshake(stream, &config.key, dial.as_ref(), &config.transport)
                .await
            {
                Ok(t) => t,
                Err(e) => {
                    debug!(%addr, ?direction, error = %e, "rlpx handshake failed");
                    self.emit(PeerEvent::Rejected {
                        addr,
                        direction,
                        error: describe(&e),
                    })
                    .await;
                    return Err(e);
                }
            };
        drop(permit);
        let id = transport.remote_node_id();
        let peer = Peer::new(transport, self.local_hello(), config.protocols.clone());
        let registration = match self.register(id, peer.handle()) {
            Ok(r) => r,
            Err((e, reason)) => {
                reject(peer.transport(), reason).await;
                self.emit(PeerEvent::Rejected {
                    addr,
                    direction,
                    error: describe(&e),
                })
                .await;
                return Err(e);
            }
        };
        self.emit(PeerEvent::Added {
            id,
            addr,
            direction,
        })
        .await;
        let exit = peer.run().await;
        drop(registration);
        debug!(%addr, ?direction, reason = ?exit.reason, "peer dropped");
        self.emit(PeerEvent::Dropped {
            id,
            addr,
            direction,
            reason: exit.reason,
            remote_requested: exit.remote_requested,
            error: exit.error.as_ref().map(ToString::to_string),
            client_id: exit.remote.as_ref().map(|h| h.client_id.clone()),
        })
        .await;
        Ok(exit)
    }

    fn local_hello(&self) -> LocalHello {
        let mut hello = LocalHello::new(self.inner.config.client_id.clone(), self.id());
        hello.listen_port = u64::from(self.inner.local_addr.port());
        hello
    }

    fn register(
        &self,
        id: NodeId,
        handle: PeerHandle,
    ) -> Result<Registration, (Error, DisconnectReason)> {
        if self.is_shut_down() {
            return Err((Error::ShutDown, DisconnectReason::Quitting));
        }
        if id == self.id() {
            return Err((Error::ConnectedToSelf, DisconnectReason::ConnectedToSelf));
        }
        let mut peers = self
            .inner
            .peers
            .lock()
            .map_err(|_| (Error::ShutDown, DisconnectReason::Quitting))?;
        if peers.contains_key(&id) {
            return Err((Error::AlreadyConnected, DisconnectReason::AlreadyConnected));
        }
        if peers.len() >= self.inner.config.max_peers {
            return Err((Error::TooManyPeers, DisconnectReason::TooManyPeers));
        }
        peers.insert(id, handle);
        Ok(Registration {
            inner: self.inner.clone(),
            id,
        })
    }

    async fn emit(&self, event: PeerEvent) {
        match tokio::time::timeout(EVENT_SEND_TIMEOUT, self.inner.events.send(event)).await {
            Ok(_) => {}
            Err(_) => warn!("peer event channel full, event dropped"),
        }
    }
}

/// Sends a Disconnect (uncompressed, before any Hello) and closes the transport.
async fn reject<T: FrameTransport>(transport: &T, reason: DisconnectReason) {
    let msg = Msg::new(DISCONNECT_CODE, reason.encode_payload());
    let _ = tokio::time::timeout(REJECT_WRITE_TIMEOUT, transport.write_frame(msg)).await;
    transport.close().await;
}

/// A copy of a connection error for the caller (the original goes into the event).
fn describe(e: &Error) -> Error {
    match e {
        Error::TooManyPeers => Error::TooManyPeers,
        Error::AlreadyConnected => Error::AlreadyConnected,
        Error::ConnectedToSelf => Error::ConnectedToSelf,
        Error::ShutDown => Error::ShutDown,
        Error::Closed => Error::Closed,
        Error::Timeout { what } => Error::Timeout { what },
        Error::HeaderMacMismatch => Error::HeaderMacMismatch,
        Error::FrameMacMismatch => Error::FrameMacMismatch,
        Error::EciesTagMismatch => Error::EciesTagMismatch,
        Error::InvalidPublicKey => Error::InvalidPublicKey,
        Error::InvalidSignature => Error::InvalidSignature,
        Error::InvalidHandshake(what) => Error::InvalidHandshake(what),
        Error::HandshakeTooBig { size, limit } => Error::HandshakeTooBig {
            size: *size,
            limit: *limit,
        },
        Error::EciesTooShort { len } => Error::EciesTooShort { len: *len },
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => Error::Io(std::io::Error::other(other.to_string())),
    }
}
