//! eth/69 and eth/70 connection set-up: version negotiation between nodes offering different versions over the
//! multiplexer, the eth/69 Status checks (block range, genesis, network, fork id, version, deadline) and the
//! follower handshake for eth/69 and eth/70.

use std::sync::Arc;
use std::time::Duration;

use chain_types::ChainStore;
use eth_wire::{
    Error, EthMessage, EthNode, EthPeer, EthVersion, ForkHash, ForkId, HANDSHAKE_TIMEOUT, Status69,
    StatusMessage, handshake, handshake_following,
};
use p2p_msg::{DisconnectReason, LocalHello, NodeId, Peer, ProtoRw, pipe_transport};
use primitive_types::{H256, U256};
use tokio::sync::mpsc;

use crate::chain::TestChain;

/// A node serving `chain`, offering only `versions`; its peers arrive on the receiver.
fn node(
    chain: &TestChain,
    versions: &[u32],
) -> (
    Arc<EthNode>,
    Vec<p2p_msg::Protocol>,
    mpsc::Receiver<EthPeer<ProtoRw>>,
) {
    let (tx, rx) = mpsc::channel(4);
    let mut node = EthNode::new(1337, chain.genesis());
    node.store = Some(chain.store() as Arc<dyn ChainStore>);
    node.peers = Some(tx);
    let node = Arc::new(node);
    let protocols = node
        .protocols()
        .into_iter()
        .filter(|p| versions.contains(&p.version))
        .collect();
    (node, protocols, rx)
}

/// Connects a node offering `a` to one offering `b`; returns the version each side's EthPeer negotiated.
async fn negotiate(a: &[u32], b: &[u32]) -> (EthVersion, EthVersion) {
    let chain = TestChain::new(10, 1);
    let (_na, pa, mut ra) = node(&chain, a);
    let (_nb, pb, mut rb) = node(&chain, b);
    let (ta, tb) = pipe_transport();
    let peer_a = Peer::new(ta, LocalHello::new("a", NodeId([1; 64])), pa);
    let peer_b = Peer::new(tb, LocalHello::new("b", NodeId([2; 64])), pb);
    let stop = peer_a.handle();
    let test = async {
        let wait = Duration::from_secs(5);
        let ea = tokio::time::timeout(wait, ra.recv())
            .await
            .expect("a's peer in time")
            .expect("a's peer");
        let eb = tokio::time::timeout(wait, rb.recv())
            .await
            .expect("b's peer in time")
            .expect("b's peer");
        stop.disconnect(DisconnectReason::Requested);
        (ea.version(), eb.version())
    };
    let (_, _, versions) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(peer_a.run(), peer_b.run(), test)
    })
    .await
    .expect("negotiation in time");
    versions
}

#[tokio::test]
async fn each_version_pair_negotiates_the_highest_shared_version() {
    let all = [68, 69, 70];
    assert_eq!(
        negotiate(&[68], &all).await,
        (EthVersion::Eth68, EthVersion::Eth68)
    );
    assert_eq!(
        negotiate(&all, &[68]).await,
        (EthVersion::Eth68, EthVersion::Eth68)
    );
    assert_eq!(
        negotiate(&[69, 70], &[69, 70]).await,
        (EthVersion::Eth70, EthVersion::Eth70)
    );
    assert_eq!(
        negotiate(&[69, 70], &all).await,
        (EthVersion::Eth70, EthVersion::Eth70)
    );
    assert_eq!(
        negotiate(&[69], &all).await,
        (EthVersion::Eth69, EthVersion::Eth69)
    );
    assert_eq!(
        negotiate(&all, &all).await,
        (EthVersion::Eth70, EthVersion::Eth70)
    );
}

#[test]
fn node_offers_eth68_to_eth70_with_their_message_counts() {
    let chain = TestChain::new(1, 1);
    let (node, _, _) = node(&chain, &[]);
    let caps: Vec<(String, u32, u64)> = node
        .protocols()
        .into_iter()
        .map(|p| (p.name, p.version, p.length))
        .collect();
    assert_eq!(
        caps,
        [
            ("eth".to_owned(), 70, 18),
            ("eth".to_owned(), 69, 18),
            ("eth".to_owned(), 68, 17)
        ]
    );
}

fn good69(chain: &TestChain) -> Status69 {
    match chain.status_for(EthVersion::Eth69).0 {
        StatusMessage::Eth69(s) => s,
        StatusMessage::Legacy(_) => unreachable!("eth/69 status"),
    }
}

/// Runs our eth/69 handshake against a remote that sends `remote`.
async fn against69(remote: Status69) -> Result<StatusMessage, Error> {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status_for(EthVersion::Eth69);
    let (a, b) = p2p_msg::MsgPipe::pair();
    let other = async {
        use p2p_msg::{MsgReader, MsgWriter};
        let (sent, got) = tokio::join!(
            b.write_msg(EthMessage::Status69(remote).to_msg()),
            b.read_msg()
        );
        sent.expect("test setup");
        got.expect("test setup")
    };
    let (ours, seen) = tokio::join!(handshake(&a, local, &filter, HANDSHAKE_TIMEOUT), other);
    // The remote saw our eth/69 Status with the range 0..=head.
    assert_eq!(
        EthMessage::from_msg(EthVersion::Eth69, &seen).expect("our status decodes"),
        EthMessage::Status69(good69(&chain))
    );
    ours
}

