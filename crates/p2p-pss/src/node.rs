//! The pss node: routing table, forward cache, key store, outbox, handlers, and the devp2p
//! protocol `pss/2` that carries its messages between peers.
//!
//! SKELETON: to be written (helper "router").

use std::time::Duration;

use bytes::Bytes;
use p2p_rlpx::NodeKey;
use secp256k1::PublicKey;

use crate::{
    Error, HandlerCaps, OverlayAddr, PeerKey, Subscription, SymKey, SymKeyId, Topic, Transport,
};

/// The devp2p protocol name of pss.
pub const PROTOCOL_NAME: &str = "pss";
/// The devp2p protocol version of pss.
pub const PROTOCOL_VERSION: u32 = 2;

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
        }
    }
}

/// Counters of a node (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages received from peers.
    pub received: u64,
    /// Messages delivered to local handlers.
    pub delivered: u64,
    /// Messages written to peers (each copy counts).
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
    /// Messages dropped: no peer to forward to before they expired.
    pub no_route: u64,
    /// Messages dropped: undecodable or invalid.
    pub invalid: u64,
}

/// A pss node. Cheap to clone (a shared handle).
#[derive(Debug, Clone)]
pub struct Pss {
    _private: (),
}

impl Pss {
    /// A node with `key`'s identity; spawns its outbox worker (call inside a Tokio runtime).
    #[must_use]
    pub fn new(key: &NodeKey, config: PssConfig) -> Self {
        let _ = (key, config);
        unimplemented!("skeleton")
    }

    /// The node's overlay address.
    #[must_use]
    pub fn address(&self) -> OverlayAddr {
        unimplemented!("skeleton")
    }

    /// The node's public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        unimplemented!("skeleton")
    }

    /// The devp2p protocol `pss/2` that links this node to its peers: add it to a
    /// `p2p_rlpx::Host` or a `p2p_msg::Peer`.
    #[must_use]
    pub fn protocol(&self) -> p2p_msg::Protocol {
        unimplemented!("skeleton")
    }

    /// Stores a peer's public key for `topic`, with the address hint to send to (a prefix of
    /// its overlay address, 0 to 32 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`].
    pub fn set_peer_public_key(
        &self,
        key: PublicKey,
        topic: Topic,
        hint: &[u8],
    ) -> Result<(), Error> {
        let _ = (key, topic, hint);
        unimplemented!("skeleton")
    }

    /// Stores a symmetric key for `topic` with the address hint to send to; with `receive`,
    /// messages on the topic are also tried against it.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`].
    pub fn set_symmetric_key(
        &self,
        key: SymKey,
        topic: Topic,
        hint: &[u8],
        receive: bool,
    ) -> Result<SymKeyId, Error> {
        let _ = (key, topic, hint, receive);
        unimplemented!("skeleton")
    }

    /// Sends `payload` unencrypted to the address hint `to` on `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`], [`Error::PayloadTooLarge`], [`Error::OutboxFull`].
    pub fn send_raw(&self, to: &[u8], topic: Topic, payload: Bytes) -> Result<(), Error> {
        let _ = (to, topic, payload);
        unimplemented!("skeleton")
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        unimplemented!("skeleton")
    }

    /// Stops the outbox worker and ends every link.
    pub fn shutdown(&self) {
        unimplemented!("skeleton")
    }
}

impl Transport for Pss {
    fn send(&self, to: &PeerKey, topic: Topic, payload: Bytes) -> Result<(), Error> {
        let _ = (to, topic, payload);
        unimplemented!("skeleton")
    }

    fn subscribe(&self, topic: Topic, caps: HandlerCaps) -> Subscription {
        let _ = (topic, caps);
        unimplemented!("skeleton")
    }

    fn has_key(&self, key: &PeerKey, topic: Topic) -> bool {
        let _ = (key, topic);
        unimplemented!("skeleton")
    }

    fn add_public_key(&self, key: PublicKey, topic: Topic, hint: &[u8]) -> Result<(), Error> {
        self.set_peer_public_key(key, topic, hint)
    }
}
