//! The protocol adapter: runs any devp2p [`Protocol`] over pss topic messages, with one
//! "virtual peer" per remote key.
//!
//! [`PssProtocol::register`] subscribes to the protocol's topic
//! ([`Topic::for_protocol`]`(name, version)`) on a [`Transport`] and spawns a dispatcher.
//! A virtual peer is identified by its [`PeerKey`] on that topic (the reference's (topic, mode,
//! key id) triple); it is born either by [`PssProtocol::add_peer`] (an outgoing "connection")
//! or by the first message from a key that has none (an incoming one). Each virtual peer runs
//! the protocol's run function on its own task, over a [`PssReadWriter`].
//!
//! # The dispatcher
//!
//! For each delivery on the topic, in order:
//!
//! 1. raw messages (no key) are dropped and counted ([`AdapterStats::raw_dropped`]);
//! 2. a message whose mode (symmetric or asymmetric) is disabled for the protocol is dropped
//!    and counted ([`AdapterStats::mode_rejected`]);
//! 3. the [`ProtocolMsg`] is decoded; a bad one is dropped and counted
//!    ([`AdapterStats::invalid`]) before any peer is created for it;
//! 4. the virtual peer is looked up by key; if there is none, one is created as by
//!    [`PssProtocol::add_peer`]. An asymmetric sender whose key the transport does not hold is
//!    accepted according to [`ProtocolParams::unknown_senders`]: by default its key is stored
//!    ([`Transport::add_public_key`]) with a hint of its full 32-byte overlay address
//!    ([`OverlayAddr::from_public_key`]); otherwise it is dropped and counted
//!    ([`AdapterStats::unknown_sender`]);
//! 5. the message is handed to the peer's bounded queue with `try_send`. **When the queue is
//!    full the message is dropped and counted ([`AdapterStats::channel_full`]): the dispatcher
//!    never waits for a slow protocol**, so one slow virtual peer does not stall the others on
//!    the topic (pss gives no delivery guarantee anyway).
//!
//! # Deviations from the reference (go-ethereum v1.8.27 `swarm/pss/protocol.go`)
//!
//! | Reference | Here |
//! |---|---|
//! | `RegisterProtocol` does not register the handler; the caller also calls `pss.Register` | [`PssProtocol::register`] subscribes to the topic itself (one step) |
//! | the mode check rejects symmetric messages when both modes are enabled, never asymmetric ones | a message is rejected iff its mode is disabled |
//! | an incoming asymmetric sender's key must be stored beforehand | by default the key is stored with a 32-byte hint ([`UnknownSenders`]) |
//! | `injectMsg` blocks the pss handler until the protocol reads | bounded queue per peer; full: drop and count |
//! | `AddPeer` of an existing key replaces it (the old run leaks) | [`Error::PeerExists`]; the existing peer is untouched |
//! | `RemovePeer` of an absent key panics | [`Error::UnknownPeer`] |
//! | `ReadMsg` blocks forever after `RemovePeer`, so the run never ends | reads fail with [`Error::PeerRemoved`]; the run ends |
//! | a returning `Run` is only logged; the peer stays in the pool | the peer is removed |
//! | `WriteMsg` reads the payload with one `Read` (a short read truncates it) | payloads are in-memory; never truncated |
//! | synthetic peer: zero id, name = hex of the address hint, no caps | id = node id of the sender's key (zero for symmetric peers), client id `pss:<hex of the key or key id>`, caps = the protocol's |
//!
//! The decoder of step 3 runs before the peer lookup (the reference creates the peer first).
//!
//! # Tasks
//!
//! The adapter spawns tasks on the current Tokio runtime: the dispatcher, and one task per
//! virtual peer running the protocol. Dropping the last [`PssProtocol`] handle stops the
//! dispatcher and removes every peer (their reads fail, so their runs end).

mod rw;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use p2p_msg::mux::BASE_PROTOCOL_VERSION;
use p2p_msg::{Hello, Msg, NodeId, PeerInfo, ProtoRw, Protocol};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::AbortHandle;

