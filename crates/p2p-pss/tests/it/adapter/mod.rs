//! The protocol adapter over an in-memory fake transport ([`FakeNet`]): the reference's
//! `TestProtocol` scenario and the adapter-level cases.

mod fake_net;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use p2p_msg::{Msg, MsgReader as _, MsgWriter as _, NodeId, PeerInfo, Protocol};
use p2p_pss::{
    Error, Mode, PeerKey, Ping, ProtocolMsg, ProtocolParams, PssProtocol, SymKeyId, Topic,
    Transport, UnknownSenders, is_peer_removed,
};
use secp256k1::PublicKey;
use tokio::sync::mpsc;

pub(crate) use fake_net::{FakeNet, bounded, hint_of, wait_until};
fn ping_topic() -> Topic {
    Topic::for_protocol("ping", 1)
}

/// The reference's `TestProtocol` over any transport: `left` adds `right` as an asymmetric
/// peer (its key stored with a hint of `hint_len` bytes; `right` accepts `left` with the same
/// hint length), pings twice (right sees each ping, left each pong), removes the peer, and
/// checks that the removed reader-writer fails and the run ends.
/// Returns the right adapter for further checks.
pub(crate) async fn protocol_scenario<T: Transport + Clone>(
    left: T,
    left_key: PublicKey,
    right: T,
    right_key: PublicKey,
    hint_len: usize,
) -> PssProtocol<T> {
    let params =
        ProtocolParams::new(true, false).with_unknown_senders(UnknownSenders::Accept { hint_len });
    let (left_ping, left_proto) = Ping::new();
    let (right_ping, right_proto) = Ping::new();
    let left_ad = PssProtocol::register(left.clone(), left_proto, params).unwrap();
    let right_ad = PssProtocol::register(right, right_proto, params).unwrap();
    let (left_id, right_id) = (p2p_rlpx::node_id(&left_key), p2p_rlpx::node_id(&right_key));

    left.add_public_key(right_key, ping_topic(), &hint_of(&right_key, hint_len))
        .unwrap();
    let key = PeerKey::Asymmetric(right_key);
    let rw = left_ad.add_peer(key).unwrap();
    assert_eq!(left_ad.peers(), vec![key]);
    wait_until("left runs ping with right", || {
        left_ping.peers().contains(&right_id)
    })
    .await;

    let mut left_events = left_ping.events();
    let mut right_events = right_ping.events();
    for round in 0..2 {
        left_ping
            .ping(right_id, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("ping {round}: {e}"));
        let seen = right_events.recv().await.unwrap();
        assert_eq!(seen.peer, left_id, "round {round}");
        assert!(!seen.msg.pong, "right sees the ping, round {round}");
        let seen = left_events.recv().await.unwrap();
        assert_eq!(seen.peer, right_id, "round {round}");
        assert!(seen.msg.pong, "left sees the pong, round {round}");
    }
    assert_eq!(right_ad.peers(), vec![PeerKey::Asymmetric(left_key)]);
    assert_eq!(right_ad.stats().incoming_peers, 1);

    left_ad.remove_peer(&key).unwrap();
    assert!(left_ad.peers().is_empty());
    let err = rw.write_msg(Msg::new(0, vec![0xc0])).await.unwrap_err();
    assert!(is_peer_removed(&err), "write after removal: {err}");
    let err = rw.read_msg().await.unwrap_err();
    assert!(is_peer_removed(&err), "read after removal: {err}");
    wait_until("left's ping run with right ends", || {
        !left_ping.peers().contains(&right_id)
    })
    .await;
    assert!(matches!(
        left_ping.ping(right_id, Duration::from_secs(1)).await,
        Err(Error::NoRunningPeer(_))
    ));
    right_ad
}

async fn protocol_over_fake_net(hint_len: usize) {
    let net = FakeNet::default();
    let (left, right) = (net.node(), net.node());
    let right_ad = protocol_scenario(
        left.clone(),
        left.public(),
        right.clone(),
        right.public(),
        hint_len,
    )
    .await;
    // The right node stored the unknown sender's key with a hint of `hint_len` bytes.
    assert_eq!(
        right.hint(left.public(), ping_topic()),
        Some(hint_of(&left.public(), hint_len))
    );
    assert_eq!(right_ad.stats().unknown_sender, 0);
}

#[tokio::test]
async fn protocol_hint_32() {
    bounded(protocol_over_fake_net(32)).await;
}

#[tokio::test]
async fn protocol_hint_8() {
    bounded(protocol_over_fake_net(8)).await;
}

#[tokio::test]
async fn protocol_hint_0() {
    bounded(protocol_over_fake_net(0)).await;
}

