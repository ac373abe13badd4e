//! Message events: an opt-in report of every message a protocol sends and receives.
//!
//! [`MsgEvents`] is a bounded [`tokio::sync::broadcast`] channel.
//! Emitting never blocks the protocol (unlike the reference's `event.Feed`, which waits for
//! every subscriber): when a subscriber falls more than the capacity behind, the oldest events
//! are dropped for it and its next `recv` returns
//! [`RecvError::Lagged(n)`](tokio::sync::broadcast::error::RecvError::Lagged), telling it how
//! many it missed.
//! Codes in events are protocol-relative and sizes uncompressed, as in the reference.

use std::fmt;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::mux::NodeId;
use crate::{Error, Msg, MsgReader, MsgWriter};

/// Whether a message was sent or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgEventKind {
    /// A message was written and taken by the other side.
    Send,
    /// A message was read.
    Recv,
}

impl fmt::Display for MsgEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Send => "msgsend",
            Self::Recv => "msgrecv",
        })
    }
}

/// One message event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgEvent {
    /// Send or receive.
    pub kind: MsgEventKind,
    /// The remote peer.
    pub peer: NodeId,
    /// The protocol name.
    pub protocol: Arc<str>,
    /// The protocol-relative message code.
    pub code: u64,
    /// The uncompressed payload size.
    pub size: u32,
}

/// A bounded, non-blocking broadcast of [`MsgEvent`]s; cheap to clone.
#[derive(Debug, Clone)]
pub struct MsgEvents {
    tx: broadcast::Sender<MsgEvent>,
}

impl MsgEvents {
    /// Creates a channel keeping at most `capacity` events per subscriber (at least 1).
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Subscribes to events emitted from now on.
    ///
    /// A subscriber that falls behind gets `RecvError::Lagged(missed)` once, then the newest
    /// events.
    pub fn subscribe(&self) -> broadcast::Receiver<MsgEvent> {
        self.tx.subscribe()
    }

    /// Emits one event; never blocks (without subscribers the event is dropped).
    pub fn emit(&self, event: MsgEvent) {
        // An error only means that nobody is subscribed.
        let _ = self.tx.send(event);
    }

    /// Wraps a reader-writer so that its successful reads and writes are reported.
    pub fn wrap<RW>(&self, inner: RW, peer: NodeId, protocol: impl Into<Arc<str>>) -> EventRw<RW> {
        EventRw {
            inner,
            events: self.clone(),
            peer,
            protocol: protocol.into(),
        }
    }

    fn report(&self, kind: MsgEventKind, peer: NodeId, protocol: &Arc<str>, code: u64, size: u32) {
        self.emit(MsgEvent {
            kind,
            peer,
            protocol: protocol.clone(),
            code,
            size,
        });
    }
}

/// A reader-writer that reports its messages on [`MsgEvents`]; made by [`MsgEvents::wrap`].
///
/// A read emits [`MsgEventKind::Recv`] on success; a write emits [`MsgEventKind::Send`] after
/// the write succeeded (that is, after the other side took the message). Failures emit nothing.
#[derive(Debug)]
pub struct EventRw<RW> {
    inner: RW,
    events: MsgEvents,
    peer: NodeId,
    protocol: Arc<str>,
}

impl<RW> EventRw<RW> {
    /// The wrapped reader-writer.
    pub const fn get_ref(&self) -> &RW {
        &self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> RW {
        self.inner
    }
}

impl<RW: MsgReader> MsgReader for EventRw<RW> {
    /// Reads from the wrapped reader and reports the message.
    ///
    /// # Errors
    ///
    /// The wrapped reader's.
    ///
    /// # Cancel safety
    ///
    /// As the wrapped reader's.
    async fn read_msg(&self) -> Result<Msg, Error> {
        let msg = self.inner.read_msg().await?;
        self.events.report(
            MsgEventKind::Recv,
            self.peer,
            &self.protocol,
            msg.code,
            msg.size,
        );
        Ok(msg)
    }
}

impl<RW: MsgWriter> MsgWriter for EventRw<RW> {
    /// Writes through the wrapped writer and reports the message once written.
    ///
    /// # Errors
    ///
    /// The wrapped writer's.
    ///
    /// # Cancel safety
    ///
    /// As the wrapped writer's; a cancelled write emits nothing.
    async fn write_msg(&self, msg: Msg) -> Result<(), Error> {
        let (code, size) = (msg.code, msg.size);
        self.inner.write_msg(msg).await?;
        self.events
            .report(MsgEventKind::Send, self.peer, &self.protocol, code, size);
        Ok(())
    }
}
