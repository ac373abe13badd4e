//! The event loop both sync modes share: peer accounting (joining, leaving, strikes, drops), request sending
//! and timeouts, the body and receipt fetch, the result cache and the in-order import, around a pluggable
//! header source ([`HeaderSource`]): the forward skeleton, the reverse download from a trusted head, or staged
//! headers read back from the store.
//!
//! Everything runs in one future: requests are futures bounded by their own timeouts, and the loop handles one
//! reply at a time. Nothing is spawned and no delivery ever waits on a channel.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use chain_types::{ChainStore, DynChainSource, Header, SealedHeader};
use tokio::sync::watch;

use crate::{
    Error, SyncMode,
    cache::{Delivery, ResultCache},
    content,
    headers::{Checks, Effect, HeaderSource, Queue, View},
    import::Importer,
    peer::{Kind, Qos, SyncPeer},
    request::{Ask, HeaderJob, Payload, Reply, Requests},
    state::{Shared, lock},
};

/// The state of one sync.
pub(crate) struct Engine<'d, S> {
    pub(crate) d: &'d Shared<S>,
    pub(crate) mode: SyncMode,
    pub(crate) cancel: watch::Receiver<bool>,
    pub(crate) peers: HashMap<String, SyncPeer>,
    generation: u64,
    pub(crate) qos: Qos,
    requests: Requests,
    /// The master peer (forward sync only); its failures end the sync.
    pub(crate) master: Option<String>,
    pub(crate) headers: HeaderSource,
    /// Validated headers waiting for a cache slot.
    queue: Queue,
    /// The target height (always validated, even when validation is sampled).
    pub(crate) height: u64,
    pub(crate) cache: ResultCache,
    pub(crate) importer: Importer,
}

