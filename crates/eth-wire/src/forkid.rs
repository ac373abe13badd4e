//! EIP-2124 fork identifiers (with the EIP-6122 timestamp forks), re-exported from `chain_types::forkid`, where
//! the code now lives next to the chain specs that compute them.

pub use chain_types::forkid::{ForkFilter, ForkHash, ForkId, ForkIdError, TIMESTAMP_THRESHOLD};