pub use rw::{PssReadWriter, is_peer_removed};

use crate::{
    ADDRESS_LEN, Delivery, Error, HandlerCaps, OverlayAddr, PeerKey, ProtocolMsg, Subscription,
    Topic, Transport,
};

/// The default capacity of a virtual peer's inbound queue, in messages.
pub const DEFAULT_PEER_CAPACITY: usize = 64;

/// What the adapter does with the first message of an asymmetric sender whose public key the
/// transport does not hold for the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSenders {
    /// Drop the message (the reference's behaviour: keys must be stored beforehand).
    Reject,
    /// Store the sender's key with a hint of the first `hint_len` bytes (0 to 32) of its
    /// overlay address, and accept it as a new virtual peer.
    Accept {
        /// The address hint length in bytes.
        hint_len: usize,
    },
}

/// How a protocol is carried: which modes, unknown senders, queue sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolParams {
    /// Accept (and allow peers with) asymmetric messages.
    pub asymmetric: bool,
    /// Accept (and allow peers with) symmetric messages.
    pub symmetric: bool,
    /// What to do with unknown asymmetric senders.
    pub unknown_senders: UnknownSenders,
    /// Capacity of each virtual peer's inbound queue (at least 1).
    pub peer_capacity: usize,
}

impl Default for ProtocolParams {
    /// Both modes; unknown senders accepted with a 32-byte hint; [`DEFAULT_PEER_CAPACITY`].
    fn default() -> Self {
        Self::new(true, true)
    }
}

impl ProtocolParams {
    /// The given modes, other settings as by default.
    #[must_use]
    pub const fn new(asymmetric: bool, symmetric: bool) -> Self {
        Self {
            asymmetric,
            symmetric,
            unknown_senders: UnknownSenders::Accept {
                hint_len: ADDRESS_LEN,
            },
            peer_capacity: DEFAULT_PEER_CAPACITY,
        }
    }

    /// Sets [`ProtocolParams::unknown_senders`].
    #[must_use]
    pub const fn with_unknown_senders(mut self, unknown_senders: UnknownSenders) -> Self {
        self.unknown_senders = unknown_senders;
        self
    }

    /// Sets [`ProtocolParams::peer_capacity`].
    #[must_use]
    pub const fn with_peer_capacity(mut self, capacity: usize) -> Self {
        self.peer_capacity = capacity;
        self
    }

    fn accepts(&self, key: &PeerKey) -> bool {
        match key {
            PeerKey::Symmetric(_) => self.symmetric,
            PeerKey::Asymmetric(_) => self.asymmetric,
        }
    }
}

/// Counters of an adapter (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterStats {
    /// Deliveries received on the topic.
    pub received: u64,
    /// Messages handed to a virtual peer's queue.
    pub delivered: u64,
    /// Dropped: raw (unencrypted, keyless) messages.
    pub raw_dropped: u64,
    /// Dropped: the message's mode is disabled for the protocol.
    pub mode_rejected: u64,
    /// Dropped: not a valid [`ProtocolMsg`].
    pub invalid: u64,
    /// Dropped: an unknown sender that was not accepted (or whose key could not be stored).
    pub unknown_sender: u64,
    /// Dropped: the peer's queue was full.
    pub channel_full: u64,
    /// Dropped: the peer was closing.
    pub closed: u64,
    /// Virtual peers created (by `add_peer` or by a first message).
    pub peers_added: u64,
    /// Of those, created by a first message.
    pub incoming_peers: u64,
    /// Virtual peers removed (by `remove_peer`, the run's end, or a disconnect).
    pub peers_removed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    raw_dropped: AtomicU64,
    mode_rejected: AtomicU64,
    invalid: AtomicU64,
    unknown_sender: AtomicU64,
    channel_full: AtomicU64,
    closed: AtomicU64,
    peers_added: AtomicU64,
    incoming_peers: AtomicU64,
    peers_removed: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> AdapterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AdapterStats {
            received: get(&self.received),
            delivered: get(&self.delivered),
            raw_dropped: get(&self.raw_dropped),
            mode_rejected: get(&self.mode_rejected),
            invalid: get(&self.invalid),
            unknown_sender: get(&self.unknown_sender),
            channel_full: get(&self.channel_full),
            closed: get(&self.closed),
            peers_added: get(&self.peers_added),
            incoming_peers: get(&self.incoming_peers),
            peers_removed: get(&self.peers_removed),
        }
    }
}

