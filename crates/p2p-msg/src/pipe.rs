//! [`MsgPipe`]: an in-memory, full-duplex, unbuffered message pipe for tests and in-process
//! connections.

use std::sync::Arc;

use crate::chan::Rendezvous;
use crate::{Error, Msg, MsgReader, MsgWriter};

#[derive(Debug, Default)]
struct Shared {
    /// `dirs[0]` carries messages written on end 0 to end 1; `dirs[1]` the other way.
    dirs: [Rendezvous; 2],
}

impl Shared {
    fn close(&self) {
        self.dirs[0].close();
        self.dirs[1].close();
    }
}

/// One end of an in-memory message pipe; [`MsgPipe::pair`] makes the two ends.
///
/// Reads on one end are matched with writes on the other; there is no buffer.
///
/// # What "taken" means
///
/// A [`write_msg`](MsgWriter::write_msg) completes when a [`read_msg`](MsgReader::read_msg) on
/// the other end has *taken* the message: removed it from the pipe's single hand-off slot, which
/// happens inside the read's final poll, right before that read returns the message.
/// Payloads are in-memory [`Bytes`](bytes::Bytes), so there is nothing further to consume:
/// whatever the reader then does with the payload (reads it, drops it, calls
/// [`Msg::discard`]) does not affect the writer.
/// This differs from the Go reference, where a write of a non-empty payload waits until the
/// reader has read all of it; with `Bytes` the hand-off is the consumption.
///
/// # Close
///
/// [`close`](Self::close) on either end, or dropping either end, closes the whole pipe: both ends,
/// both directions.
/// Close is idempotent and safe from many tasks at once.
/// Pending and later reads and writes on both ends fail with [`Error::PipeClosed`], except a
/// write whose message was already taken: it succeeds.
/// A read never returns a message after the close, even if a writer was waiting in the slot
/// (that writer fails instead).
/// A message already returned by a read stays the reader's (closing does not reach into payloads,
/// whatever the Go documentation claims).
///
/// # Drop behavior
///
/// Dropping an end closes the pipe, exactly like [`close`](Self::close).
///
/// # Cancel safety
///
/// A dropped read loses nothing; a dropped write withdraws its message if it was not taken yet.
/// Several tasks may read and write the same end concurrently; each message goes to exactly one
/// reader, and writes are taken one at a time.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), p2p_msg::Error> {
/// use p2p_msg::{MsgPipe, MsgReader, send_items};
///
/// let (a, b) = MsgPipe::pair();
/// let writer = async move {
///     send_items(&a, 8, &[0u8, 0]).await?;
///     a.close();
///     Ok::<_, p2p_msg::Error>(())
/// };
/// let reader = async {
///     let msg = b.read_msg().await?;
///     assert_eq!(msg.code, 8);
///     assert!(b.read_msg().await.unwrap_err().is_pipe_closed());
///     Ok::<_, p2p_msg::Error>(())
/// };
/// let (w, r) = tokio::join!(writer, reader);
/// w?;
/// r?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MsgPipe {
    shared: Arc<Shared>,
    side: usize,
}

impl MsgPipe {
    /// Creates a connected pair of ends.
    pub fn pair() -> (Self, Self) {
        let shared = Arc::new(Shared::default());
        (
            Self {
                shared: shared.clone(),
                side: 0,
            },
            Self { shared, side: 1 },
        )
    }

    /// Closes the whole pipe (both ends). Idempotent.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether the pipe is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.dirs[0].is_closed()
    }

    fn outgoing(&self) -> &Rendezvous {
        &self.shared.dirs[self.side & 1]
    }

    fn incoming(&self) -> &Rendezvous {
        &self.shared.dirs[(self.side + 1) & 1]
    }
}

/// Creates a connected pair of [`MsgPipe`] ends (same as [`MsgPipe::pair`]).
pub fn msg_pipe() -> (MsgPipe, MsgPipe) {
    MsgPipe::pair()
}

impl Drop for MsgPipe {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl MsgReader for MsgPipe {
    /// Waits for a message written on the other end.
    ///
    /// # Errors
    ///
    /// [`Error::PipeClosed`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped read loses no message.
    async fn read_msg(&self) -> Result<Msg, Error> {
        self.incoming().recv().await.map_err(|_| Error::PipeClosed)
    }
}

impl MsgWriter for MsgPipe {
    /// Hands `msg` to the other end and waits until it was taken (see the type docs).
    ///
    /// # Errors
    ///
    /// [`Error::PipeClosed`] if the pipe closed before the message was taken.
    ///
    /// # Cancel safety
    ///
    /// A dropped write withdraws its message if it was not taken yet.
    async fn write_msg(&self, msg: Msg) -> Result<(), Error> {
        self.outgoing()
            .send(msg)
            .await
            .map_err(|_| Error::PipeClosed)
    }
}
