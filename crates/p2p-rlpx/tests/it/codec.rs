//! Frame codec tests: a known-answer frame, cross-checks against the plain reference writer,
//! tampered MACs, size limits, snappy limits, and "never panics" properties.

use bytes::BytesMut;
use p2p_rlpx::{Error, Frame, FrameDecoder, FrameEncoder, KeccakMac, MAX_MESSAGE_SIZE, Secrets};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use crate::reference::{RefWriter, keccak};

/// The known-answer secrets: aes = mac = keccak256(""), both MAC states primed with the bytes
/// "peerwire-kat-egress" / "peerwire-kat-ingress".
fn kat_secrets() -> Secrets {
    let mut egress_mac = KeccakMac::new();
    egress_mac.update(b"peerwire-kat-egress");
    let mut ingress_mac = KeccakMac::new();
    ingress_mac.update(b"peerwire-kat-ingress");
    Secrets {
        aes_secret: keccak(b""),
        mac_secret: keccak(b""),
        egress_mac,
        ingress_mac,
    }
}

/// The secrets of the side that reads what `kat_secrets` writes.
fn kat_reader_secrets() -> Secrets {
    let s = kat_secrets();
    Secrets {
        egress_mac: s.ingress_mac,
        ingress_mac: s.egress_mac,
        ..s
    }
}

/// Code 8 with payload `rlp([1, 2, 3, 4])`, then code 0x22 with "peerwire", no snappy.
const KAT_FRAMES: &str = "\
00828ddae471818bb0bfa6b551d1cb42016fcd8b3d8f91582655b9bb523db5b0\
ba628a4ba590cb43f7848f41c438288543d51f6dbb52e9528e552d2b0a0ab155\
348aec09790d44bf3451aa1fa87ad6de1f678a4ae70b076f2bd2ec8778b2d876\
e7d4306e287edca64b97f9bcd2f3b15a2ff61dfd5f588c9eda7449f6f68bc0d0";

fn encode(enc: &mut FrameEncoder, code: u64, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    enc.encode_frame(code, payload, &mut buf).unwrap();
    buf
}

#[test]
fn frame_known_answer() {
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut wire = encode(&mut enc, 8, &[0xc4, 0x01, 0x02, 0x03, 0x04]);
    wire.extend_from_slice(&encode(&mut enc, 0x22, b"peerwire"));
    assert_eq!(hex::encode(&wire), KAT_FRAMES);

    // The plain reference writer produces the same bytes.
    let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
    let mut expected = reference.frame(&[0x08, 0xc4, 0x01, 0x02, 0x03, 0x04]);
    expected.extend(reference.frame(&[0x22, b'p', b'e', b'e', b'r', b'w', b'i', b'r', b'e']));
    assert_eq!(wire.as_ref(), expected.as_slice());

    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    assert_eq!(
        dec.decode(&mut wire).unwrap(),
        Some(Frame::new(8, vec![0xc4, 1, 2, 3, 4]))
    );
    assert_eq!(
        dec.decode(&mut wire).unwrap(),
        Some(Frame::new(0x22, &b"peerwire"[..]))
    );
    assert!(wire.is_empty());
}

#[test]
fn encoder_matches_reference_for_many_sizes_and_codes() {
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
    for (i, len) in [0usize, 1, 14, 15, 16, 17, 31, 32, 33, 1000, 65_536]
        .into_iter()
        .enumerate()
    {
        let code = [0u64, 1, 0x7f, 0x80, 0x1234][i % 5];
        let payload: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
        let mut data = rlp::encode(&code).to_vec();
        data.extend_from_slice(&payload);
        assert_eq!(
            encode(&mut enc, code, &payload).as_ref(),
            reference.frame(&data).as_slice(),
            "len {len}"
        );
    }
}

fn check_error(wire: &[u8], dec: &mut FrameDecoder, expect: fn(&Error) -> bool) {
    let mut buf = BytesMut::from(wire);
    let err = loop {
        match dec.decode(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("decoder wants more bytes"),
            Err(e) => break e,
        }
    };
    assert!(expect(&err), "unexpected error: {err:?}");
    assert!(err.is_protocol(), "{err:?}");
}

