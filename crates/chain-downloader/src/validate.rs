//! Pluggable header validation.
//!
//! The downloader always checks what needs no consensus knowledge: numbers are consecutive, every header's parent
//! hash is its predecessor's hash, the skeleton's and the announced head's hashes match. Consensus rules
//! (difficulty, seals, gas limit bounds, timestamps, base fee) belong to a [`HeaderValidator`] the caller plugs in.

use chain_types::SealedHeader;

/// Consensus checks for one header given its (already accepted) parent.
///
/// Linkage (number and parent hash) has been checked before the validator is called.
pub trait HeaderValidator: Send + Sync + std::fmt::Debug {
    /// Checks `header` against `parent`.
    ///
    /// # Errors
    ///
    /// A short lowercase reason if the header breaks a rule; the sync then fails with
    /// [`Error::InvalidChain`](crate::Error::InvalidChain) and the master peer is dropped.
    fn validate(&self, header: &SealedHeader, parent: &SealedHeader) -> Result<(), &'static str>;
}

/// Accepts every header (linkage is still checked by the downloader).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoValidation;

impl HeaderValidator for NoValidation {
    fn validate(&self, _header: &SealedHeader, _parent: &SealedHeader) -> Result<(), &'static str> {
        Ok(())
    }
}

/// Cheap structural rules every Ethereum header obeys: timestamps rise strictly, gas used stays within the gas
/// limit, extra data is at most 32 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicValidator;

impl HeaderValidator for BasicValidator {
    fn validate(&self, header: &SealedHeader, parent: &SealedHeader) -> Result<(), &'static str> {
        if header.timestamp <= parent.timestamp {
            return Err("timestamp not after parent");
        }
        if header.gas_used > header.gas_limit {
            return Err("gas used above gas limit");
        }
        if header.extra_data.len() > 32 {
            return Err("extra data longer than 32 bytes");
        }
        Ok(())
    }
}
