//! Helpers of the routing tests: nodes, links and waiting with a bound.

use std::time::Duration;

use p2p_pss::{Delivery, Pss, PssConfig, Subscription};
use p2p_rlpx::NodeKey;

/// The longest any test waits for something to happen.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// A node with a fresh key.
pub(crate) fn node() -> Pss {
    Pss::new(&NodeKey::generate(), PssConfig::default())
}

/// A node with a fresh key and `config`.
pub(crate) fn node_with(config: PssConfig) -> Pss {
    Pss::new(&NodeKey::generate(), config)
}

/// Waits until `cond` holds, at most [`WAIT`]; panics otherwise.
pub(crate) async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The next delivery, at most [`WAIT`] away; panics otherwise.
pub(crate) async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("a delivery in time")
        .expect("an open subscription")
}

/// Whether a delivery arrives within `within`.
pub(crate) async fn nothing_within(sub: &mut Subscription, within: Duration) -> bool {
    tokio::time::timeout(within, sub.recv()).await.is_err()
}
