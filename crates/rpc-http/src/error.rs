//! Errors of the HTTP transport and their mapping onto [`rpc_client::Error`].

/// Everything that can go wrong while configuring or using the HTTP transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL does not parse or is not `http`/`https`.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// A header name or value is invalid.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A JWT secret is not 32 bytes of hex.
    #[error("invalid jwt secret: {0}")]
    InvalidSecret(String),
    /// The auth hook failed.
    #[error("auth hook failed: {0}")]
    Auth(String),
    /// The HTTP client failed (connect, TLS, I/O, decompression).
    #[error("http request failed")]
    Request(#[source] reqwest::Error),
    /// The response body exceeds the configured limit.
    #[error("response body of {size} bytes exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The body's size: its announced `Content-Length`, or, without one, the bytes received
        /// when the limit was crossed (a lower bound).
        size: u64,
        /// The configured limit.
        limit: u64,
    },
}

impl Error {
    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Request(e) if e.is_timeout())
    }

    /// Whether the connection could not be made.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Request(e) if e.is_connect())
    }
}

impl From<Error> for rpc_client::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Request(r) if r.is_timeout() => Self::Timeout,
            Error::Request(r) if r.is_connect() => Self::connect(Error::Request(r)),
            Error::ResponseTooLarge { size, limit } => Self::MessageTooLarge { size, limit },
            other => Self::transport(other),
        }
    }
}
