//! Scenario 16 (TestBlockHeaderAttackerDropping): the drop policy, entry by entry, and its application by
//! `synchronise`.

use std::sync::Arc;

use chain_downloader::{Action, Error, SyncMode, policy};
use chain_types::{H256, U256};

use crate::support::*;

fn store_error() -> Error {
    Error::Store(Arc::new(chain_types::Error::Corrupt("test")))
}

#[test]
fn policy_table() {
    let source = Error::Source {
        peer: "p".into(),
        source: Arc::new(chain_types::Error::Disconnected),
    };
    let mismatch = Error::HeadMismatch {
        number: 1,
        got: H256::zero(),
        announced: H256::repeat_byte(1),
    };
    let table: Vec<(Error, Action)> = vec![
        (Error::Busy, Action::Quiet),
        (Error::Cancelled, Action::Quiet),
        (Error::UnknownPeer, Action::Retry),
        (Error::BadPeer("x"), Action::Drop),
        (Error::StallingPeer, Action::Drop),
        (Error::UnsyncedPeer, Action::Drop),
        (Error::NoPeers, Action::Retry),
        (Error::Timeout, Action::Drop),
        (Error::EmptyHeaderSet, Action::Drop),
        (Error::PeersUnavailable, Action::Drop),
        (Error::InvalidAncestor, Action::Drop),
        (Error::InvalidChain("x"), Action::Drop),
        (mismatch, Action::Drop),
        (Error::InvalidBody, Action::Retry),
        (Error::InvalidReceipt, Action::Retry),
        (Error::EmptyStore, Action::Retry),
        (store_error(), Action::Retry),
        (source, Action::Retry),
    ];
    for (error, action) in &table {
        assert_eq!(policy(error), *action, "{error}");
        assert_eq!(error.is_drop(), *action == Action::Drop, "{error}");
        assert_eq!(error.is_retryable(), *action == Action::Retry, "{error}");
    }
}

/// `synchronise` applies the table: a drop-set failure calls the callback and unregisters the peer; a retry
/// failure (unknown peer) and a quiet one (busy) do not.
#[tokio::test(start_paused = true)]
async fn synchronise_applies_the_policy() {
    let chain = Chain::new(20, 1);
    let mut t = Tester::new(&chain, test_config());
    t.add(MockPeer::new("honest", &chain));
    let inflated = chain.head().1 * 2;
    t.add(MockPeer::with(
        "stalling",
        &chain,
        Behaviour {
            td: Some(inflated),
            ..Behaviour::default()
        },
    ));
    let e = t.sync("stalling", SyncMode::Light).await.unwrap_err();
    assert!(matches!(e, Error::StallingPeer));
    assert_eq!(t.dropped(), vec!["stalling".to_owned()]);
    assert!(!t.d.peer_ids().contains(&"stalling".to_owned()));
    let e =
        t.d.synchronise("ghost", chain.head().0, U256::one(), SyncMode::Light)
            .await
            .unwrap_err();
    assert!(matches!(e, Error::UnknownPeer));
    assert_eq!(t.dropped().len(), 1);
    t.sync("honest", SyncMode::Light).await.unwrap();
    assert_eq!(t.dropped().len(), 1);
}

/// The sync future is `Send`, so callers can spawn it on a multi-threaded runtime.
#[test]
fn synchronise_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let chain = Chain::new(2, 1);
    let t = Tester::new(&chain, test_config());
    let fut =
        t.d.synchronise("x", H256::zero(), U256::zero(), SyncMode::Full);
    assert_send(&fut);
}
