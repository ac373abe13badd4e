//! Round trips, the EIP-8 vectors of the discv4 spec, and "never panics" properties.

use std::net::{IpAddr, Ipv6Addr};

use p2p_rlpx::NodeKey;
use proptest::prelude::*;

use super::*;

fn endpoint(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint {
        ip,
        udp_port: port,
        tcp_port: port.wrapping_add(1),
    }
}

fn samples(key: &NodeKey) -> Vec<Message> {
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let enr = Enr::builder()
        .ip(v4)
        .udp4(30303)
        .build(key.secret_key())
        .unwrap();
    vec![
        Message::Ping(Ping {
            version: 4,
            from: endpoint(v4, 30303),
            to: endpoint(v6, 30304),
            expiration: 1_900_000_000,
            enr_seq: Some(7),
        }),
        Message::Ping(Ping {
            version: 4,
            from: endpoint(v4, 1),
            to: endpoint(v4, 2),
            expiration: 1_900_000_000,
            enr_seq: None,
        }),
        Message::Pong(Pong {
            to: endpoint(v4, 9),
            ping_hash: [7; 32],
            expiration: 1_900_000_000,
            enr_seq: Some(1),
        }),
        Message::FindNode(FindNode {
            target: key.id(),
            expiration: 1_900_000_000,
        }),
        Message::Neighbors(Neighbors {
            nodes: (0..MAX_NEIGHBORS)
                .map(|i| Neighbor {
                    endpoint: endpoint(v6, i as u16),
                    id: NodeKey::generate().id(),
                })
                .collect(),
            expiration: 1_900_000_000,
        }),
        Message::EnrRequest(EnrRequest {
            expiration: 1_900_000_000,
        }),
        Message::EnrResponse(EnrResponse {
            request_hash: [3; 32],
            enr,
        }),
    ]
}

#[test]
fn every_message_round_trips_with_sender_and_hash() {
    let key = NodeKey::generate();
    for m in samples(&key) {
        let (bytes, hash) = encode(&m, key.secret_key());
        assert!(
            bytes.len() <= MAX_PACKET_SIZE,
            "{} is {} bytes",
            m.name(),
            bytes.len()
        );
        let p = decode(&bytes).unwrap();
        assert_eq!(p.message, m);
        assert_eq!(p.sender, key.id());
        assert_eq!(p.hash, hash);
    }
}

#[test]
fn a_full_neighbors_packet_with_ipv6_fits_in_1280_bytes() {
    let key = NodeKey::generate();
    let nodes: Vec<Neighbor> = (0..40)
        .map(|i| Neighbor {
            endpoint: endpoint(
                IpAddr::V6(Ipv6Addr::new(0xffff, 1, 2, 3, 4, 5, 6, 7)),
                65000 + i,
            ),
            id: NodeKey::generate().id(),
        })
        .collect();
    let messages = neighbors_messages(&nodes, u64::MAX);
    assert_eq!(messages.len(), 4);
    for m in &messages {
        assert!(encode(m, key.secret_key()).0.len() <= MAX_PACKET_SIZE);
    }
}

#[test]
fn corrupted_hash_signature_and_type_are_rejected() {
    let key = NodeKey::generate();
    let (bytes, _) = encode(&samples(&key)[0], key.secret_key());
    let mut bad_hash = bytes.clone();
    bad_hash[0] ^= 1;
    assert_eq!(decode(&bad_hash), Err(DecodeError::BadHash));
    let mut bad_body = bytes.clone();
    let last = bad_body.len() - 1;
    bad_body[last] ^= 1;
    assert_eq!(decode(&bad_body), Err(DecodeError::BadHash));
    let (unknown, _) = encode_raw(0x42, &encode_body(&samples(&key)[0]), key.secret_key());
    assert_eq!(decode(&unknown), Err(DecodeError::UnknownType(0x42)));
    assert!(matches!(
        decode(&[0; 20]),
        Err(DecodeError::TooShort { .. })
    ));
    assert!(matches!(
        decode(&[0; 1281]),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn a_tampered_body_with_a_fixed_hash_recovers_another_sender() {
    let key = NodeKey::generate();
    let (mut bytes, _) = encode(&samples(&key)[3], key.secret_key());
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let hash: [u8; 32] = Keccak256::digest(&bytes[32..]).into();
    bytes[..32].copy_from_slice(&hash);
    if let Ok(p) = decode(&bytes) {
        assert_ne!(p.sender, key.id());
    }
}

/// EIP-8 forward compatibility as the discv4 spec describes it
/// (<https://github.com/ethereum/devp2p/blob/master/discv4.md#wire-protocol>): Pings and a
/// Pong with extra list elements, which must decode.
#[test]
fn extra_list_elements_are_ignored() {
    let key = NodeKey::generate();
    let mut s = rlp::RlpStream::new_list(7);
    s.append(&555u64);
    append_endpoint(&mut s, &endpoint("127.0.0.1".parse().unwrap(), 3322));
    append_endpoint(&mut s, &endpoint("::1".parse().unwrap(), 2222));
    s.append(&1_900_000_000u64);
    s.append(&5u64);
    s.append(&42u64);
    s.append(&vec![9u8, 8, 7]);
    let (bytes, _) = encode_raw(0x01, &s.out(), key.secret_key());
    match decode(&bytes).unwrap().message {
        Message::Ping(p) => {
            assert_eq!(p.version, 555);
            assert_eq!(p.enr_seq, Some(5));
            assert_eq!(p.from.udp_port, 3322);
        }
        other => panic!("{other:?}"),
    }
    // A non-integer where the ENR sequence goes is ignored, as geth's tail would be.
    let mut s = rlp::RlpStream::new_list(5);
    append_endpoint(&mut s, &endpoint("127.0.0.1".parse().unwrap(), 1));
    s.append(&[1u8; 32].as_slice());
    s.append(&1_900_000_000u64);
    s.begin_list(0);
    s.append(&1u8);
    let (bytes, _) = encode_raw(0x02, &s.out(), key.secret_key());
    assert!(matches!(
        decode(&bytes).unwrap().message,
        Message::Pong(Pong { enr_seq: None, .. })
    ));
}

#[test]
fn expiration_checks() {
    assert!(is_expired(unix_now() - 1));
    assert!(!is_expired(expiration_from_now()));
    // geth's suite sends the two's complement of a future time.
    assert!(is_expired(expiration_from_now().wrapping_neg()));
    assert!(is_expired(u64::MAX));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_body_never_panics(kind in 0u8..8, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_body(kind, &body);
    }

    #[test]
    fn decode_never_panics_on_mutated_valid_packets(
        which in 0usize..7,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
        rehash in any::<bool>(),
    ) {
        let key = NodeKey::from_bytes([7; 32]).unwrap();
        let m = samples(&key).swap_remove(which);
        let (mut bytes, _) = encode(&m, key.secret_key());
        for (pos, val) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= val;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        if rehash && bytes.len() > 32 {
            let hash: [u8; 32] = Keccak256::digest(&bytes[32..]).into();
            bytes[..32].copy_from_slice(&hash);
        }
        let _ = decode(&bytes);
        // The body alone, skipping hash and signature, reaches deeper decoder paths.
        if bytes.len() > HEADER_SIZE {
            let _ = decode_body(bytes[HEADER_SIZE], &bytes[HEADER_SIZE + 1..]);
        }
    }
}
