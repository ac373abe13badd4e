//! Unit tests of the envelope crypto: round trips, tampering, wrong keys, signatures.

use bytes::Bytes;
use p2p_rlpx::NodeKey;
use proptest::prelude::*;

use super::*;
use crate::{Flags, PssMsg, Topic};

const AAD: &[u8] = b"the authenticated data";

fn key_pair() -> (SecretKey, PublicKey) {
    let key = NodeKey::generate();
    (*key.secret_key(), *key.public_key())
}

fn is_undecryptable<T: fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Undecryptable))
}

#[test]
fn sym_round_trip_at_several_lengths() {
    let key = SymKey::generate();
    for len in [0, 1, 15, 16, 17, 256, 4096] {
        let plain = vec![0xa5; len];
        let sealed = seal_sym(&key, AAD, &plain);
        assert_eq!(sealed.len(), len + SYM_OVERHEAD);
        assert_eq!(open_sym(&key, AAD, &sealed).unwrap(), plain);
    }
}

#[test]
fn sym_nonce_is_fresh_per_message() {
    let key = SymKey::generate();
    let (a, b) = (seal_sym(&key, AAD, b"same"), seal_sym(&key, AAD, b"same"));
    assert_ne!(a[..SYM_NONCE_LEN], b[..SYM_NONCE_LEN]);
    assert_ne!(a, b);
}

#[test]
fn sym_flipped_byte_in_nonce_ciphertext_or_tag_is_undecryptable() {
    let key = SymKey::generate();
    let sealed = seal_sym(&key, AAD, b"thirty-two bytes of plaintext...");
    // Every position: nonce (0..12), ciphertext (12..44) and tag (44..60).
    for i in 0..sealed.len() {
        let mut altered = sealed.clone();
        altered[i] ^= 0x01;
        assert!(is_undecryptable(open_sym(&key, AAD, &altered)), "byte {i}");
    }
}

#[test]
fn sym_altered_aad_or_wrong_key_is_undecryptable() {
    let key = SymKey::generate();
    let sealed = seal_sym(&key, AAD, b"secret");
    let mut aad = AAD.to_vec();
    aad[0] ^= 1;
    assert!(is_undecryptable(open_sym(&key, &aad, &sealed)));
    assert!(is_undecryptable(open_sym(&key, b"", &sealed)));
    assert!(is_undecryptable(open_sym(
        &SymKey::generate(),
        AAD,
        &sealed
    )));
}

#[test]
fn sym_input_shorter_than_the_overhead_is_undecryptable() {
    let key = SymKey::generate();
    for len in 0..SYM_OVERHEAD {
        assert!(
            is_undecryptable(open_sym(&key, AAD, &vec![0; len])),
            "{len}"
        );
    }
}

