//! Shared helpers for the cross-crate tests: reference-peer addresses and timeouts.

use std::future::Future;
use std::time::Duration;

/// The value of a reference peer's environment variable, as set by `cargo xtask test`.
///
/// Tests that call this are ignored with the reason "needs reference peers: run cargo xtask test", so plain `cargo test`
/// lists them as ignored and the gate runs them with `--include-ignored` after starting the peers. A missing
/// variable is a failure, never a skip.
pub(crate) fn peer_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => {
            panic!("{var} is not set: this test needs the reference peers; run `cargo xtask test`")
        }
    }
}

/// Runs `future` under a deadline, failing the test if it does not finish in time.
pub(crate) async fn within<F: Future>(limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("test step did not finish within {limit:?}"),
    }
}
