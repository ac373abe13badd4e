//! Header validation against the parent under the fork rules ([`ChainSpec::validate_header`]) and the EIP-1559
//! base fee ([`next_base_fee`]).
//!
//! Checked: linkage (parent hash, number), increasing timestamps, extra data of at most 32 bytes, gas used within
//! the gas limit, the gas limit within 1/1024 of the parent's (doubled at the London block) and between 5000 and
//! 2^63 - 1, the presence and absence of every fork's fields (base fee, withdrawals root, blob gas fields, parent
//! beacon root, requests hash, block access list hash, slot number), the post-merge rules (difficulty 0, nonce 0,
//! no ommers), the base fee, the blob gas used and the excess blob gas (with the fork's blob parameters and the
//! EIP-7918 reserve price from Osaka on).
//!
//! Not checked: proof-of-work difficulty and seals (ethash), clique signatures, the DAO fork's extra data,
//! timestamps against the local clock, and anything needing the block's body or state (roots, requests, access
//! lists, slot numbers against the beacon chain). Pre-merge headers are checked for everything else.

use super::blob::{GAS_PER_BLOB, next_excess_blob_gas};
use super::{ChainSpec, Fork};
use crate::{EMPTY_OMMERS_HASH, Header, HeaderError, SealedHeader};

/// The base fee of the first London block in wei, `INITIAL_BASE_FEE` ([EIP-1559]).
///
/// [EIP-1559]: https://eips.ethereum.org/EIPS/eip-1559
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// `BASE_FEE_MAX_CHANGE_DENOMINATOR` ([EIP-1559]): the base fee moves by at most 1/8 per block.
///
/// [EIP-1559]: https://eips.ethereum.org/EIPS/eip-1559
pub const BASE_FEE_MAX_CHANGE_DENOMINATOR: u64 = 8;

/// `ELASTICITY_MULTIPLIER` ([EIP-1559]): the gas target is half the gas limit.
///
/// [EIP-1559]: https://eips.ethereum.org/EIPS/eip-1559
pub const ELASTICITY_MULTIPLIER: u64 = 2;

/// The gas limit moves by less than `parent / GAS_LIMIT_BOUND_DIVISOR` per block (Yellow Paper, eq. 47).
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;

/// The lowest gas limit in gas (Yellow Paper, eq. 47).
pub const MIN_GAS_LIMIT: u64 = 5000;

/// The highest gas limit in gas, 2^63 - 1 (geth's `params.MaxGasLimit`).
pub const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;

/// The longest extra data in bytes after genesis (Yellow Paper, eq. 45).
pub const MAX_EXTRA_DATA_BYTES: usize = 32;

/// The base fee of the child of a London (or later) parent with `gas_used`, `gas_limit` and `base_fee`
/// ([EIP-1559]): unchanged at the gas target (half the limit), up by `base_fee * delta / target / 8` (but at
/// least one wei) above it, down by the same formula below it. A parent with gas limit under 2 keeps its base
/// fee; a result above `u64::MAX` saturates.
///
/// The first London block has no London parent; its base fee is [`INITIAL_BASE_FEE`].
///
/// [EIP-1559]: https://eips.ethereum.org/EIPS/eip-1559
pub fn next_base_fee(gas_used: u64, gas_limit: u64, base_fee: u64) -> u64 {
    let target = gas_limit / ELASTICITY_MULTIPLIER;
    if target == 0 || gas_used == target {
        return base_fee;
    }
    let fee = u128::from(base_fee);
    let (target, used) = (u128::from(target), u128::from(gas_used));
    let denominator = u128::from(BASE_FEE_MAX_CHANGE_DENOMINATOR);
    if used > target {
        let delta = (fee * (used - target) / target / denominator).max(1);
        u64::try_from(fee + delta).unwrap_or(u64::MAX)
    } else {
        let delta = fee * (target - used) / target / denominator;
        u64::try_from(fee.saturating_sub(delta)).unwrap_or(u64::MAX)
    }
}

