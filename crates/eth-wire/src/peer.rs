//! An eth connection after the Status handshake: [`EthPeer`], the cheap-to-clone handle that sends requests
//! and implements [`ChainSource`], and [`EthDriver`], the future the caller drives that reads the connection,
//! routes replies to their requests by request id, answers the remote's requests (from a [`ChainStore`] if one
//! is attached) and forwards announcements.
//!
//! Every request has its own deadline; at most [`PeerConfig::max_in_flight`] requests are in flight at once
//! (others wait, within their deadline, for a slot); a reply with more items than asked for is an error. When the
//! driver stops, every pending and later request fails with [`Error::Closed`]. Receipts follow the negotiated
//! version: eth/69 receipts arrive without bloom (rebuilt locally), and eth/70 receipts of a block cut by the
//! server are fetched page by page and reassembled, at most [`PeerConfig::max_receipt_pages`] pages per call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chain_types::{BlockRange, Body, ChainSource, Header, HeadersRequest, Receipt};
use p2p_msg::{MsgReader, MsgWriter};
use primitive_types::{H256, U256};
use tokio::sync::{Semaphore, oneshot};

use crate::handshake::handshake;
use crate::shared::{Pending, PendingGuard, Shared, State, lock};
use crate::{
    Error, EthDriver, EthMessage, EthVersion, ForkFilter, GetReceipts70, RequestPair, ServeLimits,
    StatusMessage, codes,
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
    /// The driver gives up on a remote that does not take one of our answers or announcements for this long
    /// (20 s by default, as geth's frame write timeout).
    pub write_timeout: Duration,
    /// The driver gives up on a remote that sends no eth message for this long.
    pub idle_timeout: Duration,
    /// Remote requests queued for answering before the driver stops reading (back-pressure).
    pub serve_queue: usize,
    /// Byte bound of each of the two serving queues: remote requests waiting for an answer, and answers waiting
    /// to be written. A remote that sends requests and never reads its replies makes the driver stop answering
    /// and then stop reading once they are full. One message larger than the bound still passes alone.
    pub serve_queue_bytes: usize,
    /// Serving limits.
    pub limits: ServeLimits,
    /// eth/69+: how often the serving side checks whether its store's head moved enough to send a
    /// BlockRangeUpdate (so at most one per interval; 60 s by default).
    pub range_update_interval: Duration,
    /// eth/69+: the head must have moved by at least this many blocks since the last announced range for a
    /// BlockRangeUpdate (32 by default).
    pub range_update_threshold: u64,
    /// eth/70: most Receipts pages fetched for one call when the server cuts blocks (each page must add a
    /// receipt); more is [`Error::ReceiptPage`].
    pub max_receipt_pages: usize,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: crate::HANDSHAKE_TIMEOUT,
            request_timeout: Duration::from_secs(10),
            max_in_flight: 32,
            write_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(600),
            serve_queue: 16,
            serve_queue_bytes: 4 * 1024 * 1024,
            limits: ServeLimits::default(),
            range_update_interval: Duration::from_secs(60),
            range_update_threshold: 32,
            max_receipt_pages: 32,
        }
    }
}

/// An announcement received from a peer (NewBlockHashes, NewBlock, Transactions, NewPooledTransactionHashes,
/// BlockRangeUpdate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The peer's id.
    pub peer: String,
    /// The message.
    pub message: EthMessage,
}

/// Runs the Status handshake on `rw` and returns the connection's handle and driver.
///
/// `local` is our Status (its `version` is the negotiated eth version, its layout that version's: a
/// [`Status`](crate::Status) up to eth/68, a [`Status69`](crate::Status69) from eth/69 on), `filter` validates
/// the remote fork id, `id` names the peer in logs and in [`ChainSource::id`].
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
    local: impl Into<StatusMessage>,
    filter: &ForkFilter,
    config: PeerConfig,
) -> Result<(EthPeer<RW>, EthDriver<RW>), Error>
where
    RW: MsgReader + MsgWriter + 'static,
{
    let local = local.into();
    let version =
        EthVersion::from_number(u64::from(local.version())).ok_or(Error::VersionMismatch {
            remote: u64::from(local.version()),
            local: local.version(),
        })?;
    let remote = handshake(&rw, local, filter, config.handshake_timeout).await?;
    Ok(connected(rw, id.into(), version, &local, remote, config))
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
    let (ours, remote) = crate::handshake_following(&rw, version, config.handshake_timeout).await?;
    Ok(connected(rw, id.into(), version, &ours, remote, config))
}

