//! [`PssReadWriter`]: the message reader and writer of one virtual peer.

use std::fmt;
use std::sync::Arc;

use p2p_msg::{Msg, MsgReader, MsgWriter};
use tokio::sync::{Mutex, mpsc, watch};

use crate::{Error, PeerKey, ProtocolMsg, Topic, Transport};

/// The reader-writer of one virtual peer: reads the messages the adapter hands off from the
/// topic, writes by sending a [`ProtocolMsg`] to the peer's key over the [`Transport`].
///
/// Cheap to clone; clones share one inbound queue (a message is read by one of them).
///
/// - [`write_msg`](MsgWriter::write_msg) wraps the message in a [`ProtocolMsg`] and calls
///   [`Transport::send`]: it completes when the message is queued, never waits for delivery
///   (pss is datagram-like: no delivery guarantee, duplicates possible).
///   Payloads are in-memory [`bytes::Bytes`], so the reference's short read of the payload
///   (which could silently truncate it) cannot happen: the whole payload is always sent.
/// - [`read_msg`](MsgReader::read_msg) takes the next message from a bounded hand-off queue
///   that the adapter fills (see [`PssProtocol`](super::PssProtocol) for the policy when it is
///   full).
///
/// Once the peer is removed ([`PssProtocol::remove_peer`](super::PssProtocol::remove_peer), its
/// run returning, [`p2p_msg::PeerInfo::disconnect`], or the adapter dropped), both fail with
/// [`Error::PeerRemoved`] wrapped as [`p2p_msg::Error::Transport`] (test it with
/// [`is_peer_removed`]); reads fail even if messages were still queued, so a protocol's run
/// function ends. (The reference's `ReadMsg` blocks forever after `RemovePeer`.)
#[derive(Clone)]
pub struct PssReadWriter {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<dyn Transport>,
    topic: Topic,
    key: PeerKey,
    rx: Mutex<mpsc::Receiver<Msg>>,
    closed: watch::Receiver<bool>,
}

/// Closes a [`PssReadWriter`] (also when dropped).
#[derive(Debug)]
pub(crate) struct Closer(watch::Sender<bool>);

impl Closer {
    /// Marks the reader-writer closed and wakes its readers.
    pub(crate) fn close(&self) {
        self.0.send_replace(true);
    }
}

/// A reader-writer with its hand-off sender (capacity `capacity`, at least 1) and closer.
pub(crate) fn channel(
    transport: Arc<dyn Transport>,
    topic: Topic,
    key: PeerKey,
    capacity: usize,
) -> (PssReadWriter, mpsc::Sender<Msg>, Closer) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (closer, closed) = watch::channel(false);
    let rw = PssReadWriter {
        inner: Arc::new(Inner {
            transport,
            topic,
            key,
            rx: Mutex::new(rx),
            closed,
        }),
    };
    (rw, tx, Closer(closer))
}

impl PssReadWriter {
    /// The peer's key.
    #[must_use]
    pub fn key(&self) -> PeerKey {
        self.inner.key
    }

    /// The topic.
    #[must_use]
    pub fn topic(&self) -> Topic {
        self.inner.topic
    }

    /// Whether the peer was removed (reads and writes fail).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        let closed = &self.inner.closed;
        *closed.borrow() || closed.has_changed().is_err()
    }

    fn removed(&self) -> p2p_msg::Error {
        p2p_msg::Error::transport(Error::PeerRemoved(self.inner.key))
    }
}

/// Whether a message-layer error is a pss reader-writer's [`Error::PeerRemoved`] (the peer was
/// removed: the "connection closed" error).
#[must_use]
pub fn is_peer_removed(err: &p2p_msg::Error) -> bool {
    match err {
        p2p_msg::Error::Transport(inner) => inner
            .downcast_ref::<Error>()
            .is_some_and(|e| matches!(e, Error::PeerRemoved(_))),
        _ => false,
    }
}

impl fmt::Debug for PssReadWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PssReadWriter")
            .field("topic", &self.inner.topic)
            .field("key", &self.inner.key)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl MsgReader for PssReadWriter {
    /// The next message handed off by the adapter.
    ///
    /// Waits without a bound (a pss peer may stay silent); bound it with `tokio::time::timeout`
    /// where that matters.
    ///
    /// # Errors
    ///
    /// [`Error::PeerRemoved`] (as [`p2p_msg::Error::Transport`]) once the peer is removed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped read loses no message.
    async fn read_msg(&self) -> Result<Msg, p2p_msg::Error> {
        if self.is_closed() {
            return Err(self.removed());
        }
        let mut closed = self.inner.closed.clone();
        let next = async {
            let mut rx = self.inner.rx.lock().await;
            rx.recv().await
        };
        tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => Err(self.removed()),
            msg = next => match msg {
                Some(msg) if !self.is_closed() => Ok(msg),
                _ => Err(self.removed()),
            },
        }
    }
}

impl MsgWriter for PssReadWriter {
    /// Sends the message as a [`ProtocolMsg`] to the peer's key; completes once the transport
    /// queued it.
    ///
    /// # Errors
    ///
    /// [`Error::PeerRemoved`] once the peer is removed, [`Error::PayloadTooLarge`], and the
    /// transport's errors ([`Error::UnknownKey`], [`Error::OutboxFull`], ...), each wrapped as
    /// [`p2p_msg::Error::Transport`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the message is queued in full or not at all.
    async fn write_msg(&self, msg: Msg) -> Result<(), p2p_msg::Error> {
        if self.is_closed() {
            return Err(self.removed());
        }
        let envelope = ProtocolMsg::from_msg(&msg).map_err(p2p_msg::Error::transport)?;
        self.inner
            .transport
            .send(&self.inner.key, self.inner.topic, envelope.encode())
            .map_err(p2p_msg::Error::transport)
    }
}
