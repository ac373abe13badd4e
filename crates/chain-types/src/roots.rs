//! The commitments a header makes to its block's content: transactions root, ommers hash, withdrawals root and
//! receipts root.
//!
//! Trie roots are ordered Merkle-Patricia roots (key `rlp(index)`, value the item's bytes) computed by the
//! `triehash` crate over Keccak-256; this crate writes no trie of its own.

use bytes::Bytes;
use primitive_types::H256;
use rlp::RlpStream;

use crate::{EMPTY_ROOT_HASH, Error, Header, Receipt, RootKind, Withdrawal, keccak256};

/// Keccak-256 as a `hash_db::Hasher`, the hash function for `triehash`.
#[derive(Debug, Clone, Copy, Default)]
struct KeccakHasher;

/// A `std::hash::Hasher` for 32-byte keys that are already uniformly distributed (the keys are hashes).
#[derive(Debug, Default, Clone, Copy)]
struct PrefixHasher(u64);

impl std::hash::Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(buf);
        }
    }
}

impl hash_db::Hasher for KeccakHasher {
    type Out = H256;
    type StdHasher = PrefixHasher;
    const LENGTH: usize = 32;

    fn hash(x: &[u8]) -> H256 {
        keccak256(x)
    }
}

/// The ordered trie root of `items` (key `rlp(i)`, value `items[i]`).
pub fn ordered_root<I>(items: I) -> H256
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    triehash::ordered_trie_root::<KeccakHasher, _>(items)
}

/// The root of a secure Merkle-Patricia trie (each key hashed with Keccak-256 before insertion), as the state
/// and storage tries are built.
pub fn secure_root<I, K, V>(entries: I) -> H256
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    triehash::sec_trie_root::<KeccakHasher, _, _, _>(entries)
}

/// The transactions root of raw EIP-2718 transactions.
pub fn transactions_root(transactions: &[Bytes]) -> H256 {
    if transactions.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    ordered_root(transactions)
}

/// The ommers hash: Keccak-256 of the RLP list of ommer headers.
pub fn ommers_hash(ommers: &[Header]) -> H256 {
    let mut s = RlpStream::new();
    s.append_list(ommers);
    keccak256(&s.out())
}

/// The withdrawals root.
pub fn withdrawals_root(withdrawals: &[Withdrawal]) -> H256 {
    if withdrawals.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    ordered_root(withdrawals.iter().map(rlp::encode))
}

/// The receipts root: the ordered trie over the receipts' EIP-2718 envelopes.
pub fn receipts_root(receipts: &[Receipt]) -> H256 {
    if receipts.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    ordered_root(receipts.iter().map(Receipt::encode_envelope))
}

/// Checks `receipts` against the header's receipts root.
///
/// # Errors
///
/// [`Error::RootMismatch`] if the root differs.
pub fn check_receipts(receipts: &[Receipt], header: &Header) -> Result<(), Error> {
    expect(
        RootKind::Receipts,
        header.receipts_root,
        receipts_root(receipts),
    )
}

/// Compares an expected and a computed commitment.
pub(crate) fn expect(kind: RootKind, expected: H256, computed: H256) -> Result<(), Error> {
    if expected == computed {
        Ok(())
    } else {
        Err(Error::RootMismatch {
            kind,
            expected,
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EMPTY_OMMERS_HASH;

    #[test]
    fn empty_roots_match_the_constants() {
        assert_eq!(ordered_root(Vec::<Vec<u8>>::new()), EMPTY_ROOT_HASH);
        assert_eq!(transactions_root(&[]), EMPTY_ROOT_HASH);
        assert_eq!(ommers_hash(&[]), EMPTY_OMMERS_HASH);
        assert_eq!(
            secure_root(Vec::<(Vec<u8>, Vec<u8>)>::new()),
            EMPTY_ROOT_HASH
        );
    }

    #[test]
    fn secure_root_of_one_entry_hashes_the_key() {
        // One leaf: keccak(rlp([hex-prefix(keccak(key) nibbles, leaf), value])); with 64 nibbles (even) the
        // hex prefix is 0x20 followed by the 32 bytes.
        let key = b"k";
        let value = b"value";
        let mut path = vec![0x20];
        path.extend_from_slice(keccak256(key).as_bytes());
        let mut s = RlpStream::new_list(2);
        s.append(&path);
        s.append(&value.as_slice());
        assert_eq!(secure_root([(key, value)]), keccak256(&s.out()));
    }
}