/// Checks that a field is present exactly when its fork is active.
fn presence(
    present: bool,
    active: bool,
    field: &'static str,
    fork: Fork,
) -> Result<(), HeaderError> {
    match (present, active) {
        (false, true) => Err(HeaderError::MissingField { field, fork }),
        (true, false) => Err(HeaderError::UnexpectedField { field, fork }),
        _ => Ok(()),
    }
}

impl ChainSpec {
    /// Validates `header` against its `parent` under the rules of the fork at the header's number and timestamp
    /// (the module docs of `spec::validate` list what is and is not checked; proof-of-work difficulty and seals
    /// are out of scope).
    ///
    /// A header is held to the post-merge rules when the schedule says it is after the merge
    /// ([`ChainSpec::is_post_merge`]) or, on a chain with a terminal total difficulty, when its difficulty is
    /// zero (as geth's beacon engine decides).
    ///
    /// # Errors
    ///
    /// The first rule broken, as a [`HeaderError`]; [`HeaderError::UnsupportedFork`] for headers of a fork
    /// without rules here (UBT).
    pub fn validate_header(
        &self,
        header: &SealedHeader,
        parent: &SealedHeader,
    ) -> Result<(), HeaderError> {
        let (h, p) = (header.header(), parent.header());
        if h.parent_hash != parent.hash() {
            return Err(HeaderError::ParentHash {
                expected: parent.hash(),
                got: h.parent_hash,
            });
        }
        if p.number.checked_add(1) != Some(h.number) {
            return Err(HeaderError::Number {
                parent: p.number,
                number: h.number,
            });
        }
        if h.timestamp <= p.timestamp {
            return Err(HeaderError::Timestamp {
                parent: p.timestamp,
                timestamp: h.timestamp,
            });
        }
        if h.extra_data.len() > MAX_EXTRA_DATA_BYTES {
            return Err(HeaderError::ExtraData {
                len: h.extra_data.len(),
            });
        }
        if h.gas_used > h.gas_limit {
            return Err(HeaderError::GasUsed {
                used: h.gas_used,
                limit: h.gas_limit,
            });
        }
        let (number, time) = (h.number, h.timestamp);
        let active = |fork| self.is_active(fork, number, time);
        // Bogota changes no header field or header rule in geth v1.17.10 (no header or consensus code names it; its
        // dev chains schedule it at genesis), so its headers are held to the rules of the forks before it. UBT
        // changes the state commitment, which this crate does not model.
        if active(Fork::Ubt) {
            return Err(HeaderError::UnsupportedFork(Fork::Ubt));
        }
        self.check_merge_rules(header)?;
        let london = active(Fork::London);
        let parent_london = self.is_active(Fork::London, p.number, p.timestamp);
        let parent_limit = if london && !parent_london {
            p.gas_limit.saturating_mul(ELASTICITY_MULTIPLIER)
        } else {
            p.gas_limit
        };
        if h.gas_limit.abs_diff(parent_limit) >= parent_limit / GAS_LIMIT_BOUND_DIVISOR
            || h.gas_limit < MIN_GAS_LIMIT
            || h.gas_limit > MAX_GAS_LIMIT
        {
            return Err(HeaderError::GasLimit {
                parent: parent_limit,
                limit: h.gas_limit,
            });
        }
        self.check_header_fields(header)?;
        if let Some(got) = h.base_fee_per_gas {
            let expected = if parent_london {
                let parent_fee = p.base_fee_per_gas.ok_or(HeaderError::MissingField {
                    field: "parent base fee",
                    fork: Fork::London,
                })?;
                next_base_fee(p.gas_used, p.gas_limit, parent_fee)
            } else {
                INITIAL_BASE_FEE
            };
            if got != expected {
                return Err(HeaderError::BaseFee { expected, got });
            }
        }
        if let (Some(used), Some(got)) = (h.blob_gas_used, h.excess_blob_gas) {
            let params = self
                .blob_params_at(time)
                .ok_or(HeaderError::NoBlobParams { time })?;
            let max = params.max_blob_gas();
            if used > max || used % GAS_PER_BLOB != 0 {
                return Err(HeaderError::BlobGasUsed { used, max });
            }
            let expected = next_excess_blob_gas(p, &params, active(Fork::Osaka));
            if got != expected {
                return Err(HeaderError::ExcessBlobGas { expected, got });
            }
        }
        Ok(())
    }

