//! Blob gas (EIP-4844): the per-fork blob parameters ([`BlobParams`], EIP-7691 and the EIP-7892 blob-parameter-only
//! forks), the excess blob gas a header must carry given its parent ([`next_excess_blob_gas`], with the EIP-7918
//! reserve price from Osaka on) and the blob base fee ([`blob_base_fee`], through [`fake_exponential`]).
//!
//! The formulas follow the EIPs and behave as go-ethereum v1.17.10 does (`consensus/misc/eip4844`): from Osaka
//! on, when the reserve price `BLOB_BASE_COST * parent.base_fee` exceeds the price of one blob at the parent's
//! excess, the excess grows by `parent.blob_gas_used * (max - target) / max` instead of shrinking by the target.

use primitive_types::U256;

use crate::Header;

/// Blob gas of one blob: `GAS_PER_BLOB = 2**17` ([EIP-4844]).
///
/// [EIP-4844]: https://eips.ethereum.org/EIPS/eip-4844
pub const GAS_PER_BLOB: u64 = 1 << 17;

/// The lowest blob base fee in wei, `MIN_BASE_FEE_PER_BLOB_GAS` ([EIP-4844]).
///
/// [EIP-4844]: https://eips.ethereum.org/EIPS/eip-4844
pub const MIN_BASE_FEE_PER_BLOB_GAS: u64 = 1;

/// Execution gas a blob is priced at at least, `BLOB_BASE_COST = 2**13` ([EIP-7918], Osaka).
///
/// [EIP-7918]: https://eips.ethereum.org/EIPS/eip-7918
pub const BLOB_BASE_COST: u64 = 1 << 13;

/// The blob parameters of a fork: target and maximum blobs per block and the base fee update fraction, as a geth
/// `genesis.json` gives them under `blobSchedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobParams {
    /// Target blobs per block.
    pub target: u64,
    /// Maximum blobs per block.
    pub max: u64,
    /// `BLOB_BASE_FEE_UPDATE_FRACTION`: the denominator of the blob base fee exponent.
    pub update_fraction: u64,
}

impl BlobParams {
    /// Cancun's parameters (EIP-4844): target 3, max 6, fraction 3 338 477.
    pub const CANCUN: Self = Self {
        target: 3,
        max: 6,
        update_fraction: 3_338_477,
    };
    /// Prague's parameters (EIP-7691): target 6, max 9, fraction 5 007 716.
    pub const PRAGUE: Self = Self {
        target: 6,
        max: 9,
        update_fraction: 5_007_716,
    };
    /// Mainnet BPO1: target 10, max 15, fraction 8 346 193 (geth's `params.DefaultBPO1BlobConfig`).
    pub const BPO1: Self = Self {
        target: 10,
        max: 15,
        update_fraction: 8_346_193,
    };
    /// Mainnet BPO2: target 14, max 21, fraction 11 684 671 (geth's `params.DefaultBPO2BlobConfig`).
    pub const BPO2: Self = Self {
        target: 14,
        max: 21,
        update_fraction: 11_684_671,
    };

    /// The blob gas of `target` blobs.
    pub const fn target_blob_gas(&self) -> u64 {
        self.target.saturating_mul(GAS_PER_BLOB)
    }

    /// The most blob gas a block may use.
    pub const fn max_blob_gas(&self) -> u64 {
        self.max.saturating_mul(GAS_PER_BLOB)
    }
}

/// `factor * e ** (numerator / denominator)` by the integer Taylor series of [EIP-4844] (`fake_exponential`).
///
/// Results too large for the 256-bit intermediate arithmetic (far above any real fee) and a zero denominator
/// give `U256::MAX`.
///
/// [EIP-4844]: https://eips.ethereum.org/EIPS/eip-4844
pub fn fake_exponential(factor: u64, numerator: u64, denominator: u64) -> U256 {
    let (numerator, denominator) = (U256::from(numerator), U256::from(denominator));
    if denominator.is_zero() {
        return U256::MAX;
    }
    let mut output = U256::zero();
    let mut accum = U256::from(factor) * denominator;
    let mut i = 1u64;
    while !accum.is_zero() {
        let Some(next) = output.checked_add(accum) else {
            return U256::MAX;
        };
        output = next;
        let Some(product) = accum.checked_mul(numerator) else {
            return U256::MAX;
        };
        accum = product / denominator / U256::from(i);
        i += 1;
    }
    output / denominator
}

/// The blob base fee (wei per blob gas) at `excess_blob_gas` under `params` ([EIP-4844]
/// `get_base_fee_per_blob_gas`).
///
/// [EIP-4844]: https://eips.ethereum.org/EIPS/eip-4844
pub fn blob_base_fee(excess_blob_gas: u64, params: &BlobParams) -> U256 {
    fake_exponential(
        MIN_BASE_FEE_PER_BLOB_GAS,
        excess_blob_gas,
        params.update_fraction,
    )
}