/// A devp2p protocol carried over pss on one topic, with its pool of virtual peers.
///
/// Cheap to clone (a shared handle). See the [module docs](self) for the dispatch policy and
/// the deviations from the reference.
///
/// # Drop behavior
///
/// Dropping the last handle stops the dispatcher (unsubscribing from the topic once the
/// transport notices) and removes every virtual peer: their reader-writers fail with
/// [`Error::PeerRemoved`], which ends their runs.
pub struct PssProtocol<T: Transport> {
    inner: Arc<Handle<T>>,
}

impl<T: Transport> Clone for PssProtocol<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Handle<T: Transport> {
    shared: Arc<Shared<T>>,
    dispatcher: AbortHandle,
}

impl<T: Transport> Drop for Handle<T> {
    fn drop(&mut self) {
        self.dispatcher.abort();
        let removed: Vec<PeerEntry> = self.shared.lock().drain().map(|(_, e)| e).collect();
        for entry in removed {
            entry.closer.close();
        }
    }
}

struct Shared<T: Transport> {
    transport: Arc<T>,
    topic: Topic,
    protocol: Protocol,
    params: ProtocolParams,
    peers: Mutex<HashMap<PeerKey, PeerEntry>>,
    next_serial: AtomicU64,
    counters: Counters,
}

struct PeerEntry {
    /// Tells this peer apart from a later one with the same key.
    serial: u64,
    tx: mpsc::Sender<Msg>,
    closer: rw::Closer,
}

impl<T: Transport> fmt::Debug for PssProtocol<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("PssProtocol")
            .field("protocol", &shared.protocol.cap())
            .field("topic", &shared.topic)
            .field("params", &shared.params)
            .field("peers", &shared.lock().len())
            .finish_non_exhaustive()
    }
}

