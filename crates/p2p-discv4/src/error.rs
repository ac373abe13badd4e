//! The crate's error types: [`Error`] for the handle's operations and [`DecodeError`] for
//! packets from the wire.

/// Why a datagram is not a valid discv4 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The datagram is shorter than a header plus a type byte.
    #[error("packet too short ({len} bytes)")]
    TooShort {
        /// The datagram length.
        len: usize,
    },
    /// The datagram is longer than [`MAX_PACKET_SIZE`](crate::MAX_PACKET_SIZE).
    #[error("packet too large ({len} bytes)")]
    TooLarge {
        /// The datagram length.
        len: usize,
    },
    /// The leading hash does not match the rest of the packet.
    #[error("packet hash mismatch")]
    BadHash,
    /// The signature is malformed or recovers no public key.
    #[error("invalid packet signature")]
    BadSignature,
    /// The packet type byte is not one this crate knows.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// The packet body is not the RLP this packet type needs.
    #[error("malformed packet body: {0}")]
    Rlp(String),
    /// The ENR in an ENRResponse is malformed, oversized or badly signed.
    #[error("invalid node record: {0}")]
    BadRecord(String),
}

impl From<rlp::DecoderError> for DecodeError {
    fn from(e: rlp::DecoderError) -> Self {
        Self::Rlp(e.to_string())
    }
}

/// Everything that can go wrong in discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding or using the UDP socket failed.
    #[error("discovery socket error")]
    Io(#[from] std::io::Error),
    /// The remote node did not answer in time.
    #[error("no reply from the node in time")]
    Timeout,
    /// The discovery service has stopped (shut down, or every handle dropped).
    #[error("the discovery service has stopped")]
    Stopped,
    /// Too many requests are waiting for replies; try again later.
    #[error("too many pending requests")]
    Busy,
    /// The local node record could not be built or updated (for example, over 300 bytes).
    #[error("local node record: {0}")]
    Record(#[from] enr::Error),
    /// A remote node record does not belong to the node that sent it.
    #[error("node record does not match the node")]
    RecordMismatch,
    /// A node id is not a valid secp256k1 public key.
    #[error("invalid node id")]
    InvalidNodeId,
}

impl Error {
    /// Whether the error is a timeout waiting for a remote node.
    #[must_use]
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// Whether the service is gone, so retrying can never succeed.
    #[must_use]
    pub const fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped)
    }

    /// Whether retrying later may succeed.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Busy)
    }
}