/// A protocol `test/1` whose run forwards every message (with its peer) to the returned
/// receiver and counts its starts.
fn recording() -> (
    Protocol,
    mpsc::UnboundedReceiver<(PeerInfo, Msg)>,
    Arc<AtomicUsize>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let starts = Arc::new(AtomicUsize::new(0));
    let counted = starts.clone();
    let protocol = Protocol::new("test", 1, 4, move |info, rw| {
        let tx = tx.clone();
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            loop {
                let msg = rw.read_msg().await?;
                let _ = tx.send((info.clone(), msg));
            }
        }
    });
    (protocol, rx, starts)
}

fn test_topic() -> Topic {
    Topic::for_protocol("test", 1)
}

fn envelope(code: u64) -> Bytes {
    ProtocolMsg::new(code, vec![0xc0]).encode()
}

#[tokio::test]
async fn register_with_neither_mode_fails() {
    let node = FakeNet::default().node();
    let (protocol, _, _) = recording();
    let err = PssProtocol::register(
        node.clone(),
        protocol.clone(),
        ProtocolParams::new(false, false),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoMode), "{err}");
    let params =
        ProtocolParams::default().with_unknown_senders(UnknownSenders::Accept { hint_len: 33 });
    let err = PssProtocol::register(node, protocol, params).unwrap_err();
    assert!(matches!(err, Error::HintTooLong(33)), "{err}");
}

