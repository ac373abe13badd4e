//! The crate's error type.

/// Everything that can go wrong while finding peers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A node record's `eth` entry is not well-formed RLP of `[[fork_hash, fork_next], ...]`.
    #[error("malformed ENR `eth` entry: {0}")]
    BadEthEntry(rlp::DecoderError),
    /// A node record lacks an IP address or a TCP port, so it cannot be dialed.
    #[error("node record has no dialable RLPx endpoint")]
    NoEndpoint,
    /// A node record's public key is not a valid secp256k1 point.
    #[error("node record has an invalid public key")]
    BadPublicKey,
    // discv5 (`crate::v5`).
    /// A node record's text or bytes are not a valid, correctly signed "v4" record.
    #[error("invalid node record: {0}")]
    BadRecord(String),
    /// The node key could not be turned into discv5's key type.
    #[error("discv5 key: {0}")]
    Discv5Key(String),
    /// The local record could not be built or updated (a reserved key, over 300 bytes).
    #[error("discv5 local record: {0}")]
    Discv5Record(String),
    /// The discv5 socket could not be bound.
    #[error("cannot bind discv5 socket {addr}")]
    Discv5Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The discv5 service did not start.
    #[error("discv5 did not start: {0}")]
    Discv5Start(String),
    /// discv5 refused a bootnode (no UDP address of the listen family, bucket full).
    #[error("discv5 refused the bootnode: {0}")]
    BadBootnode(String),
    /// A discv5 query failed.
    #[error("discv5 query failed: {0}")]
    Discv5Query(String),
    /// A discv5 lookup did not finish in time.
    #[error("discv5 lookup timed out after {0:?}")]
    Discv5Timeout(std::time::Duration),
    /// The discv5 node has been shut down.
    #[error("discv5 node is shut down")]
    Discv5Shutdown,
    // The peer pool.
    /// The pool's RLPx listener could not be bound.
    #[error("cannot bind the pool's RLPx host")]
    Bind(#[source] p2p_rlpx::Error),
}

impl Error {
    /// Whether a discv5 operation failed for lack of time (a retry may succeed).
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Discv5Timeout(_))
    }
}
