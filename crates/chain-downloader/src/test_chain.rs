//! A chain of linked headers for the unit tests.

use chain_types::{Header, SealedHeader};

/// Headers `0..n`, each linked to the one before; `salt` (the gas limit of every header after the genesis) makes
/// chains that share the genesis but differ from block 1 on.
pub(crate) fn chain(n: u64, salt: u64) -> Vec<SealedHeader> {
    let mut v: Vec<SealedHeader> = Vec::new();
    for i in 0..n {
        let parent_hash = v.last().map(SealedHeader::hash).unwrap_or_default();
        let gas_limit = if i == 0 { 0 } else { salt };
        v.push(
            Header {
                number: i,
                parent_hash,
                gas_limit,
                ..Header::default()
            }
            .seal(),
        );
    }
    v
}