#[test]
fn open_rejects_input_longer_than_a_message() {
    let big = vec![0; MAX_MSG_SIZE + 1];
    assert!(matches!(
        open_sym(&SymKey::generate(), AAD, &big),
        Err(Error::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        open_asym(&key_pair().0, AAD, &big),
        Err(Error::PayloadTooLarge { .. })
    ));
}

#[test]
fn a_replay_with_an_altered_expiry_does_not_open() {
    let msg = PssMsg {
        to: Bytes::from_static(&[1, 2, 3]),
        flags: Flags {
            raw: false,
            symmetric: true,
        },
        expire: 1000,
        topic: Topic::from_name("t"),
        hops: 0,
        payload: Bytes::new(),
    };
    let replay = PssMsg {
        expire: 2000,
        ..msg.clone()
    };
    let key = SymKey::generate();
    let sealed = seal_sym(&key, &msg.aad(), b"hi");
    assert!(open_sym(&key, &msg.aad(), &sealed).is_ok());
    assert!(is_undecryptable(open_sym(&key, &replay.aad(), &sealed)));

    let (sender, _) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let sealed = seal_asym(&sender, &recipient_pub, &msg.aad(), b"hi");
    assert!(open_asym(&recipient, &msg.aad(), &sealed).is_ok());
    assert!(is_undecryptable(open_asym(
        &recipient,
        &replay.aad(),
        &sealed
    )));
}

#[test]
fn asym_round_trip_recovers_the_senders_public_key() {
    let (sender, sender_pub) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    for len in [0, 1, 256, 4096] {
        let plain = vec![0x3c; len];
        let sealed = seal_asym(&sender, &recipient_pub, AAD, &plain);
        assert_eq!(sealed.len(), len + ASYM_OVERHEAD);
        let (from, opened) = open_asym(&recipient, AAD, &sealed).unwrap();
        assert_eq!(from, sender_pub);
        assert_eq!(opened, plain);
    }
}

#[test]
fn asym_flipped_byte_anywhere_is_undecryptable() {
    let (sender, _) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let sealed = seal_asym(&sender, &recipient_pub, AAD, b"hello");
    // Ephemeral key, IV, ciphertext (signature and plaintext) and tag.
    for i in 0..sealed.len() {
        let mut altered = sealed.clone();
        altered[i] ^= 0x01;
        assert!(
            is_undecryptable(open_asym(&recipient, AAD, &altered)),
            "byte {i}"
        );
    }
}

#[test]
fn asym_altered_aad_or_wrong_recipient_is_undecryptable() {
    let (sender, _) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let sealed = seal_asym(&sender, &recipient_pub, AAD, b"hello");
    assert!(is_undecryptable(open_asym(&recipient, b"other", &sealed)));
    assert!(is_undecryptable(open_asym(&key_pair().0, AAD, &sealed)));
    // The sender cannot open what it sealed to someone else.
    assert!(is_undecryptable(open_asym(&sender, AAD, &sealed)));
}

#[test]
fn asym_input_shorter_than_the_overhead_is_undecryptable() {
    let (recipient, _) = key_pair();
    for len in [0, 1, 64, 65, p2p_rlpx::ECIES_OVERHEAD, ASYM_OVERHEAD - 1] {
        assert!(
            is_undecryptable(open_asym(&recipient, AAD, &vec![4; len])),
            "{len}"
        );
    }
    // Well-formed ECIES ciphertexts to the recipient that hold less than a signature.
    let (recipient, recipient_pub) = key_pair();
    for len in [0, 10, SIGNATURE_LEN - 1] {
        let short = p2p_rlpx::ecies_encrypt(&recipient_pub, &vec![0; len], AAD);
        assert!(p2p_rlpx::ecies_decrypt(&recipient, &short, AAD).is_ok());
        assert!(
            is_undecryptable(open_asym(&recipient, AAD, &short)),
            "{len}"
        );
    }
}

/// Seals `sig || plaintext` to `recipient` as `seal_asym` would, with a chosen signature.
fn seal_with_signature(recipient: &PublicKey, sig: &[u8; 65], plaintext: &[u8]) -> Vec<u8> {
    let signed = [&sig[..], plaintext].concat();
    p2p_rlpx::ecies_encrypt(recipient, &signed, AAD)
}

fn signature(sender: &SecretKey, plaintext: &[u8]) -> [u8; 65] {
    let sig = RecoverableSignature::sign_ecdsa_recoverable(signed_hash(AAD, plaintext), sender);
    let (recid, compact) = sig.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&compact);
    out[64] = u8::from(recid);
    out
}

#[test]
fn a_chosen_signature_seals_like_seal_asym() {
    let (sender, sender_pub) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let sealed = seal_with_signature(&recipient_pub, &signature(&sender, b"hi"), b"hi");
    assert_eq!(
        open_asym(&recipient, AAD, &sealed).unwrap(),
        (sender_pub, b"hi".to_vec())
    );
}

