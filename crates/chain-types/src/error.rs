//! The crate's error type.
//!
//! One [`Error`] enum covers decoding (malformed RLP or envelopes from a peer or a file), validation (roots that
//! do not match a header), store linkage (a batch that does not extend the stored chain), storage failures and
//! failures reported by a [`ChainSource`](crate::ChainSource), and two nested enums for the chain specs: a header
//! that breaks its fork's rules ([`HeaderError`]) and a geth `genesis.json` that cannot be read ([`GenesisError`]).

use primitive_types::H256;

use crate::spec::forks::Fork;

/// A header that breaks the rules of its fork, relative to its parent (see
/// [`ChainSpec::validate_header`](crate::ChainSpec::validate_header)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header's parent hash is not the parent's hash.
    #[error("parent hash {got:?} is not the parent's hash {expected:?}")]
    ParentHash {
        /// The parent's hash.
        expected: H256,
        /// The header's `parent_hash`.
        got: H256,
    },
    /// The header's number is not the parent's plus one.
    #[error("block number {number} does not follow parent #{parent}")]
    Number {
        /// The parent's number.
        parent: u64,
        /// The header's number.
        number: u64,
    },
    /// The timestamp is not after the parent's.
    #[error("timestamp {timestamp} is not after the parent's {parent}")]
    Timestamp {
        /// The parent's timestamp.
        parent: u64,
        /// The header's timestamp.
        timestamp: u64,
    },
    /// The extra data is longer than 32 bytes.
    #[error("extra data of {len} bytes is over the 32 allowed")]
    ExtraData {
        /// Its length.
        len: usize,
    },
    /// More gas used than the limit.
    #[error("gas used {used} is over the gas limit {limit}")]
    GasUsed {
        /// Gas used.
        used: u64,
        /// Gas limit.
        limit: u64,
    },
    /// The gas limit moved too far from the parent's, or is under 5000 or over 2^63 - 1.
    #[error("gas limit {limit} is out of bounds (parent's limit {parent})")]
    GasLimit {
        /// The parent's gas limit (doubled at the London block, EIP-1559).
        parent: u64,
        /// The header's gas limit.
        limit: u64,
    },
    /// A field the fork requires is missing.
    #[error("{field} is missing, {fork} requires it")]
    MissingField {
        /// The header field.
        field: &'static str,
        /// The fork that introduced it.
        fork: Fork,
    },
    /// A field is present before the fork that introduces it.
    #[error("{field} is present before {fork}")]
    UnexpectedField {
        /// The header field.
        field: &'static str,
        /// The fork that introduces it.
        fork: Fork,
    },
    /// A post-merge header with a nonzero difficulty.
    #[error("difficulty is not zero after the merge")]
    PostMergeDifficulty,
    /// A post-merge header with a nonzero nonce.
    #[error("nonce is not zero after the merge")]
    PostMergeNonce,
    /// A post-merge header with ommers.
    #[error("ommers hash is not the empty list's after the merge")]
    PostMergeOmmers,
    /// The base fee is not the one computed from the parent (EIP-1559).
    #[error("base fee {got} is not the expected {expected}")]
    BaseFee {
        /// The base fee computed from the parent.
        expected: u64,
        /// The header's base fee.
        got: u64,
    },
    /// The excess blob gas is not the one computed from the parent (EIP-4844, EIP-7918).
    #[error("excess blob gas {got} is not the expected {expected}")]
    ExcessBlobGas {
        /// The excess computed from the parent.
        expected: u64,
        /// The header's excess blob gas.
        got: u64,
    },
    /// The blob gas used is over the fork's maximum or not a multiple of the gas per blob.
    #[error("blob gas used {used} is invalid (maximum {max}, multiples of 131072)")]
    BlobGasUsed {
        /// The header's blob gas used.
        used: u64,
        /// The fork's maximum blob gas.
        max: u64,
    },
    /// Blobs are active but the spec has no blob parameters for the header's time.
    #[error("no blob parameters at time {time}")]
    NoBlobParams {
        /// The header's timestamp.
        time: u64,
    },
    /// The header is from a fork whose rules this crate does not implement.
    #[error("headers of {0} are not supported")]
    UnsupportedFork(Fork),
}

/// Why a geth `genesis.json` was rejected (see
/// [`ChainSpec::from_geth_genesis_json`](crate::ChainSpec::from_geth_genesis_json)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read the genesis file")]
    Io(#[from] std::io::Error),
    /// The file is larger than [`MAX_GENESIS_BYTES`](crate::spec::MAX_GENESIS_BYTES).
    #[error("genesis file of {len} bytes is over the limit")]
    TooLarge {
        /// Its size in bytes.
        len: u64,
    },
    /// The text is not JSON of the expected shape.
    #[error("genesis file is not valid json")]
    Json(#[from] serde_json::Error),
    /// A field has a value that cannot be used.
    #[error("invalid {field} in the genesis file: {reason}")]
    Field {
        /// The field (for example `config.londonBlock`, `alloc.<address>.balance`).
        field: String,
        /// Why it was rejected.
        reason: &'static str,
    },
}

/// Which commitment of a header a check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootKind {
    /// `transactions_root`.
    Transactions,
    /// `ommers_hash`.
    Ommers,
    /// `withdrawals_root`.
    Withdrawals,
    /// `receipts_root`.
    Receipts,
}

