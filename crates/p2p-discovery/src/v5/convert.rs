//! Conversions between discv5's records and keys and peerwire's.
//!
//! discv5 signs and stores records with `enr::CombinedKey` (k256); the rest of peerwire uses
//! secp256k1 keys. Both are the "v4" identity scheme over the same curve, so one record parses into
//! either key type, and one 32-byte secret gives the same node id in both worlds.

use std::str::FromStr;

use enr::{CombinedKey, NodeId};
use p2p_rlpx::NodeKey;

use crate::{Candidate, Enr, Error, Source};

/// discv5's view of a secp256k1 node key: the same 32 secret bytes as a `CombinedKey`.
///
/// # Errors
///
/// [`Error::Discv5Key`] if k256 refuses the bytes (never for a valid secp256k1 key).
pub fn combined_key(key: &NodeKey) -> Result<CombinedKey, Error> {
    let mut secret = key.secret_key().to_secret_bytes();
    let combined = CombinedKey::secp256k1_from_bytes(&mut secret);
    // `secp256k1_from_bytes` zeroes its input; clear it on the error path as well.
    secret.fill(0);
    combined.map_err(|e| Error::Discv5Key(e.to_string()))
}

/// The discv5 node id (keccak256 of the uncompressed public key) of a peerwire node id.
///
/// # Errors
///
/// [`Error::BadPublicKey`] if `id` is not a point on the curve.
pub fn node_id_of(id: &p2p_msg::NodeId) -> Result<NodeId, Error> {
    let key = p2p_rlpx::public_key(id).map_err(|_| Error::BadPublicKey)?;
    Ok(NodeId::from(key))
}

/// A discv5 record as peerwire's record type.
///
/// # Errors
///
/// [`Error::BadRecord`] if the record does not re-parse (for example an ed25519 record, which
/// discv5 accepts and peerwire does not).
pub fn to_enr(record: &discv5::Enr) -> Result<Enr, Error> {
    Enr::from_str(&record.to_base64()).map_err(Error::BadRecord)
}

/// A peerwire record as discv5's record type.
///
/// # Errors
///
/// [`Error::BadRecord`] never in practice (the record was valid when parsed or built).
pub fn from_enr(record: &Enr) -> Result<discv5::Enr, Error> {
    discv5::Enr::from_str(&record.to_base64()).map_err(Error::BadRecord)
}

/// A discv5 record as a [`Candidate`] (`Source::Discv5`).
///
/// # Errors
///
/// [`Error::BadRecord`] as [`to_enr`]; [`Error::NoEndpoint`] when the record has no IP or no TCP
/// port (a discovery-only node cannot be dialed over RLPx).
pub fn candidate_of(record: &discv5::Enr) -> Result<Candidate, Error> {
    Candidate::from_enr(to_enr(record)?, Source::Discv5)
}

/// The log-distance of two node ids (the bit length of their XOR; `None` for equal ids), as
/// FINDNODE distances count it.
#[must_use]
pub fn log_distance(a: &NodeId, b: &NodeId) -> Option<u64> {
    let (a, b) = (a.raw(), b.raw());
    let mut leading = 0u64;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = x ^ y;
        if d != 0 {
            return Some(256 - leading - u64::from(d.leading_zeros()));
        }
        leading += 8;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_distance_counts_the_xor_bit_length() {
        let zero = NodeId::new(&[0; 32]);
        let mut one = [0u8; 32];
        one[31] = 1;
        let mut top = [0u8; 32];
        top[0] = 0x80;
        let mut mid = [0u8; 32];
        mid[30] = 0x10;
        assert_eq!(log_distance(&zero, &zero), None);
        assert_eq!(log_distance(&zero, &NodeId::new(&one)), Some(1));
        assert_eq!(log_distance(&zero, &NodeId::new(&top)), Some(256));
        assert_eq!(log_distance(&zero, &NodeId::new(&mid)), Some(13));
    }

    #[test]
    fn the_discv5_id_is_keccak_of_the_public_key() {
        let key = NodeKey::generate();
        let combined = combined_key(&key).unwrap();
        let record = enr::Enr::empty(&combined).unwrap();
        assert_eq!(record.node_id(), node_id_of(&key.id()).unwrap());
        let ours = to_enr(&record).unwrap();
        assert_eq!(ours.public_key(), *key.public_key());
        assert_eq!(from_enr(&ours).unwrap(), record);
    }
}
