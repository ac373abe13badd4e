//! `Msg`, `send`, `send_items`, `expect_msg` and the forwarding impls (reference
//! `p2p/message_test.go` and section 2-4, 7).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use p2p_msg::{
    Error, Hello, Msg, MsgPipe, MsgReadWriter, MsgReader, MsgWriter, expect_msg, expect_msg_code,
    send, send_items,
};

use crate::{Ints, L, bounded};

#[test]
fn display_and_accessors() {
    let before = Instant::now();
    let m = Msg::new(0x11, vec![0xc0]);
    assert_eq!(m.to_string(), "msg #17 (1 bytes)");
    assert!(m.received_at() >= before);
    assert_eq!(m.size, 1);
    assert!(m.discard().is_ok());
}

#[test]
fn decode_error_matches_the_transport_test_text() {
    // A 4-byte non-list payload decoded as a Hello.
    let m = Msg::new(0, vec![0x83, 1, 2, 3]);
    let err = m.decode::<Hello>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid message: (code 0x0) (size 4) RlpExpectedToBeList"
    );
    assert!(err.is_invalid_message());
    assert_eq!(
        err.protocol_disconnect_reason(),
        p2p_msg::DisconnectReason::ProtocolError
    );
}

#[test]
fn decode_reads_one_value_only() {
    let m = Msg::new(7, vec![0xc2, 0x05, 0x06, 0xc0, 0x01]);
    assert_eq!(m.decode::<Ints>().unwrap().0, vec![5, 6]);
}

#[tokio::test(start_paused = true)]
async fn send_encodes_and_sets_size() {
    let (a, b) = MsgPipe::pair();
    let (w, r) = bounded(async { tokio::join!(send(&a, 9, &L(&[1, 2, 300])), b.read_msg()) }).await;
    w.unwrap();
    let r = r.unwrap();
    assert_eq!(r.code, 9);
    assert_eq!(&r.payload[..], &[0xc5, 0x01, 0x02, 0x82, 0x01, 0x2c]);
    assert_eq!(r.size, 6);
    assert_eq!(r.decode::<Ints>().unwrap().0, vec![1, 2, 300]);
}

#[tokio::test(start_paused = true)]
async fn send_items_empty_is_c0() {
    let (a, b) = MsgPipe::pair();
    let (w, r) =
        bounded(async { tokio::join!(send_items::<_, u64>(&a, 2, &[]), b.read_msg()) }).await;
    w.unwrap();
    let r = r.unwrap();
    assert_eq!(&r.payload[..], &[0xc0]);
    assert_eq!(r.size, 1);
    let (w, r) = bounded(async { tokio::join!(send_items(&a, 3, &[1u64, 2]), b.read_msg()) }).await;
    w.unwrap();
    assert_eq!(&r.unwrap().payload[..], &[0xc2, 0x01, 0x02]);
}

/// A struct that encodes like the list `[1]`: `expect_msg` compares exact bytes.
struct One;

impl rlp::Encodable for One {
    fn rlp_append(&self, s: &mut rlp::RlpStream) {
        s.begin_list(1);
        s.append(&1u64);
    }
}

#[tokio::test(start_paused = true)]
async fn expect_msg_checks_code_size_payload() {
    let (a, b) = MsgPipe::pair();
    let check = |code: u64, payload: &'static [u8]| {
        let a = &a;
        async move {
            a.write_msg(Msg::new(code, Bytes::from_static(payload)))
                .await
        }
    };
    // Match, with a different type encoding to the same bytes.
    let (w, r) =
        bounded(async { tokio::join!(check(1, &[0xc1, 0x01]), expect_msg(&b, 1, &One)) }).await;
    w.unwrap();
    r.unwrap();
    // Code mismatch.
    let (w, r) =
        bounded(async { tokio::join!(check(2, &[0xc1, 0x01]), expect_msg(&b, 1, &One)) }).await;
    w.unwrap();
    let e = r.unwrap_err();
    assert!(matches!(
        e,
        Error::CodeMismatch {
            got: 2,
            expected: 1
        }
    ));
    assert_eq!(e.to_string(), "message code mismatch: got 2, expected 1");
    // Size mismatch.
    let (w, r) =
        bounded(async { tokio::join!(check(1, &[0xc2, 0x01, 0x01]), expect_msg(&b, 1, &One)) })
            .await;
    w.unwrap();
    assert_eq!(
        r.unwrap_err().to_string(),
        "message size mismatch: got 3, want 2"
    );
    // Payload mismatch, both sides in hex.
    let (w, r) =
        bounded(async { tokio::join!(check(1, &[0xc1, 0x02]), expect_msg(&b, 1, &One)) }).await;
    w.unwrap();
    assert_eq!(
        r.unwrap_err().to_string(),
        "message payload mismatch:\ngot: c102\nwant: c101"
    );
    // Code only.
    let (w, r) =
        bounded(async { tokio::join!(check(4, &[0xc1, 0x02]), expect_msg_code(&b, 4)) }).await;
    w.unwrap();
    r.unwrap();
    // The reader's error propagates.
    a.close();
    assert!(expect_msg_code(&b, 4).await.unwrap_err().is_pipe_closed());
}

async fn round_trip<A: MsgReadWriter, B: MsgReadWriter>(a: A, b: B) {
    let (w, r) = tokio::join!(send(&a, 5, &L(&[5])), b.read_msg());
    w.unwrap();
    assert_eq!(r.unwrap().code, 5);
}

#[tokio::test(start_paused = true)]
async fn forwarding_impls() {
    let (a, b) = MsgPipe::pair();
    bounded(round_trip(&a, &b)).await;
    let (a, b) = (Arc::new(a), Box::new(b));
    bounded(round_trip(a.clone(), &b)).await;
    bounded(round_trip(b, a)).await;
}

#[tokio::test(start_paused = true)]
async fn mut_ref_and_boxed_adapter() {
    let (mut a, b) = MsgPipe::pair();
    bounded(round_trip(&mut a, &b)).await;
    let boxed = p2p_msg::BoxMsgReadWriter::new(a);
    bounded(round_trip(boxed.clone(), &b)).await;
    bounded(round_trip(&b, boxed)).await;
}

/// A protocol run by another runner: `ProtoRw::new` over any reader-writer and `PeerInfo::new`
/// with a disconnect callback.
#[tokio::test(start_paused = true)]
async fn protocol_over_a_custom_runner() {
    use std::sync::Mutex;

    use p2p_msg::{DisconnectReason, PeerInfo, ProtoRw, Protocol};

    let (a, b) = MsgPipe::pair();
    let seen: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let info = PeerInfo::new(
        Hello {
            version: 5,
            client_id: "custom".into(),
            caps: vec![],
            listen_port: 0,
            id: crate::node(5),
        },
        {
            let seen = seen.clone();
            move |r| seen.lock().unwrap().push(r)
        },
    );
    let p = Protocol::new("x", 1, 3, |peer, rw| async move {
        let m = rw.read_msg().await?;
        send(&rw, m.code, &L(&[u64::from(peer.id().0[0])])).await?;
        peer.disconnect(DisconnectReason::UselessPeer);
        Ok(())
    });
    let run = p.run(info, ProtoRw::new(a));
    let remote = async {
        send(&b, 2, &L(&[])).await.unwrap();
        expect_msg(&b, 2, &L(&[5])).await.unwrap();
    };
    let (r, ()) = bounded(async { tokio::join!(run, remote) }).await;
    r.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![DisconnectReason::UselessPeer]);
}
