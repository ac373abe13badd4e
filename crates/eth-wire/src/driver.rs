//! [`EthDriver`], the future that runs an eth connection: it reads the connection, routes replies to their
//! requests by id (before decoding them), answers the remote's requests from a [`ChainStore`] through a serving
//! queue bounded in requests and in bytes, forwards announcements, tracks the remote's eth/69 block range, and
//! (eth/69+, with a store) sends BlockRangeUpdate when the store's head has moved far enough.
//!
//! The serving path has three stages: the read loop queues a request (taking byte permits for its size), the
//! answer loop answers it, releases the request's permits and queues the encoded answer (taking permits for its
//! size), and the write loop writes answers in order and releases their permits. A remote that never reads its
//! replies blocks the write loop; the answers queue fills up, the answer loop waits, the request queue fills up
//! and the read loop stops reading, so the remote's own writes block. Nothing grows past the bounds.

use std::sync::Arc;

use chain_types::{BlockRange, ChainStore};
use p2p_msg::{Msg, MsgReader, MsgWriter};
use primitive_types::U256;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{debug, trace, warn};

use crate::handshake::check_block_range;
use crate::message::is_reply;
use crate::shared::{CloseOnDrop, Shared, lock};
use crate::{Announcement, BlockRangeUpdate, Error, EthMessage, EthVersion, serve};

/// The future that runs an eth connection: reads messages, routes replies, answers requests, forwards
/// announcements. The caller drives it (for example inside a [`p2p_msg::Protocol`]'s run function).
pub struct EthDriver<RW> {
    shared: Arc<Shared<RW>>,
    store: Option<Arc<dyn ChainStore>>,
    announcements: Option<mpsc::Sender<Announcement>>,
}

impl<RW: std::fmt::Debug> std::fmt::Debug for EthDriver<RW> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthDriver")
            .field("peer", &self.shared.id)
            .field("store", &self.store.is_some())
            .field("announcements", &self.announcements.is_some())
            .finish()
    }
}

/// A queued item with the byte permits it holds.
struct Queued<T> {
    item: T,
    size: usize,
    _permit: OwnedSemaphorePermit,
}

/// Takes permits for `size` bytes (at most the whole budget, so one oversized item can pass alone).
async fn take(
    budget: &Arc<Semaphore>,
    total: usize,
    size: usize,
) -> Result<OwnedSemaphorePermit, Error> {
    let n = u32::try_from(size.min(total).max(1)).unwrap_or(u32::MAX);
    budget
        .clone()
        .acquire_many_owned(n)
        .await
        .map_err(|_| Error::Closed)
}

impl<RW: MsgReader + MsgWriter + 'static> EthDriver<RW> {
    pub(crate) const fn new(shared: Arc<Shared<RW>>) -> Self {
        Self {
            shared,
            store: None,
            announcements: None,
        }
    }

    /// Answers the remote's requests from `store` (without one, every request gets an empty answer). On eth/69+
    /// the driver also announces the store's head moves with BlockRangeUpdate (see
    /// [`PeerConfig::range_update_interval`](crate::PeerConfig::range_update_interval)).
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn ChainStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Forwards announcements to `tx`; when the channel is full they are dropped (and logged).
    #[must_use]
    pub fn with_announcements(mut self, tx: mpsc::Sender<Announcement>) -> Self {
        self.announcements = Some(tx);
        self
    }

    /// Runs the connection until it fails or closes. Always returns an error saying why it ended
    /// ([`Error::is_closed`] for an orderly end by the remote or the message layer).
    ///
    /// # Errors
    ///
    /// A protocol violation by the remote ([`Error::is_protocol_violation`]: a malformed message, a message
    /// its version does not have such as NewBlock on eth/69, an invalid BlockRangeUpdate), an idle remote, or
    /// the message layer's error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future ends the connection's eth side: pending requests fail with [`Error::Closed`].
    pub async fn run(self) -> Error {
        let Self {
            shared,
            store,
            announcements,
        } = self;
        let _close_on_exit = CloseOnDrop(&*shared);
        let config = shared.config;
        let total = config.serve_queue_bytes.max(1);
        let request_budget = Arc::new(Semaphore::new(total));
        let answer_budget = Arc::new(Semaphore::new(total));
        let (request_tx, mut request_rx) =
            mpsc::channel::<Queued<EthMessage>>(config.serve_queue.max(1));
        let (answer_tx, mut answer_rx) = mpsc::channel::<Queued<Msg>>(config.serve_queue.max(1));
        let shared = &*shared;
        let read = async {
            loop {
                let msg = tokio::time::timeout(config.idle_timeout, shared.rw.read_msg())
                    .await
                    .map_err(|_| Error::Msg(p2p_msg::Error::Timeout("eth peer idle")))??;
                trace!(peer = %shared.id, code = msg.code, size = msg.size, "eth recv");
                if is_reply(msg.code) && shared.version.has_code(msg.code) {
                    shared.route_reply(&msg)?;
                    continue;
                }
                let size = msg.payload.len();
                let message = EthMessage::from_msg(shared.version, &msg)?;
                drop(msg);
                match message {
                    EthMessage::Status(_) | EthMessage::Status69(_) => {
                        return Err::<(), Error>(Error::UnexpectedStatus);
                    }
                    EthMessage::GetBlockHeaders(_)
                    | EthMessage::GetBlockBodies(_)
                    | EthMessage::GetReceipts(_)
                    | EthMessage::GetReceipts70(_)
                    | EthMessage::GetPooledTransactions(_)
                    | EthMessage::GetNodeData(_) => {
                        let permit = take(&request_budget, total, size).await?;
                        shared.add_queued(size);
                        let queued = Queued {
                            item: message,
                            size,
                            _permit: permit,
                        };
                        if request_tx.send(queued).await.is_err() {
                            shared.sub_queued(size);
                            return Err(Error::Closed);
                        }
                    }
                    other => {
                        note_announcement(shared, &other)?;
                        if let Some(tx) = &announcements {
                            let a = Announcement {
                                peer: shared.id.clone(),
                                message: other,
                            };
                            if tx.try_send(a).is_err() {
                                debug!(peer = %shared.id, "announcement dropped (channel full or closed)");
                            }
                        }
                    }
                }
            }
        };
        let answer = async {
            while let Some(request) = request_rx.recv().await {
                let Queued {
                    item,
                    size,
                    _permit,
                } = request;
                let reply = answer_one(shared, store.as_deref(), &item);
                drop(item);
                drop(_permit);
                shared.sub_queued(size);
                if let Some(reply) = reply {
                    let msg = reply.to_msg();
                    drop(reply);
                    let size = msg.payload.len();
                    let permit = take(&answer_budget, total, size).await?;
                    shared.add_queued(size);
                    let queued = Queued {
                        item: msg,
                        size,
                        _permit: permit,
                    };
                    if answer_tx.send(queued).await.is_err() {
                        shared.sub_queued(size);
                        return Err(Error::Closed);
                    }
                }
            }
            Ok::<(), Error>(())
        };
        let write = async {
            while let Some(answer) = answer_rx.recv().await {
                let result = write_bounded(shared, answer.item).await;
                shared.sub_queued(answer.size);
                result?;
            }
            Ok::<(), Error>(())
        };
        let ranges = announce_ranges(shared, store.as_deref());
        let result = tokio::try_join!(read, answer, write, ranges);
        match result {
            Err(e) => {
                debug!(peer = %shared.id, error = %e, "eth connection ended");
                e
            }
            Ok(_) => Error::Closed,
        }
    }
}