impl<T: Transport> PssProtocol<T> {
    /// Registers `protocol` on `transport`: subscribes to the topic
    /// [`Topic::for_protocol`]`(name, version)` and spawns the dispatcher, which creates
    /// virtual peers for new senders (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`Error::NoMode`] if neither mode is enabled; [`Error::HintTooLong`] if
    /// [`UnknownSenders::Accept`] has a hint longer than 32 bytes.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns the dispatcher).
    pub fn register(
        transport: T,
        protocol: Protocol,
        params: ProtocolParams,
    ) -> Result<Self, Error> {
        if !params.asymmetric && !params.symmetric {
            return Err(Error::NoMode);
        }
        if let UnknownSenders::Accept { hint_len } = params.unknown_senders
            && hint_len > ADDRESS_LEN
        {
            return Err(Error::HintTooLong(hint_len));
        }
        let topic = Topic::for_protocol(&protocol.name, protocol.version);
        let subscription = transport.subscribe(topic, HandlerCaps::default());
        let shared = Arc::new(Shared {
            transport: Arc::new(transport),
            topic,
            protocol,
            params,
            peers: Mutex::new(HashMap::new()),
            next_serial: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let dispatcher = tokio::spawn(dispatch(shared.clone(), subscription)).abort_handle();
        Ok(Self {
            inner: Arc::new(Handle { shared, dispatcher }),
        })
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &T {
        &self.inner.shared.transport
    }

    /// The topic.
    #[must_use]
    pub fn topic(&self) -> Topic {
        self.inner.shared.topic
    }

    /// The protocol.
    #[must_use]
    pub fn protocol(&self) -> &Protocol {
        &self.inner.shared.protocol
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> AdapterStats {
        self.inner.shared.counters.snapshot()
    }

    /// The keys of the virtual peers, in no particular order.
    #[must_use]
    pub fn peers(&self) -> Vec<PeerKey> {
        self.inner.shared.lock().keys().copied().collect()
    }

    /// Creates a virtual peer for `key` (an outgoing "connection") and starts the protocol's
    /// run function on it (on a spawned task, with a [`PeerInfo`] whose id is the node id of
    /// an asymmetric key, zero for a symmetric one). When the run returns, the peer is
    /// removed.
    ///
    /// Returns the peer's reader-writer, which is shared with the run: reading from it takes
    /// messages away from the run.
    ///
    /// # Errors
    ///
    /// [`Error::ModeDisabled`] if the key's mode is disabled, [`Error::UnknownKey`] if the
    /// transport does not hold the key for the topic, [`Error::PeerExists`] if the key has a
    /// virtual peer already (which is left as it is).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns the run).
    pub fn add_peer(&self, key: PeerKey) -> Result<PssReadWriter, Error> {
        let shared = &self.inner.shared;
        if !shared.params.accepts(&key) {
            return Err(Error::ModeDisabled {
                mode: mode_name(&key),
            });
        }
        if !shared.transport.has_key(&key, shared.topic) {
            return Err(Error::UnknownKey {
                key,
                topic: shared.topic,
            });
        }
        Shared::add_peer(shared, key).map(|(rw, _)| rw)
    }

    /// Removes the virtual peer of `key`: its reader-writer fails from now on with
    /// [`Error::PeerRemoved`], so its run ends.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`] if the key has no virtual peer.
    pub fn remove_peer(&self, key: &PeerKey) -> Result<(), Error> {
        let shared = &self.inner.shared;
        let entry = shared.lock().remove(key).ok_or(Error::UnknownPeer(*key))?;
        entry.closer.close();
        bump(&shared.counters.peers_removed);
        tracing::debug!(topic = %shared.topic, peer = ?key, "pss virtual peer removed");
        Ok(())
    }
}

fn mode_name(key: &PeerKey) -> &'static str {
    if key.is_symmetric() {
        "symmetric"
    } else {
        "asymmetric"
    }
}

impl<T: Transport> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<PeerKey, PeerEntry>> {
        crate::lock(&self.peers)
    }

    fn sender(&self, key: &PeerKey) -> Option<mpsc::Sender<Msg>> {
        self.lock().get(key).map(|e| e.tx.clone())
    }

    /// Inserts a peer for `key` and spawns its run; the checks of the key are the caller's.
    fn add_peer(
        this: &Arc<Self>,
        key: PeerKey,
    ) -> Result<(PssReadWriter, mpsc::Sender<Msg>), Error> {
        let transport: Arc<dyn Transport> = this.transport.clone();
        let (rw, tx, closer) = rw::channel(transport, this.topic, key, this.params.peer_capacity);
        let serial = this.next_serial.fetch_add(1, Ordering::Relaxed);
        {
            let mut peers = this.lock();
            if peers.contains_key(&key) {
                return Err(Error::PeerExists(key));
            }
            let entry = PeerEntry {
                serial,
                tx: tx.clone(),
                closer,
            };
            peers.insert(key, entry);
        }
        bump(&this.counters.peers_added);
        tracing::debug!(topic = %this.topic, peer = ?key, "pss virtual peer added");
        let run = this
            .protocol
            .run(Self::peer_info(this, key, serial), ProtoRw::new(rw.clone()));
        let weak = Arc::downgrade(this);
        let topic = this.topic;
        tokio::spawn(async move {
            match run.await {
                Ok(()) => tracing::debug!(%topic, peer = ?key, "pss virtual protocol quit"),
                Err(e) => {
                    tracing::debug!(%topic, peer = ?key, error = %e, "pss virtual protocol quit");
                }
            }
            remove_serial(&weak, &key, serial);
        });
        Ok((rw, tx))
    }

    /// The synthetic peer of a virtual peer; `disconnect` removes it.
    fn peer_info(this: &Arc<Self>, key: PeerKey, serial: u64) -> PeerInfo {
        let (id, key_hex) = match key {
            PeerKey::Asymmetric(public) => (
                p2p_rlpx::node_id(&public),
                hex::encode(public.serialize_uncompressed()),
            ),
            PeerKey::Symmetric(id) => (NodeId::ZERO, hex::encode(id.0)),
        };
        let hello = Hello {
            version: BASE_PROTOCOL_VERSION,
            client_id: format!("pss:{key_hex}"),
            caps: vec![this.protocol.cap()],
            listen_port: 0,
            id,
        };
        let weak = Arc::downgrade(this);
        PeerInfo::new(hello, move |_reason| remove_serial(&weak, &key, serial))
    }

    /// Steps 1 to 5 of the module docs for one delivery.
    fn handle(this: &Arc<Self>, delivery: Delivery) {
        let counters = &this.counters;
        bump(&counters.received);
        let Some(key) = PeerKey::from_mode(delivery.mode) else {
            bump(&counters.raw_dropped);
            return;
        };
        if !this.params.accepts(&key) {
            bump(&counters.mode_rejected);
            tracing::debug!(topic = %this.topic, peer = ?key, "pss message in a disabled mode dropped");
            return;
        }
        let msg = match ProtocolMsg::decode(&delivery.payload) {
            Ok(msg) => msg.into_msg(),
            Err(e) => {
                bump(&counters.invalid);
                tracing::debug!(topic = %this.topic, peer = ?key, error = %e, "could not decode pssmsg");
                return;
            }
        };
        let tx = match this.sender(&key) {
            Some(tx) => tx,
            None => match Self::accept(this, key) {
                Some(tx) => tx,
                None => return,
            },
        };
        match tx.try_send(msg) {
            Ok(()) => bump(&counters.delivered),
            Err(TrySendError::Full(_)) => {
                bump(&counters.channel_full);
                tracing::debug!(topic = %this.topic, peer = ?key, "pss virtual peer queue full: message dropped");
            }
            Err(TrySendError::Closed(_)) => bump(&counters.closed),
        }
    }

    /// A new virtual peer for the first message from `key`, if it is accepted.
    fn accept(this: &Arc<Self>, key: PeerKey) -> Option<mpsc::Sender<Msg>> {
        let counters = &this.counters;
        if !this.transport.has_key(&key, this.topic) {
            let stored = match (key, this.params.unknown_senders) {
                (PeerKey::Asymmetric(public), UnknownSenders::Accept { hint_len }) => {
                    let address = OverlayAddr::from_public_key(&public);
                    let hint = address.0.get(..hint_len).unwrap_or(&address.0);
                    this.transport.add_public_key(public, this.topic, hint)
                }
                _ => Err(Error::UnknownKey {
                    key,
                    topic: this.topic,
                }),
            };
            if let Err(e) = stored {
                bump(&counters.unknown_sender);
                tracing::debug!(topic = %this.topic, peer = ?key, error = %e, "pss message from an unknown sender dropped");
                return None;
            }
        }
        match Self::add_peer(this, key) {
            Ok((_, tx)) => {
                bump(&counters.incoming_peers);
                Some(tx)
            }
            // Added meanwhile by `add_peer`.
            Err(_) => this.sender(&key),
        }
    }
}

/// Removes the peer of `key` if it is still the one numbered `serial`.
fn remove_serial<T: Transport>(weak: &Weak<Shared<T>>, key: &PeerKey, serial: u64) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    let entry = {
        let mut peers = shared.lock();
        match peers.get(key) {
            Some(e) if e.serial == serial => peers.remove(key),
            _ => None,
        }
    };
    if let Some(entry) = entry {
        entry.closer.close();
        bump(&shared.counters.peers_removed);
        tracing::debug!(topic = %shared.topic, peer = ?key, "pss virtual peer removed");
    }
}

/// The dispatcher: until the transport shuts down.
async fn dispatch<T: Transport>(shared: Arc<Shared<T>>, mut subscription: Subscription) {
    while let Some(delivery) = subscription.recv().await {
        Shared::handle(&shared, delivery);
    }
    tracing::debug!(topic = %shared.topic, "pss transport shut down: adapter dispatcher ends");
}
