//! [`FrameTransport`], the trait under the multiplexer, and [`PipeTransport`], an in-memory
//! implementation over [`MsgPipe`] for tests.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;

use super::NodeId;
use crate::{Error, Msg, MsgPipe, MsgReader, MsgWriter};

/// The transport under the multiplexer: frames are `(code, uncompressed payload)` pairs.
///
/// RLPx implements it over TCP (in `p2p-rlpx`); [`PipeTransport`] implements it in memory.
/// The [`Peer`](super::Peer) calls [`read_frame`](Self::read_frame) from one place and
/// serialises its writes, so an implementation sees at most one read and one write at a time,
/// possibly concurrently with each other.
/// The peer bounds every read and write with its own timeouts; an implementation need not.
pub trait FrameTransport: Send + Sync + 'static {
    /// Reads the next frame (code and uncompressed payload).
    ///
    /// # Errors
    ///
    /// Transport errors (build them with [`Error::transport`] or [`Error::Timeout`]).
    ///
    /// # Cancel safety
    ///
    /// Should be cancel safe (the peer drops a pending read when it shuts down).
    fn read_frame(&self) -> impl Future<Output = Result<Msg, Error>> + Send;

    /// Writes one frame.
    ///
    /// # Errors
    ///
    /// Transport errors; the peer then ends with
    /// [`DisconnectReason::NetworkError`](super::DisconnectReason::NetworkError).
    ///
    /// # Cancel safety
    ///
    /// A cancelled write may leave the connection unusable; the peer only cancels writes when
    /// it shuts down or when a write timed out.
    fn write_frame(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send;

    /// Called by the peer right after the Hello exchange when the remote Hello version is 5 or
    /// more: from then on payloads are snappy-compressed on the wire in both directions.
    fn enable_compression(&self);

    /// The remote node id learned in the transport handshake (RLPx: from ECIES), if any.
    ///
    /// When present, the remote Hello's id must equal it, or the peer disconnects with
    /// [`DisconnectReason::UnexpectedIdentity`](super::DisconnectReason::UnexpectedIdentity).
    fn remote_id(&self) -> Option<NodeId>;

    /// Closes the transport (idempotent); pending and later reads and writes then fail.
    ///
    /// # Cancel safety
    ///
    /// Should be cancel safe; the peer bounds it with a short timeout.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl<T: FrameTransport> FrameTransport for std::sync::Arc<T> {
    fn read_frame(&self) -> impl Future<Output = Result<Msg, Error>> + Send {
        (**self).read_frame()
    }

    fn write_frame(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).write_frame(msg)
    }

    fn enable_compression(&self) {
        (**self).enable_compression();
    }

    fn remote_id(&self) -> Option<NodeId> {
        (**self).remote_id()
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        (**self).close()
    }
}

/// Object-safe write half, used to erase the transport type inside [`ProtoRw`](super::ProtoRw).
pub(crate) trait DynFrameWrite: Send + Sync {
    fn write_boxed(&self, msg: Msg) -> BoxFuture<'_, Result<(), Error>>;
}

impl<T: FrameTransport> DynFrameWrite for T {
    fn write_boxed(&self, msg: Msg) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.write_frame(msg))
    }
}

/// An in-memory [`FrameTransport`] over one end of a [`MsgPipe`], for tests.
///
/// It also implements [`MsgReader`] and [`MsgWriter`], so a test can play the remote side with
/// [`send`](crate::send) and [`expect_msg`](crate::expect_msg).
/// Compression is only recorded ([`compression_enabled`](Self::compression_enabled)): payloads
/// stay uncompressed in memory.
/// Writes have the pipe's rendezvous semantics.
#[derive(Debug)]
pub struct PipeTransport {
    pipe: MsgPipe,
    remote_id: Option<NodeId>,
    compression: AtomicBool,
}

impl PipeTransport {
    /// Wraps one end of a pipe; `remote_id` is what [`FrameTransport::remote_id`] returns.
    pub const fn new(pipe: MsgPipe, remote_id: Option<NodeId>) -> Self {
        Self {
            pipe,
            remote_id,
            compression: AtomicBool::new(false),
        }
    }

    /// Whether the peer called [`FrameTransport::enable_compression`].
    pub fn compression_enabled(&self) -> bool {
        self.compression.load(Ordering::Acquire)
    }

    /// The underlying pipe end.
    pub const fn pipe(&self) -> &MsgPipe {
        &self.pipe
    }
}

/// Creates two connected in-memory transports without remote ids.
pub fn pipe_transport() -> (PipeTransport, PipeTransport) {
    let (a, b) = MsgPipe::pair();
    (PipeTransport::new(a, None), PipeTransport::new(b, None))
}

impl FrameTransport for PipeTransport {
    fn read_frame(&self) -> impl Future<Output = Result<Msg, Error>> + Send {
        self.pipe.read_msg()
    }

    fn write_frame(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send {
        self.pipe.write_msg(msg)
    }

    fn enable_compression(&self) {
        self.compression.store(true, Ordering::Release);
    }

    fn remote_id(&self) -> Option<NodeId> {
        self.remote_id
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        self.pipe.close();
        std::future::ready(())
    }
}

impl MsgReader for PipeTransport {
    /// Reads from the pipe.
    ///
    /// # Errors
    ///
    /// [`Error::PipeClosed`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    fn read_msg(&self) -> impl Future<Output = Result<Msg, Error>> + Send {
        self.pipe.read_msg()
    }
}

impl MsgWriter for PipeTransport {
    /// Writes to the pipe.
    ///
    /// # Errors
    ///
    /// [`Error::PipeClosed`].
    ///
    /// # Cancel safety
    ///
    /// A dropped write withdraws its message if it was not taken yet.
    fn write_msg(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send {
        self.pipe.write_msg(msg)
    }
}
