//! Overlay addresses and proximity: where a node sits in the routing space.

use std::fmt;
use std::str::FromStr;

use p2p_msg::NodeId;
use secp256k1::PublicKey;
use sha3::{Digest as _, Keccak256};

/// The length of a full overlay address in bytes.
pub const ADDRESS_LEN: usize = 32;

/// A node's 32-byte overlay address: Keccak-256 of its 64-byte node id (the uncompressed public
/// key without the `0x04` prefix), so that anyone who knows a node's key knows its address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OverlayAddr(pub [u8; ADDRESS_LEN]);

impl OverlayAddr {
    /// The address of a node id.
    #[must_use]
    pub fn from_node_id(id: &NodeId) -> Self {
        Self(Keccak256::digest(id.0).into())
    }

    /// The address of a public key.
    #[must_use]
    pub fn from_public_key(key: &PublicKey) -> Self {
        Self::from_node_id(&p2p_rlpx::node_id(key))
    }

    /// The proximity order to an address or an address prefix: the number of leading bits the
    /// two have in common, at most `8 * hint.len()`.
    #[must_use]
    pub fn proximity(&self, hint: &[u8]) -> u32 {
        proximity(&self.0, hint)
    }

    /// Whether `hint` is a prefix of this address (an empty hint matches every address).
    #[must_use]
    pub fn matches(&self, hint: &[u8]) -> bool {
        hint.len() <= ADDRESS_LEN && self.0.starts_with(hint)
    }
}

/// The number of leading bits `a` and `b` have in common, compared over the shorter of the two.
#[must_use]
pub fn proximity(a: &[u8], b: &[u8]) -> u32 {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let diff = x ^ y;
        if diff != 0 {
            return i as u32 * 8 + diff.leading_zeros();
        }
    }
    a.len().min(b.len()) as u32 * 8
}

impl fmt::Display for OverlayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for OverlayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OverlayAddr(0x{}…)", hex::encode(&self.0[..4]))
    }
}

/// A string that is not `0x` followed by 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid overlay address {0:?}: want 0x and 64 hex digits")]
pub struct ParseAddrError(pub String);

impl FromStr for OverlayAddr {
    type Err = ParseAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; ADDRESS_LEN];
        if digits.len() != 2 * ADDRESS_LEN || hex::decode_to_slice(digits, &mut out).is_err() {
            return Err(ParseAddrError(s.to_owned()));
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proximity_counts_common_leading_bits() {
        assert_eq!(proximity(&[0b1000_0000], &[0b0000_0000]), 0);
        assert_eq!(proximity(&[0b1010_0000], &[0b1011_0000]), 3);
        assert_eq!(proximity(&[0xff, 0x00], &[0xff, 0x01]), 15);
        assert_eq!(proximity(&[0xff, 0x01], &[0xff]), 8);
        assert_eq!(proximity(&[0xff; 32], &[0xff; 32]), 256);
        assert_eq!(proximity(&[0xff], &[]), 0);
    }

    #[test]
    fn prefixes_match() {
        let a = OverlayAddr([0xab; 32]);
        assert!(a.matches(&[]));
        assert!(a.matches(&[0xab, 0xab]));
        assert!(!a.matches(&[0xab, 0xac]));
        assert!(!a.matches(&[0xab; 33]));
        assert_eq!(a.to_string().parse::<OverlayAddr>().unwrap(), a);
    }
}
