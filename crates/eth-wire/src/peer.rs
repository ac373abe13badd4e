//! An eth connection after the Status handshake: [`EthPeer`], the cheap-to-clone handle that sends requests
//! and implements [`ChainSource`], and [`EthDriver`], the future the caller drives that reads the connection,
//! routes replies to their requests by request id, answers the remote's requests (from a [`ChainStore`] if one
//! is attached) and forwards announcements.
//!
//! Every request has its own deadline; at most [`PeerConfig::max_in_flight`] requests are in flight at once
//! (others wait, within their deadline, for a slot); a reply with more items than asked for is an error. When the
//! driver stops, every pending and later request fails with [`Error::Closed`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chain_types::{Body, ChainSource, ChainStore, Header, HeadersRequest, Receipt};
use p2p_msg::{MsgReader, MsgWriter};
use primitive_types::{H256, U256};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, trace, warn};

use crate::handshake::handshake;
use crate::{
    Error, EthMessage, EthVersion, ForkFilter, RequestPair, ServeLimits, Status, codes, serve,
};

/// Settings of an eth connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerConfig {
    /// Deadline of the Status exchange.
    pub handshake_timeout: Duration,
    /// Deadline of each request, from the call to the reply (waiting for an in-flight slot included).
    pub request_timeout: Duration,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// The driver gives up on a remote that sends no eth message for this long.
    pub idle_timeout: Duration,
    /// Remote requests queued for answering before the driver stops reading (back-pressure).
    pub serve_queue: usize,
    /// Serving limits.
    pub limits: ServeLimits,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: crate::HANDSHAKE_TIMEOUT,
            request_timeout: Duration::from_secs(10),
            max_in_flight: 32,
            idle_timeout: Duration::from_secs(600),
            serve_queue: 16,
            limits: ServeLimits::default(),
        }
    }
}

/// An announcement received from a peer (NewBlockHashes, NewBlock, Transactions, NewPooledTransactionHashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The peer's id.
    pub peer: String,
    /// The message.
    pub message: EthMessage,
}

/// A request waiting for its reply.
#[derive(Debug)]
struct Pending {
    /// The reply code expected.
    reply: u64,
    /// Most items the reply may carry.
    max_items: usize,
    tx: oneshot::Sender<Result<EthMessage, Error>>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    pending: HashMap<u64, Pending>,
    closed: bool,
}

#[derive(Debug)]
struct Shared<RW> {
    id: String,
    version: EthVersion,
    remote: Status,
    config: PeerConfig,
    rw: RW,
    write_lock: tokio::sync::Mutex<()>,
    slots: Semaphore,
    state: Mutex<State>,
    head: Mutex<(H256, U256)>,
}

impl<RW: MsgReader + MsgWriter> Shared<RW> {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn write(&self, msg: EthMessage) -> Result<(), Error> {
        let _guard = self.write_lock.lock().await;
        trace!(peer = %self.id, msg = msg.name(), "eth send");
        self.rw.write_msg(msg.to_msg()).await.map_err(Error::from)
    }

    /// Fails every pending request and refuses new ones.
    fn close(&self) {
        let mut st = self.state();
        st.closed = true;
        st.pending.clear();
        drop(st);
        self.slots.close();
    }

    /// Hands a reply to its request.
    fn deliver(&self, msg: EthMessage, items: usize) {
        let Some(id) = msg.request_id() else { return };
        let Some(pending) = self.state().pending.remove(&id) else {
            debug!(peer = %self.id, id, msg = msg.name(), "reply to no pending request (late or unsolicited), ignored");
            return;
        };
        let result = if msg.code() != pending.reply {
            Err(Error::WrongReply {
                id,
                expected: crate::message::code_name(pending.reply),
                got: msg.name(),
            })
        } else if items > pending.max_items {
            Err(Error::TooManyItems {
                message: msg.name(),
                got: items,
                max: pending.max_items,
            })
        } else {
            Ok(msg)
        };
        let _ = pending.tx.send(result);
    }
}

/// Removes a request from the pending map when its future ends (reply, timeout or cancellation).
struct PendingGuard<'a, RW: MsgReader + MsgWriter> {
    shared: &'a Shared<RW>,
    id: u64,
}

