//! [`RlpxTransport`]: an established RLPx connection as a [`p2p_msg::FrameTransport`], so that
//! [`p2p_msg::Peer`] runs over TCP unchanged.
//!
//! The read and write halves are split and sit behind separate locks, so one read and one
//! write can run at the same time (on different tasks or threads). Writes are bounded by
//! [`TransportConfig::write_timeout`]; reads are bounded by the `Peer` (which drops a silent
//! remote), and [`FrameTransport::close`] wakes a pending read.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::{Either, select};
use futures_util::{SinkExt, StreamExt};
use p2p_msg::{FrameTransport, Msg, NodeId};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, watch};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

use crate::Error;
use crate::codec::{FrameDecoder, FrameEncoder};
use crate::enode::Enode;
use crate::key::NodeKey;
use crate::stream::{HANDSHAKE_TIMEOUT, RlpxStream, UnauthedStream};

/// Deadline for each frame write (go-ethereum `frameWriteTimeout`).
pub const FRAME_WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline for establishing the TCP connection when dialing.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Timeouts of an RLPx connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportConfig {
    /// Deadline for the TCP connect when dialing ([`DIAL_TIMEOUT`]).
    pub dial_timeout: Duration,
    /// Deadline for the ECIES handshake ([`HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// Deadline for each frame write ([`FRAME_WRITE_TIMEOUT`]).
    pub write_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            dial_timeout: DIAL_TIMEOUT,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            write_timeout: FRAME_WRITE_TIMEOUT,
        }
    }
}

/// A decoder that turns snappy on when the shared switch says so.
#[derive(Debug)]
struct SwitchedDecoder {
    inner: FrameDecoder,
    snappy: Arc<AtomicBool>,
}

impl Decoder for SwitchedDecoder {
    type Item = crate::Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<crate::Frame>, Error> {
        if !self.inner.snappy() && self.snappy.load(Ordering::Acquire) {
            self.inner.set_snappy(true);
        }
        self.inner.decode(src)
    }
}

/// An encoder of [`Msg`]s that turns snappy on when the shared switch says so.
#[derive(Debug)]
struct SwitchedEncoder {
    inner: FrameEncoder,
    snappy: Arc<AtomicBool>,
}

impl Encoder<Msg> for SwitchedEncoder {
    type Error = Error;

    fn encode(&mut self, msg: Msg, dst: &mut BytesMut) -> Result<(), Error> {
        if !self.inner.snappy() && self.snappy.load(Ordering::Acquire) {
            self.inner.set_snappy(true);
        }
        self.inner.encode_frame(msg.code, msg.data(), dst)
    }
}

/// An established RLPx connection that implements [`FrameTransport`].
///
/// Build one over TCP with [`RlpxTransport::dial`] / [`RlpxTransport::accept`], or from any
/// [`RlpxStream`] with [`RlpxTransport::from_stream`].
#[derive(Debug)]
pub struct RlpxTransport<R = OwnedReadHalf, W = OwnedWriteHalf> {
    reader: Mutex<FramedRead<R, SwitchedDecoder>>,
    writer: Mutex<FramedWrite<W, SwitchedEncoder>>,
    remote_id: NodeId,
    peer_addr: Option<SocketAddr>,
    snappy: Arc<AtomicBool>,
    closed: watch::Sender<bool>,
    write_timeout: Duration,
}

impl RlpxTransport {
    /// Dials `enode` over TCP (with `TCP_NODELAY`) and runs the handshake as the initiator.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the connect or the handshake takes too long, [`Error::Io`] if the
    /// connect fails, handshake errors for a malformed ack.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled dial drops the half-open connection.
    pub async fn dial(
        enode: &Enode,
        key: &NodeKey,
        config: &TransportConfig,
    ) -> Result<Self, Error> {
        let stream =
            tokio::time::timeout(config.dial_timeout, TcpStream::connect(enode.tcp_addr()))
                .await
                .map_err(|_| Error::Timeout {
                    what: "tcp connect",
                })??;
        Self::handshake(stream, key, Some(&enode.id), config).await
    }

    /// Runs the handshake as the recipient on an accepted TCP connection (setting
    /// `TCP_NODELAY`).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the handshake takes too long, handshake errors for a malformed
    /// auth, [`Error::Io`] or [`Error::Closed`] for socket failures.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the connection is consumed.
    pub async fn accept(
        stream: TcpStream,
        key: &NodeKey,
        config: &TransportConfig,
    ) -> Result<Self, Error> {
        Self::handshake(stream, key, None, config).await
    }

