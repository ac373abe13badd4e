//! The Ethereum wire protocol eth/66 to eth/70 for peerwire.
//!
//! - [`EthMessage`] and its parts: every eth message with its RLP encoding and strict, never-panicking,
//!   bounded decoding ([`EthMessage::decode`]: list counts are checked against their byte size before anything
//!   is decoded), request ids (EIP-2481), both NewPooledTransactionHashes layouts, the eth/69 Status
//!   ([`Status69`]), BlockRangeUpdate and bloom-less receipts (EIP-7642), and eth/70's paginated receipts
//!   ([`GetReceipts70`], [`Receipts70`], EIP-7975);
//! - [`ForkId`] / [`ForkFilter`]: EIP-2124 fork identifiers (with EIP-6122 timestamp forks) and their validation;
//! - [`handshake()`]: the Status exchange with its checks (version, network id, genesis, fork id, eth/69 block
//!   range) and a deadline;
//! - [`EthPeer`] and [`EthDriver`] (from [`establish`]): request/reply matching by id with per-request timeouts
//!   and a bounded number in flight, replies to no pending request dropped before they are decoded, eth/70
//!   receipt pages reassembled; `EthPeer` implements [`chain_types::ChainSource`] (with the remote's block range
//!   on eth/69+);
//! - [`serve`]: answering requests from a [`chain_types::ChainStore`] within the usual limits ([`ServeLimits`]),
//!   through a serving queue bounded in requests and bytes;
//! - [`EthNode`]: the whole thing as [`p2p_msg::Protocol`]s for the devp2p multiplexer (eth/70, eth/69 and
//!   eth/68 offered; the highest shared one is used).
//!
//! Layering: above `p2p-msg` (messages, multiplexer) and `chain-types` (headers, bodies, stores); below the
//! `peerwire` program. The transport (RLPx) is not named here: anything implementing `p2p_msg`'s reader and
//! writer traits carries eth. Do not use this crate to sync a chain by itself: `chain-downloader` drives many
//! [`EthPeer`]s through `ChainSource`. No feature flags.
//!
//! # Example
//!
//! Two in-memory eth/70 peers: one serves a stored chain, the other fetches its genesis header.
//!
//! ```
//! use std::sync::Arc;
//! use chain_types::{BlockEntry, ChainSource, ChainStore, Header, HeadersRequest, MemoryStore};
//! use eth_wire::{EthVersion, ForkFilter, PeerConfig, Status69, establish};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let genesis = Header { gas_limit: 30_000_000, ..Header::default() }.seal();
//! let store = Arc::new(MemoryStore::new());
//! store.insert_batch(vec![BlockEntry::header_only(genesis.clone())])?;
//!
//! let filter = ForkFilter::genesis_only(genesis.hash());
//! // eth/69 and eth/70 announce the range of blocks served instead of a total difficulty.
//! let status = Status69 {
//!     version: EthVersion::Eth70.number(),
//!     network_id: 1337,
//!     genesis: genesis.hash(),
//!     fork_id: filter.current(),
//!     earliest: 0,
//!     latest: 0,
//!     latest_hash: genesis.hash(),
//! };
//! let (a, b) = p2p_msg::MsgPipe::pair();
//! let config = PeerConfig::default();
//! let ((client, client_driver), (_server, server_driver)) = tokio::try_join!(
//!     establish(a, "server", status, &filter, config),
//!     establish(b, "client", status, &filter, config),
//! )?;
//! assert_eq!(client.block_range().map(|r| r.latest), Some(0));
//! let server_driver = server_driver.with_store(store);
//! let fetch = async { client.headers(HeadersRequest::rising(0, 10)).await };
//! let headers = tokio::select! {
//!     h = fetch => h?,
//!     e = client_driver.run() => return Err(e.into()),
//!     e = server_driver.run() => return Err(e.into()),
//! };
//! assert_eq!(headers.len(), 1);
//! assert_eq!(headers[0].hash(), genesis.hash());
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod driver;
mod error;
mod forkid;
mod handshake;
mod message;
mod peer;
mod protocol;
pub mod serve;
mod shared;

pub use driver::EthDriver;
pub use error::Error;
pub use forkid::{ForkFilter, ForkHash, ForkId, ForkIdError, TIMESTAMP_THRESHOLD};
pub use handshake::{
    HANDSHAKE_TIMEOUT, check_block_range, check_status, handshake, handshake_following,
};
pub use message::{
    BlockHashNumber, BlockRangeUpdate, ETH_MESSAGE_COUNT, EthMessage, EthVersion, GetReceipts70,
    MAX_MESSAGE_SIZE, NewBlock, PooledTransactionsAnnouncement, Receipts70, RequestPair, Status,
    Status69, StatusMessage, code_name, codes,
};
pub use peer::{Announcement, EthPeer, PeerConfig, establish, establish_following};
pub use protocol::EthNode;
pub use serve::ServeLimits;