impl<RW: MsgReader + MsgWriter> Drop for PendingGuard<'_, RW> {
    fn drop(&mut self) {
        self.shared.state().pending.remove(&self.id);
    }
}

/// Runs the Status handshake on `rw` and returns the connection's handle and driver.
///
/// `local` is our Status (its `version` is the negotiated eth version), `filter` validates the remote fork id,
/// `id` names the peer in logs and in [`ChainSource::id`].
///
/// # Errors
///
/// As [`handshake`](crate::handshake()).
///
/// # Cancel safety
///
/// Not cancel safe (see [`handshake`](crate::handshake())).
pub async fn establish<RW>(
    rw: RW,
    id: impl Into<String>,
    local: &Status,
    filter: &ForkFilter,
    config: PeerConfig,
) -> Result<(EthPeer<RW>, EthDriver<RW>), Error>
where
    RW: MsgReader + MsgWriter + 'static,
{
    let version =
        EthVersion::from_number(u64::from(local.version)).ok_or(Error::VersionMismatch {
            remote: u64::from(local.version),
            local: local.version,
        })?;
    let remote = handshake(&rw, local, filter, config.handshake_timeout).await?;
    Ok(connected(rw, id.into(), version, remote, config))
}

/// Like [`establish`] for a node that has no chain yet: runs
/// [`handshake_following`](crate::handshake_following) (the remote's network, genesis and fork id are
/// mirrored, not checked) and returns the connection's handle and driver.
///
/// # Errors
///
/// As [`handshake_following`](crate::handshake_following).
///
/// # Cancel safety
///
/// Not cancel safe (see [`handshake_following`](crate::handshake_following)).
pub async fn establish_following<RW>(
    rw: RW,
    id: impl Into<String>,
    version: EthVersion,
    config: PeerConfig,
) -> Result<(EthPeer<RW>, EthDriver<RW>), Error>
where
    RW: MsgReader + MsgWriter + 'static,
{
    let (_, remote) = crate::handshake_following(&rw, version, config.handshake_timeout).await?;
    Ok(connected(rw, id.into(), version, remote, config))
}

/// Builds the handle and driver of a connection whose handshake is done.
fn connected<RW>(
    rw: RW,
    id: String,
    version: EthVersion,
    remote: Status,
    config: PeerConfig,
) -> (EthPeer<RW>, EthDriver<RW>)
where
    RW: MsgReader + MsgWriter + 'static,
{
    let shared = Arc::new(Shared {
        id,
        version,
        remote,
        config,
        rw,
        write_lock: tokio::sync::Mutex::new(()),
        slots: Semaphore::new(config.max_in_flight.max(1)),
        state: Mutex::new(State::default()),
        head: Mutex::new((remote.best_hash, remote.total_difficulty)),
    });
    (
        EthPeer {
            shared: shared.clone(),
        },
        EthDriver {
            shared,
            store: None,
            announcements: None,
        },
    )
}

/// The handle of an established eth connection: sends requests and announcements. Cheap to clone.
#[derive(Debug)]
pub struct EthPeer<RW> {
    shared: Arc<Shared<RW>>,
}

impl<RW> Clone for EthPeer<RW> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<RW: MsgReader + MsgWriter> EthPeer<RW> {
    /// The peer's id.
    pub fn peer_id(&self) -> &str {
        &self.shared.id
    }

    /// The negotiated eth version.
    pub fn version(&self) -> EthVersion {
        self.shared.version
    }

    /// The Status the remote sent.
    pub fn remote_status(&self) -> &Status {
        &self.shared.remote
    }

    /// Whether the connection is closed (the driver stopped).
    pub fn is_closed(&self) -> bool {
        self.shared.state().closed
    }

    /// Number of requests waiting for a reply.
    pub fn in_flight(&self) -> usize {
        self.shared.state().pending.len()
    }

