//! Transport traits.
//!
//! Two kinds of transport exist:
//!
//! - a **persistent duplex** connection that carries frames both ways and lets the server push
//!   notifications (WebSocket, later IPC): a [`Connector`] dials and yields a [`FrameSender`] and a
//!   [`FrameReceiver`]; the client's dispatch loop ([`Driver`](crate::Driver)) owns both;
//! - a **request/response** transport (HTTP): a [`RequestTransport`] posts one body and returns
//!   the answer's body; no background loop is involved.
//!
//! Transports only move bytes: id matching, batches, subscriptions and reconnects live in the
//! client core.

use std::{future::Future, pin::Pin, time::Duration};

use bytes::Bytes;

use crate::error::Error;

/// Dials a persistent duplex connection. Called once at start and again on every redial.
pub trait Connector: Send + Sync + 'static {
    /// The sending half.
    type Sender: FrameSender;
    /// The receiving half.
    type Receiver: FrameReceiver;

    /// Opens a connection. The client bounds this with its connect timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] (or any other error) when the connection cannot be made.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt.
    fn connect(&self)
    -> impl Future<Output = Result<(Self::Sender, Self::Receiver), Error>> + Send;
}

/// The sending half of a duplex connection. The dispatch loop is its only user.
pub trait FrameSender: Send + Sync + 'static {
    /// Queues or writes one text frame (one JSON-RPC message or batch). May buffer until
    /// [`flush`](Self::flush).
    ///
    /// # Errors
    ///
    /// A transport error when the connection is broken, or [`Error::MessageTooLarge`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the frame may be partly written; the client treats a cancelled write as
    /// a broken connection.
    fn send(&self, frame: String) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes out everything queued by [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// A transport error when the connection is broken.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe (see [`send`](Self::send)).
    fn flush(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Closes the connection gracefully (a WebSocket close frame with code 1000).
    ///
    /// # Errors
    ///
    /// A transport error when the close could not be sent; the connection is gone either way.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the graceful close.
    fn close(&self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The receiving half of a duplex connection.
pub trait FrameReceiver: Send + Sync + 'static {
    /// Waits for the next complete message (text or binary payload). `Ok(None)` means the peer
    /// closed the connection cleanly.
    ///
    /// # Errors
    ///
    /// A transport error when the connection broke, [`Error::MessageTooLarge`] when the peer sent
    /// more than the configured limit.
    ///
    /// # Cancel safety
    ///
    /// Implementations should be cancel safe; the client only drops this future when it is
    /// abandoning the connection.
    fn recv(&self) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send;
}

/// Per-request data passed to a [`RequestTransport`].
#[derive(Debug, Clone, Copy)]
pub struct RequestMeta<'a> {
    /// Extra headers for this request only (name, value).
    pub headers: &'a [(String, String)],
    /// The timeout the client applies to the whole request.
    pub timeout: Duration,
}

/// A request/response transport (HTTP): one body out, one body back.
pub trait RequestTransport: Send + Sync + 'static {
    /// Sends a call or batch body and returns the answer's body.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] for a non-2xx status, a transport error otherwise.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the request.
    fn round_trip(
        &self,
        body: String,
        meta: RequestMeta<'_>,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send;

    /// Sends a notification body; the answer's body, if any, is neither awaited nor parsed.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] for a non-2xx status, a transport error otherwise.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the request.
    fn notify(
        &self,
        body: String,
        meta: RequestMeta<'_>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A boxed future, as used by the object-safe adapter.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`RequestTransport`], so the client type stays non-generic.
pub(crate) trait DynRequestTransport: Send + Sync + 'static {
    fn round_trip_dyn<'a>(
        &'a self,
        body: String,
        meta: RequestMeta<'a>,
    ) -> BoxFuture<'a, Result<Bytes, Error>>;
    fn notify_dyn<'a>(
        &'a self,
        body: String,
        meta: RequestMeta<'a>,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

impl<T: RequestTransport> DynRequestTransport for T {
    fn round_trip_dyn<'a>(
        &'a self,
        body: String,
        meta: RequestMeta<'a>,
    ) -> BoxFuture<'a, Result<Bytes, Error>> {
        Box::pin(self.round_trip(body, meta))
    }
    fn notify_dyn<'a>(
        &'a self,
        body: String,
        meta: RequestMeta<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.notify(body, meta))
    }
}