#[tokio::test]
async fn status69_is_accepted_and_its_range_kept() {
    let chain = TestChain::new(5, 1);
    let remote = Status69 {
        earliest: 3,
        ..good69(&chain)
    };
    let got = against69(remote).await.unwrap();
    assert_eq!(got, StatusMessage::Eth69(remote));
    assert_eq!(got.head(), (chain.head().hash(), U256::zero()));
    let range = got.block_range().unwrap();
    assert_eq!((range.earliest, range.latest), (3, 5));
}

#[tokio::test]
async fn status69_checks_fail_with_typed_errors() {
    let chain = TestChain::new(5, 1);
    let good = good69(&chain);
    let e = against69(Status69 {
        earliest: 6,
        ..good
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidBlockRange {
                earliest: 6,
                latest: 5,
                reason: "earliest > latest"
            }
        ),
        "{e}"
    );
    assert!(e.is_protocol_violation());
    let e = against69(Status69 {
        latest_hash: H256::zero(),
        ..good
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidBlockRange {
                reason: "zero latest hash",
                ..
            }
        ),
        "{e}"
    );
    let e = against69(Status69 {
        genesis: H256::repeat_byte(7),
        ..good
    })
    .await
    .unwrap_err();
    assert!(matches!(e, Error::GenesisMismatch { .. }), "{e}");
    let e = against69(Status69 {
        network_id: 1,
        ..good
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NetworkMismatch {
                remote: 1,
                local: 1337
            }
        ),
        "{e}"
    );
    let fork_id = ForkId {
        hash: ForkHash::from(0xdead_beef),
        next: 0,
    };
    let e = against69(Status69 { fork_id, ..good }).await.unwrap_err();
    assert!(matches!(e, Error::ForkId(_)), "{e}");
    let e = against69(Status69 {
        version: 70,
        ..good
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::VersionMismatch {
                remote: 70,
                local: 69
            }
        ),
        "{e}"
    );
    for e in [
        against69(Status69 {
            genesis: H256::repeat_byte(7),
            ..good
        })
        .await
        .unwrap_err(),
        against69(Status69 {
            network_id: 1,
            ..good
        })
        .await
        .unwrap_err(),
    ] {
        assert!(e.is_incompatible(), "{e}");
    }
}

#[tokio::test(start_paused = true)]
async fn status69_handshake_times_out_after_five_seconds() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status_for(EthVersion::Eth70);
    let (a, b) = p2p_msg::MsgPipe::pair();
    let started = tokio::time::Instant::now();
    // The remote takes our Status but never sends its own.
    let silent = async {
        use p2p_msg::MsgReader;
        let _ = b.read_msg().await;
        std::future::pending::<()>().await;
    };
    let e = tokio::select! {
        r = handshake(&a, local, &filter, HANDSHAKE_TIMEOUT) => r.unwrap_err(),
        () = silent => unreachable!("the remote never finishes"),
    };
    assert!(matches!(e, Error::HandshakeTimeout(_)), "{e}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_status_of_the_wrong_layout_is_refused_before_sending() {
    let chain = TestChain::new(5, 1);
    let (legacy, filter) = chain.status(EthVersion::Eth69);
    let (a, b) = p2p_msg::MsgPipe::pair();
    let e = handshake(&a, &legacy, &filter, HANDSHAKE_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::VersionMismatch { .. }), "{e}");
    // Nothing was sent: the remote end has no message waiting.
    a.close();
    let got = {
        use p2p_msg::MsgReader;
        b.read_msg().await
    };
    assert!(got.is_err(), "{got:?}");
}

#[tokio::test]
async fn the_follower_handshake_mirrors_an_eth69_and_eth70_status() {
    for version in [EthVersion::Eth69, EthVersion::Eth70] {
        let chain = TestChain::new(5, 1);
        let (local, filter) = chain.status_for(version);
        let (a, b) = p2p_msg::MsgPipe::pair();
        let (server, follower) = tokio::join!(
            handshake(&a, local, &filter, HANDSHAKE_TIMEOUT),
            handshake_following(&b, version, HANDSHAKE_TIMEOUT)
        );
        let (ours, theirs) = follower.unwrap();
        assert_eq!(theirs, local);
        let StatusMessage::Eth69(mine) = ours else {
            panic!("{version}: the follower answers in the eth/69 layout");
        };
        assert_eq!(mine.version, version.number());
        assert_eq!(mine.genesis, chain.genesis());
        assert_eq!(mine.network_id, 1337);
        assert_eq!(mine.fork_id, local.fork_id());
        assert_eq!(
            (mine.earliest, mine.latest, mine.latest_hash),
            (0, 0, chain.genesis())
        );
        // The server accepted the mirrored Status.
        assert_eq!(server.unwrap(), ours);
    }
}

#[tokio::test]
async fn the_follower_refuses_an_invalid_range() {
    let chain = TestChain::new(5, 1);
    let bad = Status69 {
        earliest: 9,
        ..good69(&chain)
    };
    let (a, b) = p2p_msg::MsgPipe::pair();
    let send = async {
        use p2p_msg::MsgWriter;
        a.write_msg(EthMessage::Status69(bad).to_msg()).await
    };
    let (_, follower) = tokio::join!(
        send,
        handshake_following(&b, EthVersion::Eth69, HANDSHAKE_TIMEOUT)
    );
    assert!(matches!(
        follower.unwrap_err(),
        Error::InvalidBlockRange { .. }
    ));
}