#[test]
fn tampered_header_mac_or_header_is_rejected() {
    for index in [0usize, 5, 15, 16, 31] {
        let mut enc = FrameEncoder::new(&kat_secrets());
        let mut wire = encode(&mut enc, 3, b"hello");
        wire[index] ^= 0x01;
        check_error(&wire, &mut FrameDecoder::new(&kat_reader_secrets()), |e| {
            matches!(e, Error::HeaderMacMismatch)
        });
    }
}

#[test]
fn tampered_body_or_frame_mac_is_rejected() {
    for index in [32usize, 40, 47, 48, 63] {
        let mut enc = FrameEncoder::new(&kat_secrets());
        let mut wire = encode(&mut enc, 3, b"hello");
        assert_eq!(wire.len(), 64);
        wire[index] ^= 0x80;
        check_error(&wire, &mut FrameDecoder::new(&kat_reader_secrets()), |e| {
            matches!(e, Error::FrameMacMismatch)
        });
    }
}

#[test]
fn oversized_frames_are_rejected_from_the_header() {
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.set_max_frame_size(1024);
    let mut enc = FrameEncoder::new(&kat_secrets());
    // Only the header is given: the limit applies before the body arrives.
    let wire = encode(&mut enc, 1, &vec![0u8; 1024]);
    let mut header_only = BytesMut::from(&wire[..32]);
    let err = dec.decode(&mut header_only).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FrameTooBig {
                size: 1025,
                limit: 1024
            }
        ),
        "{err:?}"
    );
    assert!(err.is_too_big());

    // The first-frame (Hello) limit.
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.limit_next_frame(p2p_rlpx::MAX_FIRST_FRAME_SIZE);
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut wire = encode(&mut enc, 0, &vec![0u8; 2049]);
    assert!(matches!(
        dec.decode(&mut wire),
        Err(Error::FrameTooBig {
            size: 2050,
            limit: 2049
        })
    ));

    // A header declaring the 24-bit maximum, from the reference writer, is within the
    // format limit but above any smaller configured one.
    let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.set_max_frame_size(1 << 20);
    let mut wire = BytesMut::from(
        &reference.frame_raw(
            [
                0xff, 0xff, 0xff, 0xc2, 0x80, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            &[],
        )[..32],
    );
    assert!(matches!(
        dec.decode(&mut wire),
        Err(Error::FrameTooBig {
            size: 0xff_ffff,
            ..
        })
    ));
}

#[test]
fn oversized_payloads_are_rejected_when_writing() {
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut buf = BytesMut::new();
    let big = vec![0u8; MAX_MESSAGE_SIZE + 1];
    assert!(matches!(
        enc.encode_frame(1, &big, &mut buf),
        Err(Error::MessageTooBig { .. })
    ));
    enc.set_snappy(true);
    assert!(matches!(
        enc.encode_frame(1, &big, &mut buf),
        Err(Error::MessageTooBig { .. })
    ));
    // Not compressed, the code byte pushes a maximal payload over the frame limit.
    enc.set_snappy(false);
    let max = vec![0u8; MAX_MESSAGE_SIZE];
    assert!(matches!(
        enc.encode_frame(1, &max, &mut buf),
        Err(Error::FrameTooBig { .. })
    ));
    assert!(buf.is_empty());
}