impl std::fmt::Display for RootKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Transactions => "transactions root",
            Self::Ommers => "ommers hash",
            Self::Withdrawals => "withdrawals root",
            Self::Receipts => "receipts root",
        })
    }
}

/// Errors of `chain-types`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed RLP.
    #[error("rlp decoding failed: {0}")]
    Rlp(#[from] rlp::DecoderError),
    /// Well-formed RLP that does not describe the expected value.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A body, receipt list or withdrawal list does not match the commitment in its header.
    #[error("{kind} mismatch: header has {expected:?}, content gives {computed:?}")]
    RootMismatch {
        /// Which commitment.
        kind: RootKind,
        /// The value in the header.
        expected: H256,
        /// The value computed from the content.
        computed: H256,
    },
    /// The first header of a batch does not extend the stored head.
    #[error(
        "batch does not link to the stored head: head #{head_number} {head_hash:?}, batch starts at #{number} with parent {parent_hash:?}"
    )]
    Unlinked {
        /// Number of the stored head.
        head_number: u64,
        /// Hash of the stored head.
        head_hash: H256,
        /// Number of the first header of the batch.
        number: u64,
        /// Parent hash of the first header of the batch.
        parent_hash: H256,
    },
    /// Two consecutive headers inside a batch do not link (number or parent hash).
    #[error("headers of the batch do not link at #{number}")]
    BrokenBatch {
        /// Number of the header that does not follow its predecessor.
        number: u64,
    },
    /// An empty store accepts only a genesis header (number 0) as its first header.
    #[error("an empty store starts with the genesis header, got #{number}")]
    NotGenesis {
        /// Number of the header offered.
        number: u64,
    },
    /// The block is not in the store.
    #[error("unknown block {0:?}")]
    UnknownBlock(H256),
    /// The embedded database failed.
    #[error("storage failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Data read back from the store is corrupt.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// A header breaks its fork's rules.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A genesis file cannot be used.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// No built-in chain spec has this name.
    #[error("unknown chain {0:?}")]
    UnknownChain(String),
    /// A chain source did not answer in time.
    #[error("chain source timed out")]
    Timeout,
    /// A chain source is gone (disconnected, closed).
    #[error("chain source disconnected")]
    Disconnected,
    /// A chain source failed in another way (its own error inside).
    #[error("chain source failed")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Builds an [`Error::Invalid`].
    pub(crate) const fn invalid(what: &'static str, reason: &'static str) -> Self {
        Self::Invalid { what, reason }
    }

    /// Wraps a storage backend error.
    pub(crate) fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Storage(e.into())
    }

    /// Whether this is a decoding error (malformed input).
    pub const fn is_decode(&self) -> bool {
        matches!(self, Self::Rlp(_) | Self::Invalid { .. })
    }

    /// Whether content failed a root check against its header.
    pub const fn is_root_mismatch(&self) -> bool {
        matches!(self, Self::RootMismatch { .. })
    }

    /// Whether a store rejected a batch because it does not link (to the head or internally) or does not start
    /// at genesis.
    pub const fn is_linkage(&self) -> bool {
        matches!(
            self,
            Self::Unlinked { .. } | Self::BrokenBatch { .. } | Self::NotGenesis { .. }
        )
    }

    /// Whether the block asked for is not stored.
    pub const fn is_unknown_block(&self) -> bool {
        matches!(self, Self::UnknownBlock(_))
    }

    /// Whether the storage backend failed or returned corrupt data.
    pub const fn is_storage(&self) -> bool {
        matches!(self, Self::Storage(_) | Self::Corrupt(_))
    }

    /// Whether a header failed validation against its chain spec.
    pub const fn is_invalid_header(&self) -> bool {
        matches!(self, Self::Header(_))
    }

    /// Whether a genesis file was rejected.
    pub const fn is_genesis(&self) -> bool {
        matches!(self, Self::Genesis(_))
    }

    /// Whether a chain source timed out.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// Whether a chain source is disconnected.
    pub const fn is_disconnect(&self) -> bool {
        matches!(self, Self::Disconnected)
    }

    /// Whether the error came from a chain source (timeout, disconnect or another source failure).
    pub const fn is_source(&self) -> bool {
        matches!(self, Self::Timeout | Self::Disconnected | Self::Source(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_classify() {
        assert!(Error::from(rlp::DecoderError::RlpIsTooShort).is_decode());
        assert!(Error::NotGenesis { number: 3 }.is_linkage());
        assert!(Error::BrokenBatch { number: 3 }.is_linkage());
        assert!(!Error::Timeout.is_linkage());
        assert!(Error::Timeout.is_source() && Error::Timeout.is_timeout());
        assert!(Error::Disconnected.is_disconnect());
        assert!(Error::Corrupt("x").is_storage());
        assert!(Error::UnknownBlock(H256::zero()).is_unknown_block());
        assert!(Error::from(HeaderError::PostMergeNonce).is_invalid_header());
        assert!(Error::from(GenesisError::TooLarge { len: 1 }).is_genesis());
        assert!(!Error::Timeout.is_genesis());
    }
}
