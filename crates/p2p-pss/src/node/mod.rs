//! The pss node: routing table, forward cache, key store, outbox, handlers, and the devp2p
//! protocol `pss/2` that carries its messages between peers.
//!
//! # Structure
//!
//! - [`link`]: the `pss/2` protocol run of one connection: it enters the peer into the
//!   [`Kademlia`] table, pumps the link's bounded queue to the peer (each write bounded by
//!   [`PssConfig::write_timeout`]), reads the peer's messages through a token bucket, and removes
//!   the peer when the connection ends.
//! - [`recv`]: what a node does with a message from the wire (reference §3.3, with the fixes
//!   listed there).
//! - [`outbox`]: sending: sealing, the bounded outbox and its worker task, which routes each
//!   message and retries with backoff until it expires when there is no route.
//!
//! The router never waits: it hands messages to link queues and subscriptions with `try_send`,
//! and counts what it has to drop ([`Stats`]).
//!
//! # Deviations from the reference
//!
//! - Forward-cache entries live until the message expires (not a fixed 10 s/30 s).
//! - Messages expiring later than now + [`PssConfig::max_ttl`] are dropped, as are messages that
//!   crossed more than [`PssConfig::max_hops`] links; each peer is rate limited.
//! - A sender does not process its own messages (no "prox short-circuit"), and its own messages
//!   enter its forward cache, so that echoes are dropped.
//! - A raw message is dropped only by a node that has handlers for its topic of which none
//!   allows raw (nodes without handlers for the topic forward it, as the reference does).
//! - A message for the own full address that no handler can open is dropped, not forwarded
//!   (no other node has that address).

mod link;
mod outbox;
mod recv;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use p2p_msg::NodeId;
use p2p_rlpx::NodeKey;
use secp256k1::PublicKey;
use tokio::sync::{mpsc, watch};

use crate::cache::ForwardCache;
use crate::kademlia::{Kademlia, Route};
use crate::keystore::{KeyStore, Limits};
use crate::lock;
use crate::{
    Delivery, Error, HandlerCaps, OverlayAddr, PeerKey, Subscription, SymKey, SymKeyId, Topic,
    Transport,
};

/// The devp2p protocol name of pss.
pub const PROTOCOL_NAME: &str = "pss";
/// The devp2p protocol version of pss.
pub const PROTOCOL_VERSION: u32 = 2;
/// The number of message codes of `pss/2` (one: code 0, an encoded [`PssMsg`](crate::PssMsg)).
pub const PROTOCOL_LENGTH: u64 = 1;

/// The most topic handlers a node keeps (closed ones are pruned first).
pub const MAX_HANDLERS: usize = 1024;

/// Settings of a [`Pss`] node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PssConfig {
    /// How long a sent message lives (the reference's `MsgTTL`, 120 s).
    pub msg_ttl: Duration,
    /// The longest lifetime accepted from the wire (messages expiring later are dropped).
    pub max_ttl: Duration,
    /// The most messages queued in the outbox.
    pub outbox_messages: usize,
    /// The most payload bytes queued in the outbox.
    pub outbox_bytes: usize,
    /// Capacity of each topic subscription.
    pub delivery_capacity: usize,
    /// Messages accepted per second from one peer (token bucket rate) ...
    pub peer_rate: u32,
    /// ... and its burst.
    pub peer_burst: u32,
    /// Links a message may cross before it is dropped.
    pub max_hops: u8,
    /// Messages queued per link (beyond it the router falls back or drops).
    pub link_queue: usize,
    /// The longest a write to a peer may take before the link is dropped.
    pub write_timeout: Duration,
    /// Digests kept in the forward cache.
    pub cache_entries: usize,
    /// Peers' public keys kept in the key store.
    pub public_keys: usize,
    /// Symmetric keys kept in the key store.
    pub symmetric_keys: usize,
    /// Symmetric keys tried on receipt (most recently used first).
    pub receive_keys: usize,
    /// The first wait before an unroutable message is tried again (doubling, at most 5 s).
    pub retry_backoff: Duration,
}

