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

/// The full per-fork header rules of a chain specification ([`chain_types::ChainSpec::validate_header`]): fork
/// fields, post-merge rules, gas limit bounds, base fee and excess blob gas computed from the parent. The detailed
/// reason of a rejection is logged at debug level.
impl HeaderValidator for chain_types::ChainSpec {
    fn validate(&self, header: &SealedHeader, parent: &SealedHeader) -> Result<(), &'static str> {
        self.validate_header(header, parent).map_err(|error| {
            tracing::debug!(number = header.number, %error, "header breaks the chain spec");
            "header breaks the chain specification"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderValidator;
    use chain_types::{ChainSpec, Header, SealedHeader};

    /// geth's eth test chain: its genesis and headers 1-64 (the chain-types fixtures, cut from go-ethereum
    /// v1.17.10's `cmd/devp2p/internal/ethtest/testdata`).
    fn geth_test_chain() -> (ChainSpec, Vec<SealedHeader>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../chain-types/tests/fixtures");
        let spec = ChainSpec::from_path(format!("{dir}/geth-ethtest-genesis.json")).unwrap();
        let bytes = std::fs::read(format!("{dir}/geth-ethtest-headers-1-64.rlp")).unwrap();
        let mut headers = vec![spec.genesis.clone()];
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let len = rlp::Rlp::new(rest).payload_info().unwrap().total();
            let (one, tail) = rest.split_at(len);
            headers.push(rlp::decode(one).unwrap());
            rest = tail;
        }
        (spec, headers)
    }

    #[test]
    fn a_chain_spec_accepts_real_headers_and_rejects_a_difficulty_after_the_merge() {
        let (spec, headers) = geth_test_chain();
        assert_eq!(headers.len(), 65);
        for pair in headers.windows(2) {
            assert_eq!(
                spec.validate(&pair[1], &pair[0]),
                Ok(()),
                "#{}",
                pair[1].number
            );
        }
        let parent = &headers[40];
        let mut forged: Header = (*headers[41]).clone();
        forged.difficulty = 1.into();
        assert!(spec.validate(&forged.seal(), parent).is_err());
    }
}