#[tokio::test]
async fn mode_check_rejects_exactly_the_disabled_modes() {
    bounded(async {
        let sender = FakeNet::default().node().public();
        let sym = SymKeyId([9; 8]);
        // (asymmetric enabled, symmetric enabled, message mode, accepted)
        let cases = [
            (true, false, Mode::Asymmetric(sender), true),
            (true, false, Mode::Symmetric(sym), false),
            (false, true, Mode::Asymmetric(sender), false),
            (false, true, Mode::Symmetric(sym), true),
            (true, true, Mode::Asymmetric(sender), true),
            (true, true, Mode::Symmetric(sym), true),
        ];
        for (asym, symm, mode, accepted) in cases {
            let node = FakeNet::default().node();
            node.add_sym_key(sym, test_topic());
            let (protocol, mut rx, _) = recording();
            let ad = PssProtocol::register(node.clone(), protocol, ProtocolParams::new(asym, symm))
                .unwrap();
            node.inject(test_topic(), mode, envelope(2));
            let case = format!("asym {asym} sym {symm} {mode:?}");
            wait_until("the message is handled", || ad.stats().received == 1).await;
            let stats = ad.stats();
            if accepted {
                let (_, msg) = rx.recv().await.unwrap();
                assert_eq!(msg.code, 2, "{case}");
                assert_eq!((stats.delivered, stats.mode_rejected), (1, 0), "{case}");
                assert_eq!(
                    ad.peers(),
                    vec![PeerKey::from_mode(mode).unwrap()],
                    "{case}"
                );
            } else {
                assert_eq!((stats.delivered, stats.mode_rejected), (0, 1), "{case}");
                assert!(ad.peers().is_empty(), "{case}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn add_peer_twice_is_peer_exists_and_the_first_run_lives_on() {
    bounded(async {
        let net = FakeNet::default();
        let (local, remote) = (net.node(), net.node());
        let (protocol, mut rx, starts) = recording();
        let ad = PssProtocol::register(local.clone(), protocol, ProtocolParams::default()).unwrap();
        local
            .add_public_key(remote.public(), test_topic(), &[])
            .unwrap();
        let key = PeerKey::Asymmetric(remote.public());
        let _rw = ad.add_peer(key).unwrap();
        wait_until("the run started", || starts.load(Ordering::SeqCst) == 1).await;
        let err = ad.add_peer(key).unwrap_err();
        assert!(matches!(err, Error::PeerExists(k) if k == key), "{err}");
        // The first run still reads: a message from the remote reaches it.
        remote
            .add_public_key(local.public(), test_topic(), &[])
            .unwrap();
        remote
            .send(
                &PeerKey::Asymmetric(local.public()),
                test_topic(),
                envelope(3),
            )
            .unwrap();
        let (info, msg) = rx.recv().await.unwrap();
        assert_eq!(
            (msg.code, info.id()),
            (3, p2p_rlpx::node_id(&remote.public()))
        );
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert_eq!(ad.peers(), vec![key]);
        assert_eq!(ad.stats().peers_added, 1);
    })
    .await;
}

#[tokio::test]
async fn add_peer_checks_the_key() {
    let net = FakeNet::default();
    let (local, remote) = (net.node(), net.node());
    let (protocol, _, _) = recording();
    let ad = PssProtocol::register(local, protocol, ProtocolParams::new(true, false)).unwrap();
    let err = ad
        .add_peer(PeerKey::Asymmetric(remote.public()))
        .unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }), "{err}");
    let err = ad
        .add_peer(PeerKey::Symmetric(SymKeyId([1; 8])))
        .unwrap_err();
    assert!(
        matches!(err, Error::ModeDisabled { mode: "symmetric" }),
        "{err}"
    );
    assert!(ad.peers().is_empty());
}

#[tokio::test]
async fn remove_peer_of_an_absent_key_is_unknown_peer() {
    let node = FakeNet::default().node();
    let (protocol, _, _) = recording();
    let ad = PssProtocol::register(node.clone(), protocol, ProtocolParams::default()).unwrap();
    let key = PeerKey::Asymmetric(node.public());
    let err = ad.remove_peer(&key).unwrap_err();
    assert!(matches!(err, Error::UnknownPeer(k) if k == key), "{err}");
}

#[tokio::test]
async fn a_returning_run_removes_its_peer() {
    bounded(async {
        let net = FakeNet::default();
        let (local, remote) = (net.node(), net.node());
        let protocol = Protocol::new("test", 1, 4, |_, _| async { Ok(()) });
        let ad = PssProtocol::register(local.clone(), protocol, ProtocolParams::default()).unwrap();
        local
            .add_public_key(remote.public(), test_topic(), &[])
            .unwrap();
        let rw = ad.add_peer(PeerKey::Asymmetric(remote.public())).unwrap();
        wait_until("the peer is removed", || ad.peers().is_empty()).await;
        assert_eq!(ad.stats().peers_removed, 1);
        let err = rw.read_msg().await.unwrap_err();
        assert!(is_peer_removed(&err), "{err}");
    })
    .await;
}

#[tokio::test]
async fn peer_info_names_the_key() {
    bounded(async {
        let node = FakeNet::default().node();
        let sender = FakeNet::default().node().public();
        let sym = SymKeyId([0xab; 8]);
        node.add_sym_key(sym, test_topic());
        let (protocol, mut rx, _) = recording();
        let _ad = PssProtocol::register(node.clone(), protocol, ProtocolParams::default()).unwrap();

        node.inject(test_topic(), Mode::Asymmetric(sender), envelope(0));
        let (info, _) = rx.recv().await.unwrap();
        assert_eq!(info.id(), p2p_rlpx::node_id(&sender));
        let want = format!("pss:{}", hex::encode(sender.serialize_uncompressed()));
        assert_eq!(info.client_id(), want);
        assert_eq!(info.caps(), &[p2p_msg::Cap::new("test", 1)]);

        node.inject(test_topic(), Mode::Symmetric(sym), envelope(0));
        let (info, _) = rx.recv().await.unwrap();
        assert_eq!(info.id(), NodeId::ZERO);
        assert_eq!(info.client_id(), format!("pss:{}", "ab".repeat(8)));
    })
    .await;
}

#[tokio::test]
async fn disconnect_removes_the_peer_and_ends_the_run() {
    bounded(async {
        let net = FakeNet::default();
        let (local, remote) = (net.node(), net.node());
        let ended = Arc::new(AtomicUsize::new(0));
        let counted = ended.clone();
        let protocol = Protocol::new("test", 1, 4, move |info, rw| {
            let ended = counted.clone();
            async move {
                info.disconnect(p2p_msg::DisconnectReason::UselessPeer);
                let result = rw.read_msg().await;
                assert!(is_peer_removed(&result.unwrap_err()));
                ended.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        let ad = PssProtocol::register(local.clone(), protocol, ProtocolParams::default()).unwrap();
        local
            .add_public_key(remote.public(), test_topic(), &[])
            .unwrap();
        ad.add_peer(PeerKey::Asymmetric(remote.public())).unwrap();
        wait_until("the run ended", || ended.load(Ordering::SeqCst) == 1).await;
        assert!(ad.peers().is_empty());
        assert_eq!(ad.stats().peers_removed, 1);
    })
    .await;
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_stalling_other_peers() {
    bounded(async {
        let net = FakeNet::default();
        let (local, slow, fast) = (net.node(), net.node(), net.node());
        let slow_id = p2p_rlpx::node_id(&slow.public());
        let (tx, mut rx) = mpsc::unbounded_channel();
        // The slow peer's run never reads; the others forward what they read.
        let protocol = Protocol::new("test", 1, 4, move |info: PeerInfo, rw| {
            let tx = tx.clone();
            async move {
                if info.id() == slow_id {
                    std::future::pending::<()>().await;
                }
                loop {
                    let msg = rw.read_msg().await?;
                    let _ = tx.send((info.id(), msg.code));
                }
            }
        });
        let params = ProtocolParams::default().with_peer_capacity(1);
        let ad = PssProtocol::register(local.clone(), protocol, params).unwrap();
        let to_local = PeerKey::Asymmetric(local.public());
        for sender in [&slow, &fast] {
            sender
                .add_public_key(local.public(), test_topic(), &[])
                .unwrap();
        }
        for code in 0..10 {
            slow.send(&to_local, test_topic(), envelope(code)).unwrap();
        }
        fast.send(&to_local, test_topic(), envelope(3)).unwrap();
        let (from, code) = rx.recv().await.unwrap();
        assert_eq!((from, code), (p2p_rlpx::node_id(&fast.public()), 3));
        let stats = ad.stats();
        assert_eq!(stats.received, 11);
        assert_eq!(stats.channel_full, 9, "{stats:?}");
        assert_eq!(stats.delivered, 2, "{stats:?}");
        assert_eq!(stats.incoming_peers, 2);
    })
    .await;
}

#[tokio::test]
async fn bad_raw_and_unknown_messages_are_dropped_and_counted() {
    bounded(async {
        let net = FakeNet::default();
        let (local, stranger) = (net.node(), net.node());
        let (protocol, _, _) = recording();
        let params = ProtocolParams::default().with_unknown_senders(UnknownSenders::Reject);
        let ad = PssProtocol::register(local.clone(), protocol, params).unwrap();
        let sender = Mode::Asymmetric(stranger.public());
        // A stranger, not accepted.
        local.inject(test_topic(), sender, envelope(0));
        wait_until("the stranger's message is handled", || {
            ad.stats().received == 1
        })
        .await;
        // Not a ProtocolMsg (the three-item form), from a known key.
        local
            .add_public_key(stranger.public(), test_topic(), &[])
            .unwrap();
        local.inject(test_topic(), sender, hex::decode("c6050383c20102").unwrap());
        // Raw.
        local.inject(test_topic(), Mode::Raw, envelope(0));
        wait_until("all handled", || ad.stats().received == 3).await;
        let stats = ad.stats();
        assert_eq!(
            (
                stats.unknown_sender,
                stats.invalid,
                stats.raw_dropped,
                stats.delivered
            ),
            (1, 1, 1, 0),
            "{stats:?}"
        );
        assert!(ad.peers().is_empty(), "no peer for dropped messages");
        assert_eq!(stats.peers_added, 0);
    })
    .await;
}

#[tokio::test]
async fn dropping_the_adapter_removes_its_peers() {
    bounded(async {
        let net = FakeNet::default();
        let (local, remote) = (net.node(), net.node());
        let (protocol, _, _) = recording();
        let ad = PssProtocol::register(local.clone(), protocol, ProtocolParams::default()).unwrap();
        local
            .add_public_key(remote.public(), test_topic(), &[])
            .unwrap();
        let rw = ad.add_peer(PeerKey::Asymmetric(remote.public())).unwrap();
        drop(ad);
        assert!(rw.is_closed());
        let err = rw.read_msg().await.unwrap_err();
        assert!(is_peer_removed(&err), "{err}");
    })
    .await;
}

#[tokio::test]
async fn symmetric_peers_ping() {
    bounded(async {
        let net = FakeNet::default();
        let (left, right) = (net.node(), net.node());
        let sym = SymKeyId([5; 8]);
        left.add_sym_key(sym, ping_topic());
        right.add_sym_key(sym, ping_topic());
        let (left_ping, left_proto) = Ping::new();
        let (right_ping, right_proto) = Ping::new();
        let params = ProtocolParams::new(false, true);
        let left_ad = PssProtocol::register(left, left_proto, params).unwrap();
        let right_ad = PssProtocol::register(right, right_proto, params).unwrap();
        let key = PeerKey::Symmetric(sym);
        let _rw = left_ad.add_peer(key).unwrap();
        wait_until("left runs ping", || !left_ping.peers().is_empty()).await;
        let mut right_events = right_ping.events();
        for _ in 0..2 {
            left_ping
                .ping(NodeId::ZERO, Duration::from_secs(10))
                .await
                .unwrap();
            let seen = right_events.recv().await.unwrap();
            assert!(!seen.msg.pong);
            assert_eq!(seen.peer, NodeId::ZERO);
        }
        assert_eq!(right_ad.peers(), vec![key]);
        left_ad.remove_peer(&key).unwrap();
        wait_until("left's run ends", || left_ping.peers().is_empty()).await;
    })
    .await;
}
