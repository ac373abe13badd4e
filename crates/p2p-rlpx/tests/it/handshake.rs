//! Handshake tests over in-memory streams: both roles, the legacy path, garbage, oversized
//! size prefixes, truncated input, timeouts, and "never panics" properties of the decoders.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use p2p_rlpx::{Error, Frame, HandshakeFormat, NodeKey, UnauthedStream, decode_ack, decode_auth};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::eip8::{AUTH_1, AUTH_2, STATIC_KEY_A, STATIC_KEY_B};

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn both_roles_complete_and_exchange_frames() {
    let (a_io, b_io) = tokio::io::duplex(4096);
    let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
    let b_id = b_key.id();
    let (a, b) = tokio::time::timeout(LIMIT, async {
        tokio::join!(
            UnauthedStream::new(a_io, a_key.clone()).connect(&b_id),
            UnauthedStream::new(b_io, b_key).accept()
        )
    })
    .await
    .unwrap();
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.remote_id(), b_id);
    assert_eq!(b.remote_id(), a_key.id());
    a.send(Frame::new(0x80, &b"one"[..])).await.unwrap();
    b.send(Frame::new(0, &b"two"[..])).await.unwrap();
    assert_eq!(
        b.next().await.unwrap().unwrap(),
        Frame::new(0x80, &b"one"[..])
    );
    assert_eq!(a.next().await.unwrap().unwrap(), Frame::new(0, &b"two"[..]));
    a.set_snappy(true);
    b.set_snappy(true);
    a.send(Frame::new(0x10, vec![7u8; 5000])).await.unwrap();
    assert_eq!(
        b.next().await.unwrap().unwrap(),
        Frame::new(0x10, vec![7u8; 5000])
    );
}

#[tokio::test]
async fn recipient_answers_a_legacy_auth_with_a_legacy_ack() {
    let (mut remote, io) = tokio::io::duplex(4096);
    let key_b = NodeKey::from_hex(STATIC_KEY_B).unwrap();
    let key_a = NodeKey::from_hex(STATIC_KEY_A).unwrap();
    let accept = tokio::spawn(UnauthedStream::new(io, key_b).accept());
    remote
        .write_all(&hex::decode(AUTH_1).unwrap())
        .await
        .unwrap();
    let mut ack = vec![0u8; 210];
    tokio::time::timeout(LIMIT, remote.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    let (_, format) = decode_ack(key_a.secret_key(), &ack).unwrap();
    assert_eq!(format, HandshakeFormat::Legacy);
    let stream = tokio::time::timeout(LIMIT, accept)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stream.remote_id(), key_a.id());
}