impl Default for PssConfig {
    fn default() -> Self {
        Self {
            msg_ttl: Duration::from_secs(120),
            max_ttl: Duration::from_secs(300),
            outbox_messages: 10_000,
            outbox_bytes: 64 << 20,
            delivery_capacity: 1024,
            peer_rate: 2_000,
            peer_burst: 4_000,
            max_hops: 64,
            link_queue: 256,
            write_timeout: Duration::from_secs(10),
            cache_entries: 100_000,
            public_keys: 4096,
            symmetric_keys: 4096,
            receive_keys: 512,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

/// Counters of a node (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Messages received from peers.
    pub received: u64,
    /// Messages delivered to local handlers (each handler counts).
    pub delivered: u64,
    /// Messages written to peers' link queues (each copy counts).
    pub sent: u64,
    /// Received messages dropped as already seen.
    pub duplicates: u64,
    /// Received messages dropped as expired (or expiring too late).
    pub expired: u64,
    /// Messages dropped: outbox full.
    pub outbox_full: u64,
    /// Messages dropped: a peer above its rate.
    pub rate_limited: u64,
    /// Messages dropped: a full subscription.
    pub handler_full: u64,
    /// Messages dropped: no peer to forward to (sent ones: before they expired).
    pub no_route: u64,
    /// Messages dropped: undecodable or invalid.
    pub invalid: u64,
    /// Messages dropped: more than `max_hops` links crossed.
    pub too_many_hops: u64,
    /// Raw messages dropped: handlers for the topic, none allowing raw.
    pub raw_refused: u64,
    /// Copies not queued: a link's queue was full or closed.
    pub link_full: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    sent: AtomicU64,
    duplicates: AtomicU64,
    expired: AtomicU64,
    outbox_full: AtomicU64,
    rate_limited: AtomicU64,
    handler_full: AtomicU64,
    no_route: AtomicU64,
    invalid: AtomicU64,
    too_many_hops: AtomicU64,
    raw_refused: AtomicU64,
    link_full: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            received: get(&self.received),
            delivered: get(&self.delivered),
            sent: get(&self.sent),
            duplicates: get(&self.duplicates),
            expired: get(&self.expired),
            outbox_full: get(&self.outbox_full),
            rate_limited: get(&self.rate_limited),
            handler_full: get(&self.handler_full),
            no_route: get(&self.no_route),
            invalid: get(&self.invalid),
            too_many_hops: get(&self.too_many_hops),
            raw_refused: get(&self.raw_refused),
            link_full: get(&self.link_full),
        }
    }
}

/// A topic handler: its capabilities and the sending half of its subscription.
#[derive(Debug)]
struct Handler {
    caps: HandlerCaps,
    tx: mpsc::Sender<Delivery>,
}

/// The connected peers: the table and each link's queue.
#[derive(Debug)]
struct Router {
    table: Kademlia<u64>,
    links: HashMap<u64, mpsc::Sender<Bytes>>,
}

/// The state shared by a node's handles, link runs and outbox worker.
#[derive(Debug)]
struct Inner {
    key: NodeKey,
    addr: OverlayAddr,
    config: PssConfig,
    router: Mutex<Router>,
    handlers: Mutex<HashMap<Topic, Vec<Handler>>>,
    keys: Mutex<KeyStore>,
    cache: Mutex<ForwardCache>,
    stats: Counters,
    outbox: outbox::Outbox,
    next_link: AtomicU64,
    shutdown: watch::Sender<bool>,
}

/// Unix time in seconds.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Inner {
    /// Queues `bytes` on the links the table routes `to` to, excluding `from`; returns the
    /// number of copies queued.
    fn dispatch(&self, to: &[u8], from: Option<u64>, bytes: &Bytes) -> usize {
        let router = lock(&self.router);
        let route = router.table.route(to, from);
        let mut queued = 0;
        let mut failed = 0;
        match &route {
            Route::Broadcast(peers) => {
                for p in peers {
                    match router.links.get(p).map(|tx| tx.try_send(bytes.clone())) {
                        Some(Ok(())) => queued += 1,
                        _ => failed += 1,
                    }
                }
            }
            Route::Closest(peers) => {
                for p in peers {
                    if let Some(Ok(())) = router.links.get(p).map(|tx| tx.try_send(bytes.clone())) {
                        queued = 1;
                        break;
                    }
                    failed += 1;
                }
            }
        }
        drop(router);
        bump(&self.stats.sent, queued as u64);
        bump(&self.stats.link_full, failed);
        queued
    }
}

/// A pss node. Cheap to clone (a shared handle).
#[derive(Debug, Clone)]
pub struct Pss {
    inner: Arc<Inner>,
}

impl Pss {
    /// A node with `key`'s identity; spawns its outbox worker (call inside a Tokio runtime).
    #[must_use]
    pub fn new(key: &NodeKey, config: PssConfig) -> Self {
        let (outbox, rx) = outbox::Outbox::new(&config);
        let (shutdown, _) = watch::channel(false);
        let keys = KeyStore::new(Limits {
            public: config.public_keys,
            symmetric: config.symmetric_keys,
            receive: config.receive_keys,
        });
        let inner = Arc::new(Inner {
            key: key.clone(),
            addr: OverlayAddr::from_public_key(key.public_key()),
            router: Mutex::new(Router {
                table: Kademlia::new(OverlayAddr::from_public_key(key.public_key())),
                links: HashMap::new(),
            }),
            handlers: Mutex::new(HashMap::new()),
            keys: Mutex::new(keys),
            cache: Mutex::new(ForwardCache::new(config.cache_entries)),
            stats: Counters::default(),
            outbox,
            next_link: AtomicU64::new(0),
            shutdown,
            config,
        });
        tokio::spawn(outbox::worker(Arc::downgrade(&inner), rx));
        Self { inner }
    }

    /// The node's overlay address.
    #[must_use]
    pub fn address(&self) -> OverlayAddr {
        self.inner.addr
    }

