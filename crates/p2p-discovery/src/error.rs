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
    // The peer pool.
    /// The pool's RLPx listener could not be bound.
    #[error("cannot bind the pool's RLPx host")]
    Bind(#[source] p2p_rlpx::Error),
}
