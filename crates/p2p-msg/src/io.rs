//! The reader and writer traits and the helpers built on them: [`send`], [`send_items`],
//! [`expect_msg`] and [`expect_msg_code`].

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::{Error, Msg};

/// Reads messages.
///
/// Methods take `&self`: one reader can be shared (for example behind an [`Arc`]) and called
/// from several tasks at once.
pub trait MsgReader: Send + Sync {
    /// Reads the next message.
    ///
    /// # Errors
    ///
    /// Implementation-specific; a closed source fails (for example [`Error::PipeClosed`]).
    ///
    /// # Cancel safety
    ///
    /// Implementations in this crate are cancel safe: a dropped read loses no message.
    fn read_msg(&self) -> impl Future<Output = Result<Msg, Error>> + Send;
}

/// Writes messages.
///
/// Contract (from the reference): a write completes only when the other end has taken the
/// message; see each implementation for what "taken" means exactly.
pub trait MsgWriter: Send + Sync {
    /// Writes one message.
    ///
    /// # Errors
    ///
    /// Implementation-specific; a closed sink fails (for example [`Error::PipeClosed`]).
    ///
    /// # Cancel safety
    ///
    /// Implementations in this crate withdraw a message that was not yet taken when the write is
    /// dropped; a message already taken stays delivered.
    fn write_msg(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Both a [`MsgReader`] and a [`MsgWriter`]; reads and writes may run concurrently.
pub trait MsgReadWriter: MsgReader + MsgWriter {}

impl<T: MsgReader + MsgWriter + ?Sized> MsgReadWriter for T {}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        impl<T: MsgReader + ?Sized> MsgReader for $ty {
            fn read_msg(&self) -> impl Future<Output = Result<Msg, Error>> + Send {
                (**self).read_msg()
            }
        }
        impl<T: MsgWriter + ?Sized> MsgWriter for $ty {
            fn write_msg(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send {
                (**self).write_msg(msg)
            }
        }
    )*};
}

forward!(&T, &mut T, Arc<T>, Box<T>);

/// The object-safe form of [`MsgReadWriter`] (boxed futures), implemented for every
/// [`MsgReadWriter`]; wrap one in [`BoxMsgReadWriter`] to use it where a type is needed.
pub trait DynMsgReadWriter: Send + Sync {
    /// [`MsgReader::read_msg`], boxed.
    fn read_msg_boxed(&self) -> BoxFuture<'_, Result<Msg, Error>>;
    /// [`MsgWriter::write_msg`], boxed.
    fn write_msg_boxed(&self, msg: Msg) -> BoxFuture<'_, Result<(), Error>>;
}

impl<T: MsgReadWriter> DynMsgReadWriter for T {
    fn read_msg_boxed(&self) -> BoxFuture<'_, Result<Msg, Error>> {
        Box::pin(self.read_msg())
    }

    fn write_msg_boxed(&self, msg: Msg) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.write_msg(msg))
    }
}

/// A type-erased, cheaply cloneable reader-writer (alloy's `BoxTransport` idea): one allocation
/// per call.
#[derive(Clone)]
pub struct BoxMsgReadWriter(Arc<dyn DynMsgReadWriter>);

impl BoxMsgReadWriter {
    /// Boxes a reader-writer.
    pub fn new(rw: impl MsgReadWriter + 'static) -> Self {
        Self(Arc::new(rw))
    }
}

impl std::fmt::Debug for BoxMsgReadWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxMsgReadWriter").finish_non_exhaustive()
    }
}

impl MsgReader for BoxMsgReadWriter {
    /// Reads through the boxed reader.
    ///
    /// # Errors
    ///
    /// The boxed reader's.
    ///
    /// # Cancel safety
    ///
    /// As the boxed reader's.
    fn read_msg(&self) -> impl Future<Output = Result<Msg, Error>> + Send {
        self.0.read_msg_boxed()
    }
}

impl MsgWriter for BoxMsgReadWriter {
    /// Writes through the boxed writer.
    ///
    /// # Errors
    ///
    /// The boxed writer's.
    ///
    /// # Cancel safety
    ///
    /// As the boxed writer's.
    fn write_msg(&self, msg: Msg) -> impl Future<Output = Result<(), Error>> + Send {
        self.0.write_msg_boxed(msg)
    }
}