    /// Sends a message that needs no reply (an announcement).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the connection is closed, [`Error::Msg`] if the write fails,
    /// [`Error::RequestTimeout`] if it does not complete within the request timeout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future mid-write leaves the connection as the message layer's cancel safety allows.
    pub async fn send(&self, msg: EthMessage) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let after = self.shared.config.request_timeout;
        let name = msg.name();
        tokio::time::timeout(after, self.shared.write(msg))
            .await
            .map_err(|_| Error::RequestTimeout {
                request: name,
                id: 0,
                after,
            })?
    }

    /// Sends the request `build(id)` and waits for the reply with code `reply` and at most `max_items` items.
    async fn request(
        &self,
        reply: u64,
        max_items: usize,
        build: impl FnOnce(u64) -> EthMessage,
    ) -> Result<EthMessage, Error> {
        let shared = &*self.shared;
        let after = shared.config.request_timeout;
        let name = crate::message::code_name(reply);
        let mut request_id = 0;
        let work = async {
            let _slot = shared.slots.acquire().await.map_err(|_| Error::Closed)?;
            let (tx, rx) = oneshot::channel();
            let id = {
                let mut st = shared.state();
                if st.closed {
                    return Err(Error::Closed);
                }
                let id = st.next_id;
                st.next_id = st.next_id.wrapping_add(1);
                st.pending.insert(
                    id,
                    Pending {
                        reply,
                        max_items,
                        tx,
                    },
                );
                id
            };
            request_id = id;
            let _guard = PendingGuard { shared, id };
            shared.write(build(id)).await?;
            rx.await.map_err(|_| Error::Closed)?
        };
        match tokio::time::timeout(after, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::RequestTimeout {
                request: name,
                id: request_id,
                after,
            }),
        }
    }

    /// Requests headers.
    ///
    /// # Errors
    ///
    /// [`Error::RequestTimeout`], [`Error::Closed`], [`Error::TooManyItems`] (more than `request.amount`),
    /// [`Error::WrongReply`], [`Error::Msg`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped request is forgotten and a late reply ignored.
    pub async fn get_block_headers(&self, request: HeadersRequest) -> Result<Vec<Header>, Error> {
        let max = usize::try_from(request.amount).unwrap_or(usize::MAX);
        match self
            .request(codes::BLOCK_HEADERS, max, |id| {
                EthMessage::GetBlockHeaders(RequestPair {
                    request_id: id,
                    message: request,
                })
            })
            .await?
        {
            EthMessage::BlockHeaders(p) => Ok(p.message),
            other => Err(unexpected(other, "BlockHeaders")),
        }
    }

    /// Requests bodies.
    ///
    /// # Errors
    ///
    /// As [`EthPeer::get_block_headers`] (at most one body per hash).
    ///
    /// # Cancel safety
    ///
    /// As [`EthPeer::get_block_headers`].
    pub async fn get_block_bodies(&self, hashes: Vec<H256>) -> Result<Vec<Body>, Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        match self
            .request(codes::BLOCK_BODIES, hashes.len(), |id| {
                EthMessage::GetBlockBodies(RequestPair {
                    request_id: id,
                    message: hashes,
                })
            })
            .await?
        {
            EthMessage::BlockBodies(p) => Ok(p.message),
            other => Err(unexpected(other, "BlockBodies")),
        }
    }

    /// Requests receipts.
    ///
    /// # Errors
    ///
    /// As [`EthPeer::get_block_headers`] (at most one list per hash).
    ///
    /// # Cancel safety
    ///
    /// As [`EthPeer::get_block_headers`].
    pub async fn get_receipts(&self, hashes: Vec<H256>) -> Result<Vec<Vec<Receipt>>, Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        match self
            .request(codes::RECEIPTS, hashes.len(), |id| {
                EthMessage::GetReceipts(RequestPair {
                    request_id: id,
                    message: hashes,
                })
            })
            .await?
        {
            EthMessage::Receipts(p) => Ok(p.message),
            other => Err(unexpected(other, "Receipts")),
        }
    }

    /// Requests pooled transactions.
    ///
    /// # Errors
    ///
    /// As [`EthPeer::get_block_headers`] (at most one transaction per hash).
    ///
    /// # Cancel safety
    ///
    /// As [`EthPeer::get_block_headers`].
    pub async fn get_pooled_transactions(&self, hashes: Vec<H256>) -> Result<Vec<Bytes>, Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        match self
            .request(codes::POOLED_TRANSACTIONS, hashes.len(), |id| {
                EthMessage::GetPooledTransactions(RequestPair {
                    request_id: id,
                    message: hashes,
                })
            })
            .await?
        {
            EthMessage::PooledTransactions(p) => Ok(p.message),
            other => Err(unexpected(other, "PooledTransactions")),
        }
    }
}

