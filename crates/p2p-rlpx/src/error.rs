//! The crate's error type: one [`Error`] enum for every RLPx failure, plus
//! [`ParseEnodeError`] for malformed `enode://` URLs.

use std::io;

/// Everything that can go wrong in the RLPx transport.
///
/// Errors caused by a remote peer (bad handshakes, tampered MACs, oversized frames) are typed
/// variants, never panics. Use the `is_*` predicates rather than matching where possible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket or file operation failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// An operation did not finish in time.
    #[error("{what} timed out")]
    Timeout {
        /// What timed out (for example "handshake" or "frame write").
        what: &'static str,
    },
    /// The remote closed the connection (or it was closed locally).
    #[error("connection closed")]
    Closed,
    /// A public key is not a valid secp256k1 point.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A secret key is not a valid secp256k1 scalar.
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// An ECIES ciphertext is shorter than its fixed overhead.
    #[error("ecies message too short: {len} bytes")]
    EciesTooShort {
        /// The length received.
        len: usize,
    },
    /// The HMAC tag of an ECIES ciphertext does not match.
    #[error("ecies tag mismatch")]
    EciesTagMismatch,
    /// A handshake message (auth or ack) declares a size above the limit.
    #[error("handshake message too big: {size} bytes (limit {limit})")]
    HandshakeTooBig {
        /// The declared size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A handshake message decrypted but its body is malformed.
    #[error("invalid handshake message: {0}")]
    InvalidHandshake(&'static str),
    /// The auth signature is malformed or does not recover a public key.
    #[error("invalid auth signature")]
    InvalidSignature,
    /// The MAC of a frame header does not match.
    #[error("frame header mac mismatch")]
    HeaderMacMismatch,
    /// The MAC of a frame body does not match.
    #[error("frame mac mismatch")]
    FrameMacMismatch,
    /// A frame declares a size above the limit.
    #[error("frame too big: {size} bytes (limit {limit})")]
    FrameTooBig {
        /// The declared frame size.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A frame carries no data at all (not even a message code).
    #[error("empty frame")]
    EmptyFrame,
    /// A message has an empty (compressed) payload where snappy data was expected.
    #[error("empty message")]
    EmptyMessage,
    /// The message code is not a canonical RLP integer that fits in 64 bits.
    #[error("invalid message code")]
    InvalidMessageCode,
    /// A message is, or decompresses to, 16 MiB or more.
    #[error("message length >= 16MB: {size} bytes")]
    MessageTooBig {
        /// The (declared) uncompressed size.
        size: usize,
    },
    /// Snappy decompression or compression failed.
    #[error("snappy")]
    Snappy(#[from] snap::Error),
    /// A node key file could not be read or written.
    #[error("node key file {path}")]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A node key file does not hold 64 hex digits of a valid key.
    #[error("invalid node key: {0}")]
    InvalidKey(&'static str),
    /// An `enode://` URL is malformed.
    #[error(transparent)]
    Enode(#[from] ParseEnodeError),
    /// The host has reached its peer limit.
    #[error("too many peers")]
    TooManyPeers,
    /// The remote is this node itself.
    #[error("connected to self")]
    ConnectedToSelf,
    /// A connection to this node is already up.
    #[error("already connected")]
    AlreadyConnected,
    /// The host was shut down.
    #[error("host shut down")]
    ShutDown,
}

impl Error {
    /// Whether an operation timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Io(e) => e.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// Whether a MAC or ECIES tag check failed (a tampered or corrupt stream, or wrong keys).
    #[must_use]
    pub fn is_mac_mismatch(&self) -> bool {
        matches!(
            self,
            Self::HeaderMacMismatch | Self::FrameMacMismatch | Self::EciesTagMismatch
        )
    }

    /// Whether a size limit was exceeded (handshake, frame or message).
    #[must_use]
    pub fn is_too_big(&self) -> bool {
        matches!(
            self,
            Self::HandshakeTooBig { .. } | Self::FrameTooBig { .. } | Self::MessageTooBig { .. }
        )
    }

    /// Whether the connection was closed or reset.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        match self {
            Self::Closed => true,
            Self::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// Whether the remote sent a malformed handshake (bad ECIES, bad body, bad key or
    /// signature, oversized message).
    #[must_use]
    pub fn is_handshake(&self) -> bool {
        matches!(
            self,
            Self::EciesTooShort { .. }
                | Self::EciesTagMismatch
                | Self::HandshakeTooBig { .. }
                | Self::InvalidHandshake(_)
                | Self::InvalidSignature
                | Self::InvalidPublicKey
        )
    }

    /// Whether the remote violated the frame protocol (bad MAC, size, code or compression).
    #[must_use]
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            Self::HeaderMacMismatch
                | Self::FrameMacMismatch
                | Self::FrameTooBig { .. }
                | Self::EmptyFrame
                | Self::EmptyMessage
                | Self::InvalidMessageCode
                | Self::MessageTooBig { .. }
                | Self::Snappy(_)
        )
    }
}

/// Why an `enode://` URL could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseEnodeError {
    /// The URL does not start with `enode://`.
    #[error("invalid enode url: missing `enode://` scheme")]
    MissingScheme,
    /// There is no `@` between the node id and the address.
    #[error("invalid enode url: missing `@host:port`")]
    MissingAddress,
    /// The node id is not 128 hex digits.
    #[error("invalid enode url: node id must be 128 hex digits, got {len} characters")]
    IdLength {
        /// How many characters were given.
        len: usize,
    },
    /// The node id has non-hex characters.
    #[error("invalid enode url: node id is not hex")]
    IdNotHex,
    /// The node id is not a point on secp256k1.
    #[error("invalid enode url: node id is not a valid secp256k1 public key")]
    IdNotOnCurve,
    /// The host part is missing or is not an IP address.
    #[error("invalid enode url: host `{0}` is not an ip address")]
    InvalidHost(String),
    /// The port is missing.
    #[error("invalid enode url: missing port")]
    MissingPort,
    /// The port is not a number in 0..=65535.
    #[error("invalid enode url: invalid port `{0}`")]
    InvalidPort(String),
    /// The query string is not `discport=N`.
    #[error("invalid enode url: invalid query `{0}` (expected `discport=N`)")]
    InvalidQuery(String),
}
