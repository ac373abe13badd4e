//! Shared helpers for the cross-crate tests: reference-peer addresses and timeouts.

use std::future::Future;
use std::time::Duration;

// A reference peer's variable from `cargo xtask test`; a missing one is a failure, never a skip.
pub(crate) use peerwire_testkit::peer_env;

/// Runs `future` under a deadline, failing the test if it does not finish in time.
pub(crate) async fn within<F: Future>(limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("test step did not finish within {limit:?}"),
    }
}
