//! The crate's error type.
//!
//! One [`Error`] enum covers malformed messages from a peer, Status handshake failures (each check has its own
//! variant so that callers can tell a wrong network from a stale peer), request failures (timeouts, oversized or
//! unrequested replies) and failures of the message layer or the local store underneath.

use primitive_types::H256;

use crate::forkid::ForkIdError;

/// Errors of `eth-wire`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message payload is not valid RLP for its code.
    #[error("invalid {message} message: {source}")]
    Decode {
        /// The message name (for example `"BlockHeaders"`).
        message: &'static str,
        /// The RLP error.
        source: rlp::DecoderError,
    },
    /// A message code that the negotiated eth version does not define.
    #[error("message code {code:#x} is not defined in eth/{version}")]
    UnknownCode {
        /// The code, relative to the eth protocol's offset.
        code: u64,
        /// The negotiated version.
        version: u8,
    },
    /// A message larger than the eth limit (10 MiB).
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    MessageTooBig {
        /// The size announced by the transport.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The first message of the connection was not a Status.
    #[error("expected status (code 0x00) first, got code {code:#x}")]
    NotStatus {
        /// The code received.
        code: u64,
    },
    /// A second Status after the handshake.
    #[error("unexpected status message after the handshake")]
    UnexpectedStatus,
    /// The remote Status has another eth version than the one negotiated in Hello.
    #[error("eth version mismatch: remote status says {remote}, negotiated {local}")]
    VersionMismatch {
        /// Version in the remote Status.
        remote: u64,
        /// Version negotiated by the capability exchange.
        local: u8,
    },
    /// The remote is on another network.
    #[error("network id mismatch: remote {remote}, local {local}")]
    NetworkMismatch {
        /// Remote network id.
        remote: u64,
        /// Local network id.
        local: u64,
    },
    /// The remote has another genesis block.
    #[error("genesis mismatch: remote {remote:?}, local {local:?}")]
    GenesisMismatch {
        /// Remote genesis hash.
        remote: H256,
        /// Local genesis hash.
        local: H256,
    },
    /// The remote fork id is incompatible (EIP-2124).
    #[error("fork id rejected: {0}")]
    ForkId(#[from] ForkIdError),
    /// The remote announced an invalid block range (eth/69+ Status or BlockRangeUpdate): earliest above latest,
    /// or a zero latest hash.
    #[error("invalid block range {earliest}..={latest}: {reason}")]
    InvalidBlockRange {
        /// The announced earliest block.
        earliest: u64,
        /// The announced latest block.
        latest: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An eth/70 paginated Receipts reply broke the pagination rules (an empty or cut-to-nothing page flagged
    /// incomplete, more pages than allowed).
    #[error("invalid paginated receipts reply: {0}")]
    ReceiptPage(&'static str),
    /// The Status exchange did not complete in time.
    #[error("status handshake timed out after {0:?}")]
    HandshakeTimeout(std::time::Duration),
    /// A request got no reply in time.
    #[error("{request} request {id} timed out after {after:?}")]
    RequestTimeout {
        /// The request name.
        request: &'static str,
        /// The request id.
        id: u64,
        /// The timeout that expired.
        after: std::time::Duration,
    },
    /// A reply carries more items than were requested or than the limit allows.
    #[error("{message} reply has {got} items, at most {max} allowed")]
    TooManyItems {
        /// The reply name.
        message: &'static str,
        /// Items received.
        got: usize,
        /// Items allowed.
        max: usize,
    },
    /// The reply to a request had another message type than expected.
    #[error("request {id} expected a {expected} reply, got {got}")]
    WrongReply {
        /// The request id.
        id: u64,
        /// The reply expected.
        expected: &'static str,
        /// The reply received.
        got: &'static str,
    },
    /// The connection is closed (the driver stopped, the remote left or the transport failed).
    #[error("eth connection closed")]
    Closed,
    /// The message layer failed (transport error, disconnect).
    #[error("message layer: {0}")]
    Msg(#[from] p2p_msg::Error),
    /// The local chain store failed while serving a request.
    #[error("chain store: {0}")]
    Store(#[source] chain_types::Error),
}

impl Error {
    /// Builds an [`Error::Decode`].
    pub(crate) const fn decode(message: &'static str, source: rlp::DecoderError) -> Self {
        Self::Decode { message, source }
    }

    /// Whether a request or the handshake timed out.
    pub const fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::RequestTimeout { .. } | Self::HandshakeTimeout(_)
        ) || matches!(self, Self::Msg(e) if e.is_timeout())
    }

    /// Whether the remote sent something malformed or out of protocol (the peer should be dropped with
    /// a protocol error).
    pub const fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            Self::Decode { .. }
                | Self::UnknownCode { .. }
                | Self::MessageTooBig { .. }
                | Self::NotStatus { .. }
                | Self::UnexpectedStatus
                | Self::TooManyItems { .. }
                | Self::WrongReply { .. }
                | Self::InvalidBlockRange { .. }
                | Self::ReceiptPage(_)
        )
    }

    /// Whether the Status handshake found the remote incompatible (version, network, genesis, fork id).
    pub const fn is_incompatible(&self) -> bool {
        matches!(
            self,
            Self::VersionMismatch { .. }
                | Self::NetworkMismatch { .. }
                | Self::GenesisMismatch { .. }
                | Self::ForkId(_)
        )
    }

    /// Whether the connection is gone (closed locally, by the remote, or by a transport failure).
    pub const fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
            || matches!(self, Self::Msg(e) if e.is_disconnect() || e.is_pipe_closed())
    }

    /// The disconnect reason to send to the remote when this error ends a connection.
    pub const fn disconnect_reason(&self) -> p2p_msg::DisconnectReason {
        use p2p_msg::DisconnectReason as R;
        match self {
            Self::Msg(e) => e.protocol_disconnect_reason(),
            Self::HandshakeTimeout(_) | Self::RequestTimeout { .. } => R::ReadTimeout,
            Self::Closed => R::Requested,
            _ => R::SubprotocolError,
        }
    }
}

impl From<Error> for chain_types::Error {
    fn from(e: Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_closed() {
            Self::Disconnected
        } else {
            Self::Source(Box::new(e))
        }
    }
}
