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
    let mut bad_body = bytes;
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

/// The discovery vectors of EIP-8 (<https://eips.ethereum.org/EIPS/eip-8#rlpx-discovery-protocol>),
/// signed with key `b71c71a6…f291`: Pings, a Pong, a FindNode and a Neighbors with extra list
/// elements and trailing data, which must all decode.
mod eip8 {
    use super::*;

    const SIGNER: &str = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";

    const PING1: &str = "e9614ccfd9fc3e74360018522d30e1419a143407ffcce748de3e22116b7e8dc92ff74788c0b6663aaa3d67d641936511c8f8d6ad8698b820a7cf9e1be7155e9a241f556658c55428ec0563514365799a4be2be5a685a80971ddcfa80cb422cdd0101ec04cb847f000001820cfa8215a8d790000000000000000000000000000000018208ae820d058443b9a3550102";
    const PING2: &str = "577be4349c4dd26768081f58de4c6f375a7a22f3f7adda654d1428637412c3d7fe917cadc56d4e5e7ffae1dbe3efffb9849feb71b262de37977e7c7a44e677295680e9e38ab26bee2fcbae207fba3ff3d74069a50b902a82c9903ed37cc993c50001f83e82022bd79020010db83c4d001500000000abcdef12820cfa8215a8d79020010db885a308d313198a2e037073488208ae82823a8443b9a355c5010203040531b9019afde696e582a78fa8d95ea13ce3297d4afb8ba6433e4154caa5ac6431af1b80ba76023fa4090c408f6b4bc3701562c031041d4702971d102c9ab7fa5eed4cd6bab8f7af956f7d565ee1917084a95398b6a21eac920fe3dd1345ec0a7ef39367ee69ddf092cbfe5b93e5e568ebc491983c09c76d922dc3";
    const PONG: &str = "09b2428d83348d27cdf7064ad9024f526cebc19e4958f0fdad87c15eb598dd61d08423e0bf66b2069869e1724125f820d851c136684082774f870e614d95a2855d000f05d1648b2d5945470bc187c2d2216fbe870f43ed0909009882e176a46b0102f846d79020010db885a308d313198a2e037073488208ae82823aa0fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c9548443b9a355c6010203c2040506a0c969a58f6f9095004c0177a6b47f451530cab38966a25cca5cb58f055542124e";
    const FIND_NODE: &str = "c7c44041b9f7c7e41934417ebac9a8e1a4c6298f74553f2fcfdcae6ed6fe53163eb3d2b52e39fe91831b8a927bf4fc222c3902202027e5e9eb812195f95d20061ef5cd31d502e47ecb61183f74a504fe04c51e73df81f25c4d506b26db4517490103f84eb840ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f8443b9a35582999983999999280dc62cc8255c73471e0a61da0c89acdc0e035e260add7fc0c04ad9ebf3919644c91cb247affc82b69bd2ca235c71eab8e49737c937a2c396";
    const NEIGHBORS: &str = "c679fc8fe0b8b12f06577f2e802d34f6fa257e6137a995f6f4cbfc9ee50ed3710faf6e66f932c4c8d81d64343f429651328758b47d3dbc02c4042f0fff6946a50f4a49037a72bb550f3a7872363a83e1b9ee6469856c24eb4ef80b7535bcf99c0004f9015bf90150f84d846321163782115c82115db8403155e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf54bfd2103575fa829115d224c523596b401065a97f74010610fce76382c0bf32f84984010203040101b840312c55512422cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d20951933beea1e4dfa6f968212385e829f04c2d314fc2d4e255e0d3bc08792b069dbf8599020010db83c4d001500000000abcdef12820d05820d05b84038643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c765dd2d96126051913f44582e8c199ad7c6d6819e9a56483f637feaac9448aacf8599020010db885a308d313198a2e037073488203e78203e8b8408dcab8618c3253b558d459da53bd8fa68935a719aff8b811197101a4b2b47dd2d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72eca367d6dd3b9df738443b9a355010203b525a138aa34383fec3d2719a0";

    const EXPIRATION: u64 = 1_136_239_445;

    fn check(hex_packet: &str) -> Message {
        let p = decode(&hex::decode(hex_packet).unwrap()).unwrap();
        assert_eq!(hex::encode(p.sender.as_bytes()), SIGNER);
        p.message
    }

    fn ep(ip: &str, udp_port: u16, tcp_port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            udp_port,
            tcp_port,
        }
    }

    #[test]
    fn pings() {
        assert_eq!(
            check(PING1),
            Message::Ping(Ping {
                version: 4,
                from: ep("127.0.0.1", 3322, 5544),
                to: ep("::1", 2222, 3333),
                expiration: EXPIRATION,
                // The first extra element, 0x01, reads as an ENR sequence number.
                enr_seq: Some(1),
            })
        );
        assert_eq!(
            check(PING2),
            Message::Ping(Ping {
                version: 555,
                from: ep("2001:db8:3c4d:15::abcd:ef12", 3322, 5544),
                to: ep("2001:db8:85a3:8d3:1319:8a2e:370:7348", 2222, 33338),
                expiration: EXPIRATION,
                enr_seq: None,
            })
        );
    }

    #[test]
    fn pong() {
        let Message::Pong(pong) = check(PONG) else {
            panic!("not a pong")
        };
        assert_eq!(
            pong.to,
            ep("2001:db8:85a3:8d3:1319:8a2e:370:7348", 2222, 33338)
        );
        assert_eq!(
            hex::encode(pong.ping_hash),
            "fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c954"
        );
        assert_eq!(pong.expiration, EXPIRATION);
    }

    #[test]
    fn find_node() {
        let Message::FindNode(f) = check(FIND_NODE) else {
            panic!("not a findnode")
        };
        assert_eq!(hex::encode(f.target.as_bytes()), SIGNER);
        assert_eq!(f.expiration, EXPIRATION);
    }

    #[test]
    fn neighbors() {
        let Message::Neighbors(n) = check(NEIGHBORS) else {
            panic!("not a neighbors")
        };
        let endpoints: Vec<Endpoint> = n.nodes.iter().map(|n| n.endpoint).collect();
        assert_eq!(
            endpoints,
            [
                ep("99.33.22.55", 4444, 4445),
                ep("1.2.3.4", 1, 1),
                ep("2001:db8:3c4d:15::abcd:ef12", 3333, 3333),
                ep("2001:db8:85a3:8d3:1319:8a2e:370:7348", 999, 1000),
            ]
        );
        assert!(hex::encode(n.nodes[0].id.as_bytes()).starts_with("3155e1427f85f10a"));
        assert_eq!(n.expiration, EXPIRATION);
    }
}