    /// The post-merge rules: difficulty 0, nonce 0, the empty ommers hash.
    fn check_merge_rules(&self, header: &SealedHeader) -> Result<(), HeaderError> {
        let post_merge = self.is_post_merge(header.number, header.timestamp)
            || (self.terminal_total_difficulty.is_some() && header.difficulty.is_zero());
        if !post_merge {
            return Ok(());
        }
        if !header.difficulty.is_zero() {
            return Err(HeaderError::PostMergeDifficulty);
        }
        if header.nonce != [0; 8] {
            return Err(HeaderError::PostMergeNonce);
        }
        if header.ommers_hash != EMPTY_OMMERS_HASH {
            return Err(HeaderError::PostMergeOmmers);
        }
        Ok(())
    }

    /// Checks that `header` has exactly the optional fields of the forks active at its number and timestamp:
    /// each fork's fields (base fee from London; withdrawals root from Shanghai; blob gas used, excess blob gas
    /// and parent beacon root from Cancun; requests hash from Prague; block access list hash and slot number
    /// from Amsterdam) are present from that fork on and absent before it. This part of
    /// [`ChainSpec::validate_header`] needs no parent.
    ///
    /// # Errors
    ///
    /// [`HeaderError::MissingField`] or [`HeaderError::UnexpectedField`] for the first field out of place.
    pub fn check_header_fields(&self, header: &Header) -> Result<(), HeaderError> {
        let active = |fork| self.is_active(fork, header.number, header.timestamp);
        let fields: [(bool, &'static str, Fork); 8] = [
            (header.base_fee_per_gas.is_some(), "base fee", Fork::London),
            (
                header.withdrawals_root.is_some(),
                "withdrawals root",
                Fork::Shanghai,
            ),
            (
                header.blob_gas_used.is_some(),
                "blob gas used",
                Fork::Cancun,
            ),
            (
                header.excess_blob_gas.is_some(),
                "excess blob gas",
                Fork::Cancun,
            ),
            (
                header.parent_beacon_block_root.is_some(),
                "parent beacon block root",
                Fork::Cancun,
            ),
            (
                header.requests_hash.is_some(),
                "requests hash",
                Fork::Prague,
            ),
            (
                header.block_access_list_hash.is_some(),
                "block access list hash",
                Fork::Amsterdam,
            ),
            (header.slot_number.is_some(), "slot number", Fork::Amsterdam),
        ];
        for (present, field, fork) in fields {
            presence(present, active(fork), field, fork)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use primitive_types::H256;

    use super::*;

    /// The zero hash.
    const ZERO: H256 = H256::zero();

    /// EIP-1559's rules on round numbers: at the target the fee stays, a full block raises it by 1/8, an empty
    /// block lowers it by 1/8, a tiny excess still raises it by 1 wei.
    #[test]
    fn base_fee_follows_eip_1559() {
        let (limit, fee) = (30_000_000, 1_000_000_000);
        assert_eq!(next_base_fee(15_000_000, limit, fee), fee);
        assert_eq!(next_base_fee(30_000_000, limit, fee), 1_125_000_000);
        assert_eq!(next_base_fee(0, limit, fee), 875_000_000);
        assert_eq!(next_base_fee(15_000_001, limit, 7), 8);
        assert_eq!(next_base_fee(0, limit, 7), 7, "7 * 1/8 rounds down to 0");
        assert_eq!(next_base_fee(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(next_base_fee(5, 1, 9), 9);
    }

    fn child(parent: &SealedHeader) -> Header {
        Header {
            parent_hash: parent.hash(),
            number: parent.number + 1,
            timestamp: parent.timestamp + 12,
            gas_limit: parent.gas_limit,
            ommers_hash: EMPTY_OMMERS_HASH,
            base_fee_per_gas: parent
                .base_fee_per_gas
                .map(|f| next_base_fee(parent.gas_used, parent.gas_limit, f)),
            withdrawals_root: parent.withdrawals_root,
            blob_gas_used: parent.blob_gas_used.map(|_| 0),
            excess_blob_gas: parent.excess_blob_gas.map(|_| 0),
            parent_beacon_block_root: parent.parent_beacon_block_root.map(|_| ZERO),
            ..Header::default()
        }
    }

    #[test]
    fn a_good_child_passes_and_each_broken_rule_is_named() {
        let spec = ChainSpec::hoodi();
        let parent = spec.genesis.clone();
        let good = child(&parent);
        assert_eq!(spec.validate_header(&good.clone().seal(), &parent), Ok(()));
        let check = |f: &dyn Fn(&mut Header), want: HeaderError| {
            let mut h = good.clone();
            f(&mut h);
            assert_eq!(spec.validate_header(&h.seal(), &parent), Err(want));
        };
        check(
            &|h| h.parent_hash = ZERO,
            HeaderError::ParentHash {
                expected: parent.hash(),
                got: ZERO,
            },
        );
        check(
            &|h| h.number = 5,
            HeaderError::Number {
                parent: 0,
                number: 5,
            },
        );
        check(
            &|h| h.timestamp = parent.timestamp,
            HeaderError::Timestamp {
                parent: parent.timestamp,
                timestamp: parent.timestamp,
            },
        );
        check(
            &|h| h.extra_data = vec![0; 33].into(),
            HeaderError::ExtraData { len: 33 },
        );
        check(
            &|h| h.gas_used = h.gas_limit + 1,
            HeaderError::GasUsed {
                used: 36_000_001,
                limit: 36_000_000,
            },
        );
        check(
            &|h| h.gas_limit += 36_000_000 / 1024,
            HeaderError::GasLimit {
                parent: 36_000_000,
                limit: 36_000_000 + 35_156,
            },
        );
        check(
            &|h| h.difficulty = 1.into(),
            HeaderError::PostMergeDifficulty,
        );
        check(&|h| h.nonce = [1; 8], HeaderError::PostMergeNonce);
        check(&|h| h.ommers_hash = ZERO, HeaderError::PostMergeOmmers);
        check(
            &|h| h.withdrawals_root = None,
            HeaderError::MissingField {
                field: "withdrawals root",
                fork: Fork::Shanghai,
            },
        );
        check(
            &|h| h.requests_hash = Some(ZERO),
            HeaderError::UnexpectedField {
                field: "requests hash",
                fork: Fork::Prague,
            },
        );
        check(
            &|h| h.base_fee_per_gas = Some(1),
            HeaderError::BaseFee {
                expected: 875_000_000,
                got: 1,
            },
        );
        check(
            &|h| h.blob_gas_used = Some(7 * GAS_PER_BLOB),
            HeaderError::BlobGasUsed {
                used: 7 * GAS_PER_BLOB,
                max: 6 * GAS_PER_BLOB,
            },
        );
        check(
            &|h| h.excess_blob_gas = Some(1),
            HeaderError::ExcessBlobGas {
                expected: 0,
                got: 1,
            },
        );
    }

    #[test]
    fn the_london_block_doubles_the_gas_limit_and_starts_at_one_gwei() {
        let mut spec = ChainSpec::mainnet();
        spec.forks.insert(Fork::London, 1);
        let parent = Header {
            gas_limit: 15_000_000,
            ..spec.genesis.header().clone()
        }
        .seal();
        let mut h = child(&parent);
        h.difficulty = 1.into();
        h.gas_limit = 30_000_000;
        h.base_fee_per_gas = Some(INITIAL_BASE_FEE);
        assert_eq!(spec.validate_header(&h.clone().seal(), &parent), Ok(()));
        h.base_fee_per_gas = None;
        assert_eq!(
            spec.validate_header(&h.seal(), &parent),
            Err(HeaderError::MissingField {
                field: "base fee",
                fork: Fork::London
            })
        );
    }
}