impl<S> std::fmt::Debug for Engine<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("mode", &self.mode)
            .field("peers", &self.peers.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl<'d, S: ChainStore> Engine<'d, S> {
    /// An engine over the registered peers (plus `master`, if given and not registered).
    pub(crate) fn new(
        d: &'d Shared<S>,
        mode: SyncMode,
        cancel: watch::Receiver<bool>,
        master: Option<Arc<dyn DynChainSource>>,
    ) -> Self {
        let qos = Qos::new(&d.config);
        let rtt = qos.rtt_estimate;
        let generation = d.generation();
        let mut peers = HashMap::new();
        for source in lock(&d.peers).values() {
            let p = SyncPeer::new(source.clone(), [0.0; 3], rtt);
            peers.insert(p.id.clone(), p);
        }
        let master_id = master.map(|m| {
            let id = m.id().to_owned();
            peers
                .entry(id.clone())
                .or_insert_with(|| SyncPeer::new(m, [0.0; 3], rtt));
            id
        });
        Self {
            d,
            mode,
            cancel,
            peers,
            generation,
            qos,
            requests: Requests::default(),
            master: master_id,
            headers: HeaderSource::Idle,
            queue: Queue {
                headers: VecDeque::new(),
                last: Header::default().seal(),
            },
            height: 0,
            cache: ResultCache::new(mode, &d.config, 0),
            importer: Importer::default(),
        }
    }

    /// Prepares the cache and the import for blocks above `origin`.
    pub(crate) fn start_above(&mut self, origin: &SealedHeader) {
        self.cache = ResultCache::new(self.mode, &self.d.config, origin.number + 1);
        self.queue.last = origin.clone();
        self.queue.headers.clear();
        self.importer.origin = origin.number;
    }

    /// Runs the loop until the header source is exhausted and everything it gave is imported.
    pub(crate) async fn run(&mut self) -> Result<(), Error> {
        // A resumed reverse download may link before any reply.
        self.deliver_headers()?;
        loop {
            self.refresh_peers()?;
            self.fill_cache();
            self.schedule_headers()?;
            // Staged headers were read just now.
            self.fill_cache();
            if self.mode.bodies() {
                self.schedule_content(Kind::Bodies)?;
            }
            if self.mode.receipts() {
                self.schedule_content(Kind::Receipts)?;
            }
            self.update_stats();
            if self.finished() {
                self.import(usize::MAX)?;
                return Ok(());
            }
            let batch = self
                .d
                .config
                .import_batch
                .min((self.cache.throttle() / 2).max(1))
                .max(1);
            let ready = self.cache.ready();
            if ready >= batch || (ready > 0 && self.requests.is_idle()) {
                self.import(self.d.config.import_batch)?;
                continue;
            }
            if self.requests.is_idle() {
                return Err(if self.peers.is_empty() {
                    Error::NoPeers
                } else {
                    Error::PeersUnavailable
                });
            }
            let reply = tokio::select! {
                biased;
                _ = self.cancel.changed() => return Err(Error::Cancelled),
                Some(reply) = self.requests.next() => reply,
            };
            self.handle(reply)?;
        }
    }

    fn finished(&self) -> bool {
        let (done, feeds_cache) = self.headers.finished();
        done && (!feeds_cache || (self.queue.headers.is_empty() && self.cache.all_ready()))
    }

    fn update_stats(&self) {
        let mut s = lock(&self.d.stats);
        s.cached_items = self.cache.len();
        s.peak_cached_items = s.peak_cached_items.max(self.cache.len());
        s.cached_bytes = self.cache.bytes();
        s.peak_cached_bytes = s.peak_cached_bytes.max(self.cache.bytes());
        if let HeaderSource::Reverse(r) = &self.headers {
            s.peak_unlinked_headers = s.peak_unlinked_headers.max(r.unlinked());
        }
    }

    // ---- peers ----

    /// Adds newly registered peers and removes unregistered ones.
    fn refresh_peers(&mut self) -> Result<(), Error> {
        let generation = self.d.generation();
        if generation == self.generation {
            return Ok(());
        }
        self.generation = generation;
        let registered: HashMap<String, Arc<dyn DynChainSource>> = lock(&self.d.peers).clone();
        let gone: Vec<String> = self
            .peers
            .keys()
            .filter(|id| !registered.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if self.master.as_deref() == Some(id.as_str()) {
                return Err(Error::NoPeers);
            }
            self.remove_peer(&id);
        }
        crate::peer::join(&mut self.peers, registered, &mut self.qos);
        Ok(())
    }

    /// Removes a peer from this sync and re-queues its requests (their replies will be ignored).
    fn remove_peer(&mut self, id: &str) {
        let Some(peer) = self.peers.remove(id) else {
            return;
        };
        for req in peer.busy.into_iter().flatten() {
            if let Some(pending) = self.requests.forget(req) {
                self.requeue(pending.ask);
            }
        }
    }

    /// Drops a helper peer (stalling or lying); dropping the master ends the sync with `error`.
    fn drop_helper(&mut self, id: &str, error: Error) -> Result<(), Error> {
        if self.master.as_deref() == Some(id) {
            return Err(error);
        }
        tracing::debug!(peer = id, %error, "dropping peer");
        self.remove_peer(id);
        lock(&self.d.stats).dropped_peers += 1;
        self.d.drop_peer(id);
        // Our own unregistration bumped the generation; the peer is already gone from this sync.
        self.generation = self.d.generation();
        Ok(())
    }

    /// Counts an invalid delivery; drops the peer after too many.
    fn strike(&mut self, id: &str, error: Error) -> Result<(), Error> {
        let Some(peer) = self.peers.get_mut(id) else {
            return Ok(());
        };
        peer.strikes += 1;
        if peer.strikes >= self.d.config.max_strikes {
            return self.drop_helper(id, error);
        }
        Ok(())
    }

    fn idle_peers(&self, kind: Kind) -> Vec<String> {
        crate::peer::idle(&self.peers, kind)
    }

    fn in_flight(&self, kind: Kind) -> usize {
        self.peers.values().filter(|p| !p.idle(kind)).count()
    }

    // ---- requests ----

    /// Sends a request to `peer`. At most one request per peer per kind is in flight: a busy (or unknown) peer
    /// gets nothing and the items go back to their queue.
    fn send(&mut self, peer: &str, ask: Ask) {
        let kind = ask.kind();
        let Some(p) = self.peers.get(peer).filter(|p| p.idle(kind)) else {
            self.requeue(ask);
            return;
        };
        let source = p.source.clone();
        let hashes = match &ask {
            Ask::Headers(..) => Vec::new(),
            Ask::Bodies(n) | Ask::Receipts(n) => {
                lock(&self.d.stats).items_requested[kind as usize] += n.len() as u64;
                self.cache.hashes(n)
            }
        };
        lock(&self.d.stats).requests[kind as usize] += 1;
        let id = self
            .requests
            .start(peer, source, ask, hashes, self.qos.ttl());
        if let Some(p) = self.peers.get_mut(peer) {
            p.busy[kind as usize] = Some(id);
        }
    }

    /// Puts the items of a failed request back.
    fn requeue(&mut self, ask: Ask) {
        match ask {
            Ask::Headers(job, _) => self.headers.requeue(job),
            Ask::Bodies(n) => self.cache.requeue(Kind::Bodies, n),
            Ask::Receipts(n) => self.cache.requeue(Kind::Receipts, n),
        }
    }

    /// Handles one finished request.
    fn handle(&mut self, reply: Reply) -> Result<(), Error> {
        let Some(pending) = self.requests.take(reply.id) else {
            return Ok(());
        };
        let kind = pending.ask.kind();
        let peer_id = pending.peer;
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return Ok(());
        };
        if peer.busy[kind as usize] == Some(reply.id) {
            peer.busy[kind as usize] = None;
        }
        let Some(outcome) = reply.outcome else {
            return self.on_timeout(&peer_id, pending.ask);
        };
        let payload = match outcome {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(peer = peer_id, error = %e, "chain source failed");
                if self.master.as_deref() == Some(peer_id.as_str()) {
                    return Err(Error::Source {
                        peer: peer_id,
                        source: Arc::new(e),
                    });
                }
                self.requeue(pending.ask);
                self.remove_peer(&peer_id);
                return Ok(());
            }
        };
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.update(kind, payload.len(), reply.elapsed);
        }
        let median = self.qos.median_rtt(self.peers.values());
        self.qos.tune(median);
        match (pending.ask, payload) {
            (Ask::Headers(job, _), Payload::Headers(h)) => self.on_headers(&peer_id, job, h),
            (Ask::Bodies(numbers), Payload::Bodies(b)) => {
                if let Some(checked) = self.check_content(&peer_id, Kind::Bodies, numbers, b.len())
                {
                    let numbers = checked?;
                    let d = self.cache.deliver_bodies(&numbers, b);
                    return self.on_content(&peer_id, Kind::Bodies, &d);
                }
                Ok(())
            }
            (Ask::Receipts(numbers), Payload::Receipts(r)) => {
                if let Some(checked) =
                    self.check_content(&peer_id, Kind::Receipts, numbers, r.len())
                {
                    let numbers = checked?;
                    let d = self.cache.deliver_receipts(&numbers, r);
                    return self.on_content(&peer_id, Kind::Receipts, &d);
                }
                Ok(())
            }
            (ask, _) => {
                self.requeue(ask);
                Ok(())
            }
        }
    }

    /// A request timed out: a minimal request (any header request, or at most two items, or a peer already
    /// throttled to nothing) means the peer is stalling and it is dropped; otherwise its throughput is reset so
    /// that its next request is small.
    fn on_timeout(&mut self, peer_id: &str, ask: Ask) -> Result<(), Error> {
        tracing::debug!(peer = peer_id, ?ask, "request timed out");
        let kind = ask.kind();
        let minimal = match &ask {
            Ask::Headers(..) => true,
            Ask::Bodies(n) | Ask::Receipts(n) => n.len() <= 2,
        };
        let already_zero = self
            .peers
            .get(peer_id)
            .is_some_and(|p| p.throughput[kind as usize] == 0.0);
        let is_master = self.master.as_deref() == Some(peer_id);
        self.requeue(ask);
        if is_master && kind == Kind::Headers {
            return Err(Error::BadPeer("header request timed out"));
        }
        if minimal || already_zero {
            return self.drop_helper(peer_id, Error::Timeout);
        }
        if let Some(p) = self.peers.get_mut(peer_id) {
            p.throughput[kind as usize] = 0.0;
        }
        Ok(())
    }

    // ---- headers ----

    fn schedule_headers(&mut self) -> Result<(), Error> {
        let idle = self.idle_peers(Kind::Headers);
        let view = View {
            idle: &idle,
            in_flight: self.in_flight(Kind::Headers),
            peers: &self.peers,
            master: self.master.as_deref(),
            window_end: self.cache.frontier() + self.d.config.max_queued_headers as u64,
        };
        let mut out = Vec::new();
        self.headers
            .schedule(&view, &self.d.store, &mut self.queue, &mut out)?;
        self.apply(out)
    }

    fn on_headers(
        &mut self,
        peer: &str,
        job: HeaderJob,
        headers: Vec<Header>,
    ) -> Result<(), Error> {
        let mut out = Vec::new();
        self.headers.on_reply(peer, job, headers, &mut out)?;
        self.apply(out)?;
        self.deliver_headers()
    }

    /// Hands on what the header source has ready.
    fn deliver_headers(&mut self) -> Result<(), Error> {
        let checks = Checks {
            validator: self.d.validator.as_ref(),
            frequency: self.d.config.header_check_frequency,
            height: self.height,
        };
        let mut out = Vec::new();
        self.headers
            .deliver(&self.d.store, checks, &mut self.queue, &mut out)?;
        self.apply(out)
    }

    /// Applies a header source's effects.
    fn apply(&mut self, effects: Vec<Effect>) -> Result<(), Error> {
        for effect in effects {
            match effect {
                Effect::Send(peer, ask) => self.send(&peer, ask),
                Effect::Strike(peer, error) => self.strike(&peer, error)?,
                Effect::Drop(peer, error) => self.drop_helper(&peer, error)?,
                Effect::Slow(peer) => {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.throughput[Kind::Headers as usize] = 0.0;
                    }
                }
                Effect::Staged(n) => lock(&self.d.stats).staged += n,
            }
        }
        Ok(())
    }

    // ---- content ----

    /// Moves queued headers into the cache while it has room.
    fn fill_cache(&mut self) {
        while self.cache.has_room() {
            let Some(header) = self.queue.headers.pop_front() else {
                break;
            };
            self.cache.push(header);
        }
    }

    fn schedule_content(&mut self, kind: Kind) -> Result<(), Error> {
        let max = match kind {
            Kind::Bodies => self.d.config.max_block_fetch,
            Kind::Receipts => self.d.config.max_receipt_fetch,
            Kind::Headers => return Ok(()),
        };
        if self.cache.tasks(kind).is_empty() {
            return Ok(());
        }
        let idle = self.idle_peers(kind);
        let peers: Vec<&SyncPeer> = idle.iter().filter_map(|id| self.peers.get(id)).collect();
        let assigned = content::assign(&self.cache, kind, &peers, self.qos.target_rtt(), max);
        for (peer, numbers) in assigned {
            self.cache.take_tasks(kind, &numbers);
            let ask = if kind == Kind::Bodies {
                Ask::Bodies(numbers)
            } else {
                Ask::Receipts(numbers)
            };
            self.send(&peer, ask);
        }
        if !self.cache.tasks(kind).is_empty() && self.in_flight(kind) == 0 {
            return Err(Error::PeersUnavailable);
        }
        Ok(())
    }

    /// Checks a content reply's size before matching: an empty reply means the peer lacks every block asked
    /// for, a longer one than asked is invalid. `None` when the reply is dealt with, else the blocks to match
    /// (or the strike's outcome).
    fn check_content(
        &mut self,
        peer: &str,
        kind: Kind,
        numbers: Vec<u64>,
        items: usize,
    ) -> Option<Result<Vec<u64>, Error>> {
        if items == 0 {
            let max_lacking = self.d.config.max_lacking;
            if let Some(p) = self.peers.get_mut(peer) {
                content::learn_empty(p, kind, &numbers, max_lacking);
            }
            self.cache.requeue(kind, numbers);
            return None;
        }
        if items > numbers.len() {
            self.cache.requeue(kind, numbers);
            let error = if kind == Kind::Bodies {
                Error::InvalidBody
            } else {
                Error::InvalidReceipt
            };
            return match self.strike(peer, error) {
                Ok(()) => None,
                Err(e) => Some(Err(e)),
            };
        }
        Some(Ok(numbers))
    }

    /// Applies a matched content reply: the peer learns, undelivered blocks are re-queued, invalid items strike.
    fn on_content(&mut self, peer: &str, kind: Kind, delivery: &Delivery) -> Result<(), Error> {
        let max_lacking = self.d.config.max_lacking;
        if let Some(p) = self.peers.get_mut(peer) {
            content::learn(p, kind, delivery, max_lacking);
        }
        self.cache.requeue(kind, delivery.undelivered());
        if delivery.invalid {
            let error = if kind == Kind::Bodies {
                Error::InvalidBody
            } else {
                Error::InvalidReceipt
            };
            return self.strike(peer, error);
        }
        Ok(())
    }

    // ---- import ----

    /// Imports up to `max` complete blocks and records progress and statistics.
    fn import(&mut self, max: usize) -> Result<(), Error> {
        let batch = self.d.config.import_batch;
        let out = self
            .importer
            .import(&self.d.store, &mut self.cache, max, batch)?;
        if let Some(last) = &out.last {
            lock(&self.d.progress).current = last.number;
        }
        let mut s = lock(&self.d.stats);
        s.imported += out.blocks;
        s.batches += out.batches;
        Ok(())
    }

    /// After a failed sync with sampled header validation, removes the last imported headers that were not all
    /// checked by the validator.
    pub(crate) fn rollback(&mut self) {
        if self.d.config.header_check_frequency <= 1 {
            return;
        }
        if let Some((from, to)) = self
            .importer
            .rollback(&self.d.store, self.d.config.rollback_depth)
        {
            tracing::warn!(from, to, "rolled back unverified headers");
            lock(&self.d.stats).rolled_back = from - to;
            lock(&self.d.progress).current = to;
        }
    }
}
