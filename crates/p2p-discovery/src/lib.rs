//! Finding Ethereum peers.
//!
//! Every discovery mechanism (static `--peer` URLs, discv4, discv5, EIP-1459 DNS lists) produces
//! [`Candidate`]s: a node's RLPx address, its node record when known, and where it came from. The
//! peer pool turns candidates into eth sessions within limits; it never needs to know which
//! mechanism found a node.
//!
//! - [`eth_entry`]: the ENR `eth` entry (the fork id clients publish in their records) and the
//!   compatibility check against a chain spec.
//! - [`Candidate`] and [`Source`]: the common currency of every discovery source.
//! - [`pool`]: the peer pool, from candidates to eth sessions within limits.
//! - [`v5`]: discovery v5 over sigp's `discv5`, keyed by the node's secp256k1 key.
//!
//! # Example
//!
//! ```
//! use chain_types::ChainSpec;
//! use p2p_discovery::eth_entry::{EthEntry, ENR_KEY};
//!
//! let spec = ChainSpec::mainnet();
//! let entry = EthEntry::new(spec.fork_id_at(0, 0));
//! let rlp = entry.to_rlp();
//! assert_eq!(EthEntry::from_rlp(&rlp).unwrap(), entry);
//! assert_eq!(ENR_KEY, "eth");
//! ```

mod candidate;
mod error;
pub mod eth_entry;
pub mod pool;
pub mod v5;

pub use candidate::{Candidate, Source, enode_of};
pub use error::Error;

/// The node record type used across peerwire: an ENR signed with the "v4" scheme by a secp256k1 key.
pub type Enr = enr::Enr<secp256k1::SecretKey>;