fn unexpected(got: EthMessage, expected: &'static str) -> Error {
    Error::WrongReply {
        id: got.request_id().unwrap_or_default(),
        expected,
        got: got.name(),
    }
}

impl<RW: MsgReader + MsgWriter + 'static> ChainSource for EthPeer<RW> {
    fn id(&self) -> &str {
        &self.shared.id
    }

    fn head(&self) -> (H256, U256) {
        *self
            .shared
            .head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn headers(&self, request: HeadersRequest) -> Result<Vec<Header>, chain_types::Error> {
        self.get_block_headers(request).await.map_err(Into::into)
    }

    async fn bodies(&self, hashes: Vec<H256>) -> Result<Vec<Body>, chain_types::Error> {
        self.get_block_bodies(hashes).await.map_err(Into::into)
    }

    async fn receipts(&self, hashes: Vec<H256>) -> Result<Vec<Vec<Receipt>>, chain_types::Error> {
        self.get_receipts(hashes).await.map_err(Into::into)
    }
}

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

impl<RW: MsgReader + MsgWriter + 'static> EthDriver<RW> {
    /// Answers the remote's requests from `store` (without one, every request gets an empty answer).
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
    /// A protocol violation by the remote ([`Error::is_protocol_violation`]), an idle remote, or the message
    /// layer's error.
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
        let (queue_tx, mut queue_rx) =
            mpsc::channel::<EthMessage>(shared.config.serve_queue.max(1));
        let read = async {
            loop {
                let idle = shared.config.idle_timeout;
                let msg = tokio::time::timeout(idle, shared.rw.read_msg())
                    .await
                    .map_err(|_| Error::Msg(p2p_msg::Error::Timeout("eth peer idle")))??;
                let message = EthMessage::from_msg(shared.version, &msg)?;
                trace!(peer = %shared.id, msg = message.name(), size = msg.size, "eth recv");
                match message {
                    EthMessage::Status(_) => return Err::<(), Error>(Error::UnexpectedStatus),
                    EthMessage::BlockHeaders(ref p) => {
                        let n = p.message.len();
                        shared.deliver(message, n);
                    }
                    EthMessage::BlockBodies(ref p) => {
                        let n = p.message.len();
                        shared.deliver(message, n);
                    }
                    EthMessage::Receipts(ref p) => {
                        let n = p.message.len();
                        shared.deliver(message, n);
                    }
                    EthMessage::PooledTransactions(ref p) | EthMessage::NodeData(ref p) => {
                        let n = p.message.len();
                        shared.deliver(message, n);
                    }
                    EthMessage::GetBlockHeaders(_)
                    | EthMessage::GetBlockBodies(_)
                    | EthMessage::GetReceipts(_)
                    | EthMessage::GetPooledTransactions(_)
                    | EthMessage::GetNodeData(_) => {
                        queue_tx.send(message).await.map_err(|_| Error::Closed)?;
                    }
                    other => {
                        if let EthMessage::NewBlock(b) = &other {
                            let mut head = shared
                                .head
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            if b.total_difficulty > head.1 {
                                *head = (b.header.hash(), b.total_difficulty);
                            }
                        }
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
        let serve = async {
            while let Some(request) = queue_rx.recv().await {
                let reply = match serve::answer(store.as_deref(), &request, &shared.config.limits) {
                    Ok(r) => r,
                    Err(e) => {
                        warn!(peer = %shared.id, error = %e, request = request.name(), "store failed, answering empty");
                        serve::answer::<dyn ChainStore>(None, &request, &shared.config.limits)
                            .unwrap_or(None)
                    }
                };
                if let Some(reply) = reply {
                    shared.write(reply).await?;
                }
            }
            Ok::<(), Error>(())
        };
        let result = tokio::try_join!(read, serve);
        match result {
            Err(e) => {
                debug!(peer = %shared.id, error = %e, "eth connection ended");
                e
            }
            Ok(_) => Error::Closed,
        }
    }
}

/// Closes the shared state when the driver ends or is dropped.
struct CloseOnDrop<'a, RW: MsgReader + MsgWriter>(&'a Shared<RW>);

impl<RW: MsgReader + MsgWriter> Drop for CloseOnDrop<'_, RW> {
    fn drop(&mut self) {
        self.0.close();
    }
}
