//! A concurrent chain downloader: headers, bodies and receipts from many peers, verified and imported in order.
//!
//! `chain-downloader` is the sync engine of peerwire. It sits above `chain-types` and sees peers only through
//! its [`ChainSource`](chain_types::ChainSource) trait (held as `Arc<dyn DynChainSource>`) and the local chain
//! only through [`ChainStore`](chain_types::ChainStore). It follows go-ethereum's pre-merge downloader: a sync
//! with one *master* peer that announced a head hash and a total difficulty.
//!
//! 1. The head is fetched by its announced hash, and must hash to it.
//! 2. The common ancestor is searched (a span request, then a binary search), no deeper than the maximum fork
//!    ancestry ([`Error::InvalidAncestor`] otherwise).
//! 3. The master sends a header skeleton (every 192nd header); every idle peer fills the gaps in 192-header
//!    batches, each checked to link to the skeleton; a batch that does not fit is never offered to that peer
//!    again, and a skeleton nobody can fill is an invalid chain.
//! 4. Validated headers enter a result cache bounded by items and by bytes; bodies (and, in fast mode, receipts)
//!    are fetched from all peers concurrently, one request per peer per kind, sized by each peer's measured
//!    throughput and bounded by a timeout from the measured round trips. Empty bodies and receipts are never
//!    requested (the header's roots say they are empty). Bodies are matched to headers by their transactions
//!    root, ommers hash and withdrawals root, receipts by the receipts root, so short and holey replies are
//!    used as far as they go.
//! 5. Complete blocks are imported strictly in order, in atomic store batches. Stalling peers (timeouts) and
//!    lying peers (repeated invalid deliveries) are dropped; the [`policy`] table decides what a failed sync
//!    does to its master peer.
//!
//! The target is pinned: the sync ends exactly at the announced head, so the tip-delay and pivot machinery of
//! go-ethereum (needed when syncing a moving head) does not exist here. Headers the master sends outside the
//! skeleton are imported only once confirmed (a later header links to them, or they are the announced head).
//! A short but correct fill reply (a serving limit) is kept and the rest re-requested.
//!
//! [`Downloader::progress`] reports starting, current and highest block; [`Downloader::subscribe`] streams
//! [`SyncEvent`]s (started, done, failed); [`Downloader::stats`] counts cache use, requests and drops;
//! [`Downloader::cancel`] ends a running sync quietly, as does dropping its future.
//!
//! # When not to use it
//!
//! No mode executes transactions or downloads state ([`SyncMode`]): the engine fetches and verifies chain data
//! against the header commitments only. When a trusted target hash comes from a consensus client, a backwards
//! downloader in reth's style needs no ancestor search; this crate serves the untrusted-peers case.
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
//! let peer = Arc::new(Peer(headers));
//! let (head, td) = peer.head();
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
mod validate;

pub use ancestor::{SpanRequest, span_request};
pub use config::{
    Config, MAX_BLOCK_FETCH, MAX_HEADER_FETCH, MAX_RECEIPT_FETCH, MAX_SKELETON_SIZE, SyncMode,
};
pub use downloader::Downloader;
pub use error::{Action, Error, policy};
pub use state::{DropPeerFn, Progress, SyncEvent, SyncStats};
pub use validate::{BasicValidator, HeaderValidator, NoValidation};