#[test]
fn snappy_length_is_checked_before_decompressing() {
    // A snappy block whose varint header declares 16 MiB (0x1000000): 80 80 80 08.
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut wire = encode(&mut enc, 0x10, &[0x80, 0x80, 0x80, 0x08, 0x00]);
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.set_snappy(true);
    let err = dec.decode(&mut wire).unwrap_err();
    assert!(
        matches!(err, Error::MessageTooBig { size: 0x100_0000 }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "message length >= 16MB: 16777216 bytes");
}

#[test]
fn empty_messages_and_frames_are_rejected() {
    // Under snappy an empty payload is not a snappy block.
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut wire = encode(&mut enc, 0x10, &[]);
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.set_snappy(true);
    assert!(matches!(dec.decode(&mut wire), Err(Error::EmptyMessage)));

    // A frame with fsize 0 carries not even a code.
    let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
    let mut wire = BytesMut::from(reference.frame(&[]).as_slice());
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    assert!(matches!(dec.decode(&mut wire), Err(Error::EmptyFrame)));
}

#[test]
fn uncompressed_disconnect_under_snappy_is_accepted() {
    let mut enc = FrameEncoder::new(&kat_secrets());
    let mut dec = FrameDecoder::new(&kat_reader_secrets());
    dec.set_snappy(true);
    // A bare RLP reason (TooManyPeers), not compressed, as @ethereumjs/devp2p sends it.
    let mut wire = encode(&mut enc, 0x01, &[0x04]);
    assert_eq!(
        dec.decode(&mut wire).unwrap(),
        Some(Frame::new(1, vec![0x04]))
    );
    // A compressed one decodes too.
    enc.set_snappy(true);
    let mut wire = encode(&mut enc, 0x01, &[0xc1, 0x08]);
    assert_eq!(
        dec.decode(&mut wire).unwrap(),
        Some(Frame::new(1, vec![0xc1, 0x08]))
    );
    // Any other code must be valid snappy.
    enc.set_snappy(false);
    let mut wire = encode(&mut enc, 0x02, &[0x04]);
    assert!(matches!(dec.decode(&mut wire), Err(Error::Snappy(_))));
}

#[test]
fn non_canonical_codes_are_rejected() {
    for data in [
        &[0x00, 0xc0][..],
        &[0x81, 0x01, 0xc0],
        &[0x82, 0x00, 0x90],
        &[0xc0],
    ] {
        let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
        let mut wire = BytesMut::from(reference.frame(data).as_slice());
        let mut dec = FrameDecoder::new(&kat_reader_secrets());
        assert!(
            matches!(dec.decode(&mut wire), Err(Error::InvalidMessageCode)),
            "{data:?}"
        );
    }
}

#[test]
fn snappy_ping_has_the_documented_wire_form() {
    // Ping under snappy: frame data 02 01 00 c0.
    let mut enc = FrameEncoder::new(&kat_secrets());
    enc.set_snappy(true);
    let wire = encode(&mut enc, 0x02, &[0xc0]);
    let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
    assert_eq!(
        wire.as_ref(),
        reference.frame(&[0x02, 0x01, 0x00, 0xc0]).as_slice()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn frames_round_trip(
        frames in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..3000)), 1..6),
        snappy in any::<bool>(),
    ) {
        let mut enc = FrameEncoder::new(&kat_secrets());
        let mut dec = FrameDecoder::new(&kat_reader_secrets());
        enc.set_snappy(snappy);
        dec.set_snappy(snappy);
        let mut wire = BytesMut::new();
        for (code, payload) in &frames {
            enc.encode_frame(*code, payload, &mut wire).unwrap();
        }
        for (code, payload) in &frames {
            let frame = dec.decode(&mut wire).unwrap().unwrap();
            prop_assert_eq!(frame.code, *code);
            prop_assert_eq!(frame.payload.as_ref(), payload.as_slice());
        }
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000), snappy in any::<bool>()) {
        let mut dec = FrameDecoder::new(&kat_reader_secrets());
        dec.set_snappy(snappy);
        let mut buf = BytesMut::from(bytes.as_slice());
        let _ = dec.decode(&mut buf);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_content_with_valid_macs(
        header in any::<[u8; 16]>(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
        small_size in any::<bool>(),
        snappy in any::<bool>(),
    ) {
        let mut header = header;
        if small_size {
            // Make the declared size plausible so that the body paths run.
            header[0] = 0;
            header[1] = (body.len() >> 8) as u8;
            header[2] = body.len() as u8;
        }
        let mut reference = RefWriter::new(keccak(b""), keccak(b""), b"peerwire-kat-egress");
        let mut buf = BytesMut::from(reference.frame_raw(header, &body).as_slice());
        let mut dec = FrameDecoder::new(&kat_reader_secrets());
        dec.set_snappy(snappy);
        if let Ok(Some(frame)) = dec.decode(&mut buf) {
            prop_assert!(frame.payload.len() <= MAX_MESSAGE_SIZE);
        }
    }

    #[test]
    fn header_decoding_never_panics(bytes in any::<[u8; 32]>()) {
        let mut dec = FrameDecoder::new(&kat_reader_secrets());
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert!(matches!(dec.decode(&mut buf), Err(Error::HeaderMacMismatch)));
    }
}
