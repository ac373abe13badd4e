//! Ethereum chain vocabulary for peerwire: chain specs (genesis, fork schedule, fork ids, per-fork header rules),
//! headers, bodies, blocks and receipts with their RLP forms, hashes and roots; the [`ChainSource`] trait through
//! which chain data is requested; and the [`ChainStore`] trait with an in-memory store ([`MemoryStore`]) and an
//! embedded on-disk store ([`RedbStore`]).
//!
//! # Where it sits
//!
//! `chain-types` depends on no other workspace crate. `eth-wire` implements [`ChainSource`] over eth peers, puts
//! the fork id of a [`ChainSpec`] in its Status and serves requests from a [`ChainStore`]; `chain-downloader`
//! syncs from [`ChainSource`]s into a [`ChainStore`]; the `peerwire` program uses the generator for its devnet.
//!
//! Module map: the types at the root; [`spec`] has [`ChainSpec`] (built in for mainnet, sepolia and hoodi, or read
//! from a geth `genesis.json` with its state root computed), the forks ([`Fork`]), blob parameters and the
//! header rules ([`ChainSpec::validate_header`], [`next_base_fee`], [`next_excess_blob_gas`]); [`forkid`] computes
//! and checks EIP-2124 / EIP-6122 fork ids ([`ForkFilter`]); [`roots`] computes and checks the commitments of a
//! header (ordered and secure Merkle-Patricia roots through the `triehash` crate); [`codec`] has the strict RLP
//! helpers every decoder here uses (the `rlp` crate's list iterator is lenient); the `generator` module (feature
//! `generator`) builds test chains.
//!
//! # When not to use it
//!
//! This crate neither executes transactions nor keeps state, and it never decodes transactions beyond their
//! EIP-2718 envelope. Its header validation covers what a header and its parent show (linkage, timestamps, gas
//! limit, fork fields, post-merge rules, base fee, blob gas) but not proof-of-work difficulty or seals, clique
//! signatures, or anything that needs the block's state or the beacon chain; a genesis file is read for its
//! header and state root, not executed. Use a full execution client library for consensus.
//!
//! # Feature flags
//!
//! - `generator` (off by default): the `generator` module, a deterministic chain generator
//!   (transactions, ommers, receipts, forks) for tests, benches and the devnet command.
//!
//! # Examples
//!
//! A built-in spec's fork id, as an eth Status message carries it:
//!
//! ```
//! use chain_types::{ChainSpec, ForkHash};
//!
//! let mainnet = ChainSpec::by_name("mainnet")?;
//! // A mainnet head after BPO2 (EIP-2124 / EIP-6122; go-ethereum's `core/forkid` known answer).
//! let id = mainnet.fork_id_at(24_000_000, 1_767_747_671);
//! assert_eq!(id.hash, ForkHash::from(0x07c9_462e));
//! assert_eq!(id.next, 0);
//! // A peer on the same chain is accepted.
//! assert!(mainnet.fork_filter_at(24_000_000, 1_767_747_671).validate(id).is_ok());
//! # Ok::<(), chain_types::Error>(())
//! ```
//!
//! Headers and a store:
//!
//! ```
//! use chain_types::{BlockEntry, ChainStore, Header, MemoryStore, U256};
//!
//! let genesis = Header { difficulty: U256::from(17_179_869_184u64), gas_limit: 5000, ..Header::default() }.seal();
//! let child = Header { parent_hash: genesis.hash(), number: 1, difficulty: U256::from(1u64), ..Header::default() };
//! let bytes = rlp::encode(&child);
//! let child: chain_types::SealedHeader = rlp::decode(&bytes)?;
//!
//! let store = MemoryStore::new();
//! store.insert_batch(vec![BlockEntry::header_only(genesis), BlockEntry::header_only(child.clone())])?;
//! let (head, td) = store.head()?.expect("two headers stored");
//! assert_eq!(head.hash(), child.hash());
//! assert_eq!(td, U256::from(17_179_869_185u64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod body;
pub mod codec;
mod error;
pub mod forkid;
#[cfg(feature = "generator")]
pub mod generator;
mod header;
mod receipt;
pub mod roots;
mod source;
pub mod spec;
mod store;

pub use body::{Block, Body, MAX_TX_TYPE, Withdrawal};
pub use error::{Error, GenesisError, HeaderError, RootKind};
pub use forkid::{ForkFilter, ForkHash, ForkId, ForkIdError, TIMESTAMP_THRESHOLD};
pub use header::{
    BLOOM_BYTES, Bloom, EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH, Header, SealedHeader, keccak256,
};
pub use primitive_types::{H160 as Address, H256, U256};
pub use receipt::{Log, Receipt, ReceiptStatus};
pub use source::{
    BlockHashOrNumber, BlockRange, BoxFuture, ChainSource, DynChainSource, HeadersRequest, PeerId,
};
pub use spec::{
    BlobParams, ChainSpec, Fork, ForkKind, blob_base_fee, next_base_fee, next_excess_blob_gas,
};
pub use store::{
    BlockEntry, ChainStore, DEFAULT_CACHE_BYTES, INDEX_FLUSH_HEADERS, MemoryStore, RedbStore,
    SEGMENT_HEADERS,
};
