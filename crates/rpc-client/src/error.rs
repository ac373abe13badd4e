//! Errors of the JSON-RPC client: the server's error object, HTTP status errors, transport
//! failures, timeouts, and the non-terminal subscription markers.

use std::{fmt, sync::Arc, time::Duration};

use serde::Deserialize;
use serde_json::value::RawValue;

/// A shared, cloneable cause (a transport or connect failure seen by many pending calls).
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// JSON-RPC error code for a parse error.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC error code for an invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC error code for an unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC error code for invalid parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC error code for an internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// Error code many Ethereum nodes use when a request or rate limit is exceeded (EIP-1474).
pub const LIMIT_EXCEEDED: i64 = -32005;

/// The `error` member of a JSON-RPC 2.0 response.
///
/// Extra members some servers add (ganache adds `stack`) are ignored; `data` is kept as raw JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    #[serde(default)]
    pub code: i64,
    /// The error message (empty when the server sent none).
    #[serde(default)]
    pub message: String,
    /// The optional `data` member, undecoded.
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
}

impl ErrorObject {
    /// Decodes `data` into `T`; `None` when the server sent no data.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when `data` does not decode as `T`.
    pub fn decode_data<T: serde::de::DeserializeOwned>(&self) -> Option<Result<T, Error>> {
        self.data
            .as_ref()
            .map(|d| serde_json::from_str(d.get()).map_err(Error::Decode))
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "rpc error {}", self.code)
        } else {
            write!(f, "rpc error {}: {}", self.code, self.message)
        }
    }
}

/// A non-2xx HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code.
    pub status: u16,
    /// The body as text (lossy UTF-8), possibly empty.
    pub body: String,
    /// The `Retry-After` delay, when the server sent one in seconds.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 256;
        if self.body.is_empty() {
            return write!(f, "http status {}", self.status);
        }
        let mut end = self.body.len().min(SHOWN);
        while !self.body.is_char_boundary(end) {
            end -= 1;
        }
        let body = self.body.get(..end).unwrap_or_default();
        let more = if end < self.body.len() { "..." } else { "" };
        write!(
            f,
            "http status {}: {}{}",
            self.status,
            body.trim_end(),
            more
        )
    }
}