    /// Runs the handshake on a TCP connection: as the initiator towards `remote` when given,
    /// else as the recipient.
    ///
    /// # Errors
    ///
    /// As [`RlpxTransport::dial`] and [`RlpxTransport::accept`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the connection is consumed.
    pub async fn handshake(
        stream: TcpStream,
        key: &NodeKey,
        remote: Option<&NodeId>,
        config: &TransportConfig,
    ) -> Result<Self, Error> {
        stream.set_nodelay(true)?;
        let peer_addr = stream.peer_addr().ok();
        let unauthed = UnauthedStream::new(stream, key.clone())
            .with_handshake_timeout(config.handshake_timeout);
        let established = match remote {
            Some(id) => unauthed.connect(id).await?,
            None => unauthed.accept().await?,
        };
        let (io, codec, read_buf, remote_id) = established.into_parts();
        let (read, write) = io.into_split();
        let mut transport = Self::from_parts(read, write, codec, read_buf, remote_id);
        transport.peer_addr = peer_addr;
        transport.write_timeout = config.write_timeout;
        Ok(transport)
    }
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> RlpxTransport<ReadHalf<S>, WriteHalf<S>> {
    /// Wraps an established stream over any byte stream (split with `tokio::io::split`).
    #[must_use]
    pub fn from_stream(stream: RlpxStream<S>) -> Self {
        let (io, codec, read_buf, remote_id) = stream.into_parts();
        let (read, write) = tokio::io::split(io);
        Self::from_parts(read, write, codec, read_buf, remote_id)
    }
}

impl<R, W> RlpxTransport<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    fn from_parts(
        read: R,
        write: W,
        codec: crate::RlpxCodec,
        read_buf: BytesMut,
        remote_id: NodeId,
    ) -> Self {
        let snappy = Arc::new(AtomicBool::new(false));
        let (encoder, decoder) = codec.split();
        let mut framed_read = FramedRead::new(
            read,
            SwitchedDecoder {
                inner: decoder,
                snappy: snappy.clone(),
            },
        );
        framed_read.read_buffer_mut().extend_from_slice(&read_buf);
        let framed_write = FramedWrite::new(
            write,
            SwitchedEncoder {
                inner: encoder,
                snappy: snappy.clone(),
            },
        );
        Self {
            reader: Mutex::new(framed_read),
            writer: Mutex::new(framed_write),
            remote_id,
            peer_addr: None,
            snappy,
            closed: watch::Sender::new(false),
            write_timeout: FRAME_WRITE_TIMEOUT,
        }
    }

    /// The remote node id learned in the handshake.
    #[must_use]
    pub fn remote_node_id(&self) -> NodeId {
        self.remote_id
    }

    /// The remote socket address, for TCP connections.
    #[must_use]
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// Whether snappy compression has been enabled.
    #[must_use]
    pub fn compression_enabled(&self) -> bool {
        self.snappy.load(Ordering::Acquire)
    }

    /// Reads the next frame.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the remote closed the connection or [`FrameTransport::close`]
    /// was called, frame errors ([`Error::is_protocol`]) for a bad frame, [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a partly received frame stays buffered for the next call.
    pub async fn read(&self) -> Result<Msg, Error> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow_and_update() {
            return Err(Error::Closed);
        }
        let mut reader = self.reader.lock().await;
        let next = reader.next();
        let stop = closed.wait_for(|c| *c);
        match select(pin!(next), pin!(stop)).await {
            Either::Left((Some(Ok(frame)), _)) => Ok(Msg::new(frame.code, frame.payload)),
            Either::Left((Some(Err(e)), _)) => Err(e),
            Either::Left((None, _)) | Either::Right(_) => Err(Error::Closed),
        }
    }

    /// Writes one frame (bounded by the write timeout).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Closed`], [`Error::MessageTooBig`], [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled write may leave a partial frame on the wire.
    pub async fn write(&self, msg: Msg) -> Result<(), Error> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow_and_update() {
            return Err(Error::Closed);
        }
        let mut writer = self.writer.lock().await;
        let send = tokio::time::timeout(self.write_timeout, writer.send(msg));
        let stop = closed.wait_for(|c| *c);
        match select(pin!(send), pin!(stop)).await {
            Either::Left((Ok(result), _)) => result,
            Either::Left((Err(_), _)) => Err(Error::Timeout {
                what: "frame write",
            }),
            Either::Right(_) => Err(Error::Closed),
        }
    }

    /// Closes the connection: pending reads and writes fail, the write side is shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; bounded by one second.
    pub async fn shutdown(&self) {
        self.closed.send_replace(true);
        let shutdown = async {
            let mut writer = self.writer.lock().await;
            let _ = writer.get_mut().shutdown().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), shutdown).await;
    }
}

fn to_msg_error(e: Error) -> p2p_msg::Error {
    match e {
        Error::Timeout { what } => p2p_msg::Error::Timeout(what),
        other => p2p_msg::Error::transport(other),
    }
}

impl<R, W> FrameTransport for RlpxTransport<R, W>
where
    R: AsyncRead + Send + Sync + Unpin + 'static,
    W: AsyncWrite + Send + Sync + Unpin + 'static,
{
    async fn read_frame(&self) -> Result<Msg, p2p_msg::Error> {
        self.read().await.map_err(to_msg_error)
    }

    async fn write_frame(&self, msg: Msg) -> Result<(), p2p_msg::Error> {
        self.write(msg).await.map_err(to_msg_error)
    }

    fn enable_compression(&self) {
        self.snappy.store(true, Ordering::Release);
    }

    fn remote_id(&self) -> Option<NodeId> {
        Some(self.remote_id)
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        self.shutdown()
    }
}
