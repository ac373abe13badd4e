//! Strict RLP helpers for decoding peer input with the `rlp` 0.6 crate.
//!
//! The `rlp` crate's list iterator (`Rlp::iter`, `as_list`, `item_count`) stops silently at the first malformed
//! item, and a view over input with bytes after its first value reads only that value. These helpers reject both:
//! [`list_of`] and [`exact_list`] require every list to be exactly filled by well-formed items, and
//! [`decode_exact`] requires a top-level value to span all of its input (`list_of` alone does not check what
//! follows the list).
//! Every decoder of this crate uses them; protocol crates decoding messages around these types should too.

use rlp::{Decodable, DecoderError, Rlp};

/// Decodes `bytes` as exactly one `T`: trailing bytes are an error.
///
/// # Errors
///
/// A [`DecoderError`] if `bytes` is not exactly one valid encoding of `T`.
pub fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, DecoderError> {
    crate::header::decode_exact(bytes)
}

/// Decodes a list of `T` whose items exactly fill its payload.
///
/// # Errors
///
/// A [`DecoderError`] if `rlp` is not a list, an item is malformed, or bytes are left over in the list.
pub fn list_of<T: Decodable>(rlp: &Rlp<'_>) -> Result<Vec<T>, DecoderError> {
    crate::header::list_of(rlp)
}

/// Checks that `rlp` is a list exactly filled by its items; returns a view trimmed to the list (read the items
/// through it) and the number of items.
///
/// # Errors
///
/// A [`DecoderError`] if `rlp` is not a list, an item is malformed, or bytes are left over in the list.
pub fn exact_list<'a>(rlp: &Rlp<'a>) -> Result<(Rlp<'a>, usize), DecoderError> {
    crate::header::exact_list(rlp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_cases_of_the_rlp_crate_are_rejected() {
        // A list of two u64 followed by a truncated item inside the list payload.
        let bad_inner = [0xc4, 0x01, 0x02, 0x81, 0x05];
        assert_eq!(
            Rlp::new(&[0xc3, 0x01, 0x02, 0x81]).as_list::<u64>().ok(),
            Some(vec![1, 2])
        );
        assert!(list_of::<u64>(&Rlp::new(&[0xc3, 0x01, 0x02, 0x81])).is_err());
        assert!(list_of::<u64>(&Rlp::new(&bad_inner)).is_err());
        // Trailing bytes after a top-level list.
        assert!(decode_exact::<Vec<u8>>(&[0x82, 0x01, 0x02, 0x03]).is_err());
        let trailing = [0xc2, 0x01, 0x02, 0x03];
        let (list, count) = exact_list(&Rlp::new(&trailing)).unwrap();
        assert_eq!(count, 2);
        assert_eq!(list.as_raw(), &trailing[..3]);
        assert_eq!(list_of::<u64>(&Rlp::new(&trailing)).unwrap(), vec![1, 2]);
    }
}
