//! Parsing and printing the keys and addresses of `peerwire pss node`: public keys, address
//! prefixes and symmetric keys as hex.

use bytes::Bytes;
use p2p_pss::{ADDRESS_LEN, SymKey};
use secp256k1::PublicKey;

/// Hex text with an optional `0x` prefix.
fn decode_hex(text: &str, what: &str) -> Result<Vec<u8>, String> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    hex::decode(digits).map_err(|_| format!("{what} `{text}` is not hex"))
}

/// A secp256k1 public key: hex of 64 bytes (a node id), 65 (uncompressed, `04…`) or 33
/// (compressed).
pub(crate) fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let mut bytes = decode_hex(text, "public key")?;
    if bytes.len() == 64 {
        bytes.insert(0, 0x04);
    }
    if !matches!(bytes.len(), 33 | 65) {
        return Err(format!(
            "public key `{text}` has {} bytes: want 64 (a node id), 65 or 33",
            bytes.len()
        ));
    }
    PublicKey::from_slice(&bytes).map_err(|_| format!("`{text}` is not a secp256k1 public key"))
}

/// An overlay address prefix: hex of 0 to 32 bytes (`0x` alone is the empty prefix, which
/// reaches every node).
pub(crate) fn parse_prefix(text: &str) -> Result<Bytes, String> {
    let bytes = decode_hex(text, "address prefix")?;
    if bytes.len() > ADDRESS_LEN {
        return Err(format!(
            "address prefix `{text}` has {} bytes: at most {ADDRESS_LEN}",
            bytes.len()
        ));
    }
    Ok(Bytes::from(bytes))
}

/// A symmetric key: hex of exactly 32 bytes.
pub(crate) fn parse_sym_key(text: &str) -> Result<SymKey, String> {
    let bytes = decode_hex(text, "symmetric key")?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "symmetric key has {} bytes: want 32 (64 hex digits)",
            b.len()
        )
    })?;
    Ok(SymKey(key))
}

/// `0x` and the hex of the uncompressed key (65 bytes, `04…`), as the node prints its own
/// key and a sender's.
pub(crate) fn public_key_hex(key: &PublicKey) -> String {
    format!("0x{}", hex::encode(key.serialize_uncompressed()))
}

/// `0x` and hex.
pub(crate) fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use p2p_rlpx::NodeKey;

    use super::*;

    #[test]
    fn public_keys_parse_from_every_form() {
        let key = *NodeKey::generate().public_key();
        let uncompressed = public_key_hex(&key);
        assert_eq!(parse_public_key(&uncompressed), Ok(key));
        assert_eq!(parse_public_key(&uncompressed[4..]), Ok(key), "node id");
        assert_eq!(
            parse_public_key(&hex::encode(key.serialize())),
            Ok(key),
            "compressed"
        );
        assert!(parse_public_key("0x1234").unwrap_err().contains("2 bytes"));
        assert!(parse_public_key("zz").unwrap_err().contains("not hex"));
        assert!(
            parse_public_key(&format!("0x04{}", "00".repeat(64)))
                .unwrap_err()
                .contains("not a secp256k1")
        );
    }

    #[test]
    fn prefixes_are_at_most_an_address() {
        assert_eq!(parse_prefix("0x"), Ok(Bytes::new()));
        assert_eq!(parse_prefix("ab01"), Ok(Bytes::from_static(&[0xab, 0x01])));
        assert!(parse_prefix(&"00".repeat(33)).is_err());
        assert!(parse_prefix("abc").is_err());
    }

    #[test]
    fn sym_keys_are_32_bytes() {
        assert_eq!(parse_sym_key(&"11".repeat(32)), Ok(SymKey([0x11; 32])));
        assert!(
            parse_sym_key(&"11".repeat(31))
                .unwrap_err()
                .contains("31 bytes")
        );
    }
}
