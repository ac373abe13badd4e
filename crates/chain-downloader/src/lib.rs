//! A concurrent chain downloader: headers, bodies and receipts from many peers, verified and imported in order.
//!
//! `chain-downloader` is the sync engine of peerwire. It sits above `chain-types` and sees peers only through
//! its [`ChainSource`](chain_types::ChainSource) trait (held as `Arc<dyn DynChainSource>`) and the local chain
//! only through [`ChainStore`](chain_types::ChainStore). It has two sync modes over one engine.
//!
//! # Trusted head: [`Downloader::sync_trusted`]
//!
//! For post-merge chains. eth/69 peers (today's geth) announce no total difficulty, only the block range they
//! serve ([`ChainSource::block_range`](chain_types::ChainSource::block_range)); the head to sync to comes from
//! outside (a consensus client, a checkpoint, the user) as a hash the caller trusts.
//!
//! 1. The head is fetched by hash, from the peers that announced it first, then from any other; it must hash to
//!    the trusted hash (a peer whose header does not is dropped). If no peer serves it, the sync ends with
//!    [`Error::HeadUnavailable`] after every peer was asked once, each within its timeout.
//! 2. Headers below it are downloaded in reverse, [`Config::reverse_batch`] (1024) per request with skip 0,
//!    concurrently from every peer whose announced range reaches them (peers without a range are asked too).
//!    A reply must be falling and linked in itself; when its turn comes it must link by parent hash to the
//!    lowest header already linked to the trusted head, and it is run through the [`HeaderValidator`] (on every
//!    n-th header with [`Config::header_check_frequency`], and always on the head and the link). A batch
//!    that does not link is thrown away, its sender earns a strike and is not asked for it again; short but
//!    correct replies are kept and the rest re-queued. There is no master: peers that lie, stall or send garbage
//!    are dropped one by one and their work goes to the others.
//! 3. Linked batches are written to the store's staging area
//!    ([`ChainStore::stage_headers`](chain_types::ChainStore::stage_headers)), one atomic write for what links at
//!    once, so memory
//!    holds at most [`Config::max_queued_headers`] unlinked headers. The reverse download stops when it links to
//!    the local head or any stored canonical header; a trusted chain that forks off below the local head rewinds
//!    the store to the fork point before the import. A chain that reaches genesis without meeting the local one
//!    is [`Error::InvalidChain`].
//! 4. The staged headers are read back in order and go through the same result cache, body and receipt fetch and
//!    in-order import as the master mode, read in ranges
//!    ([`ChainStore::staged_range`](chain_types::ChainStore::staged_range)); imported headers leave the staging
//!    area in the same write ([`ChainStore::insert_staged`](chain_types::ChainStore::insert_staged)). After a
//!    crash or an abort, the next `sync_trusted` with the same head reuses every staged header (nothing linked is
//!    downloaded again) and goes on where the import stopped. A `sync_trusted` to a newer, higher head extends
//!    the staged headers of the older one: it downloads only down to the old staged top and links there (if the
//!    gap fits into the header window and links; otherwise the old staged headers are discarded).
//!
//! # Master peer: [`Downloader::synchronise`] and [`Downloader::sync_best`]
//!
//! go-ethereum's pre-merge downloader, for eth/68 and older peers: a sync with one *master* peer that announced
//! a head hash and a total difficulty.
//!
//! 1. The head is fetched by its announced hash, and must hash to it.
//! 2. The common ancestor is searched (a span request, then a binary search), no deeper than the maximum fork
//!    ancestry ([`Error::InvalidAncestor`] otherwise).
//! 3. The master sends a header skeleton (every 192nd header); every idle peer fills the gaps in 192-header
//!    batches, each checked to link to the skeleton; a batch that does not fit is never offered to that peer
//!    again, and a skeleton nobody can fill is an invalid chain.
//! 4. Bodies, receipts, cache and import as below. The [`policy`] table decides what a failed sync does to its
//!    master; [`Downloader::sync_best`] then goes on with the next best peer, so a master that lies about its
//!    total difficulty, stalls or sends a wrong chain cannot fail a sync that an honest peer can serve.
//!
//! The target is pinned: the sync ends exactly at the announced head, so the tip-delay and pivot machinery of
//! go-ethereum (needed when syncing a moving head) does not exist here. Headers the master sends outside the
//! skeleton are imported only once confirmed (a later header links to them, or they are the announced head).
//!
//! # Shared machinery
//!
//! Validated headers enter a result cache bounded by items and by bytes; bodies (and, in fast mode, receipts)
//! are fetched from all peers concurrently, one request per peer per kind, sized by each peer's measured
//! throughput and bounded by a timeout from the measured round trips; a peer that announced a block range is
//! asked only for blocks in it. Empty bodies and receipts are never requested (the header's roots say they are
//! empty). Bodies are matched to headers by their transactions root, ommers hash and withdrawals root, receipts
//! by the receipts root, so short and holey replies are used as far as they go. Complete blocks are imported
//! strictly in order, in atomic store batches. Stalling peers (timeouts) and lying peers (repeated invalid
//! deliveries) are dropped.
//!
//! [`Downloader::progress`] reports starting, current and highest block; [`Downloader::subscribe`] streams
//! [`SyncEvent`]s (started, done, failed); [`Downloader::stats`] counts cache use, requests, staged headers and
//! drops; [`Downloader::cancel`] ends a running sync quietly, as does dropping its future.
//!
//! # Which mode
//!
//! Use [`Downloader::sync_trusted`] whenever a trusted head hash is known, and always against post-merge
//! (eth/69) peers, whose zero total difficulty gives the master mode nothing to choose by. Use
//! [`Downloader::sync_best`] (or [`Downloader::synchronise`] with a chosen peer) for pre-merge networks where
//! the peers' announced total difficulty is the only guide.
//!
//! # When not to use it
//!
//! No mode executes transactions or downloads state ([`SyncMode`]): the engine fetches and verifies chain data
//! against the header commitments (and the pluggable [`HeaderValidator`]) only.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use chain_downloader::{Config, Downloader, SyncMode};
//! use chain_types::{BlockEntry, ChainStore, MemoryStore};
//! # use chain_types::{Body, ChainSource, Error, Header, HeadersRequest, Receipt, H256, U256};
//! # struct Peer(Vec<Header>);
//! # impl ChainSource for Peer {
//! #     fn id(&self) -> &str { "peer" }
//! #     fn head(&self) -> (H256, U256) {
//! #         let td = self.0.iter().fold(U256::zero(), |a, h| a + h.difficulty);
//! #         (self.0.last().unwrap().hash(), td)
//! #     }
//! #     fn headers(&self, r: HeadersRequest) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
//! #         let origin = match r.origin {
//! #             chain_types::BlockHashOrNumber::Number(n) => Some(n),
//! #             chain_types::BlockHashOrNumber::Hash(h) => self.0.iter().find(|x| x.hash() == h).map(|x| x.number),
//! #         };
//! #         let out = origin.map(|o| r.block_numbers(o, 1024).map_while(|n| self.0.get(n as usize).cloned()).collect())
//! #             .unwrap_or_default();
//! #         async move { Ok(out) }
//! #     }
//! #     fn bodies(&self, _: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send { async { Ok(vec![]) } }
//! #     fn receipts(&self, _: Vec<H256>) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send { async { Ok(vec![]) } }
//! # }
//! # fn chain(n: u64) -> Vec<Header> {
//! #     let mut v: Vec<Header> = Vec::new();
//! #     for i in 0..n {
//! #         let parent_hash = v.last().map(|h| h.hash()).unwrap_or_default();
//! #         v.push(Header { number: i, parent_hash, difficulty: 1.into(), timestamp: i, ..Header::default() });
//! #     }
//! #     v
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let headers = chain(500); // 500 linked headers, genesis first
//! let store = MemoryStore::new();
//! store.insert_batch(vec![BlockEntry::header_only(headers[0].clone().seal())])?;
//!
//! let downloader = Downloader::new(store, Config::default())
//!     .with_drop_peer(|id| eprintln!("dropping {id}"));
//! let peer = Arc::new(Peer(headers.clone()));
//! let (head, td) = peer.head();
//! downloader.register_peer(peer.clone());
//!
//! // Post-merge: sync to a head hash you trust (here the peer's own head); no total difficulty needed.
//! downloader.sync_trusted(head, SyncMode::Light).await?;
//! assert_eq!(downloader.store().head_number()?, Some(499));
//!
//! // Pre-merge: sync with a master peer chosen by its announced total difficulty.
//! let store = MemoryStore::new();
//! store.insert_batch(vec![BlockEntry::header_only(headers[0].clone().seal())])?;
//! let downloader = Downloader::new(store, Config::default());
//! downloader.register_peer(peer);
//! downloader.synchronise("peer", head, td, SyncMode::Light).await?;
//! assert_eq!(downloader.store().head_number()?, Some(499));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod ancestor;
mod backward;
mod cache;
mod config;
mod content;
mod downloader;
mod engine;
mod error;
mod forward;
mod headers;
mod import;
mod peer;
mod request;
mod reverse;
mod skeleton;
mod staged;
mod state;
#[cfg(test)]
mod test_chain;
mod validate;

pub use ancestor::{SpanRequest, span_request};
pub use config::{
    Config, MAX_BLOCK_FETCH, MAX_HEADER_FETCH, MAX_RECEIPT_FETCH, MAX_SKELETON_SIZE, SyncMode,
};
pub use downloader::Downloader;
pub use error::{Action, Error, policy};
pub use state::{DropPeerFn, Progress, SyncEvent, SyncStats};
pub use validate::{BasicValidator, HeaderValidator, NoValidation};