/// RLP-encodes `value` and writes it as message `code`.
///
/// The value should encode as an RLP list (not enforced).
///
/// # Errors
///
/// The writer's error.
///
/// # Cancel safety
///
/// As the writer's [`MsgWriter::write_msg`].
pub async fn send<W, T>(w: &W, code: u64, value: &T) -> Result<(), Error>
where
    W: MsgWriter + ?Sized,
    T: rlp::Encodable + ?Sized,
{
    w.write_msg(Msg::encode(code, value)).await
}

/// Writes message `code` whose payload is the RLP list of `items`.
///
/// No items give the empty list `0xC0` (this is how Ping and Pong are made).
///
/// # Errors
///
/// The writer's error.
///
/// # Cancel safety
///
/// As the writer's [`MsgWriter::write_msg`].
pub async fn send_items<W, T>(w: &W, code: u64, items: &[T]) -> Result<(), Error>
where
    W: MsgWriter + ?Sized,
    T: rlp::Encodable,
{
    let mut s = rlp::RlpStream::new_list(items.len());
    for item in items {
        s.append(item);
    }
    w.write_msg(Msg::new(code, s.out().freeze())).await
}

/// Reads the next message and checks its code and its payload against the RLP encoding of
/// `content` (exact bytes).
///
/// Checks in order: the code ([`Error::CodeMismatch`]), the size ([`Error::SizeMismatch`]),
/// the bytes ([`Error::PayloadMismatch`], both sides in hex).
/// This function does not time out: bound it with `tokio::time::timeout` when the reader is a
/// peer.
///
/// # Errors
///
/// The reader's error or one of the mismatch errors above.
///
/// # Cancel safety
///
/// As the reader's [`MsgReader::read_msg`].
pub async fn expect_msg<R, T>(r: &R, code: u64, content: &T) -> Result<(), Error>
where
    R: MsgReader + ?Sized,
    T: rlp::Encodable + ?Sized,
{
    let msg = r.read_msg().await?;
    let mut stream = rlp::RlpStream::new();
    content.rlp_append(&mut stream);
    check_msg(&msg, code, Some(&stream.out()))
}

/// Reads the next message and checks only its code; the payload is discarded.
///
/// # Errors
///
/// The reader's error or [`Error::CodeMismatch`].
///
/// # Cancel safety
///
/// As the reader's [`MsgReader::read_msg`].
pub async fn expect_msg_code<R>(r: &R, code: u64) -> Result<(), Error>
where
    R: MsgReader + ?Sized,
{
    let msg = r.read_msg().await?;
    check_msg(&msg, code, None)
}

fn check_msg(msg: &Msg, code: u64, want: Option<&[u8]>) -> Result<(), Error> {
    if msg.code != code {
        return Err(Error::CodeMismatch {
            got: msg.code,
            expected: code,
        });
    }
    let Some(want) = want else {
        return Ok(());
    };
    if u64::from(msg.size) != want.len() as u64 {
        return Err(Error::SizeMismatch {
            got: msg.size,
            want: want.len() as u64,
        });
    }
    let got = msg.data();
    if got != want {
        return Err(Error::PayloadMismatch {
            got: hex::encode(got),
            want: hex::encode(want),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_errors() {
        let msg = Msg::new(1, vec![0xc1, 0x01]);
        assert!(matches!(
            check_msg(&msg, 2, None),
            Err(Error::CodeMismatch {
                got: 1,
                expected: 2
            })
        ));
        assert!(check_msg(&msg, 1, None).is_ok());
        assert!(matches!(
            check_msg(&msg, 1, Some(&[0xc0])),
            Err(Error::SizeMismatch { got: 2, want: 1 })
        ));
        let e = check_msg(&msg, 1, Some(&[0xc1, 0x02])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "message payload mismatch:\ngot: c101\nwant: c102"
        );
        assert!(check_msg(&msg, 1, Some(&[0xc1, 0x01])).is_ok());
    }
}
