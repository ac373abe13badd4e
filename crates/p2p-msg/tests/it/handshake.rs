//! The Hello exchange (reference section 11 and 14.4: `TestProtocolHandshakeErrors`, the
//! transport test's error text, the EIP-8 forward-compatible Hello).

use p2p_msg::{Cap, DisconnectReason, Error, Hello, Msg, MsgReader, MsgWriter, NodeId};

use crate::peer::{handshake, idle_protocol, remote_hello, spawn_peer, spawn_peer_with};
use crate::{L, bounded, node};

/// The Hello payload vector published in EIP-8 (CC0): version 0x37 with extra list elements.
const EIP8_HELLO: &str = "f87137916b6e6574682f76302e39312f706c616e39cdc5836574683dc6846d6f726b1682270fb840\
fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569\
bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877c883666f6f836261720304";

fn eip8_id() -> NodeId {
    "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877"
        .parse()
        .unwrap()
}

#[test]
fn eip8_hello_vector_decodes() {
    let payload = hex::decode(EIP8_HELLO).unwrap();
    let h = Hello::decode_payload(&payload).unwrap();
    assert_eq!(h.version, 55);
    assert_eq!(h.client_id, "kneth/v0.91/plan9");
    assert_eq!(h.caps, vec![Cap::new("eth", 61), Cap::new("mork", 22)]);
    assert_eq!(h.listen_port, 9999);
    assert_eq!(h.id, eip8_id());
    // Through Msg::decode as well.
    assert_eq!(Msg::new(0, payload).decode::<Hello>().unwrap(), h);
}

/// The EIP-8 Hello is accepted by a running peer; its version (55) turns compression on.
#[tokio::test(start_paused = true)]
async fn eip8_hello_accepted_by_peer() {
    let s = spawn_peer_with(vec![idle_protocol("eth", 61, 17)], Some(eip8_id()));
    bounded(async {
        let ours = s.remote.read_msg().await.unwrap();
        assert_eq!(ours.code, 0);
        s.remote
            .write_msg(Msg::new(0, hex::decode(EIP8_HELLO).unwrap()))
            .await
            .unwrap();
        p2p_msg::send(&*s.remote, 2, &L(&[])).await.unwrap();
        p2p_msg::expect_msg_code(&*s.remote, 3).await.unwrap();
    })
    .await;
    assert!(s.local.compression_enabled());
    s.handle.disconnect(DisconnectReason::Requested);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.remote.unwrap().client_id, "kneth/v0.91/plan9");
}

/// What the peer does when the remote's first message is `first`.
struct Outcome {
    reason: DisconnectReason,
    remote_requested: bool,
    error: Option<Error>,
    /// The message the remote received after our Hello, if any.
    sent: Option<Msg>,
}

async fn first_message(first: Msg, remote_id: Option<NodeId>) -> Outcome {
    let s = spawn_peer_with(vec![idle_protocol("a", 1, 1)], remote_id);
    let sent = bounded(async {
        let ours = s.remote.read_msg().await.unwrap();
        assert_eq!(ours.code, 0);
        s.remote.write_msg(first).await.unwrap();
        s.remote.read_msg().await.ok()
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    Outcome {
        reason: exit.reason,
        remote_requested: exit.remote_requested,
        error: exit.error,
        sent,
    }
}

fn hello_with_id(id: &[u8]) -> Msg {
    let mut st = rlp::RlpStream::new_list(5);
    st.append(&5u64);
    st.append(&"remote");
    st.begin_list(1);
    st.append_raw(&rlp::encode(&Cap::new("a", 1)), 1);
    st.append(&0u64);
    st.append(&id);
    Msg::new(0, st.out().freeze())
}

/// `TestProtocolHandshakeErrors`, by behaviour.
#[tokio::test(start_paused = true)]
async fn handshake_errors() {
    // A list-encoded Quitting Disconnect.
    let o = first_message(Msg::new(1, vec![0xc1, 0x08]), None).await;
    assert_eq!(o.reason, DisconnectReason::Quitting);
    assert!(o.remote_requested);
    assert!(matches!(
        o.error,
        Some(Error::Disconnected(DisconnectReason::Quitting))
    ));
    assert!(o.sent.is_none(), "nothing is echoed during the handshake");

    // The legacy bare byte.
    let o = first_message(Msg::new(1, vec![0x08]), None).await;
    assert_eq!(o.reason, DisconnectReason::Quitting);
    assert!(o.remote_requested);

    // An unexpected code.
    let o = first_message(Msg::new(0x989898, vec![0xc0]), None).await;
    assert_eq!(
        o.error.unwrap().to_string(),
        "expected handshake, got 989898"
    );
    assert!(o.sent.is_none());

    // An oversize Hello.
    let mut big = remote_hello(&[("a", 1)]);
    big.client_id = "x".repeat(3000);
    let o = first_message(Msg::new(0, big.encode_payload()), None).await;
    assert!(matches!(
        o.error,
        Some(Error::MessageTooBig { limit: 2048, .. })
    ));
    assert_eq!(o.reason, DisconnectReason::ProtocolError);

    // Payload [1, 2, 3] as bytes: an invalid message.
    let o = first_message(Msg::new(0, vec![0x83, 1, 2, 3]), None).await;
    let e = o.error.unwrap();
    assert!(e.is_invalid_message());
    assert_eq!(
        e.to_string(),
        "invalid message: (code 0x0) (size 4) RlpExpectedToBeList"
    );

    // A Hello with an empty id: InvalidIdentity, which is sent.
    let o = first_message(hello_with_id(&[]), None).await;
    assert_eq!(o.reason, DisconnectReason::InvalidIdentity);
    let sent = o.sent.unwrap();
    assert_eq!((sent.code, &sent.payload[..]), (1, &[0xc1, 0x07][..]));

    // An all-zero id.
    let o = first_message(hello_with_id(&[0; 64]), None).await;
    assert_eq!(o.reason, DisconnectReason::InvalidIdentity);

    // An id that differs from the transport's: UnexpectedIdentity, which is sent.
    let o = first_message(hello_with_id(&[2; 64]), Some(node(3))).await;
    assert_eq!(o.reason, DisconnectReason::UnexpectedIdentity);
    let sent = o.sent.unwrap();
    assert_eq!((sent.code, &sent.payload[..]), (1, &[0xc1, 0x09][..]));

    // The same id is fine.
    let s = spawn_peer_with(vec![idle_protocol("a", 1, 1)], Some(node(2)));
    bounded(handshake(&s.remote, &remote_hello(&[("a", 1)]))).await;
    s.handle.disconnect(DisconnectReason::Requested);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Requested);
    assert!(exit.remote.is_some());
}

/// `TestProtocolHandshake` over the in-memory transport: each side receives the other's Hello;
/// the dialer closes with Quitting and the listener sees a Disconnect `[Quitting]`.
#[tokio::test(start_paused = true)]
async fn handshake_both_directions() {
    let s = spawn_peer(vec![idle_protocol("a", 1, 1)]);
    let theirs = remote_hello(&[("a", 1)]);
    let ours = bounded(handshake(&s.remote, &theirs)).await;
    assert_eq!(ours.id, node(1));
    assert_eq!(ours.client_id, "peerwire-test");
    s.handle.disconnect(DisconnectReason::Quitting);
    bounded(p2p_msg::expect_msg(&*s.remote, 1, &L(&[8])))
        .await
        .unwrap();
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.remote.unwrap(), theirs);
}