/// Writes `msg` within [`PeerConfig::write_timeout`](crate::PeerConfig::write_timeout).
///
/// # Errors
///
/// [`Error::Msg`] with a timeout if the remote does not take the message in time, or the write's error.
async fn write_bounded<RW: MsgReader + MsgWriter>(
    shared: &Shared<RW>,
    msg: Msg,
) -> Result<(), Error> {
    tokio::time::timeout(shared.config.write_timeout, shared.write_raw(msg))
        .await
        .map_err(|_| Error::Msg(p2p_msg::Error::Timeout("eth peer does not read")))?
}

/// Answers one request (an empty answer if the store fails).
fn answer_one<RW>(
    shared: &Shared<RW>,
    store: Option<&dyn ChainStore>,
    request: &EthMessage,
) -> Option<EthMessage> {
    let limits = &shared.config.limits;
    match serve::answer(store, shared.version, request, limits) {
        Ok(r) => r,
        Err(e) => {
            warn!(peer = %shared.id, error = %e, request = request.name(), "store failed, answering empty");
            serve::answer::<dyn ChainStore>(None, shared.version, request, limits).unwrap_or(None)
        }
    }
}

/// Updates the remote's head and range from an announcement.
///
/// # Errors
///
/// [`Error::InvalidBlockRange`] for an invalid BlockRangeUpdate.
fn note_announcement<RW>(shared: &Shared<RW>, message: &EthMessage) -> Result<(), Error> {
    match message {
        EthMessage::NewBlock(b) => {
            let mut head = lock(&shared.head);
            if b.total_difficulty > head.1 {
                *head = (b.header.hash(), b.total_difficulty);
            }
        }
        EthMessage::BlockRangeUpdate(update) => {
            check_block_range(update)?;
            *lock(&shared.range) = Some(update.block_range());
            *lock(&shared.head) = (update.latest_hash, U256::zero());
        }
        _ => {}
    }
    Ok(())
}

/// eth/69+ with a store: every [`PeerConfig::range_update_interval`](crate::PeerConfig::range_update_interval),
/// sends a BlockRangeUpdate if the store's head moved by at least the threshold since the last announced
/// range. Otherwise never ends.
async fn announce_ranges<RW: MsgReader + MsgWriter>(
    shared: &Shared<RW>,
    store: Option<&dyn ChainStore>,
) -> Result<(), Error> {
    let (Some(store), true) = (store, shared.version >= EthVersion::Eth69) else {
        return std::future::pending().await;
    };
    let period = shared
        .config
        .range_update_interval
        .max(std::time::Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let head = match store.head() {
            Ok(Some((head, _))) => head,
            Ok(None) => continue,
            Err(e) => {
                warn!(peer = %shared.id, error = %e, "cannot read the store head for BlockRangeUpdate");
                continue;
            }
        };
        let last = *lock(&shared.announced);
        let moved = last
            .is_none_or(|r| head.number.abs_diff(r.latest) >= shared.config.range_update_threshold);
        if !moved {
            continue;
        }
        let range = BlockRange {
            earliest: last.map_or(0, |r| r.earliest.min(head.number)),
            latest: head.number,
            latest_hash: head.hash(),
        };
        debug!(peer = %shared.id, latest = range.latest, "sending BlockRangeUpdate");
        let update = EthMessage::BlockRangeUpdate(BlockRangeUpdate::from(range));
        write_bounded(shared, update.to_msg()).await?;
        *lock(&shared.announced) = Some(range);
    }
}