/// Every way a call, batch, notification or subscription can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a JSON-RPC error object.
    #[error("{0}")]
    Rpc(Box<ErrorObject>),
    /// An HTTP transport got a non-2xx status.
    #[error("{0}")]
    Http(Box<HttpError>),
    /// Connecting (dialing, TLS, handshake) failed.
    #[error("connect failed")]
    Connect(#[source] SharedError),
    /// Connecting did not finish within the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The transport failed while sending or receiving.
    #[error("transport error")]
    Transport(#[source] SharedError),
    /// No answer within the request timeout (or the unsubscribe timeout).
    #[error("request timed out")]
    Timeout,
    /// The connection was lost while the call was in flight, or a subscription ended with it.
    #[error("connection lost")]
    Disconnected,
    /// The client was closed.
    #[error("client is closed")]
    Closed,
    /// The parameters could not be serialised, or are not an array, an object or nothing.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// A result, a notification or error data did not decode into the requested type.
    #[error("cannot decode value")]
    Decode(#[source] serde_json::Error),
    /// The server's answer is not a usable JSON-RPC response.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// A response has neither `result` nor `error`.
    #[error("response has neither result nor error")]
    NoResult,
    /// No response in the server's answer carries this batch element's id.
    #[error("missing response for batch element")]
    MissingResponse,
    /// A batch without elements; nothing was sent.
    #[error("empty batch")]
    EmptyBatch,
    /// A message is larger than the configured limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The size seen (a lower bound when the message was cut short).
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The transport cannot carry server notifications (HTTP), so subscriptions are impossible.
    #[error("notifications are not supported by this transport")]
    NotificationsUnsupported,
    /// The subscription buffer was full; the subscription ended and was unsubscribed.
    #[error("subscription buffer overflowed")]
    Overflow,
    /// Non-terminal subscription marker: this many of the oldest notifications were dropped
    /// (only with [`OverflowPolicy::DropOldest`](crate::OverflowPolicy::DropOldest)).
    #[error("subscription lagged, {0} notifications dropped")]
    Lagged(u64),
    /// Non-terminal subscription marker: the connection was re-established and the subscription
    /// renewed; notifications sent in between are missing.
    #[error("reconnected, notifications may be missing")]
    Reconnected,
    /// The server ended the subscription (a notification carrying `error` instead of `result`).
    #[error("subscription ended by the server: {0}")]
    SubscriptionEnded(Box<ErrorObject>),
}

impl Error {
    /// Wraps a transport failure.
    pub fn transport<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        Self::Transport(Arc::new(e))
    }

    /// Wraps a connect failure.
    pub fn connect<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        Self::Connect(Arc::new(e))
    }

    /// The JSON-RPC error object, when the server answered with one.
    pub fn rpc_error(&self) -> Option<&ErrorObject> {
        match self {
            Self::Rpc(e) | Self::SubscriptionEnded(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP error, when an HTTP transport got a non-2xx status.
    pub fn http_error(&self) -> Option<&HttpError> {
        match self {
            Self::Http(e) => Some(e),
            _ => None,
        }
    }

    /// The JSON-RPC error code, when the server answered with an error object.
    pub fn code(&self) -> Option<i64> {
        self.rpc_error().map(|e| e.code)
    }

    /// Whether the server answered with a JSON-RPC error object.
    pub fn is_rpc(&self) -> bool {
        matches!(self, Self::Rpc(_))
    }

    /// Whether a request or connect timeout fired.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout | Self::ConnectTimeout)
    }

    /// Whether the connection is gone or could not be made (the next call redials).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Self::Disconnected | Self::Transport(_) | Self::Connect(_) | Self::ConnectTimeout
        )
    }

    /// Whether the client was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// Whether this is a non-terminal subscription marker ([`Error::Lagged`],
    /// [`Error::Reconnected`]); the stream goes on after it.
    pub fn is_marker(&self) -> bool {
        matches!(self, Self::Lagged(_) | Self::Reconnected)
    }

    /// Whether the subscription buffer overflowed.
    pub fn is_overflow(&self) -> bool {
        matches!(self, Self::Overflow)
    }

    /// Whether the error says the server or transport cannot do subscriptions
    /// ([`Error::NotificationsUnsupported`], or a server error -32601 / -32001 / -32004).
    pub fn is_notifications_unsupported(&self) -> bool {
        match self {
            Self::NotificationsUnsupported => true,
            Self::Rpc(e) => matches!(e.code, METHOD_NOT_FOUND | -32001 | -32004),
            _ => false,
        }
    }

    /// Whether retrying the same request later may succeed: timeouts, connection loss, HTTP
    /// 408/429/502/503/504, and the rate-limit error code -32005. Whether a retry is *safe*
    /// (idempotent) is for the caller to judge.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout
            | Self::ConnectTimeout
            | Self::Disconnected
            | Self::Transport(_)
            | Self::Connect(_) => true,
            Self::Http(h) => matches!(h.status, 408 | 429 | 502 | 503 | 504),
            Self::Rpc(e) => e.code == LIMIT_EXCEEDED,
            _ => false,
        }
    }

    /// The `Retry-After` delay of an HTTP error.
    pub fn retry_after(&self) -> Option<Duration> {
        self.http_error().and_then(|h| h.retry_after)
    }

    /// A copy of this error for fanning one failure out to many waiters (causes are shared,
    /// decode errors are reduced to their message).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Rpc(e) => Self::Rpc(e.clone()),
            Self::Http(e) => Self::Http(e.clone()),
            Self::Connect(e) => Self::Connect(e.clone()),
            Self::ConnectTimeout => Self::ConnectTimeout,
            Self::Transport(e) => Self::Transport(e.clone()),
            Self::Timeout => Self::Timeout,
            Self::Disconnected => Self::Disconnected,
            Self::Closed => Self::Closed,
            Self::InvalidParams(s) => Self::InvalidParams(s.clone()),
            Self::Decode(e) => Self::InvalidResponse(e.to_string()),
            Self::InvalidResponse(s) => Self::InvalidResponse(s.clone()),
            Self::NoResult => Self::NoResult,
            Self::MissingResponse => Self::MissingResponse,
            Self::EmptyBatch => Self::EmptyBatch,
            Self::MessageTooLarge { size, limit } => Self::MessageTooLarge {
                size: *size,
                limit: *limit,
            },
            Self::NotificationsUnsupported => Self::NotificationsUnsupported,
            Self::Overflow => Self::Overflow,
            Self::Lagged(n) => Self::Lagged(*n),
            Self::Reconnected => Self::Reconnected,
            Self::SubscriptionEnded(e) => Self::SubscriptionEnded(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_object_tolerates_extra_fields() {
        let e: ErrorObject = serde_json::from_str(
            r#"{"message":"The method foo_bar does not exist/is not available","stack":"Error: x\n at y","code":-32700}"#,
        )
        .unwrap();
        assert_eq!(e.code, -32700);
        assert!(e.data.is_none());
        assert_eq!(
            Error::Rpc(Box::new(e)).to_string(),
            "rpc error -32700: The method foo_bar does not exist/is not available"
        );
    }

    #[test]
    fn error_data_kept_raw() {
        let e: ErrorObject = serde_json::from_str(
            r#"{"code":3,"message":"execution reverted","data":"0x08c379a0"}"#,
        )
        .unwrap();
        assert_eq!(e.data.as_ref().map(|d| d.get()), Some(r#""0x08c379a0""#));
        let d: String = e.decode_data().unwrap().unwrap();
        assert_eq!(d, "0x08c379a0");
    }

    #[test]
    fn http_error_display_and_predicates() {
        let e = Error::Http(Box::new(HttpError {
            status: 429,
            body: "slow down\n".into(),
            retry_after: Some(Duration::from_secs(3)),
        }));
        assert_eq!(e.to_string(), "http status 429: slow down");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = Error::Http(Box::new(HttpError {
            status: 418,
            body: String::new(),
            retry_after: None,
        }));
        assert_eq!(e.to_string(), "http status 418");
        assert!(!e.is_retryable());
    }

    #[test]
    fn predicates() {
        assert!(Error::Timeout.is_timeout());
        assert!(Error::Disconnected.is_disconnect());
        assert!(Error::Lagged(3).is_marker());
        assert!(Error::Reconnected.is_marker());
        assert!(!Error::Overflow.is_marker());
        assert!(Error::Closed.is_closed());
        let e = Error::Rpc(Box::new(ErrorObject {
            code: -32601,
            message: "nope".into(),
            data: None,
        }));
        assert!(e.is_notifications_unsupported());
        assert_eq!(e.code(), Some(-32601));
        assert!(!e.is_retryable());
    }
}