#[test]
fn asym_invalid_recovery_id_or_zero_signature_is_undecryptable() {
    let (sender, _) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let mut sig = signature(&sender, b"hi");
    for v in [4u8, 27, 0xff] {
        sig[64] = v;
        let sealed = seal_with_signature(&recipient_pub, &sig, b"hi");
        assert!(
            is_undecryptable(open_asym(&recipient, AAD, &sealed)),
            "v {v}"
        );
    }
    let sealed = seal_with_signature(&recipient_pub, &[0; 65], b"hi");
    assert!(is_undecryptable(open_asym(&recipient, AAD, &sealed)));
}

#[test]
fn asym_high_s_twin_of_a_valid_signature_is_undecryptable() {
    // n, the order of secp256k1.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let (sender, _) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let mut sig = signature(&sender, b"hi");
    // s' = n - s, and the other parity of R: the same key would be recovered.
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        sig[32 + i] = d.rem_euclid(256) as u8;
    }
    sig[64] ^= 1;
    let twin = RecoverableSignature::from_compact(
        &sig[..64],
        RecoveryId::try_from(i32::from(sig[64])).unwrap(),
    )
    .unwrap();
    let mut normalized = twin.to_standard();
    normalized.normalize_s();
    assert_ne!(normalized, twin.to_standard(), "the twin is high-s");
    let sealed = seal_with_signature(&recipient_pub, &sig, b"hi");
    assert!(is_undecryptable(open_asym(&recipient, AAD, &sealed)));
}

#[test]
fn a_signature_moved_to_another_plaintext_does_not_name_the_signer() {
    let (sender, sender_pub) = key_pair();
    let (recipient, recipient_pub) = key_pair();
    let sealed = seal_with_signature(&recipient_pub, &signature(&sender, b"hi"), b"ho");
    // Recovery over another hash gives another key (or none), never the signer's.
    match open_asym(&recipient, AAD, &sealed) {
        Ok((from, _)) => assert_ne!(from, sender_pub),
        Err(e) => assert!(matches!(e, Error::Undecryptable)),
    }
}

#[test]
fn the_signed_hash_is_unambiguous_between_aad_and_plaintext() {
    assert_ne!(signed_hash(b"ab", b"c"), signed_hash(b"a", b"bc"));
}

proptest! {
    #[test]
    fn open_sym_never_panics_on_arbitrary_bytes(
        sealed in proptest::collection::vec(any::<u8>(), 0..200),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        prop_assert!(open_sym(&SymKey([7; 32]), &aad, &sealed).is_err());
    }

    #[test]
    fn open_asym_never_panics_on_arbitrary_bytes(
        sealed in proptest::collection::vec(any::<u8>(), 0..400),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let recipient = SecretKey::from_secret_bytes([7; 32]).unwrap();
        prop_assert!(open_asym(&recipient, &aad, &sealed).is_err());
    }

    // Arbitrary bytes after a valid ephemeral key reach the MAC check.
    #[test]
    fn open_asym_never_panics_behind_a_valid_ephemeral_key(
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let recipient = SecretKey::from_secret_bytes([7; 32]).unwrap();
        let sealed = [&key_pair().1.serialize_uncompressed()[..], &tail].concat();
        prop_assert!(open_asym(&recipient, AAD, &sealed).is_err());
    }

    #[test]
    fn sym_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let key = SymKey::generate();
        prop_assert_eq!(open_sym(&key, &aad, &seal_sym(&key, &aad, &plain))?, plain);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn asym_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let (sender, sender_pub) = key_pair();
        let (recipient, recipient_pub) = key_pair();
        let sealed = seal_asym(&sender, &recipient_pub, &aad, &plain);
        prop_assert_eq!(open_asym(&recipient, &aad, &sealed)?, (sender_pub, plain));
    }
}

#[test]
fn seal_append_leaves_the_prefix_and_appends_what_opens() {
    let key = SymKey::generate();
    let cipher = key.cipher();
    let mut out = b"prefix".to_vec();
    cipher.seal_append(b"aad", b"hello", &mut out);
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(out.len(), 6 + 5 + SYM_OVERHEAD);
    assert_eq!(open_sym(&key, b"aad", &out[6..]).unwrap(), b"hello");
    assert!(open_sym(&key, b"other", &out[6..]).is_err());
}
