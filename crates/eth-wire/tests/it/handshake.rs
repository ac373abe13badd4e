//! The Status handshake over an in-memory pipe: success and every failure, each with its typed error.

use std::time::Duration;

use eth_wire::{
    Error, EthMessage, EthVersion, ForkHash, ForkId, ForkIdError, HANDSHAKE_TIMEOUT, Status,
    StatusMessage, handshake,
};
use p2p_msg::{Msg, MsgPipe, MsgReader, MsgWriter};
use primitive_types::{H256, U256};

use crate::chain::TestChain;

/// Runs our handshake against a remote that sends `remote` (and reads our Status).
async fn against(remote: Status) -> Result<StatusMessage, Error> {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let other = async {
        let (sent, got) = tokio::join!(
            b.write_msg(EthMessage::Status(remote).to_msg()),
            b.read_msg()
        );
        sent.expect("test setup");
        got.expect("test setup")
    };
    let (ours, their_view) = tokio::join!(handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT), other);
    // The remote saw exactly our Status.
    assert_eq!(
        EthMessage::from_msg(EthVersion::Eth68, &their_view).expect("test setup"),
        EthMessage::Status(local)
    );
    ours
}

fn good() -> Status {
    TestChain::new(5, 1).status(EthVersion::Eth68).0
}

#[tokio::test]
async fn matching_status_is_accepted() {
    let remote = Status {
        best_hash: H256::repeat_byte(9),
        ..good()
    };
    assert_eq!(
        against(remote).await.unwrap(),
        StatusMessage::Legacy(remote)
    );
}

#[tokio::test]
async fn both_sides_in_process_accept_each_other() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth67);
    let (a, b) = MsgPipe::pair();
    let (x, y) = tokio::join!(
        handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT),
        handshake(&b, &local, &filter, HANDSHAKE_TIMEOUT)
    );
    assert_eq!(x.unwrap(), StatusMessage::Legacy(local));
    assert_eq!(y.unwrap(), StatusMessage::Legacy(local));
}

#[tokio::test]
async fn version_mismatch() {
    let e = against(Status {
        version: 67,
        ..good()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::VersionMismatch {
                remote: 67,
                local: 68
            }
        ),
        "{e}"
    );
    assert!(e.is_incompatible());
    assert_eq!(
        e.to_string(),
        "eth version mismatch: remote status says 67, negotiated 68"
    );
}

#[tokio::test]
async fn network_mismatch() {
    let e = against(Status {
        network_id: 1,
        ..good()
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
    assert!(e.is_incompatible());
}

#[tokio::test]
async fn genesis_mismatch() {
    let other = TestChain::new(5, 2);
    let e = against(Status {
        genesis: other.genesis(),
        ..good()
    })
    .await
    .unwrap_err();
    assert!(matches!(e, Error::GenesisMismatch { .. }), "{e}");
    assert!(e.to_string().starts_with("genesis mismatch"));
}

#[tokio::test]
async fn fork_id_mismatch() {
    let e = against(Status {
        fork_id: ForkId {
            hash: ForkHash([0xde, 0xad, 0xbe, 0xef]),
            next: 0,
        },
        ..good()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::ForkId(ForkIdError::LocalIncompatibleOrStale)),
        "{e}"
    );
}

#[tokio::test]
async fn first_message_not_status() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let other = async {
        let _ = tokio::join!(b.write_msg(Msg::new(0x03, vec![0xc0])), b.read_msg());
    };
    let (r, ()) = tokio::join!(handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT), other);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::NotStatus { code: 3 }), "{e}");
    assert!(e.is_protocol_violation());
}

#[tokio::test]
async fn malformed_status() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let other = async {
        let _ = tokio::join!(
            b.write_msg(Msg::new(0x00, vec![0xc2, 0x44, 0x01])),
            b.read_msg()
        );
    };
    let (r, ()) = tokio::join!(handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT), other);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Decode {
                message: "Status",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn silent_remote_times_out() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    // The remote reads our Status but never answers.
    let other = async {
        let _ = b.read_msg().await;
        std::future::pending::<()>().await;
    };
    let started = tokio::time::Instant::now();
    let r = tokio::select! {
        r = handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT) => r,
        () = other => unreachable!(),
    };
    let e = r.unwrap_err();
    assert!(
        matches!(e, Error::HandshakeTimeout(d) if d == Duration::from_secs(5)),
        "{e}"
    );
    assert!(e.is_timeout());
    assert_eq!(started.elapsed(), HANDSHAKE_TIMEOUT);
}

#[tokio::test]
async fn closed_pipe_is_a_message_layer_error() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    b.close();
    let e = handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Msg(_)), "{e}");
    assert!(e.is_closed());
}

#[tokio::test]
async fn a_follower_mirrors_the_remote_status() {
    let chain = TestChain::new(5, 1);
    let (local, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let (server, follower) = tokio::join!(
        handshake(&a, &local, &filter, HANDSHAKE_TIMEOUT),
        eth_wire::handshake_following(&b, EthVersion::Eth68, HANDSHAKE_TIMEOUT)
    );
    let (ours, theirs) = follower.unwrap();
    assert_eq!(theirs, StatusMessage::Legacy(local));
    assert_eq!(ours.genesis(), local.genesis);
    assert_eq!(ours.network_id(), local.network_id);
    assert_eq!(ours.fork_id(), local.fork_id);
    assert_eq!(ours.head(), (local.genesis, U256::zero()));
    // The server accepted the mirrored Status.
    assert_eq!(server.unwrap(), ours);
    // A follower still requires the negotiated version.
    let (a, b) = MsgPipe::pair();
    let (_, follower) = tokio::join!(
        handshake(&a, &local, &filter, Duration::from_millis(200)),
        eth_wire::handshake_following(&b, EthVersion::Eth67, HANDSHAKE_TIMEOUT)
    );
    assert!(matches!(
        follower.unwrap_err(),
        Error::VersionMismatch {
            remote: 68,
            local: 67
        }
    ));
}
