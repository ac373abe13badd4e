//! The crate's error type.

use crate::{PeerKey, Topic};

/// Errors of pss: decoding, crypto, keys, routing and the protocol adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message from the wire did not decode.
    #[error("invalid pss message: {0}")]
    InvalidMessage(String),

    /// A message or payload is larger than allowed.
    #[error("pss payload too large: {size} bytes, limit {limit}")]
    PayloadTooLarge {
        /// The size.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// An address hint longer than a full address.
    #[error("address hint of {0} bytes: at most 32")]
    HintTooLong(usize),

    /// A sealed payload did not open with the key tried.
    #[error("pss: message does not open with this key")]
    Undecryptable,

    /// No key for the peer on this topic in the key store.
    #[error("pss: no key {key:?} for topic {topic}")]
    UnknownKey {
        /// The key.
        key: PeerKey,
        /// The topic.
        topic: Topic,
    },

    /// The key store holds as many keys of this kind as allowed; the key was not stored.
    #[error("pss key store full: {limit} {kind} keys")]
    KeyStoreFull {
        /// `public` or `symmetric`.
        kind: &'static str,
        /// The limit.
        limit: usize,
    },

    /// The outbox is full (in messages or bytes); the message was not queued.
    #[error("pss outbox full: {messages} messages, {bytes} bytes queued")]
    OutboxFull {
        /// Messages queued.
        messages: usize,
        /// Bytes queued.
        bytes: usize,
    },

    /// `register`: a protocol with neither mode enabled.
    #[error("specify at least one of asymmetric or symmetric messaging mode")]
    NoMode,

    /// A message arrived in a mode the protocol does not enable.
    #[error("invalid protocol encryption: {mode} messages are disabled for this protocol")]
    ModeDisabled {
        /// `symmetric` or `asymmetric`.
        mode: &'static str,
    },

    /// `add_peer` for a key that already has a virtual peer.
    #[error("pss peer {0:?} already exists on this topic")]
    PeerExists(PeerKey),

    /// `remove_peer` for a key that has no virtual peer.
    #[error("no pss peer {0:?} on this topic")]
    UnknownPeer(PeerKey),

    /// A read or write on the reader-writer of a virtual peer that was removed
    /// (`remove_peer`, the run's end, or the adapter dropped): the "connection closed" error.
    ///
    /// Reader-writers return it wrapped as `p2p_msg::Error::Transport`, so that a protocol's
    /// run function ends; `adapter::is_peer_removed` recognises it there.
    #[error("pss peer {0:?} removed: connection closed")]
    PeerRemoved(PeerKey),

    /// No running virtual peer has this node id (for example for `Ping::ping`).
    #[error("no running pss peer with node id {0}")]
    NoRunningPeer(p2p_msg::NodeId),

    /// The pss node has shut down.
    #[error("pss node shut down")]
    Shutdown,

    /// A failure of the message layer.
    #[error(transparent)]
    Msg(#[from] p2p_msg::Error),
}
