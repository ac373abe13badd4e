//! State shared by the public [`Downloader`](crate::Downloader) and the sync engine: the store, the peer registry,
//! the configuration, progress and statistics, and the drop-peer callback.
//!
//! It sits below both, so that the engine never names the downloader (no import cycle).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use chain_types::{DynChainSource, SealedHeader};

use crate::{Config, Error, HeaderValidator};

/// The drop-peer callback.
pub type DropPeerFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Sync progress, as go-ethereum's `Progress()` reports it (block numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Where the current (or last) sync started.
    pub starting_block: u64,
    /// The local head.
    pub current_block: u64,
    /// The remote head being synced to.
    pub highest_block: u64,
}

/// Sync lifecycle events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A sync with a known peer started.
    Started,
    /// A sync finished; the local head is `latest`.
    Done {
        /// The local head after the sync.
        latest: Box<SealedHeader>,
    },
    /// A sync failed.
    Failed {
        /// Why.
        error: Error,
    },
}

/// Counters of the current or last sync, for tests, benches and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncStats {
    /// Blocks in the result cache now.
    pub cached_items: usize,
    /// Most blocks the result cache held at once.
    pub peak_cached_items: usize,
    /// Estimated bytes in the result cache now.
    pub cached_bytes: usize,
    /// Most estimated bytes the result cache held at once.
    pub peak_cached_bytes: usize,
    /// Headers, body and receipt requests sent.
    pub requests: [u64; 3],
    /// Bodies and receipt lists requested (items).
    pub items_requested: [u64; 3],
    /// Blocks imported into the store.
    pub imported: u64,
    /// Store batches written.
    pub batches: u64,
    /// Helper peers dropped during the sync (stalling or lying).
    pub dropped_peers: u64,
    /// Headers rolled back after a failed sync.
    pub rolled_back: u64,
    /// Headers downloaded in reverse and written to the store's staging area (trusted-head sync).
    pub staged: u64,
    /// Most downloaded reverse headers held in memory at once, waiting to link (trusted-head sync).
    pub peak_unlinked_headers: usize,
}

/// Progress bookkeeping: go-ethereum's chain origin and height statistics.
#[derive(Debug, Default)]
pub(crate) struct ProgressState {
    /// Whether the last sync reached its target.
    pub(crate) completed: bool,
    pub(crate) origin: u64,
    pub(crate) height: u64,
    pub(crate) current: u64,
}

/// Locks a mutex, ignoring poisoning (no code path panics while holding one).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the engine needs of the downloader.
pub(crate) struct Shared<S> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) validator: Arc<dyn HeaderValidator>,
    pub(crate) peers: Mutex<HashMap<String, Arc<dyn DynChainSource>>>,
    pub(crate) peers_generation: AtomicU64,
    pub(crate) progress: Mutex<ProgressState>,
    pub(crate) stats: Mutex<SyncStats>,
    pub(crate) drop_peer: Mutex<Option<DropPeerFn>>,
}

impl<S> Shared<S> {
    /// Registers a peer; a peer with the same id is replaced.
    pub(crate) fn register_peer(&self, source: Arc<dyn DynChainSource>) {
        let id = source.id().to_owned();
        lock(&self.peers).insert(id, source);
        self.peers_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Unregisters a peer; returns whether it was registered.
    pub(crate) fn unregister_peer(&self, id: &str) -> bool {
        let removed = lock(&self.peers).remove(id).is_some();
        if removed {
            self.peers_generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Drops a peer: unregisters it and calls the drop-peer callback.
    pub(crate) fn drop_peer(&self, id: &str) {
        self.unregister_peer(id);
        let callback = lock(&self.drop_peer).clone();
        match callback {
            Some(f) => f(id),
            None => tracing::warn!(
                peer = id,
                "downloader wants to drop a peer but has no drop callback"
            ),
        }
    }

    /// The current registry generation (bumped on every registration change).
    pub(crate) fn generation(&self) -> u64 {
        self.peers_generation.load(Ordering::Acquire)
    }
}
