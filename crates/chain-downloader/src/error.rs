//! The crate's error type and the drop policy.
//!
//! [`Error`] lists every way one sync can end other than success. [`policy`] is the table that says what
//! [`Downloader::synchronise`](crate::Downloader::synchronise) does with each of them: stay quiet, drop the
//! peer it synced with (calling the drop-peer callback), or just report a failure so that the caller retries
//! later. The table follows go-ethereum's pre-merge downloader, with the unsynced-peer case in the drop set.
//! The trusted-head sync has no master, so the table does not apply to it: peers that misbehave during it are
//! dropped one by one as they do.

use std::sync::Arc;

use chain_types::H256;

/// Errors of a sync.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sync is already running on this downloader.
    #[error("busy")]
    Busy,
    /// The sync was cancelled (by [`Downloader::cancel`](crate::Downloader::cancel) or a terminating caller).
    #[error("syncing canceled (requested)")]
    Cancelled,
    /// The peer id given to `synchronise` is not registered.
    #[error("peer is unknown or unhealthy")]
    UnknownPeer,
    /// The peer answered in a way no honest peer does (a wrong head, a broken binary-search reply, a header
    /// request it let time out while it was the master peer).
    #[error("action from bad peer ignored: {0}")]
    BadPeer(&'static str),
    /// The peer promised a total difficulty (or a head) it never delivered.
    #[error("peer is stalling")]
    StallingPeer,
    /// The peer's head is below the configured checkpoint (fast and light modes).
    #[error("unsynced peer")]
    UnsyncedPeer,
    /// No peer is left to keep the download going.
    #[error("no peers to keep download active")]
    NoPeers,
    /// The master peer did not answer in time.
    #[error("timeout")]
    Timeout,
    /// The master peer answered the ancestor search with no headers.
    #[error("empty header set by peer")]
    EmptyHeaderSet,
    /// Data is still missing and no registered peer can deliver it.
    #[error("no peers available or all tried for download")]
    PeersUnavailable,
    /// The common ancestor is below the allowed fork ancestry (a reorg deeper than the limit).
    #[error("retrieved ancestor is invalid")]
    InvalidAncestor,
    /// The chain the master peer sent is invalid: broken ordering or linkage, an unfillable skeleton, a header
    /// the validator rejected, a head hash that does not match the announcement.
    #[error("retrieved hash chain is invalid: {0}")]
    InvalidChain(&'static str),
    /// A body did not match its header (a peer-level event; the sync continues with other peers).
    #[error("retrieved block body is invalid")]
    InvalidBody,
    /// A receipt list did not match its header (a peer-level event; the sync continues with other peers).
    #[error("retrieved receipt is invalid")]
    InvalidReceipt,
    /// The local store has no genesis header to sync onto.
    #[error("the local store is empty (no genesis)")]
    EmptyStore,
    /// The local store failed.
    #[error("local store failed")]
    Store(#[source] Arc<chain_types::Error>),
    /// The master peer's source failed (disconnect or transport error) during the sync.
    #[error("chain source of peer {peer} failed")]
    Source {
        /// The peer.
        peer: String,
        /// The source's error.
        #[source]
        source: Arc<chain_types::Error>,
    },
    /// No peer served the trusted head of a [`sync_trusted`](crate::Downloader::sync_trusted) (every peer was
    /// asked, each within its timeout).
    #[error("no peer served the trusted head")]
    HeadUnavailable,
    /// A header the announced head hash names did not arrive as the head.
    #[error("head {number} has hash {got:?}, announced {announced:?}")]
    HeadMismatch {
        /// Number of the header received.
        number: u64,
        /// Its hash.
        got: H256,
        /// The announced hash.
        announced: H256,
    },
}

impl Error {
    /// Wraps a store error.
    pub(crate) fn store(e: chain_types::Error) -> Self {
        Self::Store(Arc::new(e))
    }

    /// Whether the sync was cancelled.
    pub const fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// Whether another sync was running.
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy)
    }

    /// Whether a timeout ended the sync.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// Whether the master peer's chain was found invalid.
    pub const fn is_invalid_chain(&self) -> bool {
        matches!(self, Self::InvalidChain(_) | Self::HeadMismatch { .. })
    }

    /// Whether no peer served the trusted head.
    pub const fn is_head_unavailable(&self) -> bool {
        matches!(self, Self::HeadUnavailable)
    }

    /// Whether the local store failed.
    pub const fn is_store(&self) -> bool {
        matches!(self, Self::Store(_))
    }

    /// Whether [`policy`] drops the peer for this error.
    pub fn is_drop(&self) -> bool {
        policy(self) == Action::Drop
    }

    /// Whether [`policy`] says to retry later (the error is neither quiet nor the peer's fault).
    pub fn is_retryable(&self) -> bool {
        policy(self) == Action::Retry
    }
}

/// What [`Downloader::synchronise`](crate::Downloader::synchronise) does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Nothing: the error is expected (busy, cancelled).
    Quiet,
    /// The peer synced with is dropped: the drop-peer callback is called with its id, and it is unregistered.
    Drop,
    /// The failure is logged; the caller may try again later.
    Retry,
}

/// The drop policy: what to do with each error.
///
/// | error | action |
/// |---|---|
/// | `Busy`, `Cancelled` | quiet |
/// | `BadPeer`, `StallingPeer`, `UnsyncedPeer`, `Timeout`, `EmptyHeaderSet`, `PeersUnavailable`, `InvalidAncestor`, `InvalidChain`, `HeadMismatch` | drop |
/// | `UnknownPeer`, `NoPeers`, `InvalidBody`, `InvalidReceipt`, `EmptyStore`, `Store`, `Source`, `HeadUnavailable` | retry |
///
/// `PeersUnavailable` drops the master as go-ethereum does: the master advertised data nobody can deliver.
/// On a thin network that is harsh, but a retry with the next peer recovers.
pub const fn policy(error: &Error) -> Action {
    match error {
        Error::Busy | Error::Cancelled => Action::Quiet,
        Error::BadPeer(_)
        | Error::StallingPeer
        | Error::UnsyncedPeer
        | Error::Timeout
        | Error::EmptyHeaderSet
        | Error::PeersUnavailable
        | Error::InvalidAncestor
        | Error::InvalidChain(_)
        | Error::HeadMismatch { .. } => Action::Drop,
        Error::UnknownPeer
        | Error::NoPeers
        | Error::InvalidBody
        | Error::InvalidReceipt
        | Error::EmptyStore
        | Error::Store(_)
        | Error::HeadUnavailable
        | Error::Source { .. } => Action::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase() {
        for e in [
            Error::Busy,
            Error::StallingPeer,
            Error::InvalidChain("x"),
            Error::EmptyStore,
            Error::HeadUnavailable,
        ] {
            let m = e.to_string();
            assert_eq!(m.chars().next().map(char::is_lowercase), Some(true), "{m}");
            assert!(!m.ends_with('.'));
        }
    }

    #[test]
    fn predicates_follow_the_table() {
        assert!(Error::UnsyncedPeer.is_drop());
        assert!(Error::NoPeers.is_retryable());
        assert!(!Error::Cancelled.is_drop() && !Error::Cancelled.is_retryable());
        assert!(
            Error::Cancelled.is_cancelled() && Error::Busy.is_busy() && Error::Timeout.is_timeout()
        );
        assert!(Error::InvalidChain("x").is_invalid_chain());
        assert!(
            Error::HeadUnavailable.is_head_unavailable() && Error::HeadUnavailable.is_retryable()
        );
    }
}
