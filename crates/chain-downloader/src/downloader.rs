//! The public face of the engine: [`Downloader`] (peer registry, `synchronise`, cancel, progress, events and
//! statistics).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use chain_types::{ChainStore, DynChainSource, SealedHeader};
use chain_types::{H256, U256};
use tokio::sync::{broadcast, watch};

use crate::{
    Action, Config, Error, HeaderValidator, NoValidation, SyncMode, policy, sync::SyncRun,
};

/// Capacity of the event channel; slow subscribers lose the oldest events.
const EVENT_CAPACITY: usize = 64;

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

/// A chain downloader over a [`ChainStore`], with registered peers.
///
/// See the crate docs for the algorithm. One sync runs at a time; [`Downloader::synchronise`] is a future the
/// caller drives (nothing is spawned).
pub struct Downloader<S> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) validator: Arc<dyn HeaderValidator>,
    pub(crate) peers: Mutex<HashMap<String, Arc<dyn DynChainSource>>>,
    pub(crate) peers_generation: AtomicU64,
    syncing: AtomicBool,
    cancel: Mutex<Option<watch::Sender<bool>>>,
    pub(crate) progress: Mutex<ProgressState>,
    pub(crate) stats: Mutex<SyncStats>,
    events: broadcast::Sender<SyncEvent>,
    drop_peer: Mutex<Option<DropPeerFn>>,
}

impl<S> std::fmt::Debug for Downloader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("config", &self.config)
            .field("validator", &self.validator)
            .field("peers", &lock(&self.peers).keys().collect::<Vec<_>>())
            .field("syncing", &self.syncing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning (no code path panics while holding one).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Clears the "synchronising" flag and the cancel handle when a sync ends, also when its future is dropped.
struct SyncGuard<'a> {
    flag: &'a AtomicBool,
    cancel: &'a Mutex<Option<watch::Sender<bool>>>,
}

impl Drop for SyncGuard<'_> {
    fn drop(&mut self) {
        *lock(self.cancel) = None;
        self.flag.store(false, Ordering::Release);
    }
}

impl<S: ChainStore> Downloader<S> {
    /// A downloader writing into `store`, with no peers, no drop callback and no consensus validation.
    pub fn new(store: S, config: Config) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            store,
            config,
            validator: Arc::new(NoValidation),
            peers: Mutex::new(HashMap::new()),
            peers_generation: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
            cancel: Mutex::new(None),
            progress: Mutex::new(ProgressState::default()),
            stats: Mutex::new(SyncStats::default()),
            events,
            drop_peer: Mutex::new(None),
        }
    }

    /// Sets the consensus header validator.
    #[must_use]
    pub fn with_validator(mut self, validator: Arc<dyn HeaderValidator>) -> Self {
        self.validator = validator;
        self
    }

    /// Sets the drop-peer callback, called with a peer id when the downloader drops that peer.
    #[must_use]
    pub fn with_drop_peer(self, drop_peer: impl Fn(&str) + Send + Sync + 'static) -> Self {
        *lock(&self.drop_peer) = Some(Arc::new(drop_peer));
        self
    }

    /// The store.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Registers a peer; a running sync picks it up. A peer with the same id is replaced.
    pub fn register_peer(&self, source: Arc<dyn DynChainSource>) {
        let id = source.id().to_owned();
        lock(&self.peers).insert(id, source);
        self.peers_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Unregisters a peer; a running sync re-queues its requests. Returns whether it was registered.
    pub fn unregister_peer(&self, id: &str) -> bool {
        let removed = lock(&self.peers).remove(id).is_some();
        if removed {
            self.peers_generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// The ids of the registered peers.
    pub fn peer_ids(&self) -> Vec<String> {
        lock(&self.peers).keys().cloned().collect()
    }

    /// The registered peer with the highest announced total difficulty.
    pub fn best_peer(&self) -> Option<(String, H256, U256)> {
        lock(&self.peers)
            .values()
            .map(|p| {
                let (hash, td) = p.head();
                (p.id().to_owned(), hash, td)
            })
            .max_by(|a, b| a.2.cmp(&b.2).then_with(|| b.0.cmp(&a.0)))
    }

    /// Whether a sync is running.
    pub fn is_syncing(&self) -> bool {
        self.syncing.load(Ordering::Acquire)
    }

    /// The progress of the current or last sync.
    pub fn progress(&self) -> Progress {
        let p = lock(&self.progress);
        Progress {
            starting_block: p.origin,
            current_block: p.current,
            highest_block: p.height,
        }
    }

    /// The counters of the current or last sync.
    pub fn stats(&self) -> SyncStats {
        *lock(&self.stats)
    }

    /// Subscribes to sync events.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    /// Cancels the running sync, if any; it then returns [`Error::Cancelled`]. Harmless when idle.
    pub fn cancel(&self) {
        if let Some(tx) = lock(&self.cancel).as_ref() {
            tx.send_replace(true);
        }
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

    /// Runs one sync with peer `peer_id`, which announced head `head` with total difficulty `td`, and applies the
    /// drop policy ([`policy`]) to its outcome: busy and cancelled are returned quietly; errors of the drop set
    /// drop the peer (the drop-peer callback is called and the peer unregistered); other errors are returned for
    /// a later retry.
    ///
    /// # Errors
    ///
    /// Every [`Error`] of the sync, after the policy has been applied.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the sync: requests in flight are dropped, nothing more is written, and every
    /// batch already written is complete (batches are atomic), so a later sync resumes from the stored head.
    pub async fn synchronise(
        &self,
        peer_id: &str,
        head: H256,
        td: U256,
        mode: SyncMode,
    ) -> Result<(), Error> {
        let result = self.synchronise_inner(peer_id, head, td, mode).await;
        let Err(error) = result else {
            return Ok(());
        };
        match policy(&error) {
            Action::Quiet => {}
            Action::Drop => {
                tracing::warn!(peer = peer_id, %error, "synchronisation failed, dropping peer");
                self.drop_peer(peer_id);
            }
            Action::Retry => {
                tracing::warn!(peer = peer_id, %error, "synchronisation failed, retrying")
            }
        }
        Err(error)
    }

    /// Single flight, peer lookup, events.
    async fn synchronise_inner(
        &self,
        peer_id: &str,
        head: H256,
        td: U256,
        mode: SyncMode,
    ) -> Result<(), Error> {
        if self
            .syncing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::Busy);
        }
        let (cancel_tx, cancel_rx) = watch::channel(false);
        *lock(&self.cancel) = Some(cancel_tx);
        let _guard = SyncGuard {
            flag: &self.syncing,
            cancel: &self.cancel,
        };
        let Some(master) = lock(&self.peers).get(peer_id).cloned() else {
            return Err(Error::UnknownPeer);
        };
        *lock(&self.stats) = SyncStats::default();
        let _ = self.events.send(SyncEvent::Started);
        tracing::debug!(peer = peer_id, ?head, %td, %mode, "synchronisation started");
        let mut run = SyncRun::new(self, master, head, td, mode, cancel_rx);
        let result = run.run().await;
        drop(run);
        match result {
            Ok(latest) => {
                lock(&self.progress).completed = true;
                tracing::debug!(number = latest.number, hash = ?latest.hash(), "synchronisation done");
                let _ = self.events.send(SyncEvent::Done {
                    latest: Box::new(latest),
                });
                Ok(())
            }
            Err(error) => {
                let _ = self.events.send(SyncEvent::Failed {
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }
}
