//! The state an [`EthPeer`](crate::EthPeer) handle and its [`EthDriver`](crate::EthDriver) share: the
//! connection, the pending requests by id, the remote's announced head and block range, and the serving
//! queue's byte count.
//!
//! Replies are routed by request id before their body is decoded: [`Shared::route_reply`] reads the id and the
//! item count from the RLP headers, drops a reply that no pending request waits for, fails a request whose reply
//! has the wrong code or too many items, and only then decodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chain_types::BlockRange;
use p2p_msg::{Msg, MsgReader, MsgWriter};
use primitive_types::{H256, U256};
use tokio::sync::{Semaphore, oneshot};
use tracing::{debug, trace};

use crate::message::{code_name, peek_reply};
use crate::{Error, EthMessage, EthVersion, PeerConfig, StatusMessage};

/// A request waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The reply code expected.
    pub(crate) reply: u64,
    /// Most items the reply may carry.
    pub(crate) max_items: usize,
    pub(crate) tx: oneshot::Sender<Result<EthMessage, Error>>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) next_id: u64,
    pub(crate) pending: HashMap<u64, Pending>,
    pub(crate) closed: bool,
}

#[derive(Debug)]
pub(crate) struct Shared<RW> {
    pub(crate) id: String,
    pub(crate) version: EthVersion,
    pub(crate) remote: StatusMessage,
    pub(crate) config: PeerConfig,
    pub(crate) rw: RW,
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    pub(crate) slots: Semaphore,
    pub(crate) state: Mutex<State>,
    /// The remote's head: best hash and total difficulty (zero for eth/69+).
    pub(crate) head: Mutex<(H256, U256)>,
    /// The remote's block range (eth/69+).
    pub(crate) range: Mutex<Option<BlockRange>>,
    /// The range we last announced (eth/69+): in our Status, then in our BlockRangeUpdates.
    pub(crate) announced: Mutex<Option<BlockRange>>,
    /// Bytes of remote requests and of our answers waiting in the serving queue.
    pub(crate) queued_bytes: AtomicUsize,
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: every critical section is a plain update).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<RW: MsgReader + MsgWriter> Shared<RW> {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) async fn write(&self, msg: EthMessage) -> Result<(), Error> {
        trace!(peer = %self.id, msg = msg.name(), "eth send");
        self.write_raw(msg.to_msg()).await
    }

    pub(crate) async fn write_raw(&self, msg: Msg) -> Result<(), Error> {
        let _guard = self.write_lock.lock().await;
        self.rw.write_msg(msg).await.map_err(Error::from)
    }

    pub(crate) fn add_queued(&self, n: usize) {
        self.queued_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub_queued(&self, n: usize) {
        self.queued_bytes.fetch_sub(n, Ordering::Relaxed);
    }

    /// Fails every pending request and refuses new ones.
    pub(crate) fn close(&self) {
        let mut st = self.state();
        st.closed = true;
        st.pending.clear();
        drop(st);
        self.slots.close();
    }

    /// Routes a reply message (its code is a reply code of the version): dropped undecoded if no request waits
    /// for its id; the waiting request fails with [`Error::WrongReply`] or [`Error::TooManyItems`] if the code
    /// or the item count (read from the headers) does not fit; otherwise the body is decoded and handed over.
    ///
    /// # Errors
    ///
    /// A malformed reply ([`Error::Decode`]): the connection must end.
    pub(crate) fn route_reply(&self, msg: &Msg) -> Result<(), Error> {
        let (id, items) = peek_reply(self.version, msg.code, msg.data())?;
        let Some(pending) = self.state().pending.remove(&id) else {
            debug!(peer = %self.id, id, msg = code_name(msg.code), size = msg.size,
                "reply to no pending request (late or unsolicited), dropped undecoded");
            return Ok(());
        };
        let result = if msg.code != pending.reply {
            Err(Error::WrongReply {
                id,
                expected: code_name(pending.reply),
                got: code_name(msg.code),
            })
        } else if items > pending.max_items {
            Err(Error::TooManyItems {
                message: code_name(msg.code),
                got: items,
                max: pending.max_items,
            })
        } else {
            match EthMessage::from_msg(self.version, msg) {
                Ok(m) => Ok(m),
                Err(e) => {
                    let _ = pending.tx.send(Err(Error::Closed));
                    return Err(e);
                }
            }
        };
        let _ = pending.tx.send(result);
        Ok(())
    }
}

/// Removes a request from the pending map when its future ends (reply, timeout or cancellation).
pub(crate) struct PendingGuard<'a, RW: MsgReader + MsgWriter> {
    pub(crate) shared: &'a Shared<RW>,
    pub(crate) id: u64,
}

impl<RW: MsgReader + MsgWriter> Drop for PendingGuard<'_, RW> {
    fn drop(&mut self) {
        self.shared.state().pending.remove(&self.id);
    }
}

/// Closes the shared state when the driver ends or is dropped.
pub(crate) struct CloseOnDrop<'a, RW: MsgReader + MsgWriter>(pub(crate) &'a Shared<RW>);

impl<RW: MsgReader + MsgWriter> Drop for CloseOnDrop<'_, RW> {
    fn drop(&mut self) {
        self.0.close();
    }
}
