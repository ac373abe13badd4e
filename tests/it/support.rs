//! Shared helpers for the cross-crate tests: reference-peer addresses and timeouts.

use std::future::Future;
use std::time::Duration;

/// The value of a reference peer's environment variable, as set by `cargo xtask test`.
///
/// Returns `None` (after printing a skip notice) when the variable is absent and the tests run
/// outside `cargo xtask test`. Under `cargo xtask test` (`PEERWIRE_PEERS=1`) a missing variable
/// is a failure, never a skip.
pub(crate) fn peer_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("PEERWIRE_PEERS").is_ok_and(|v| v == "1") => {
            panic!("{var} is not set although the reference peers were started (PEERWIRE_PEERS=1)")
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set; run `cargo xtask test` to start the reference peers"
            );
            None
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
