//! Properties of the record conversions: nothing a peer can send makes them panic.

use std::net::Ipv4Addr;

use enr::CombinedKey;
use p2p_discovery::v5::{candidate_of, parse_enr};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse_enr(&text);
        let _ = parse_enr(&format!("enr:{text}"));
    }

    #[test]
    fn parsing_arbitrary_base64_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = base64_url(&bytes);
        let _ = parse_enr(&format!("enr:{text}"));
    }

    #[test]
    fn arbitrary_records_convert_or_are_refused(
        secret in any::<[u8; 32]>(),
        ip in proptest::option::of(any::<[u8; 4]>()),
        udp in proptest::option::of(any::<u16>()),
        tcp in proptest::option::of(any::<u16>()),
        entries in proptest::collection::vec(("[a-z]{1,6}", proptest::collection::vec(any::<u8>(), 0..40)), 0..4),
        ed25519 in any::<bool>(),
    ) {
        let mut secret = secret;
        let key = if ed25519 {
            CombinedKey::ed25519_from_bytes(&mut secret)
        } else {
            CombinedKey::secp256k1_from_bytes(&mut secret)
        };
        let Ok(key) = key else { return Ok(()) };
        let mut builder = enr::Enr::builder();
        if let Some(ip) = ip { builder.ip4(Ipv4Addr::from(ip)); }
        if let Some(udp) = udp { builder.udp4(udp); }
        if let Some(tcp) = tcp { builder.tcp4(tcp); }
        for (k, v) in &entries {
            // Arbitrary bytes as the value's "RLP": records may carry garbage in unknown keys.
            builder.add_value_rlp(k, bytes::Bytes::from(v.clone()));
        }
        let Ok(record) = builder.build(&key) else { return Ok(()) };
        match candidate_of(&record) {
            Ok(candidate) => {
                prop_assert!(!ed25519);
                prop_assert!(ip.is_some() && tcp.is_some());
                prop_assert_eq!(candidate.enode.tcp_port, tcp.unwrap_or_default());
                // The eth entry check never panics either, whatever the bytes.
                let _ = candidate.eth_entry();
            }
            // A record that re-parses but has no RLPx endpoint.
            Err(p2p_discovery::Error::NoEndpoint) => prop_assert!(ip.is_none() || tcp.is_none()),
            // ed25519 records, and records whose garbage values do not re-parse, are refused.
            Err(p2p_discovery::Error::BadRecord(_)) => prop_assert!(ed25519 || !entries.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

/// Unpadded URL-safe base64, as in `enr:` text.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
