//! Unit tests of the wire message: round trips, every strictness rule, digest and aad coverage.

use proptest::prelude::*;
use rlp::RlpStream;

use super::*;

fn msg() -> PssMsg {
    PssMsg {
        to: Bytes::from_static(&[0xab; 8]),
        flags: Flags {
            raw: false,
            symmetric: true,
        },
        expire: 1_700_000_000,
        topic: Topic::from_name("chat"),
        hops: 3,
        payload: Bytes::from(vec![0x5a; 300]),
    }
}

/// A list of already encoded items (which may be non-canonical).
fn list(items: &[&[u8]]) -> Vec<u8> {
    let mut s = RlpStream::new_list(items.len());
    for item in items {
        s.append_raw(item, 1);
    }
    s.out().to_vec()
}

/// The six items of `msg()`, encoded, to be replaced one at a time.
fn items() -> Vec<Vec<u8>> {
    let m = msg();
    vec![
        rlp::encode(&&m.to[..]).to_vec(),
        rlp::encode(&m.flags.bits()).to_vec(),
        rlp::encode(&m.expire).to_vec(),
        rlp::encode(&&m.topic.0[..]).to_vec(),
        rlp::encode(&m.hops).to_vec(),
        rlp::encode(&&m.payload[..]).to_vec(),
    ]
}