#[tokio::test]
async fn recipient_answers_an_eip8_auth_with_an_eip8_ack() {
    let (mut remote, io) = tokio::io::duplex(4096);
    let key_b = NodeKey::from_hex(STATIC_KEY_B).unwrap();
    let key_a = NodeKey::from_hex(STATIC_KEY_A).unwrap();
    let accept = tokio::spawn(UnauthedStream::new(io, key_b).accept());
    remote
        .write_all(&hex::decode(AUTH_2).unwrap())
        .await
        .unwrap();
    let mut prefix = [0u8; 2];
    tokio::time::timeout(LIMIT, remote.read_exact(&mut prefix))
        .await
        .unwrap()
        .unwrap();
    let size = usize::from(u16::from_be_bytes(prefix));
    // Padding of 100 to 300 bytes plus the ECIES overhead.
    assert!((100 + 113..=2048).contains(&size), "{size}");
    let mut ack = prefix.to_vec();
    ack.resize(2 + size, 0);
    remote.read_exact(&mut ack[2..]).await.unwrap();
    let (reply, format) = decode_ack(key_a.secret_key(), &ack).unwrap();
    assert_eq!(format, HandshakeFormat::Eip8);
    assert_eq!(reply.version, 4);
    tokio::time::timeout(LIMIT, accept)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

async fn accept_bytes(bytes: Vec<u8>, close: bool) -> Error {
    let (mut remote, io) = tokio::io::duplex(8192);
    let accept = tokio::spawn(UnauthedStream::new(io, NodeKey::generate()).accept());
    remote.write_all(&bytes).await.unwrap();
    if close {
        drop(remote);
        tokio::time::timeout(LIMIT, accept)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err()
    } else {
        let err = tokio::time::timeout(LIMIT, accept)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        drop(remote);
        err
    }
}

#[tokio::test]
async fn garbage_handshakes_give_typed_errors() {
    // A plausible size prefix followed by garbage: the ECIES key or tag check fails.
    let mut garbage = vec![0x01, 0x80];
    garbage.extend((0..0x180).map(|i| (i * 31 % 251) as u8));
    let err = accept_bytes(garbage, false).await;
    assert!(err.is_handshake(), "{err:?}");

    // A valid ephemeral point but a tampered tag.
    let mut tampered = hex::decode(AUTH_2).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let err = accept_bytes(tampered, false).await;
    assert!(matches!(err, Error::EciesTagMismatch), "{err:?}");

    // An ephemeral key that is not on the curve (the invalid-curve oracle of geth PR #33669).
    let mut off_curve = hex::decode(AUTH_2).unwrap();
    off_curve[2 + 64] ^= 1;
    let err = accept_bytes(off_curve, false).await;
    assert!(matches!(err, Error::InvalidPublicKey), "{err:?}");

    // An auth for another node: the tag check fails.
    let err = accept_bytes(hex::decode(AUTH_2).unwrap(), false).await;
    assert!(matches!(err, Error::EciesTagMismatch), "{err:?}");
}

#[tokio::test]
async fn oversized_size_prefix_is_rejected_before_reading_the_body() {
    // Only the two prefix bytes are sent: the error must come without waiting for more.
    let err = accept_bytes(vec![0xff, 0xff], false).await;
    assert!(
        matches!(
            err,
            Error::HandshakeTooBig {
                size: 0xffff,
                limit: 2048
            }
        ),
        "{err:?}"
    );
    assert!(err.is_too_big());
}

#[tokio::test]
async fn truncated_handshake_is_closed() {
    let mut auth = hex::decode(AUTH_2).unwrap();
    auth.truncate(100);
    let err = accept_bytes(auth, true).await;
    assert!(err.is_closed(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn silent_remote_times_out_as_recipient() {
    let (_remote, io) = tokio::io::duplex(4096);
    let started = tokio::time::Instant::now();
    let err = UnauthedStream::new(io, NodeKey::generate())
        .accept()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(started.elapsed(), p2p_rlpx::HANDSHAKE_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn silent_remote_times_out_as_initiator() {
    let (_remote, io) = tokio::io::duplex(4096);
    let remote = NodeKey::generate().id();
    let err = UnauthedStream::new(io, NodeKey::generate())
        .with_handshake_timeout(Duration::from_secs(2))
        .connect(&remote)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn connecting_to_an_invalid_id_fails_early() {
    let (_remote, io) = tokio::io::duplex(64);
    let err = UnauthedStream::new(io, NodeKey::generate())
        .connect(&p2p_msg::NodeId([0; 64]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPublicKey), "{err:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn auth_and_ack_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let key = NodeKey::from_hex(STATIC_KEY_B).unwrap();
        let _ = decode_auth(key.secret_key(), &bytes);
        let _ = decode_ack(key.secret_key(), &bytes);
    }

    #[test]
    fn decoders_never_panic_on_prefixed_garbage(size in 0u16..2100, fill in any::<u8>(), legacy in any::<bool>()) {
        let key = NodeKey::from_hex(STATIC_KEY_B).unwrap();
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.resize(if legacy { 307 } else { 2 + usize::from(size) }, fill);
        if legacy {
            bytes[0] = 4;
        }
        prop_assert!(decode_auth(key.secret_key(), &bytes).is_err());
        prop_assert!(decode_ack(key.secret_key(), &bytes).is_err());
    }

    #[test]
    fn encrypted_garbage_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        // Valid ECIES with an arbitrary plaintext: the RLP body parsing must not panic.
        let key = NodeKey::generate();
        let size = u16::try_from(body.len() + p2p_rlpx::ECIES_OVERHEAD).unwrap().to_be_bytes();
        let mut packet = size.to_vec();
        packet.extend(p2p_rlpx::ecies_encrypt(key.public_key(), &body, &size));
        let _ = decode_auth(key.secret_key(), &packet);
        let _ = decode_ack(key.secret_key(), &packet);
    }

    #[test]
    fn auth_round_trips(nonce in any::<[u8; 32]>()) {
        let (a, b) = (NodeKey::generate(), NodeKey::generate());
        let ephemeral = NodeKey::generate();
        let packet = p2p_rlpx::encode_auth(&a, b.public_key(), ephemeral.secret_key(), nonce);
        let (auth, format) = decode_auth(b.secret_key(), &packet).unwrap();
        prop_assert_eq!(format, HandshakeFormat::Eip8);
        prop_assert_eq!(auth.nonce, nonce);
        prop_assert_eq!(&auth.recover_ephemeral(b.secret_key()).unwrap(), ephemeral.public_key());
        let ack = p2p_rlpx::encode_ack(a.public_key(), ephemeral.secret_key(), nonce);
        let (ack, _) = decode_ack(a.secret_key(), &ack).unwrap();
        prop_assert_eq!(ack.nonce, nonce);
        prop_assert_eq!(&ack.ephemeral_key().unwrap(), ephemeral.public_key());
    }
}
