//! The public face of the engine: [`Downloader`] (peer registry, the two sync modes, cancel, progress, events and
//! statistics).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use chain_types::{ChainStore, DynChainSource, H256, SealedHeader, U256};
use tokio::sync::{broadcast, watch};

use crate::{
    Action, Config, Error, HeaderValidator, NoValidation, SyncMode, backward, forward, policy,
    state::{Progress, ProgressState, Shared, SyncEvent, SyncStats, lock},
};

/// Capacity of the event channel; slow subscribers lose the oldest events.
const EVENT_CAPACITY: usize = 64;

/// A chain downloader over a [`ChainStore`], with registered peers.
///
/// See the crate docs for the two sync modes. One sync runs at a time; every sync is a future the caller drives
/// (nothing is spawned).
pub struct Downloader<S> {
    shared: Shared<S>,
    syncing: AtomicBool,
    cancel: Mutex<Option<watch::Sender<bool>>>,
    events: broadcast::Sender<SyncEvent>,
}

impl<S> std::fmt::Debug for Downloader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("config", &self.shared.config)
            .field("validator", &self.shared.validator)
            .field(
                "peers",
                &lock(&self.shared.peers).keys().collect::<Vec<_>>(),
            )
            .field("syncing", &self.syncing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
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

/// Which sync to run.
enum Target {
    /// Forward from a master peer that announced a head and a total difficulty.
    Master(Arc<dyn DynChainSource>, H256, U256),
    /// Reverse from a trusted head hash.
    Trusted(H256),
}

impl<S: ChainStore> Downloader<S> {
    /// A downloader writing into `store`, with no peers, no drop callback and no consensus validation.
    pub fn new(store: S, config: Config) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            shared: Shared {
                store,
                config,
                validator: Arc::new(NoValidation),
                peers: Mutex::new(HashMap::new()),
                peers_generation: AtomicU64::new(0),
                progress: Mutex::new(ProgressState::default()),
                stats: Mutex::new(SyncStats::default()),
                drop_peer: Mutex::new(None),
            },
            syncing: AtomicBool::new(false),
            cancel: Mutex::new(None),
            events,
        }
    }

    /// Sets the consensus header validator (used by both sync modes).
    #[must_use]
    pub fn with_validator(mut self, validator: Arc<dyn HeaderValidator>) -> Self {
        self.shared.validator = validator;
        self
    }

    /// Sets the drop-peer callback, called with a peer id when the downloader drops that peer.
    #[must_use]
    pub fn with_drop_peer(self, drop_peer: impl Fn(&str) + Send + Sync + 'static) -> Self {
        *lock(&self.shared.drop_peer) = Some(Arc::new(drop_peer));
        self
    }

    /// The store.
    pub const fn store(&self) -> &S {
        &self.shared.store
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Registers a peer; a running sync picks it up. A peer with the same id is replaced.
    pub fn register_peer(&self, source: Arc<dyn DynChainSource>) {
        self.shared.register_peer(source);
    }

    /// Unregisters a peer; a running sync re-queues its requests. Returns whether it was registered.
    pub fn unregister_peer(&self, id: &str) -> bool {
        self.shared.unregister_peer(id)
    }

    /// The ids of the registered peers.
    pub fn peer_ids(&self) -> Vec<String> {
        lock(&self.shared.peers).keys().cloned().collect()
    }

    /// The registered peer with the highest announced total difficulty.
    pub fn best_peer(&self) -> Option<(String, H256, U256)> {
        self.candidates().into_iter().next()
    }

    /// The registered peers by announced total difficulty, highest first (ties by id).
    fn candidates(&self) -> Vec<(String, H256, U256)> {
        let mut all: Vec<(String, H256, U256)> = lock(&self.shared.peers)
            .values()
            .map(|p| {
                let (hash, td) = p.head();
                (p.id().to_owned(), hash, td)
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        all
    }

    /// Whether a sync is running.
    pub fn is_syncing(&self) -> bool {
        self.syncing.load(Ordering::Acquire)
    }

    /// The progress of the current or last sync.
    pub fn progress(&self) -> Progress {
        let p = lock(&self.shared.progress);
        Progress {
            starting_block: p.origin,
            current_block: p.current,
            highest_block: p.height,
        }
    }

    /// The counters of the current or last sync.
    pub fn stats(&self) -> SyncStats {
        *lock(&self.shared.stats)
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

    /// Runs one forward sync with peer `peer_id`, which announced head `head` with total difficulty `td`, and
    /// applies the drop policy ([`policy`]) to its outcome: busy and cancelled are returned quietly; errors of the
    /// drop set drop the peer (the drop-peer callback is called and the peer unregistered); other errors are
    /// returned for a later retry. [`Downloader::sync_best`] goes on with the next peer instead.
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
        let Some(master) = lock(&self.shared.peers).get(peer_id).cloned() else {
            return self.single(Err(Error::UnknownPeer));
        };
        tracing::debug!(peer = peer_id, ?head, %td, %mode, "synchronisation started");
        let result = self.exclusive(Target::Master(master, head, td), mode).await;
        let Err(error) = result else {
            return Ok(());
        };
        match policy(&error) {
            Action::Quiet => {}
            Action::Drop => {
                tracing::warn!(peer = peer_id, %error, "synchronisation failed, dropping peer");
                self.shared.drop_peer(peer_id);
            }
            Action::Retry => {
                tracing::warn!(peer = peer_id, %error, "synchronisation failed, retrying")
            }
        }
        Err(error)
    }

    /// Runs forward syncs with the registered peers whose announced total difficulty is above the local one,
    /// best first, until one succeeds: a master that lies, stalls or fails is handled by the drop policy as in
    /// [`Downloader::synchronise`] and the next best peer takes over, so one bad peer cannot fail a sync that
    /// honest peers can serve. Returns `Ok` at once if no peer announces more than the local chain.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`], [`Error::Cancelled`] and store errors at once; [`Error::EmptyStore`] without genesis;
    /// otherwise the last candidate's error if none succeeded.
    ///
    /// # Cancel safety
    ///
    /// As [`Downloader::synchronise`].
    pub async fn sync_best(&self, mode: SyncMode) -> Result<(), Error> {
        let local_td = match self.shared.store.head().map_err(Error::store)? {
            Some((_, td)) => td,
            None => return Err(Error::EmptyStore),
        };
        let mut last = Ok(());
        let mut tried = std::collections::HashSet::new();
        loop {
            let next = self
                .candidates()
                .into_iter()
                .find(|(id, _, td)| *td > local_td && !tried.contains(id));
            let Some((id, head, td)) = next else {
                return last;
            };
            tried.insert(id.clone());
            match self.synchronise(&id, head, td, mode).await {
                Ok(()) => return Ok(()),
                // Quiet errors, and a failing local store, are not a peer's doing: no other peer helps.
                Err(e) if policy(&e) == Action::Quiet || e.is_store() => return Err(e),
                Err(e) => {
                    tracing::debug!(peer = id, error = %e, "trying the next best peer");
                    last = Err(e);
                }
            }
        }
    }

    /// Runs one trusted-head sync (post-merge): fetches `head` by hash from any registered peer, downloads the
    /// headers below it in reverse from every suitable peer at once into the store's staging area until they link
    /// to the local chain (rewinding it if the trusted chain forks off below the local head), then imports them
    /// forward with bodies (and receipts) as `mode` asks. No peer is master: peers that lie, stall or send
    /// garbage are dropped during the sync and their work goes to the others. A sync cut short resumes from the
    /// staged headers.
    ///
    /// # Errors
    ///
    /// [`Error::HeadUnavailable`] if no peer serves the head; [`Error::PeersUnavailable`] or [`Error::NoPeers`]
    /// if data is missing that no peer left can deliver; [`Error::InvalidChain`] if the validator rejects a
    /// header linked to the trusted head, or the trusted chain has another genesis; store errors; busy and
    /// cancelled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the sync; every staged batch and every imported batch already written is
    /// complete, so the next call with the same head resumes.
    pub async fn sync_trusted(&self, head: H256, mode: SyncMode) -> Result<(), Error> {
        tracing::debug!(?head, %mode, "trusted-head synchronisation started");
        let result = self.exclusive(Target::Trusted(head), mode).await;
        if let Err(error) = &result
            && !matches!(policy(error), Action::Quiet)
        {
            tracing::warn!(%error, "trusted-head synchronisation failed");
        }
        result
    }

    /// Reports a sync that could not start.
    fn single(&self, result: Result<(), Error>) -> Result<(), Error> {
        if self.is_syncing() {
            return Err(Error::Busy);
        }
        result
    }

    /// Single flight, events, then the sync itself.
    async fn exclusive(&self, target: Target, mode: SyncMode) -> Result<(), Error> {
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
        *lock(&self.shared.stats) = SyncStats::default();
        let _ = self.events.send(SyncEvent::Started);
        let result: Result<SealedHeader, Error> = match target {
            Target::Master(master, head, td) => {
                forward::run(&self.shared, master, head, td, mode, cancel_rx).await
            }
            Target::Trusted(head) => backward::run(&self.shared, head, mode, cancel_rx).await,
        };
        match result {
            Ok(latest) => {
                lock(&self.shared.progress).completed = true;
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
