//! Errors of the WebSocket transport and their mapping onto [`rpc_client::Error`].

use std::time::Duration;

use tokio_tungstenite::tungstenite;

/// Everything that can go wrong while dialing or using a WebSocket connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL does not parse or lacks a host.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// The URL scheme is not `ws` or `wss`.
    #[error("unsupported url scheme {0:?} (expected ws or wss)")]
    UnsupportedScheme(String),
    /// A handshake header name or value is invalid.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// The TLS configuration could not be built, or the server name is invalid.
    #[error("tls setup failed: {0}")]
    Tls(String),
    /// A socket or TLS I/O error.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// The server answered the upgrade request with a non-101 status.
    #[error("websocket handshake rejected with http status {status}")]
    Handshake {
        /// The HTTP status code.
        status: u16,
        /// The response body, if any (lossy UTF-8).
        body: String,
    },
    /// The handshake auth hook failed.
    #[error("auth hook failed: {0}")]
    Auth(String),
    /// A WebSocket protocol error.
    #[error("websocket error")]
    Ws(#[source] Box<tungstenite::Error>),
    /// No pong (or any other frame) arrived within the deadline after an idle ping.
    #[error("no pong within {0:?} after ping")]
    PongTimeout(Duration),
}

impl Error {
    /// Whether the server refused the upgrade (see [`Error::Handshake`]).
    pub fn is_handshake(&self) -> bool {
        matches!(self, Self::Handshake { .. })
    }

    /// Whether a keepalive deadline expired.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::PongTimeout(_))
    }

    /// The handshake status, for a refused upgrade.
    pub fn handshake_status(&self) -> Option<u16> {
        match self {
            Self::Handshake { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Maps a dial failure onto the client error.
pub(crate) fn connect_error(e: Error) -> rpc_client::Error {
    rpc_client::Error::connect(e)
}

/// Maps a tungstenite failure during I/O onto the client error (size limits become
/// [`rpc_client::Error::MessageTooLarge`]).
pub(crate) fn io_error(e: tungstenite::Error) -> rpc_client::Error {
    match e {
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => rpc_client::Error::MessageTooLarge {
            size: size as u64,
            limit: max_size as u64,
        },
        other => rpc_client::Error::transport(Error::Ws(Box::new(other))),
    }
}

impl From<Error> for rpc_client::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Ws(w) => io_error(*w),
            other => Self::transport(other),
        }
    }
}