    /// The node's public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        *self.inner.key.public_key()
    }

    /// The node's devp2p node id.
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.inner.key.id()
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PssConfig {
        &self.inner.config
    }

    /// The number of connected `pss/2` peers (entries of the routing table).
    #[must_use]
    pub fn peer_count(&self) -> usize {
        lock(&self.inner.router).table.len()
    }

    /// The overlay addresses of the connected peers.
    #[must_use]
    pub fn peers(&self) -> Vec<OverlayAddr> {
        lock(&self.inner.router)
            .table
            .peers()
            .map(|(_, a)| a)
            .collect()
    }

    /// The routing table's neighbourhood depth.
    #[must_use]
    pub fn depth(&self) -> u32 {
        lock(&self.inner.router).table.depth()
    }

    /// The devp2p protocol `pss/2` that links this node to its peers: add it to a
    /// `p2p_rlpx::Host` or a `p2p_msg::Peer`.
    #[must_use]
    pub fn protocol(&self) -> p2p_msg::Protocol {
        let inner = self.inner.clone();
        p2p_msg::Protocol::new(
            PROTOCOL_NAME,
            PROTOCOL_VERSION,
            PROTOCOL_LENGTH,
            move |info, rw| link::run(inner.clone(), info, rw),
        )
    }

    /// Stores a peer's public key for `topic`, with the address hint to send to (a prefix of
    /// its overlay address, 0 to 32 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`], [`Error::KeyStoreFull`].
    pub fn set_peer_public_key(
        &self,
        key: PublicKey,
        topic: Topic,
        hint: &[u8],
    ) -> Result<(), Error> {
        lock(&self.inner.keys).set_public(key, topic, hint)
    }

    /// Stores a symmetric key for `topic` with the address hint to send to; with `receive`,
    /// messages on the topic are also tried against it.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`], [`Error::KeyStoreFull`].
    pub fn set_symmetric_key(
        &self,
        key: SymKey,
        topic: Topic,
        hint: &[u8],
        receive: bool,
    ) -> Result<SymKeyId, Error> {
        lock(&self.inner.keys).set_symmetric(key, topic, hint, receive)
    }

    /// Sends `payload` unencrypted to the address hint `to` on `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`], [`Error::PayloadTooLarge`], [`Error::OutboxFull`],
    /// [`Error::Shutdown`].
    pub fn send_raw(&self, to: &[u8], topic: Topic, payload: Bytes) -> Result<(), Error> {
        self.inner.send_raw(to, topic, payload)
    }

    /// Sends `payload` sealed with the symmetric key `id` of `topic` (to the key's hint).
    ///
    /// # Errors
    ///
    /// As [`Transport::send`].
    pub fn send_sym(&self, id: SymKeyId, topic: Topic, payload: Bytes) -> Result<(), Error> {
        self.inner
            .send_sealed(&PeerKey::Symmetric(id), topic, payload)
    }

    /// Sends `payload` sealed to the public key `to` (stored for `topic`, with its hint).
    ///
    /// # Errors
    ///
    /// As [`Transport::send`].
    pub fn send_asym(&self, to: PublicKey, topic: Topic, payload: Bytes) -> Result<(), Error> {
        self.inner
            .send_sealed(&PeerKey::Asymmetric(to), topic, payload)
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// Messages and bytes queued in the outbox.
    #[must_use]
    pub fn outbox_len(&self) -> (usize, usize) {
        self.inner.outbox.len()
    }

    /// Stops the outbox worker and ends every link; subscriptions end too.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        lock(&self.inner.handlers).clear();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    #[must_use]
    pub fn is_shut_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }
}

impl Transport for Pss {
    fn send(&self, to: &PeerKey, topic: Topic, payload: Bytes) -> Result<(), Error> {
        self.inner.send_sealed(to, topic, payload)
    }

    fn subscribe(&self, topic: Topic, caps: HandlerCaps) -> Subscription {
        let (tx, rx) = mpsc::channel(self.inner.config.delivery_capacity.max(1));
        if self.is_shut_down() {
            return Subscription::new(topic, rx);
        }
        let mut handlers = lock(&self.inner.handlers);
        handlers.retain(|_, list| {
            list.retain(|h| !h.tx.is_closed());
            !list.is_empty()
        });
        let count: usize = handlers.values().map(Vec::len).sum();
        if count >= MAX_HANDLERS {
            tracing::warn!(%topic, "pss: too many handlers, subscription refused");
            return Subscription::new(topic, rx);
        }
        handlers
            .entry(topic)
            .or_default()
            .push(Handler { caps, tx });
        Subscription::new(topic, rx)
    }

    fn has_key(&self, key: &PeerKey, topic: Topic) -> bool {
        let keys = lock(&self.inner.keys);
        match key {
            PeerKey::Symmetric(id) => keys.symmetric(*id, topic).is_some(),
            PeerKey::Asymmetric(pk) => keys.public_hint(pk, topic).is_some(),
        }
    }

    fn add_public_key(&self, key: PublicKey, topic: Topic, hint: &[u8]) -> Result<(), Error> {
        self.set_peer_public_key(key, topic, hint)
    }
}
