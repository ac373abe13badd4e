//! The handshake typestate: an [`UnauthedStream`] becomes an [`RlpxStream`] (a framed,
//! encrypted stream of [`Frame`]s) only through a successful ECIES handshake, so application
//! frames cannot be sent on an unauthenticated connection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use p2p_msg::NodeId;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use crate::Error;
use crate::codec::{Frame, MAX_FIRST_FRAME_SIZE, RlpxCodec};
use crate::handshake::{self, Established};
use crate::key::{NodeKey, node_id, public_key};

/// Deadline for the whole ECIES handshake (go-ethereum `handshakeTimeout`).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection before the RLPx handshake: it can only [`connect`](Self::connect) (as the
/// initiator) or [`accept`](Self::accept) (as the recipient).
#[derive(Debug)]
pub struct UnauthedStream<S> {
    io: S,
    key: NodeKey,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> UnauthedStream<S> {
    /// Wraps a connected byte stream; `key` is this node's static key.
    pub fn new(io: S, key: NodeKey) -> Self {
        Self {
            io,
            key,
            timeout: HANDSHAKE_TIMEOUT,
        }
    }

    /// Changes the handshake deadline (default [`HANDSHAKE_TIMEOUT`]).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the handshake as the initiator towards the node `remote`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] after the deadline, [`Error::InvalidPublicKey`] if `remote` is not a
    /// valid id, [`Error::Closed`]/[`Error::Io`] for socket failures, and handshake errors
    /// ([`Error::is_handshake`]) for a malformed ack.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled handshake leaves the stream unusable (it is consumed).
    pub async fn connect(mut self, remote: &NodeId) -> Result<RlpxStream<S>, Error> {
        let remote_key = public_key(remote)?;
        let key = self.key;
        let established = tokio::time::timeout(
            self.timeout,
            handshake::initiate(&mut self.io, &key, &remote_key),
        )
        .await
        .map_err(|_| Error::Timeout {
            what: "rlpx handshake",
        })??;
        Ok(RlpxStream::new(self.io, established))
    }

    /// Runs the handshake as the recipient.
    ///
    /// # Errors
    ///
    /// As [`UnauthedStream::connect`], for a malformed auth.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled handshake leaves the stream unusable (it is consumed).
    pub async fn accept(mut self) -> Result<RlpxStream<S>, Error> {
        let key = self.key;
        let established =
            tokio::time::timeout(self.timeout, handshake::respond(&mut self.io, &key))
                .await
                .map_err(|_| Error::Timeout {
                    what: "rlpx handshake",
                })??;
        Ok(RlpxStream::new(self.io, established))
    }
}

/// An established RLPx connection: a [`Stream`] of received [`Frame`]s and a [`Sink`] of
/// frames to send, over any byte stream.
///
/// For use under the `p2p-msg` multiplexer, turn it into an
/// [`RlpxTransport`](crate::RlpxTransport).
/// The first frame read is limited to [`MAX_FIRST_FRAME_SIZE`] (the Hello).
#[derive(Debug)]
pub struct RlpxStream<S> {
    framed: Framed<S, RlpxCodec>,
    remote_id: NodeId,
}

impl<S: AsyncRead + AsyncWrite> RlpxStream<S> {
    fn new(io: S, established: Established) -> Self {
        let mut codec = RlpxCodec::new(&established.secrets);
        codec.decoder_mut().limit_next_frame(MAX_FIRST_FRAME_SIZE);
        Self {
            framed: Framed::new(io, codec),
            remote_id: node_id(&established.remote),
        }
    }

    /// The remote node id learned in the handshake.
    #[must_use]
    pub fn remote_id(&self) -> NodeId {
        self.remote_id
    }

    /// Turns snappy compression on or off in both directions (RLPx v5: after a Hello of
    /// version 5 or more).
    pub fn set_snappy(&mut self, on: bool) {
        self.framed.codec_mut().set_snappy(on);
    }

    /// The underlying byte stream.
    pub fn get_ref(&self) -> &S {
        self.framed.get_ref()
    }

    /// Splits into the byte stream, the codec and any bytes already read but not decoded.
    pub fn into_parts(self) -> (S, RlpxCodec, bytes::BytesMut, NodeId) {
        let parts = self.framed.into_parts();
        (parts.io, parts.codec, parts.read_buf, self.remote_id)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for RlpxStream<S> {
    type Item = Result<Frame, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.framed).poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Frame> for RlpxStream<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.framed).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Frame) -> Result<(), Error> {
        Pin::new(&mut self.framed).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.framed).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.framed).poll_close(cx)
    }
}
