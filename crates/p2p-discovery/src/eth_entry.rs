//! The ENR `eth` entry: `[[fork_hash, fork_next], ...rest]`.
//!
//! Execution clients publish the fork id (EIP-2124) of their chain under the key `eth` in their node
//! record, so that a node can drop candidates of other chains before dialing them. The entry is an RLP
//! list whose first element is the fork id; later elements are reserved for future use and ignored.

use chain_types::forkid::{ForkFilter, ForkId};
use rlp::{Rlp, RlpStream};

use crate::{Enr, Error};

/// The ENR key of the entry.
pub const ENR_KEY: &str = "eth";

/// The decoded `eth` entry of a node record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthEntry {
    /// The fork id the node announced.
    pub fork_id: ForkId,
}

impl EthEntry {
    /// An entry announcing `fork_id`.
    #[must_use]
    pub fn new(fork_id: ForkId) -> Self {
        Self { fork_id }
    }

    /// The entry's value as it goes into a record (`[[hash, next]]`).
    #[must_use]
    pub fn to_rlp(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(1);
        s.append(&self.fork_id);
        s.out().to_vec()
    }

    /// Decodes an entry's value; extra trailing list elements are allowed (forward compatibility).
    ///
    /// # Errors
    ///
    /// [`Error::BadEthEntry`] when the value is not a list whose first element is a fork id.
    pub fn from_rlp(bytes: &[u8]) -> Result<Self, Error> {
        let rlp = Rlp::new(bytes);
        if !rlp.is_list() {
            return Err(Error::BadEthEntry(rlp::DecoderError::RlpExpectedToBeList));
        }
        let fork_id: ForkId = rlp.val_at(0).map_err(Error::BadEthEntry)?;
        Ok(Self { fork_id })
    }

    /// The entry of `record`: `Ok(None)` when the record has none.
    ///
    /// # Errors
    ///
    /// [`Error::BadEthEntry`] when the entry is present but malformed.
    pub fn of(record: &Enr) -> Result<Option<Self>, Error> {
        match record.get_raw_rlp(ENR_KEY) {
            None => Ok(None),
            Some(raw) => Self::from_rlp(raw).map(Some),
        }
    }

    /// Whether a node announcing this entry is on the chain `filter` describes (EIP-2124 rules).
    #[must_use]
    pub fn is_compatible(&self, filter: &ForkFilter) -> bool {
        filter.validate(self.fork_id).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain_types::ChainSpec;

    #[test]
    fn round_trip_and_trailing_elements() {
        let spec = ChainSpec::mainnet();
        let entry = EthEntry::new(spec.fork_id_at(0, 0));
        assert_eq!(EthEntry::from_rlp(&entry.to_rlp()).ok(), Some(entry));
        // [[hash, next], "extra"] still decodes.
        let mut s = RlpStream::new_list(2);
        s.append(&entry.fork_id);
        s.append(&"extra");
        assert_eq!(EthEntry::from_rlp(&s.out()).ok(), Some(entry));
    }

    #[test]
    fn malformed_entries_are_errors() {
        for bad in [
            &[][..],
            &[0x80],
            &[0xc0],
            &[0xc1, 0x01],
            &[0xc2, 0xc1, 0x01],
        ] {
            assert!(EthEntry::from_rlp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compatibility_follows_the_fork_filter() {
        let mainnet = ChainSpec::mainnet();
        let sepolia = ChainSpec::sepolia();
        let filter = mainnet.fork_filter_at(30_000_000, 2_000_000_000);
        let head = EthEntry::new(mainnet.fork_id_at(30_000_000, 2_000_000_000));
        assert!(head.is_compatible(&filter));
        assert!(!EthEntry::new(sepolia.fork_id_at(0, 0)).is_compatible(&filter));
    }
}
