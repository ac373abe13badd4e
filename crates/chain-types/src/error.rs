//! The crate's error type.
//!
//! One [`Error`] enum covers decoding (malformed RLP or envelopes from a peer or a file), validation (roots that
//! do not match a header), store linkage (a batch that does not extend the stored chain), storage failures and
//! failures reported by a [`ChainSource`](crate::ChainSource).

use primitive_types::H256;

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
    }
}
