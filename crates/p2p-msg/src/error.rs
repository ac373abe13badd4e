//! The crate's error type.
//!
//! One enum, [`Error`], covers the message layer (pipe, decoding, `expect_msg`), the base protocol
//! (Hello checks, Disconnect) and the multiplexer (code ranges, shutdown).
//! Transports below the multiplexer (RLPx) wrap their own failures with [`Error::transport`].

use crate::mux::DisconnectReason;

/// A boxed error from a transport below the message layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the message layer, the base protocol and the multiplexer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A read or write on a closed [`MsgPipe`](crate::MsgPipe).
    #[error("p2p: read or write on closed message pipe")]
    PipeClosed,

    /// A message payload did not decode as the expected RLP value.
    ///
    /// The text names the message code (hex) and size, then the RLP error, for example
    /// `invalid message: (code 0x0) (size 4) RlpExpectedToBeList`.
    /// A protocol returning this error gets its peer disconnected with
    /// [`DisconnectReason::ProtocolError`].
    #[error("invalid message: (code {code:#x}) (size {size}) {rlp}")]
    InvalidMessage {
        /// The message code.
        code: u64,
        /// The payload size.
        size: u32,
        /// The RLP decoder error (kept in the message text, as the reference does).
        rlp: rlp::DecoderError,
    },

    /// A protocol wrote a message code at or beyond its length.
    ///
    /// Returned from [`ProtoRw`](crate::mux::ProtoRw) writes; a protocol returning it gets its peer
    /// disconnected with [`DisconnectReason::ProtocolError`].
    #[error("invalid message code {code}: not handled (protocol length {length})")]
    InvalidMessageCode {
        /// The relative code the protocol tried to write.
        code: u64,
        /// The protocol's number of codes.
        length: u64,
    },

    /// `expect_msg`: the message code differs.
    #[error("message code mismatch: got {got}, expected {expected}")]
    CodeMismatch {
        /// The code received.
        got: u64,
        /// The code expected.
        expected: u64,
    },

    /// `expect_msg`: the payload size differs.
    #[error("message size mismatch: got {got}, want {want}")]
    SizeMismatch {
        /// The size received.
        got: u32,
        /// The size expected.
        want: u64,
    },

    /// `expect_msg`: the payload bytes differ (both sides hex-encoded).
    #[error("message payload mismatch:\ngot: {got}\nwant: {want}")]
    PayloadMismatch {
        /// The payload received, hex.
        got: String,
        /// The payload expected, hex.
        want: String,
    },

    /// The remote sent a Disconnect with this reason.
    #[error("remote disconnected: {0}")]
    Disconnected(DisconnectReason),

    /// The local side decided to disconnect with this reason (for example a failed identity check).
    ///
    /// A protocol may return this to disconnect its peer with a chosen reason.
    #[error("{0}")]
    Disconnect(DisconnectReason),

    /// A received Hello (or other base-protocol message) exceeded its size limit.
    #[error("message too big: {size} bytes, limit {limit}")]
    MessageTooBig {
        /// The declared size.
        size: u32,
        /// The limit.
        limit: u32,
    },

    /// The first message of the connection was neither Hello nor Disconnect.
    #[error("expected handshake, got {code:x}")]
    ExpectedHandshake {
        /// The code received.
        code: u64,
    },

    /// A received message code belongs to no negotiated protocol.
    #[error("msg code out of range: {0}")]
    CodeOutOfRange(u64),

    /// The peer is shutting down; reads and writes of its protocols fail with this error.
    #[error("peer is shutting down")]
    ShuttingDown,

    /// An operation did not complete in time.
    #[error("timeout: {0}")]
    Timeout(&'static str),

    /// A failure of the transport below the message layer.
    #[error(transparent)]
    Transport(BoxError),
}

impl Error {
    /// Wraps a transport error.
    pub fn transport(err: impl Into<BoxError>) -> Self {
        Self::Transport(err.into())
    }

    /// Whether this is [`Error::PipeClosed`].
    pub const fn is_pipe_closed(&self) -> bool {
        matches!(self, Self::PipeClosed)
    }

    /// Whether this is a timeout.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether this error ends a connection with a known disconnect reason
    /// ([`Error::Disconnected`] from the remote or [`Error::Disconnect`] chosen locally).
    pub const fn is_disconnect(&self) -> bool {
        matches!(self, Self::Disconnected(_) | Self::Disconnect(_))
    }

    /// Whether the remote sent a Disconnect.
    pub const fn is_remote_disconnect(&self) -> bool {
        matches!(self, Self::Disconnected(_))
    }

    /// Whether this is an invalid message (bad payload or a code out of the protocol's range).
    pub const fn is_invalid_message(&self) -> bool {
        matches!(
            self,
            Self::InvalidMessage { .. } | Self::InvalidMessageCode { .. }
        )
    }

    /// Whether this is a transport failure.
    pub const fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_))
    }

    /// Whether the peer is shutting down.
    pub const fn is_shutting_down(&self) -> bool {
        matches!(self, Self::ShuttingDown)
    }

    /// The disconnect reason carried by this error, if it carries one.
    pub const fn reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Disconnected(r) | Self::Disconnect(r) => Some(*r),
            _ => None,
        }
    }

    /// The reason a peer disconnects with when a protocol returns this error.
    ///
    /// A carried reason is used as is; invalid messages give
    /// [`DisconnectReason::ProtocolError`]; anything else gives
    /// [`DisconnectReason::SubprotocolError`] (geth's `discReasonForError`).
    pub const fn protocol_disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::Disconnected(r) | Self::Disconnect(r) => *r,
            Self::InvalidMessage { .. } | Self::InvalidMessageCode { .. } => {
                DisconnectReason::ProtocolError
            }
            _ => DisconnectReason::SubprotocolError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let e = Error::InvalidMessage {
            code: 0,
            size: 4,
            rlp: rlp::DecoderError::RlpExpectedToBeList,
        };
        assert_eq!(
            e.to_string(),
            "invalid message: (code 0x0) (size 4) RlpExpectedToBeList"
        );
        assert_eq!(
            Error::ExpectedHandshake { code: 0x989898 }.to_string(),
            "expected handshake, got 989898"
        );
        assert_eq!(
            Error::PipeClosed.to_string(),
            "p2p: read or write on closed message pipe"
        );
        assert_eq!(
            Error::CodeOutOfRange(99).to_string(),
            "msg code out of range: 99"
        );
    }

    #[test]
    fn reasons_for_protocol_errors() {
        let invalid = Error::InvalidMessageCode { code: 5, length: 5 };
        assert_eq!(
            invalid.protocol_disconnect_reason(),
            DisconnectReason::ProtocolError
        );
        assert_eq!(
            Error::Timeout("x").protocol_disconnect_reason(),
            DisconnectReason::SubprotocolError
        );
        assert_eq!(
            Error::Disconnect(DisconnectReason::UselessPeer).protocol_disconnect_reason(),
            DisconnectReason::UselessPeer
        );
        assert!(Error::Disconnected(DisconnectReason::Quitting).is_remote_disconnect());
        assert!(Error::transport(std::io::Error::other("x")).is_transport());
    }
}