fn with_item(index: usize, item: &[u8]) -> Vec<u8> {
    let mut all = items();
    all[index] = item.to_vec();
    list(&all.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// Asserts `bytes` is rejected as invalid with a reason containing `reason`.
fn check_invalid(bytes: &[u8], reason: &str) {
    match PssMsg::decode(bytes) {
        Err(Error::InvalidMessage(r)) => assert!(r.contains(reason), "{r:?} lacks {reason:?}"),
        other => panic!("want InvalidMessage({reason:?}), got {other:?}"),
    }
}

#[test]
fn the_helpers_build_a_valid_message() {
    assert_eq!(with_item(0, &items()[0]), msg().encode());
    assert_eq!(PssMsg::decode(&msg().encode()).unwrap(), msg());
}

#[test]
fn round_trip_at_the_edges_of_every_field() {
    let valid_flags = [(false, false), (false, true), (true, false)];
    for to in [&[][..], &[0x7f], &[0xff; 32]] {
        for (raw, symmetric) in valid_flags {
            for expire in [0, 1, 0x7f, 0x80, 0xffff, u32::MAX] {
                for hops in [0, 0x7f, 0x80, u8::MAX] {
                    for payload in [vec![], vec![0], vec![0x80], vec![7; 56], vec![1; 70_000]] {
                        let m = PssMsg {
                            to: Bytes::copy_from_slice(to),
                            flags: Flags { raw, symmetric },
                            expire,
                            topic: Topic([0, 0x80, 0xff, 1]),
                            hops,
                            payload: payload.into(),
                        };
                        let enc = m.encode();
                        assert_eq!(enc.len(), m.encoded_len());
                        assert_eq!(PssMsg::decode(&enc).unwrap(), m);
                        m.validate().unwrap();
                    }
                }
            }
        }
    }
}

#[test]
fn flags_bits_are_symmetric_bit0_raw_bit1() {
    let sym = Flags {
        raw: false,
        symmetric: true,
    };
    let raw = Flags {
        raw: true,
        symmetric: false,
    };
    assert_eq!(sym.bits(), 1);
    assert_eq!(raw.bits(), 2);
    assert_eq!(Flags::default().bits(), 0);
    assert_eq!(Flags::from_bits(1).unwrap(), sym);
    assert_eq!(Flags::from_bits(2).unwrap(), raw);
    assert_eq!(Flags::from_bits(0).unwrap(), Flags::default());
}

#[test]
fn rejects_bad_flags() {
    for bits in [3u64, 4, 5, 8, 0x80, 0x100] {
        check_invalid(&with_item(1, &rlp::encode(&bits)), "invalid flags");
    }
    let both = PssMsg {
        flags: Flags {
            raw: true,
            symmetric: true,
        },
        ..msg()
    };
    assert!(matches!(both.validate(), Err(Error::InvalidMessage(_))));
}

#[test]
fn rejects_oversize_before_parsing() {
    // Not even RLP: the size is checked first.
    let big = vec![0u8; MAX_MSG_SIZE + 1];
    assert!(matches!(
        PssMsg::decode(&big),
        Err(Error::PayloadTooLarge { size, limit: MAX_MSG_SIZE }) if size == MAX_MSG_SIZE + 1
    ));
    let too_big = PssMsg {
        payload: vec![0; MAX_MSG_SIZE].into(),
        ..msg()
    };
    assert!(matches!(
        too_big.validate(),
        Err(Error::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        PssMsg::decode(&too_big.encode()),
        Err(Error::PayloadTooLarge { .. })
    ));
}

#[test]
fn accepts_a_message_of_exactly_the_limit_and_not_one_byte_more() {
    let mut m = PssMsg {
        payload: vec![1; MAX_MSG_SIZE].into(),
        ..msg()
    };
    let excess = m.encoded_len() - MAX_MSG_SIZE;
    // Header sizes stay the same (3-byte lengths) when the payload shrinks by a few bytes.
    m.payload = vec![1; MAX_MSG_SIZE - excess].into();
    assert_eq!(m.encoded_len(), MAX_MSG_SIZE);
    assert_eq!(PssMsg::decode(&m.encode()).unwrap(), m);
    m.payload = vec![1; MAX_MSG_SIZE - excess + 1].into();
    assert!(matches!(
        PssMsg::decode(&m.encode()),
        Err(Error::PayloadTooLarge { size, .. }) if size == MAX_MSG_SIZE + 1
    ));
}

#[test]
fn rejects_hint_of_33_bytes() {
    let hint = rlp::encode(&&[1u8; 33][..]);
    assert!(matches!(
        PssMsg::decode(&with_item(0, &hint)),
        Err(Error::HintTooLong(33))
    ));
    let long = PssMsg {
        to: vec![1; 33].into(),
        ..msg()
    };
    assert!(matches!(long.validate(), Err(Error::HintTooLong(33))));
}

#[test]
fn rejects_topics_not_of_4_bytes() {
    check_invalid(
        &with_item(3, &rlp::encode(&&[1u8; 5][..])),
        "topic of 5 bytes",
    );
    check_invalid(
        &with_item(3, &rlp::encode(&&[1u8; 3][..])),
        "topic of 3 bytes",
    );
}

#[test]
fn rejects_7_or_5_items() {
    let mut all = items();
    all.push(vec![0x80]);
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    check_invalid(&list(&refs), "more than 6 items");
    check_invalid(&list(&refs[..5]), "5 items");
    check_invalid(&list(&[]), "0 items");
}

#[test]
fn rejects_trailing_bytes() {
    let mut enc = msg().encode();
    enc.push(0x80);
    check_invalid(&enc, "1 trailing bytes");
    // A list header that claims less than the items take.
    let mut enc = list(&[&[0x80u8][..]; 6]);
    enc[0] -= 1;
    check_invalid(&enc, "trailing bytes");
}

#[test]
fn rejects_truncation_anywhere() {
    let enc = msg().encode();
    for cut in 0..enc.len() {
        assert!(
            matches!(PssMsg::decode(&enc[..cut]), Err(Error::InvalidMessage(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn rejects_non_canonical_integers() {
    // Leading zero.
    check_invalid(&with_item(2, &[0x82, 0x00, 0x05]), "leading zero");
    // Zero as the byte 0x00 instead of the empty string.
    check_invalid(&with_item(4, &[0x00]), "leading zero");
    // A single byte wrapped in a string header.
    check_invalid(&with_item(4, &[0x81, 0x05]), "single byte wrapped");
    check_invalid(&with_item(1, &[0x81, 0x01]), "single byte wrapped");
    // Too wide for the field.
    check_invalid(&with_item(2, &[0x85, 1, 0, 0, 0, 0]), "integer of 5 bytes");
    check_invalid(&with_item(4, &[0x82, 1, 0]), "integer of 2 bytes");
}

#[test]
fn rejects_non_canonical_strings_and_lists() {
    // The long form for a 5-byte string.
    check_invalid(&with_item(5, &[0xb8, 5, 1, 2, 3, 4, 5]), "item");
    // A single byte wrapped in a string header.
    check_invalid(&with_item(5, &[0x81, 0x7f]), "single byte wrapped");
    // A leading zero in a long length.
    let mut zero_prefixed = vec![0xb9, 0x00, 0x40];
    zero_prefixed.extend([1u8; 0x40]);
    check_invalid(&with_item(5, &zero_prefixed), "item");
    // The long form for a short list.
    let enc = list(&[&[0x80u8][..]; 6]);
    let mut long = vec![0xf8, 6];
    long.extend_from_slice(&enc[1..]);
    check_invalid(&long, "list");
    // A list where bytes belong, and bytes where the list belongs.
    check_invalid(&with_item(5, &[0xc0]), "payload is a list");
    check_invalid(&[0x80], "not an RLP list");
    check_invalid(&[], "not an RLP list");
}

#[test]
fn digest_ignores_expire_and_hops() {
    let m = msg();
    let replay = PssMsg {
        expire: m.expire + 1000,
        hops: m.hops + 1,
        ..m.clone()
    };
    assert_eq!(m.digest(), replay.digest());
}

#[test]
fn digest_covers_payload_topic_to_and_flags() {
    let m = msg();
    let changed = [
        PssMsg {
            payload: Bytes::from_static(b"other"),
            ..m.clone()
        },
        PssMsg {
            topic: Topic::from_name("other"),
            ..m.clone()
        },
        PssMsg {
            to: Bytes::from_static(&[0xab; 7]),
            ..m.clone()
        },
        PssMsg {
            flags: Flags::default(),
            ..m.clone()
        },
        // The same bytes split differently between the hint and the payload.
        PssMsg {
            to: Bytes::new(),
            payload: [&m.to[..], &m.payload[..]].concat().into(),
            ..m.clone()
        },
    ];
    for other in changed {
        assert_ne!(m.digest(), other.digest(), "{other:?}");
    }
}

#[test]
fn aad_covers_to_flags_expire_and_topic_but_not_hops_or_payload() {
    let m = msg();
    for other in [
        PssMsg {
            to: Bytes::new(),
            ..m.clone()
        },
        PssMsg {
            flags: Flags::default(),
            ..m.clone()
        },
        PssMsg {
            expire: m.expire + 1,
            ..m.clone()
        },
        PssMsg {
            topic: Topic::from_name("other"),
            ..m.clone()
        },
    ] {
        assert_ne!(m.aad(), other.aad(), "{other:?}");
    }
    let same = PssMsg {
        hops: 0,
        payload: Bytes::new(),
        ..m.clone()
    };
    assert_eq!(m.aad(), same.aad());
}

fn arb_msg() -> impl Strategy<Value = PssMsg> {
    (
        proptest::collection::vec(any::<u8>(), 0..=ADDRESS_LEN),
        0u8..3,
        any::<u32>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(to, flags, expire, topic, hops, payload)| PssMsg {
            to: to.into(),
            flags: Flags {
                raw: flags == 2,
                symmetric: flags == 1,
            },
            expire,
            topic: Topic(topic),
            hops,
            payload: payload.into(),
        })
}

/// The encoding by the rlp crate's stream, as `encode` was before it was written by hand.
fn rlp_crate_encoding(m: &PssMsg) -> Vec<u8> {
    let mut s = RlpStream::new_list(FIELD_COUNT);
    s.append(&&m.to[..]);
    s.append(&m.flags.bits());
    s.append(&m.expire);
    s.append(&&m.topic.0[..]);
    s.append(&m.hops);
    s.append(&&m.payload[..]);
    s.out().to_vec()
}

#[test]
fn in_place_encoding_of_a_one_byte_payload_is_canonical() {
    for byte in [0, 0x7f, 0x80, 0xff] {
        let mut m = msg();
        m.hops = 0;
        m.payload = Bytes::copy_from_slice(&[byte]);
        let (enc, digest) =
            encode_with_payload(&m.to, m.flags, m.expire, m.topic, 1, |out| out.push(byte))
                .unwrap();
        assert_eq!(enc, rlp_crate_encoding(&m), "byte {byte:#x}");
        assert_eq!(digest, m.digest());
    }
}

#[test]
fn in_place_encoding_checks_the_writer_and_the_limits() {
    let m = msg();
    assert!(matches!(
        encode_with_payload(&m.to, m.flags, m.expire, m.topic, 3, |out| out.push(1)),
        Err(Error::InvalidMessage(_))
    ));
    assert!(matches!(
        encode_with_payload(&[0; 33], m.flags, m.expire, m.topic, 0, |_| ()),
        Err(Error::HintTooLong(33))
    ));
    assert!(matches!(
        encode_with_payload(&m.to, m.flags, m.expire, m.topic, MAX_MSG_SIZE, |_| ()),
        Err(Error::PayloadTooLarge { .. })
    ));
}

#[test]
fn aad_layout_known_answer() {
    let m = PssMsg {
        to: Bytes::from_static(&[0xaa, 0xbb]),
        flags: Flags {
            raw: false,
            symmetric: true,
        },
        expire: 0x0102_0304,
        topic: Topic([9, 8, 7, 6]),
        hops: 5,
        payload: Bytes::from_static(b"ignored"),
    };
    let want = [
        0, 0, 0, 0, 0, 0, 0, 2, // len(to)
        0xaa, 0xbb, // to
        1,    // flags
        1, 2, 3, 4, // expire
        9, 8, 7, 6, // topic
    ];
    assert_eq!(m.aad(), want);
    let stack = Aad::new(&m.to, m.flags, m.expire, m.topic).unwrap();
    assert_eq!(stack.as_slice(), want);
}

#[test]
fn stack_aad_equals_aad() {
    let m = msg();
    let aad = Aad::new(&m.to, m.flags, m.expire, m.topic).unwrap();
    assert_eq!(aad.as_slice(), m.aad());
    assert!(Aad::new(&[0; 33], m.flags, m.expire, m.topic).is_none());
    let full = Aad::new(&[7; 32], m.flags, m.expire, m.topic).unwrap();
    assert_eq!(full.as_slice().len(), MAX_AAD_LEN);
}

proptest! {
    #[test]
    fn hand_encoding_equals_the_rlp_crate(m in arb_msg()) {
        prop_assert_eq!(m.encode(), rlp_crate_encoding(&m));
    }

    #[test]
    fn in_place_encoding_equals_encode_and_digest(mut m in arb_msg()) {
        m.hops = 0;
        let payload = m.payload.clone();
        let (enc, digest) = encode_with_payload(
            &m.to,
            m.flags,
            m.expire,
            m.topic,
            payload.len(),
            |out| out.extend_from_slice(&payload),
        )?;
        prop_assert_eq!(&enc, &m.encode());
        prop_assert_eq!(enc.capacity(), enc.len());
        prop_assert_eq!(digest, m.digest());
        let aad = Aad::new(&m.to, m.flags, m.expire, m.topic).expect("hint within 32 bytes");
        prop_assert_eq!(aad.as_slice(), m.aad());
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = PssMsg::decode(&bytes);
    }

    #[test]
    fn encode_decode_round_trip(m in arb_msg()) {
        let enc = m.encode();
        prop_assert_eq!(enc.len(), m.encoded_len());
        prop_assert_eq!(PssMsg::decode(&enc)?, m);
    }

    // Canonical: whatever decodes after a byte is altered re-encodes to exactly those bytes.
    #[test]
    fn an_altered_encoding_decodes_only_if_canonical(
        m in arb_msg(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut enc = m.encode();
        let i = at.index(enc.len());
        enc[i] = byte;
        if let Ok(back) = PssMsg::decode(&enc) {
            prop_assert_eq!(back.encode(), enc);
        }
    }
}