/// The excess blob gas of the child of `parent`, under the child's blob parameters `params`; `eip7918` says
/// whether the child is at or after Osaka (EIP-7918 reserve price).
///
/// A parent without blob fields (the last block before Cancun) counts as zero excess and zero use; a parent
/// without a base fee counts as base fee zero. Sums that would overflow `u64` saturate.
pub fn next_excess_blob_gas(parent: &Header, params: &BlobParams, eip7918: bool) -> u64 {
    let parent_excess = parent.excess_blob_gas.unwrap_or(0);
    let parent_used = parent.blob_gas_used.unwrap_or(0);
    let total = parent_excess.saturating_add(parent_used);
    let target = params.target_blob_gas();
    if total < target {
        return 0;
    }
    if eip7918 {
        let reserve = U256::from(BLOB_BASE_COST) * U256::from(parent.base_fee_per_gas.unwrap_or(0));
        let blob_price =
            blob_base_fee(parent_excess, params).saturating_mul(U256::from(GAS_PER_BLOB));
        if reserve > blob_price {
            let scaled = if params.max == 0 {
                0
            } else {
                let wide = u128::from(parent_used)
                    * u128::from(params.max.saturating_sub(params.target))
                    / u128::from(params.max);
                u64::try_from(wide).unwrap_or(u64::MAX)
            };
            return parent_excess.saturating_add(scaled);
        }
    }
    total - target
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers of go-ethereum v1.17.10, `consensus/misc/eip4844/eip4844_test.go`, `TestFakeExponential`.
    #[test]
    fn fake_exponential_known_answers() {
        let cases: [(u64, u64, u64, u64); 15] = [
            (1, 0, 1, 1),
            (38493, 0, 1000, 38493),
            (0, 1234, 2345, 0),
            (1, 2, 1, 6),
            (1, 4, 2, 6),
            (1, 3, 1, 16),
            (1, 6, 2, 18),
            (1, 4, 1, 49),
            (1, 8, 2, 50),
            (10, 8, 2, 542),
            (11, 8, 2, 596),
            (1, 5, 1, 136),
            (1, 5, 2, 11),
            (2, 5, 2, 23),
            (1, 50_000_000, 2_225_652, 5_709_098_764),
        ];
        for (f, n, d, want) in cases {
            assert_eq!(fake_exponential(f, n, d), U256::from(want), "{f} {n} {d}");
        }
    }

    #[test]
    fn fake_exponential_saturates_instead_of_overflowing() {
        assert_eq!(fake_exponential(1, u64::MAX, 1), U256::MAX);
        assert_eq!(fake_exponential(1, 5, 0), U256::MAX);
    }

    /// Known answers of go-ethereum v1.17.10, `eip4844_test.go`, `TestCalcBlobFee` (Cancun parameters).
    #[test]
    fn blob_base_fee_known_answers() {
        for (excess, fee) in [
            (0, 1u64),
            (2_314_057, 1),
            (2_314_058, 2),
            (10 * 1024 * 1024, 23),
        ] {
            assert_eq!(
                blob_base_fee(excess, &BlobParams::CANCUN),
                U256::from(fee),
                "{excess}"
            );
        }
    }

    fn parent(excess: u64, used: u64, base_fee: u64) -> Header {
        Header {
            excess_blob_gas: Some(excess),
            blob_gas_used: Some(used),
            base_fee_per_gas: Some(base_fee),
            ..Header::default()
        }
    }

    /// Known answers of go-ethereum v1.17.10, `eip4844_test.go`, `TestCalcExcessBlobGas` (mainnet Cancun).
    #[test]
    fn excess_blob_gas_known_answers_cancun() {
        let p = BlobParams::CANCUN;
        let target = p.target_blob_gas();
        let cases = [
            (0, 0, 0),
            (0, 1, 0),
            (0, 3, 0),
            (0, 4, GAS_PER_BLOB),
            (1, 4, GAS_PER_BLOB + 1),
            (1, 5, 2 * GAS_PER_BLOB + 1),
            (target, 3, target),
            (target, 2, target - GAS_PER_BLOB),
            (target, 1, target - 2 * GAS_PER_BLOB),
            (GAS_PER_BLOB - 1, 2, 0),
        ];
        for (excess, blobs, want) in cases {
            let h = parent(excess, blobs * GAS_PER_BLOB, 0);
            assert_eq!(
                next_excess_blob_gas(&h, &p, false),
                want,
                "{excess} {blobs}"
            );
        }
    }

    /// Known answers of go-ethereum v1.17.10, `eip4844_test.go`, `TestCalcBlobFeePostOsaka`: two devnet
    /// parents under BPO1 (9/14, 8 832 827) and BPO3 (21/32, 20 609 697) with EIP-7918 active.
    #[test]
    fn excess_blob_gas_known_answers_after_osaka() {
        let bpo1 = BlobParams {
            target: 9,
            max: 14,
            update_fraction: 8_832_827,
        };
        let bpo3 = BlobParams {
            target: 21,
            max: 32,
            update_fraction: 20_609_697,
        };
        assert_eq!(
            next_excess_blob_gas(&parent(5_149_252, 1_310_720, 30), &bpo1, true),
            5_617_366
        );
        assert_eq!(
            next_excess_blob_gas(&parent(19_251_039, 2_490_368, 50), &bpo3, true),
            20_107_103
        );
    }

    #[test]
    fn reserve_price_changes_the_formula_only_from_osaka() {
        // A high execution base fee makes blobs "too cheap": EIP-7918 lets the excess grow by 1/3 of the used
        // blob gas (Prague: (9 - 6) / 9) instead of shrinking by the target.
        let p = BlobParams::PRAGUE;
        let h = parent(p.target_blob_gas(), 4 * GAS_PER_BLOB, 1_000_000_000);
        let before = next_excess_blob_gas(&h, &p, false);
        let after = next_excess_blob_gas(&h, &p, true);
        assert_eq!(before, 4 * GAS_PER_BLOB);
        assert_eq!(after, p.target_blob_gas() + 4 * GAS_PER_BLOB / 3);
    }
}
