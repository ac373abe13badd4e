//! What the protocol adapter needs from pss: sending to a key on a topic and subscribing to a
//! topic. [`Pss`](crate::Pss) implements [`Transport`]; tests of the adapter can use an in-memory
//! fake.

use std::fmt;

use bytes::Bytes;
use secp256k1::PublicKey;
use tokio::sync::mpsc;

use crate::{Error, SymKeyId, Topic};

/// How a message was (or is to be) sealed, with the key that identifies the other side.
///
/// With [`Mode::Raw`] a message has no key (and no sender identity).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Unencrypted; delivered only to handlers that allow raw messages.
    Raw,
    /// AES-256-GCM under a shared key; the id names the key in the local key store.
    Symmetric(SymKeyId),
    /// ECIES to the recipient's key and signed by the sender; the key is the sender's (on
    /// receipt) or the recipient's (on sending).
    Asymmetric(PublicKey),
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Raw => f.write_str("Raw"),
            Self::Symmetric(id) => write!(f, "Symmetric({id})"),
            Self::Asymmetric(key) => {
                write!(f, "Asymmetric(0x{}…)", hex::encode(&key.serialize()[..5]))
            }
        }
    }
}

/// The identity of a virtual peer of the protocol adapter: the key its messages are sealed
/// with. Together with the topic this is the whole identity (the reference's (topic, mode, key
/// id) triple).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    /// A shared symmetric key.
    Symmetric(SymKeyId),
    /// The remote's public key.
    Asymmetric(PublicKey),
}

impl PeerKey {
    /// The message mode of this key.
    #[must_use]
    pub fn mode(&self) -> Mode {
        match *self {
            Self::Symmetric(id) => Mode::Symmetric(id),
            Self::Asymmetric(key) => Mode::Asymmetric(key),
        }
    }

    /// The key of a mode (`None` for [`Mode::Raw`]).
    #[must_use]
    pub fn from_mode(mode: Mode) -> Option<Self> {
        match mode {
            Mode::Raw => None,
            Mode::Symmetric(id) => Some(Self::Symmetric(id)),
            Mode::Asymmetric(key) => Some(Self::Asymmetric(key)),
        }
    }

    /// Whether this is a symmetric key.
    #[must_use]
    pub fn is_symmetric(&self) -> bool {
        matches!(self, Self::Symmetric(_))
    }
}

impl fmt::Debug for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.mode(), f)
    }
}

/// Which messages a topic handler accepts beyond the default (encrypted messages addressed to
/// this node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandlerCaps {
    /// Also accept raw (unencrypted) messages.
    pub raw: bool,
    /// Also accept messages addressed to this node's neighbourhood (proximity to the address
    /// hint at least the routing table's depth), not only those whose hint is a prefix of this
    /// node's address.
    pub prox: bool,
}

/// A message delivered to a topic handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The topic.
    pub topic: Topic,
    /// How it was sealed, with the sender's key (asymmetric) or the id of the key that opened it
    /// (symmetric).
    pub mode: Mode,
    /// The address hint it was sent to.
    pub to: Bytes,
    /// How many links it crossed before it arrived (0: sent by this node).
    pub hops: u8,
    /// The payload.
    pub payload: Bytes,
}

/// The receiving end of a topic handler: deliveries in arrival order.
///
/// Bounded: when it is full, further deliveries to it are dropped (and counted by the sender),
/// as pss drops what it cannot carry; the router never waits for a slow handler.
#[derive(Debug)]
pub struct Subscription {
    topic: Topic,
    rx: mpsc::Receiver<Delivery>,
}

impl Subscription {
    /// A subscription reading from `rx` (for implementations of [`Transport`]).
    #[must_use]
    pub fn new(topic: Topic, rx: mpsc::Receiver<Delivery>) -> Self {
        Self { topic, rx }
    }

    /// The topic.
    #[must_use]
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// The next delivery; `None` once the transport has shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

/// Sending and subscribing: what the protocol adapter needs from a pss node.
pub trait Transport: Send + Sync + 'static {
    /// Seals `payload` for `to` and queues it; never waits for delivery (pss is datagram-like).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] if `to` is not in the key store for `topic`, [`Error::OutboxFull`]
    /// when the outbox has no room, [`Error::PayloadTooLarge`] above the size limit.
    fn send(&self, to: &PeerKey, topic: Topic, payload: Bytes) -> Result<(), Error>;

    /// Registers a handler for `topic`; deliveries arrive on the returned subscription.
    fn subscribe(&self, topic: Topic, caps: HandlerCaps) -> Subscription;

    /// Whether `key` is in the key store for `topic` (so that messages can be sent to it).
    fn has_key(&self, key: &PeerKey, topic: Topic) -> bool;

    /// Stores a peer's public key for `topic` with the address hint to send to (what the
    /// adapter does for an asymmetric sender it did not know, when it accepts unknown senders).
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`].
    fn add_public_key(&self, key: PublicKey, topic: Topic, hint: &[u8]) -> Result<(), Error>;
}