/// Builds the handle and driver of a connection whose handshake is done.
fn connected<RW>(
    rw: RW,
    id: String,
    version: EthVersion,
    local: &StatusMessage,
    remote: StatusMessage,
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
        head: Mutex::new(remote.head()),
        range: Mutex::new(remote.block_range()),
        announced: Mutex::new(local.block_range()),
        queued_bytes: AtomicUsize::new(0),
    });
    (
        EthPeer {
            shared: shared.clone(),
        },
        EthDriver::new(shared),
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
    pub fn remote_status(&self) -> &StatusMessage {
        &self.shared.remote
    }

    /// The block range the remote announced (eth/69+: in its Status, updated by its BlockRangeUpdates);
    /// `None` for eth/68 and older.
    pub fn block_range(&self) -> Option<BlockRange> {
        *lock(&self.shared.range)
    }

    /// Bytes currently held in this connection's serving queues (remote requests waiting for an answer and
    /// answers waiting to be written). Each queue holds at most [`PeerConfig::serve_queue_bytes`], or a single
    /// message if one is larger; besides, one request and one answer may be in hand between the queues.
    pub fn serve_queued_bytes(&self) -> usize {
        self.shared.queued_bytes.load(Ordering::Relaxed)
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
    /// As [`EthPeer::get_block_headers`] (at most one list per hash); on eth/70 also [`Error::ReceiptPage`]
    /// if the server's pagination is broken or needs too many pages.
    ///
    /// # Cancel safety
    ///
    /// As [`EthPeer::get_block_headers`].
    pub async fn get_receipts(&self, hashes: Vec<H256>) -> Result<Vec<Vec<Receipt>>, Error> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let version = self.shared.version;
        if version >= EthVersion::Eth70 {
            return self.get_receipts_paged(hashes).await;
        }
        let max = hashes.len();
        let reply = self
            .request(codes::RECEIPTS, max, |id| {
                EthMessage::GetReceipts(RequestPair {
                    request_id: id,
                    message: hashes,
                })
            })
            .await?;
        match reply {
            EthMessage::Receipts(p) if version < EthVersion::Eth69 => Ok(p.message),
            EthMessage::Receipts69(p) if version == EthVersion::Eth69 => Ok(p.message),
            other => Err(unexpected(other, "Receipts")),
        }
    }

    /// eth/70: requests receipts page by page, continuing a block the server cut (from the index where its
    /// list stopped) until a page ends on a whole block, at most [`PeerConfig::max_receipt_pages`] pages.
    async fn get_receipts_paged(&self, hashes: Vec<H256>) -> Result<Vec<Vec<Receipt>>, Error> {
        let mut out: Vec<Vec<Receipt>> = Vec::new();
        // The blocks still wanted: `hashes[start..]`, the first from receipt `first_index` on.
        let mut start = 0usize;
        let mut first_index = 0u64;
        for _ in 0..self.shared.config.max_receipt_pages.max(1) {
            let wanted = hashes.get(start..).unwrap_or_default().to_vec();
            let max = wanted.len();
            let reply = self
                .request(codes::RECEIPTS, max, |id| {
                    EthMessage::GetReceipts70(GetReceipts70 {
                        request_id: id,
                        first_block_receipt_index: first_index,
                        hashes: wanted,
                    })
                })
                .await?;
            let page = match reply {
                EthMessage::Receipts70(page) => page,
                other => return Err(unexpected(other, "Receipts")),
            };
            let lists = page.receipts.len();
            if page.last_block_incomplete && page.receipts.last().is_none_or(Vec::is_empty) {
                return Err(Error::ReceiptPage(
                    "a page flagged incomplete ends without a receipt",
                ));
            }
            let mut lists_iter = page.receipts.into_iter();
            if first_index > 0 {
                // The first list continues the block cut by the previous page.
                if let (Some(last), Some(more)) = (out.last_mut(), lists_iter.next()) {
                    last.extend(more);
                }
            }
            out.extend(lists_iter);
            if !page.last_block_incomplete {
                // Whole blocks only: a short page means the server has no more (as in eth/69).
                return Ok(out);
            }
            // Continue the cut block: it is the page's last list, `hashes[start + lists - 1]`.
            start += lists - 1;
            first_index = out.last().map_or(0, Vec::len) as u64;
        }
        Err(Error::ReceiptPage(
            "more pages than allowed for one request",
        ))
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
        *lock(&self.shared.head)
    }

    fn block_range(&self) -> Option<BlockRange> {
        Self::block_range(self)
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
