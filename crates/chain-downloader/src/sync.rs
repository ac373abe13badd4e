//! One sync: head fetch, ancestor search, then one event loop that runs the header skeleton and its fill, the body
//! and receipt fetches, the result cache and the in-order import.
//!
//! Everything runs in one future: requests are futures in a `FuturesUnordered`, each bounded by its own timeout,
//! and the loop handles one reply at a time. Nothing is spawned and no delivery ever waits on a channel.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use chain_types::{
    BlockEntry, BlockHashOrNumber, Body, ChainStore, DynChainSource, Header, HeadersRequest,
    Receipt, SealedHeader,
};
use chain_types::{H256, U256};
use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use tokio::{sync::watch, time::Instant};

use crate::{
    Downloader, Error, SyncMode,
    ancestor::span_request,
    downloader::lock,
    peer::{Kind, Qos, SyncPeer},
};

/// Highest head number accepted (2^48 blocks, ages away), so that block-number arithmetic cannot
/// overflow on a peer's say-so.
const MAX_HEAD_NUMBER: u64 = 1 << 48;

/// What a request asked for.
#[derive(Debug)]
enum Ask {
    /// Skeleton headers from `from + fetch - 1`, `count` of them.
    Skeleton { from: u64, count: u64 },
    /// A fill batch starting at `start`.
    Fill { start: u64 },
    /// Up to `count` headers from `from` (master only).
    Tail { from: u64, count: u64 },
    /// Bodies of these blocks.
    Bodies(Vec<u64>),
    /// Receipts of these blocks.
    Receipts(Vec<u64>),
}

impl Ask {
    const fn kind(&self) -> Kind {
        match self {
            Self::Skeleton { .. } | Self::Fill { .. } | Self::Tail { .. } => Kind::Headers,
            Self::Bodies(_) => Kind::Bodies,
            Self::Receipts(_) => Kind::Receipts,
        }
    }
}

/// A request in flight.
#[derive(Debug)]
struct Pending {
    peer: String,
    ask: Ask,
}

/// What a source answered.
enum Payload {
    Headers(Vec<Header>),
    Bodies(Vec<Body>),
    Receipts(Vec<Vec<Receipt>>),
}

/// A finished request: its id, the outcome (`None` on timeout) and how long it took.
struct Reply {
    id: u64,
    outcome: Option<Result<Payload, chain_types::Error>>,
    elapsed: Duration,
}

/// A fill task: a batch of headers ending at a skeleton header.
#[derive(Debug, Clone, Copy)]
struct FillTask {
    count: u64,
    parent: H256,
    last: H256,
}

/// One block in the result cache.
#[derive(Debug)]
struct Slot {
    header: SealedHeader,
    body: Option<Body>,
    receipts: Option<Vec<Receipt>>,
    size: usize,
}

/// State of one sync.
pub(crate) struct SyncRun<'d, S> {
    d: &'d Downloader<S>,
    mode: SyncMode,
    master: String,
    target: H256,
    target_td: U256,
    cancel: watch::Receiver<bool>,
    peers: HashMap<String, SyncPeer>,
    generation: u64,
    qos: Qos,
    inflight: FuturesUnordered<BoxFuture<'static, Reply>>,
    requests: HashMap<u64, Pending>,
    next_id: u64,
    /// Target height (the announced head's number).
    height: u64,
    /// The common ancestor.
    origin: u64,
    /// Whether the store must be rewound to `origin` before the first import.
    rewind: bool,
    /// Next header number not covered by a task.
    frontier: u64,
    /// Hash of the header at `frontier - 1`.
    frontier_hash: H256,
    /// The last header of the latest tail batch, held back until confirmed.
    tail_hold: Option<SealedHeader>,
    /// Whether the master answered a skeleton request with nothing (then only tail requests are made).
    skeleton_off: bool,
    fill_tasks: BTreeMap<u64, FillTask>,
    fill_pending: BTreeSet<u64>,
    fill_done: BTreeMap<u64, Vec<SealedHeader>>,
    /// Next header number to hand to processing.
    deliver_next: u64,
    /// The last header handed to processing.
    last_processed: SealedHeader,
    /// Validated headers waiting for a cache slot.
    header_queue: VecDeque<SealedHeader>,
    results: VecDeque<Slot>,
    /// Number of the block in `results[0]`.
    next_import: u64,
    /// Complete slots at the front of `results`.
    ready: usize,
    body_tasks: BTreeSet<u64>,
    receipt_tasks: BTreeSet<u64>,
    cached_bytes: usize,
    avg_size: f64,
    throttle: usize,
    imported_any: bool,
    /// Last imported header.
    last_imported: Option<SealedHeader>,
}

impl<'d, S: ChainStore> SyncRun<'d, S> {
    pub(crate) fn new(
        d: &'d Downloader<S>,
        master: Arc<dyn DynChainSource>,
        target: H256,
        target_td: U256,
        mode: SyncMode,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        let qos = Qos::new(&d.config);
        let master_id = master.id().to_owned();
        let mut peers = HashMap::new();
        let rtt = qos.rtt_estimate;
        let generation = d.peers_generation.load(Ordering::Acquire);
        for source in lock(&d.peers).values() {
            let p = SyncPeer::new(source.clone(), [0.0; 3], rtt);
            peers.insert(p.id.clone(), p);
        }
        peers
            .entry(master_id.clone())
            .or_insert_with(|| SyncPeer::new(master, [0.0; 3], rtt));
        let placeholder = Header::default().seal();
        Self {
            d,
            mode,
            master: master_id,
            target,
            target_td,
            cancel,
            peers,
            generation,
            qos,
            inflight: FuturesUnordered::new(),
            requests: HashMap::new(),
            next_id: 0,
            height: 0,
            origin: 0,
            rewind: false,
            frontier: 0,
            frontier_hash: H256::zero(),
            tail_hold: None,
            skeleton_off: false,
            fill_tasks: BTreeMap::new(),
            fill_pending: BTreeSet::new(),
            fill_done: BTreeMap::new(),
            deliver_next: 0,
            last_processed: placeholder,
            header_queue: VecDeque::new(),
            results: VecDeque::new(),
            next_import: 0,
            ready: 0,
            body_tasks: BTreeSet::new(),
            receipt_tasks: BTreeSet::new(),
            cached_bytes: 0,
            avg_size: 0.0,
            throttle: d.config.cache_initial_items.max(1),
            imported_any: false,
            last_imported: None,
        }
    }

    /// Runs the sync; returns the local head at the end.
    pub(crate) async fn run(&mut self) -> Result<SealedHeader, Error> {
        let result = self.run_inner().await;
        if let Err(e) = &result
            && e.is_drop()
        {
            self.rollback();
        }
        result
    }

    async fn run_inner(&mut self) -> Result<SealedHeader, Error> {
        let store = &self.d.store;
        let (local_head, _) = store
            .head()
            .map_err(Error::store)?
            .ok_or(Error::EmptyStore)?;
        let head = self.fetch_head().await?;
        let cfg = &self.d.config;
        if matches!(self.mode, SyncMode::Fast | SyncMode::Light)
            && cfg
                .checkpoint
                .is_some_and(|checkpoint| head.number < checkpoint)
        {
            return Err(Error::UnsyncedPeer);
        }
        let ancestor = match store.header_by_hash(&head.hash()).map_err(Error::store)? {
            Some(h) if h.number == head.number => h,
            _ => self.find_ancestor(&local_head, head.number).await?,
        };
        self.height = head.number;
        self.origin = ancestor.number;
        self.rewind = ancestor.number < local_head.number;
        {
            let mut p = lock(&self.d.progress);
            // The starting block moves only if the last sync reached its target or this one starts lower (a
            // reorg), so that a retry after a failure reports the progress of the whole attempt.
            if p.completed || p.height <= self.origin || p.origin > self.origin {
                p.origin = self.origin;
            }
            p.completed = false;
            p.height = self.height;
            p.current = local_head.number;
        }
        tracing::debug!(
            origin = self.origin,
            height = self.height,
            "common ancestor found"
        );
        self.frontier = ancestor.number + 1;
        self.frontier_hash = ancestor.hash();
        self.deliver_next = ancestor.number + 1;
        self.next_import = ancestor.number + 1;
        self.last_processed = ancestor;
        self.main_loop().await?;
        let (head, td) = self
            .d
            .store
            .head()
            .map_err(Error::store)?
            .ok_or(Error::EmptyStore)?;
        if self.target_td > td {
            return Err(Error::StallingPeer);
        }
        Ok(head)
    }

    // ---- sequential requests to the master (head and ancestor search) ----

    /// One header request to the master, bounded by the current timeout and by cancellation.
    async fn master_headers(
        &mut self,
        request: HeadersRequest,
    ) -> Result<Vec<SealedHeader>, Error> {
        let source = self
            .peers
            .get(&self.master)
            .map(|p| p.source.clone())
            .ok_or(Error::NoPeers)?;
        let ttl = self.qos.ttl();
        let fut = tokio::time::timeout(ttl, source.headers_boxed(request));
        let started = Instant::now();
        let outcome = tokio::select! {
            biased;
            _ = self.cancel.changed() => return Err(Error::Cancelled),
            r = fut => r,
        };
        let headers = match outcome {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(e)) => {
                return Err(Error::Source {
                    peer: self.master.clone(),
                    source: Arc::new(e),
                });
            }
            Ok(Ok(h)) => h,
        };
        if let Some(p) = self.peers.get_mut(&self.master) {
            p.update(Kind::Headers, headers.len(), started.elapsed());
        }
        lock(&self.d.stats).requests[Kind::Headers as usize] += 1;
        Ok(headers.into_iter().map(Header::seal).collect())
    }

    /// Fetches the announced head; it must hash to the announced hash.
    async fn fetch_head(&mut self) -> Result<SealedHeader, Error> {
        let request = HeadersRequest {
            origin: BlockHashOrNumber::Hash(self.target),
            amount: 1,
            skip: 0,
            reverse: true,
        };
        let mut headers = self.master_headers(request).await?;
        if headers.len() != 1 {
            return Err(Error::BadPeer("head reply must hold exactly one header"));
        }
        let head = headers
            .pop()
            .ok_or(Error::BadPeer("head reply must hold exactly one header"))?;
        if head.hash() != self.target {
            return Err(Error::HeadMismatch {
                number: head.number,
                got: head.hash(),
                announced: self.target,
            });
        }
        if head.number > MAX_HEAD_NUMBER {
            return Err(Error::BadPeer("head number out of range"));
        }
        Ok(head)
    }

    /// Whether `header` is in the local chain at its number.
    fn known(&self, header: &SealedHeader) -> Result<bool, Error> {
        Ok(self
            .d
            .store
            .header_by_hash(&header.hash())
            .map_err(Error::store)?
            .is_some_and(|h| h.number == header.number))
    }

    /// Finds the common ancestor with the master's chain: a span request, then a binary search.
    async fn find_ancestor(
        &mut self,
        local_head: &SealedHeader,
        remote: u64,
    ) -> Result<SealedHeader, Error> {
        let local = local_head.number;
        let max_fork = self.d.config.max_fork_ancestry(self.mode);
        let floor = local.checked_sub(max_fork);
        let below_floor = |n: u64| floor.is_some_and(|f| n <= f);
        let span = span_request(remote, local);
        let request = HeadersRequest {
            origin: BlockHashOrNumber::Number(span.from),
            amount: span.count,
            skip: span.span - 1,
            reverse: false,
        };
        let headers = self.master_headers(request).await?;
        if headers.is_empty() {
            return Err(Error::EmptyHeaderSet);
        }
        if headers.len() as u64 > span.count {
            return Err(Error::BadPeer("span reply longer than requested"));
        }
        for (i, h) in headers.iter().enumerate() {
            if h.number != span.from + i as u64 * span.span {
                return Err(Error::InvalidChain("span reply broke chain ordering"));
            }
        }
        for h in headers.iter().rev() {
            if h.number < span.from || h.number > span.max {
                continue;
            }
            if self.known(h)? {
                if below_floor(h.number) {
                    return Err(Error::InvalidAncestor);
                }
                return self.local_header(h.number);
            }
        }
        // Binary search.
        let mut start = floor.unwrap_or(0);
        let mut end = remote;
        while start + 1 < end {
            let check = start + (end - start) / 2;
            let mut headers = self
                .master_headers(HeadersRequest::rising(check, 1))
                .await?;
            if headers.len() != 1 {
                return Err(Error::BadPeer(
                    "binary search reply must hold exactly one header",
                ));
            }
            let h = headers.pop().ok_or(Error::BadPeer(
                "binary search reply must hold exactly one header",
            ))?;
            if h.number != check {
                return Err(Error::BadPeer("binary search reply has the wrong number"));
            }
            match self
                .d
                .store
                .header_by_hash(&h.hash())
                .map_err(Error::store)?
            {
                None => end = check,
                Some(local) if local.number != check => {
                    return Err(Error::BadPeer(
                        "binary search header known at another number",
                    ));
                }
                Some(_) => start = check,
            }
        }
        if below_floor(start) {
            return Err(Error::InvalidAncestor);
        }
        self.local_header(start)
    }

    fn local_header(&self, number: u64) -> Result<SealedHeader, Error> {
        self.d
            .store
            .header_by_number(number)
            .map_err(Error::store)?
            .ok_or(Error::InvalidAncestor)
    }

    // ---- the event loop ----

    async fn main_loop(&mut self) -> Result<(), Error> {
        loop {
            self.refresh_peers()?;
            self.fill_slots();
            self.schedule_headers()?;
            if self.mode.bodies() {
                self.schedule_content(Kind::Bodies)?;
            }
            if self.mode.receipts() {
                self.schedule_content(Kind::Receipts)?;
            }
            self.update_stats();
            if self.headers_finished()
                && self.header_queue.is_empty()
                && self.ready == self.results.len()
            {
                self.import(usize::MAX)?;
                return Ok(());
            }
            let batch = self
                .d
                .config
                .import_batch
                .min((self.throttle / 2).max(1))
                .max(1);
            if self.ready >= batch || (self.ready > 0 && self.inflight.is_empty()) {
                self.import(self.d.config.import_batch)?;
                continue;
            }
            if self.inflight.is_empty() {
                return Err(if self.peers.is_empty() {
                    Error::NoPeers
                } else {
                    Error::PeersUnavailable
                });
            }
            let reply = tokio::select! {
                biased;
                _ = self.cancel.changed() => return Err(Error::Cancelled),
                Some(reply) = self.inflight.next() => reply,
            };
            self.handle(reply)?;
        }
    }

    fn update_stats(&self) {
        let mut s = lock(&self.d.stats);
        s.cached_items = self.results.len();
        s.peak_cached_items = s.peak_cached_items.max(self.results.len());
        s.cached_bytes = self.cached_bytes;
        s.peak_cached_bytes = s.peak_cached_bytes.max(self.cached_bytes);
    }

    /// Whether every header up to the target has been handed to processing.
    fn headers_finished(&self) -> bool {
        self.deliver_next > self.height
    }

    /// Adds newly registered peers and removes unregistered ones.
    fn refresh_peers(&mut self) -> Result<(), Error> {
        let generation = self.d.peers_generation.load(Ordering::Acquire);
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
            if id == self.master {
                return Err(Error::NoPeers);
            }
            self.remove_peer(&id);
        }
        let n = self.peers.len().max(1);
        let mut avg = [0.0; 3];
        for p in self.peers.values() {
            for (a, t) in avg.iter_mut().zip(p.throughput) {
                #[allow(clippy::cast_precision_loss)]
                let share = t / n as f64;
                *a += share;
            }
        }
        let median = self.qos.median_rtt(self.peers.values());
        for (id, source) in registered {
            if let std::collections::hash_map::Entry::Vacant(e) = self.peers.entry(id) {
                e.insert(SyncPeer::new(source, avg, median));
                self.qos.peer_joined(self.peers.len());
            }
        }
        Ok(())
    }

    /// Removes a peer from this sync and re-queues its requests (their replies will be ignored).
    fn remove_peer(&mut self, id: &str) {
        let Some(peer) = self.peers.remove(id) else {
            return;
        };
        for req in peer.busy.into_iter().flatten() {
            if let Some(pending) = self.requests.remove(&req) {
                self.requeue(pending.ask);
            }
        }
    }

    /// Puts the items of a failed request back.
    fn requeue(&mut self, ask: Ask) {
        match ask {
            Ask::Fill { start } => {
                if self.fill_tasks.contains_key(&start) {
                    self.fill_pending.insert(start);
                }
            }
            Ask::Skeleton { .. } | Ask::Tail { .. } => {}
            Ask::Bodies(numbers) => self
                .body_tasks
                .extend(numbers.into_iter().filter(|&n| n >= self.next_import)),
            Ask::Receipts(numbers) => {
                self.receipt_tasks
                    .extend(numbers.into_iter().filter(|&n| n >= self.next_import));
            }
        }
    }

    /// Drops a helper peer (stalling or lying); dropping the master ends the sync with `error`.
    fn drop_helper(&mut self, id: &str, error: Error) -> Result<(), Error> {
        if id == self.master {
            return Err(error);
        }
        tracing::debug!(peer = id, %error, "dropping peer");
        self.remove_peer(id);
        lock(&self.d.stats).dropped_peers += 1;
        self.d.drop_peer(id);
        // Our own unregistration bumped the generation; the peer is already gone from this sync.
        self.generation = self.d.peers_generation.load(Ordering::Acquire);
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

    /// Sends a request to `peer`. At most one request per peer per kind is in flight: a busy (or
    /// unknown) peer gets nothing and the items go back to their queue.
    fn send(&mut self, peer: &str, ask: Ask) {
        let kind = ask.kind();
        let Some(p) = self.peers.get_mut(peer).filter(|p| p.idle(kind)) else {
            self.requeue(ask);
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        p.busy[kind as usize] = Some(id);
        let source = p.source.clone();
        let ttl = self.qos.ttl();
        let fetch = self.d.config.max_header_fetch.max(1);
        let mut stats = lock(&self.d.stats);
        stats.requests[kind as usize] += 1;
        let fut: BoxFuture<'static, Reply> = match &ask {
            Ask::Skeleton { from, count } => {
                let req = HeadersRequest {
                    origin: BlockHashOrNumber::Number(from + fetch - 1),
                    amount: *count,
                    skip: fetch - 1,
                    reverse: false,
                };
                Box::pin(timed(id, ttl, async move {
                    source.headers_boxed(req).await.map(Payload::Headers)
                }))
            }
            Ask::Fill { start } => {
                let count = self.fill_tasks.get(start).map_or(fetch, |t| t.count);
                let req = HeadersRequest::rising(*start, count);
                Box::pin(timed(id, ttl, async move {
                    source.headers_boxed(req).await.map(Payload::Headers)
                }))
            }
            Ask::Tail { from, count } => {
                let req = HeadersRequest::rising(*from, *count);
                Box::pin(timed(id, ttl, async move {
                    source.headers_boxed(req).await.map(Payload::Headers)
                }))
            }
            Ask::Bodies(numbers) => {
                stats.items_requested[kind as usize] += numbers.len() as u64;
                let hashes = self.hashes(numbers);
                Box::pin(timed(id, ttl, async move {
                    source.bodies_boxed(hashes).await.map(Payload::Bodies)
                }))
            }
            Ask::Receipts(numbers) => {
                stats.items_requested[kind as usize] += numbers.len() as u64;
                let hashes = self.hashes(numbers);
                Box::pin(timed(id, ttl, async move {
                    source.receipts_boxed(hashes).await.map(Payload::Receipts)
                }))
            }
        };
        drop(stats);
        self.inflight.push(fut);
        self.requests.insert(
            id,
            Pending {
                peer: peer.to_owned(),
                ask,
            },
        );
    }

    fn hashes(&self, numbers: &[u64]) -> Vec<H256> {
        numbers
            .iter()
            .filter_map(|&n| self.slot(n).map(|s| s.header.hash()))
            .collect()
    }

    fn slot(&self, number: u64) -> Option<&Slot> {
        let i = usize::try_from(number.checked_sub(self.next_import)?).ok()?;
        self.results.get(i)
    }

    fn slot_mut(&mut self, number: u64) -> Option<&mut Slot> {
        let i = usize::try_from(number.checked_sub(self.next_import)?).ok()?;
        self.results.get_mut(i)
    }

    /// Idle peers for `kind`, fastest first (ties by id, for determinism).
    fn idle_peers(&self, kind: Kind) -> Vec<String> {
        let mut idle: Vec<&SyncPeer> = self.peers.values().filter(|p| p.idle(kind)).collect();
        idle.sort_by(|a, b| {
            b.throughput[kind as usize]
                .total_cmp(&a.throughput[kind as usize])
                .then(a.id.cmp(&b.id))
        });
        idle.into_iter().map(|p| p.id.clone()).collect()
    }

    fn in_flight(&self, kind: Kind) -> usize {
        self.peers.values().filter(|p| !p.idle(kind)).count()
    }

    /// First block number without a cache slot.
    fn slot_frontier(&self) -> u64 {
        self.next_import + self.results.len() as u64
    }

    /// Whether headers up to `end` fit into the header window.
    fn header_window_allows(&self, end: u64) -> bool {
        end < self.slot_frontier() + self.d.config.max_queued_headers as u64
    }

    // ---- headers ----

    fn schedule_headers(&mut self) -> Result<(), Error> {
        let fetch = self.d.config.max_header_fetch.max(1);
        let master_idle = self
            .peers
            .get(&self.master)
            .is_some_and(|p| p.idle(Kind::Headers));
        if master_idle && self.frontier <= self.height && self.header_window_allows(self.frontier) {
            let remaining = self.height - self.frontier + 1;
            if !self.skeleton_off && remaining >= fetch {
                let size = self.d.config.max_skeleton_size.max(1);
                if (self.fill_tasks.len() as u64) < size {
                    let count = (remaining / fetch).min(size);
                    self.send(
                        &self.master.clone(),
                        Ask::Skeleton {
                            from: self.frontier,
                            count,
                        },
                    );
                }
            } else if self.skeleton_off || self.fill_tasks.is_empty() {
                let count = remaining.min(fetch);
                self.send(
                    &self.master.clone(),
                    Ask::Tail {
                        from: self.frontier,
                        count,
                    },
                );
            }
        }
        if self.fill_pending.is_empty() {
            return Ok(());
        }
        let mut throttled = false;
        for id in self.idle_peers(Kind::Headers) {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            let task = self
                .fill_pending
                .iter()
                .copied()
                .find(|s| !peer.missing_fills.contains(s));
            let Some(start) = task else { continue };
            let count = self.fill_tasks.get(&start).map_or(fetch, |t| t.count);
            if !self.header_window_allows(start + count - 1) {
                throttled = true;
                break;
            }
            self.fill_pending.remove(&start);
            self.send(&id, Ask::Fill { start });
        }
        if !throttled && !self.fill_pending.is_empty() && self.in_flight(Kind::Headers) == 0 {
            return Err(Error::InvalidChain("skeleton chain unfillable"));
        }
        Ok(())
    }

    fn on_skeleton(&mut self, from: u64, count: u64, headers: Vec<Header>) -> Result<(), Error> {
        if from != self.frontier {
            return Ok(());
        }
        let fetch = self.d.config.max_header_fetch.max(1);
        if headers.is_empty() {
            tracing::debug!("empty skeleton, fetching headers directly");
            self.skeleton_off = true;
            return Ok(());
        }
        if headers.len() as u64 > count {
            return Err(Error::BadPeer("skeleton reply longer than requested"));
        }
        let mut parent = self.frontier_hash;
        let mut start = from;
        for h in headers {
            let h = h.seal();
            if h.number != start + fetch - 1 {
                return Err(Error::InvalidChain("skeleton broke chain ordering"));
            }
            if h.number == self.height && h.hash() != self.target {
                return Err(Error::InvalidChain(
                    "skeleton head differs from the announced head",
                ));
            }
            self.fill_tasks.insert(
                start,
                FillTask {
                    count: fetch,
                    parent,
                    last: h.hash(),
                },
            );
            self.fill_pending.insert(start);
            parent = h.hash();
            start += fetch;
        }
        self.frontier = start;
        self.frontier_hash = parent;
        Ok(())
    }

    fn on_fill(&mut self, peer: &str, start: u64, headers: Vec<Header>) -> Result<(), Error> {
        let Some(task) = self.fill_tasks.get(&start).copied() else {
            return Ok(());
        };
        let over_long = headers.len() as u64 > task.count;
        let sealed: Vec<SealedHeader> = headers.into_iter().map(Header::seal).collect();
        let consistent = linked(&sealed);
        let fits = sealed.len() as u64 == task.count
            && consistent
            && sealed
                .first()
                .is_some_and(|h| h.number == start && h.parent_hash == task.parent)
            && sealed.last().is_some_and(|h| h.hash() == task.last);
        let prefix = !fits
            && !over_long
            && consistent
            && !sealed.is_empty()
            && (sealed.len() as u64) < task.count
            && sealed
                .first()
                .is_some_and(|h| h.number == start && h.parent_hash == task.parent);
        if let (true, Some(last)) = (prefix, sealed.last()) {
            // A short but correct reply (a serving limit): keep it and ask for the rest later.
            let rest = start + sealed.len() as u64;
            let rest_task = FillTask {
                count: task.count - sealed.len() as u64,
                parent: last.hash(),
                last: task.last,
            };
            self.fill_tasks.remove(&start);
            self.fill_pending.remove(&start);
            self.fill_tasks.insert(rest, rest_task);
            self.fill_pending.insert(rest);
            self.fill_done.insert(start, sealed);
            return self.deliver_headers();
        }
        if !fits {
            tracing::trace!(peer, start, "fill rejected");
            if let Some(p) = self.peers.get_mut(peer) {
                p.missing_fills.insert(start);
                p.throughput[Kind::Headers as usize] = 0.0;
            }
            self.fill_pending.insert(start);
            if over_long || !consistent {
                self.strike(peer, Error::BadPeer("inconsistent headers"))?;
            }
            return Ok(());
        }
        self.fill_tasks.remove(&start);
        self.fill_done.insert(start, sealed);
        self.deliver_headers()
    }

    fn on_tail(&mut self, from: u64, count: u64, headers: Vec<Header>) -> Result<(), Error> {
        if from != self.frontier {
            return Ok(());
        }
        if headers.is_empty() {
            return Err(Error::StallingPeer);
        }
        if headers.len() as u64 > count {
            return Err(Error::BadPeer("header reply longer than requested"));
        }
        let sealed: Vec<SealedHeader> = headers.into_iter().map(Header::seal).collect();
        if sealed
            .first()
            .is_some_and(|h| h.number != from || h.parent_hash != self.frontier_hash)
            || !linked(&sealed)
        {
            return Err(Error::InvalidChain("headers broke chain ordering"));
        }
        if sealed
            .iter()
            .any(|h| h.number == self.height && h.hash() != self.target)
        {
            return Err(Error::InvalidChain("head differs from the announced head"));
        }
        let Some(last) = sealed.last() else {
            return Err(Error::StallingPeer);
        };
        self.frontier = last.number + 1;
        self.frontier_hash = last.hash();
        // The last header of a tail batch is confirmed only by the next batch (its child links to it) or by
        // being the announced head; until then it is held back, so that a lying master cannot get an
        // unconfirmed header imported.
        let mut batch: Vec<SealedHeader> = self.tail_hold.take().into_iter().collect();
        batch.extend(sealed);
        if batch.last().is_some_and(|h| h.number != self.height) {
            self.tail_hold = batch.pop();
        }
        if let Some(first) = batch.first() {
            self.fill_done.insert(first.number, batch);
        }
        self.deliver_headers()
    }

    /// Hands the contiguous filled prefix to processing: consensus validation, then the header queue.
    fn deliver_headers(&mut self) -> Result<(), Error> {
        let frequency = self.d.config.header_check_frequency.max(1);
        while let Some(batch) = self.fill_done.remove(&self.deliver_next) {
            for (i, h) in batch.iter().enumerate() {
                if h.number % frequency == 0 || h.number == self.height || frequency == 1 {
                    let parent = if i == 0 {
                        &self.last_processed
                    } else {
                        &batch[i - 1]
                    };
                    if let Err(reason) = self.d.validator.validate(h, parent) {
                        tracing::debug!(
                            number = h.number,
                            reason,
                            "header rejected by the validator"
                        );
                        return Err(Error::InvalidChain("header rejected by the validator"));
                    }
                }
            }
            let Some(last) = batch.last() else { continue };
            self.last_processed = last.clone();
            self.deliver_next = last.number + 1;
            self.header_queue.extend(batch);
        }
        Ok(())
    }

    // ---- the result cache ----

    /// Moves queued headers into cache slots while the cache has room, creating body and receipt tasks.
    fn fill_slots(&mut self) {
        let max_bytes = self.d.config.cache_max_bytes;
        while self.results.len() < self.throttle && self.cached_bytes < max_bytes {
            let Some(header) = self.header_queue.pop_front() else {
                break;
            };
            let number = header.number;
            let mut slot = Slot {
                size: header.approx_size(),
                header,
                body: None,
                receipts: None,
            };
            if self.mode.bodies() {
                if slot.header.has_empty_body() {
                    slot.body = Some(Body {
                        transactions: Vec::new(),
                        ommers: Vec::new(),
                        withdrawals: slot.header.withdrawals_root.map(|_| Vec::new()),
                    });
                } else {
                    self.body_tasks.insert(number);
                }
            }
            if self.mode.receipts() {
                if slot.header.has_empty_receipts() {
                    slot.receipts = Some(Vec::new());
                } else {
                    self.receipt_tasks.insert(number);
                }
            }
            self.cached_bytes += slot.size;
            self.results.push_back(slot);
        }
        self.advance_ready();
    }

    fn complete(&self, slot: &Slot) -> bool {
        (!self.mode.bodies() || slot.body.is_some())
            && (!self.mode.receipts() || slot.receipts.is_some())
    }

    fn advance_ready(&mut self) {
        while let Some(slot) = self.results.get(self.ready) {
            if !self.complete(slot) {
                break;
            }
            self.ready += 1;
        }
    }

    fn schedule_content(&mut self, kind: Kind) -> Result<(), Error> {
        let (max, tasks_empty) = match kind {
            Kind::Bodies => (self.d.config.max_block_fetch, self.body_tasks.is_empty()),
            Kind::Receipts => (
                self.d.config.max_receipt_fetch,
                self.receipt_tasks.is_empty(),
            ),
            Kind::Headers => return Ok(()),
        };
        if tasks_empty {
            return Ok(());
        }
        let target_rtt = self.qos.target_rtt();
        for id in self.idle_peers(kind) {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            let cap = peer.capacity(kind, target_rtt, max);
            let tasks = if kind == Kind::Bodies {
                &self.body_tasks
            } else {
                &self.receipt_tasks
            };
            let picked: Vec<u64> = tasks
                .iter()
                .copied()
                .filter(|&n| !peer.is_lacking(kind, n))
                .take(cap)
                .collect();
            if picked.is_empty() {
                continue;
            }
            let tasks = if kind == Kind::Bodies {
                &mut self.body_tasks
            } else {
                &mut self.receipt_tasks
            };
            for n in &picked {
                tasks.remove(n);
            }
            let ask = if kind == Kind::Bodies {
                Ask::Bodies(picked)
            } else {
                Ask::Receipts(picked)
            };
            self.send(&id, ask);
            let empty = if kind == Kind::Bodies {
                self.body_tasks.is_empty()
            } else {
                self.receipt_tasks.is_empty()
            };
            if empty {
                break;
            }
        }
        let left = if kind == Kind::Bodies {
            !self.body_tasks.is_empty()
        } else {
            !self.receipt_tasks.is_empty()
        };
        if left && self.in_flight(kind) == 0 {
            return Err(Error::PeersUnavailable);
        }
        Ok(())
    }

    fn on_bodies(&mut self, peer: &str, numbers: Vec<u64>, bodies: Vec<Body>) -> Result<(), Error> {
        if bodies.is_empty() {
            self.mark_all_lacking(peer, Kind::Bodies, &numbers);
            return Ok(());
        }
        if bodies.len() > numbers.len() {
            self.requeue(Ask::Bodies(numbers));
            return self.strike(peer, Error::InvalidBody);
        }
        let mut open: Vec<Option<u64>> = numbers.iter().copied().map(Some).collect();
        let mut accepted = 0;
        let mut last_matched = 0;
        let mut invalid = false;
        for body in bodies {
            let roots = BodyRoots::of(&body);
            let found = open.iter().position(|n| {
                n.and_then(|n| self.slot(n))
                    .is_some_and(|s| s.body.is_none() && roots.matches(&s.header))
            });
            let Some((i, number)) = found.and_then(|i| Some((i, open.get_mut(i)?.take()?))) else {
                invalid = true;
                continue;
            };
            last_matched = last_matched.max(i);
            let size = body.approx_size();
            if let Some(slot) = self.slot_mut(number) {
                slot.body = Some(body);
                slot.size += size;
                self.cached_bytes += size;
                accepted += 1;
            }
        }
        self.finish_content(peer, Kind::Bodies, &open, last_matched, accepted, invalid);
        if invalid {
            return self.strike(peer, Error::InvalidBody);
        }
        Ok(())
    }

    fn on_receipts(
        &mut self,
        peer: &str,
        numbers: Vec<u64>,
        receipts: Vec<Vec<Receipt>>,
    ) -> Result<(), Error> {
        if receipts.is_empty() {
            self.mark_all_lacking(peer, Kind::Receipts, &numbers);
            return Ok(());
        }
        if receipts.len() > numbers.len() {
            self.requeue(Ask::Receipts(numbers));
            return self.strike(peer, Error::InvalidReceipt);
        }
        let mut open: Vec<Option<u64>> = numbers.iter().copied().map(Some).collect();
        let mut accepted = 0;
        let mut last_matched = 0;
        let mut invalid = false;
        for list in receipts {
            let root = chain_types::roots::receipts_root(&list);
            let found = open.iter().position(|n| {
                n.and_then(|n| self.slot(n))
                    .is_some_and(|s| s.receipts.is_none() && s.header.receipts_root == root)
            });
            let Some((i, number)) = found.and_then(|i| Some((i, open.get_mut(i)?.take()?))) else {
                invalid = true;
                continue;
            };
            last_matched = last_matched.max(i);
            let size = receipts_size(&list);
            if let Some(slot) = self.slot_mut(number) {
                slot.receipts = Some(list);
                slot.size += size;
                self.cached_bytes += size;
                accepted += 1;
            }
        }
        self.finish_content(peer, Kind::Receipts, &open, last_matched, accepted, invalid);
        if invalid {
            return self.strike(peer, Error::InvalidReceipt);
        }
        Ok(())
    }

    /// Re-queues what a content reply did not deliver (`open[i]` is the block still missing at
    /// request position `i`). Blocks left out *before* the last delivered one are holes: the peer
    /// lacks them (servers skip unknown blocks) and they are not offered to it again. Blocks after
    /// it were cut off by a serving limit and stay available to the peer.
    fn finish_content(
        &mut self,
        peer: &str,
        kind: Kind,
        open: &[Option<u64>],
        last_matched: usize,
        accepted: usize,
        invalid: bool,
    ) {
        let max_lacking = self.d.config.max_lacking;
        if let Some(p) = self.peers.get_mut(peer) {
            if !invalid {
                for &n in open.iter().take(last_matched).flatten() {
                    p.mark_lacking(kind, n, max_lacking);
                }
            }
            if accepted == 0 {
                p.throughput[kind as usize] = 0.0;
            }
        }
        let undelivered: Vec<u64> = open.iter().flatten().copied().collect();
        let ask = if kind == Kind::Bodies {
            Ask::Bodies(undelivered)
        } else {
            Ask::Receipts(undelivered)
        };
        self.requeue(ask);
        self.advance_ready();
    }

    fn mark_all_lacking(&mut self, peer: &str, kind: Kind, numbers: &[u64]) {
        let max_lacking = self.d.config.max_lacking;
        if let Some(p) = self.peers.get_mut(peer) {
            for &n in numbers {
                p.mark_lacking(kind, n, max_lacking);
            }
            p.throughput[kind as usize] = 0.0;
        }
        let ask = if kind == Kind::Bodies {
            Ask::Bodies(numbers.to_vec())
        } else {
            Ask::Receipts(numbers.to_vec())
        };
        self.requeue(ask);
    }

    // ---- replies ----

    fn handle(&mut self, reply: Reply) -> Result<(), Error> {
        let Some(pending) = self.requests.remove(&reply.id) else {
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
                if peer_id == self.master {
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
        let items = match &payload {
            Payload::Headers(h) => h.len(),
            Payload::Bodies(b) => b.len(),
            Payload::Receipts(r) => r.len(),
        };
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.update(kind, items, reply.elapsed);
        }
        let median = self.qos.median_rtt(self.peers.values());
        self.qos.tune(median);
        match (pending.ask, payload) {
            (Ask::Skeleton { from, count }, Payload::Headers(h)) => {
                self.on_skeleton(from, count, h)
            }
            (Ask::Fill { start }, Payload::Headers(h)) => self.on_fill(&peer_id, start, h),
            (Ask::Tail { from, count }, Payload::Headers(h)) => self.on_tail(from, count, h),
            (Ask::Bodies(numbers), Payload::Bodies(b)) => self.on_bodies(&peer_id, numbers, b),
            (Ask::Receipts(numbers), Payload::Receipts(r)) => {
                self.on_receipts(&peer_id, numbers, r)
            }
            (ask, _) => {
                self.requeue(ask);
                Ok(())
            }
        }
    }

    /// A request timed out: a minimal request (a fill, or at most two items, or a peer already throttled to
    /// nothing) means the peer is stalling and it is dropped; otherwise its throughput is reset so that its next
    /// request is small.
    fn on_timeout(&mut self, peer_id: &str, ask: Ask) -> Result<(), Error> {
        tracing::debug!(peer = peer_id, ?ask, "request timed out");
        let kind = ask.kind();
        let minimal = match &ask {
            Ask::Skeleton { .. } | Ask::Tail { .. } | Ask::Fill { .. } => true,
            Ask::Bodies(n) | Ask::Receipts(n) => n.len() <= 2,
        };
        let already_zero = self
            .peers
            .get(peer_id)
            .is_some_and(|p| p.throughput[kind as usize] == 0.0);
        let is_master = peer_id == self.master;
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

    // ---- import ----

    /// Imports up to `max` complete blocks from the front of the cache, in store batches.
    fn import(&mut self, max: usize) -> Result<(), Error> {
        let batch_size = self.d.config.import_batch.max(1);
        let mut left = self.ready.min(max);
        while left > 0 {
            let n = left.min(batch_size);
            if self.rewind {
                self.d.store.rewind(self.origin).map_err(Error::store)?;
                self.rewind = false;
            }
            let mut batch = Vec::with_capacity(n);
            let mut bytes = 0;
            for slot in self.results.drain(..n) {
                bytes += slot.size;
                let body = if self.mode.bodies() { slot.body } else { None };
                let receipts = if self.mode.receipts() {
                    slot.receipts
                } else {
                    None
                };
                batch.push(BlockEntry {
                    header: slot.header,
                    body,
                    receipts,
                });
            }
            let last = batch.last().map(|e| e.header.clone());
            self.d.store.insert_batch(batch).map_err(Error::store)?;
            self.imported_any = true;
            self.ready -= n;
            left -= n;
            self.next_import += n as u64;
            self.cached_bytes = self.cached_bytes.saturating_sub(bytes);
            #[allow(clippy::cast_precision_loss)]
            let avg = bytes as f64 / n as f64;
            self.avg_size = if self.avg_size == 0.0 {
                avg
            } else {
                0.9 * self.avg_size + 0.1 * avg
            };
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let by_bytes =
                (self.d.config.cache_max_bytes as f64 / self.avg_size.max(1.0)).ceil() as usize;
            self.throttle = by_bytes.clamp(1, self.d.config.cache_max_items.max(1));
            if let Some(last) = last {
                lock(&self.d.progress).current = last.number;
                self.last_imported = Some(last);
            }
            let mut s = lock(&self.d.stats);
            s.imported += n as u64;
            s.batches += 1;
        }
        // Drop content tasks of imported blocks (none should remain: only complete slots are imported).
        Ok(())
    }

    /// After a failed sync with sampled header validation, removes the last imported headers that were not all
    /// checked by the validator.
    fn rollback(&mut self) {
        if self.d.config.header_check_frequency <= 1 || !self.imported_any {
            return;
        }
        let Some(last) = &self.last_imported else {
            return;
        };
        let to = last
            .number
            .saturating_sub(self.d.config.rollback_depth)
            .max(self.origin);
        match self.d.store.rewind(to) {
            Ok(()) => {
                tracing::warn!(from = last.number, to, "rolled back unverified headers");
                lock(&self.d.stats).rolled_back = last.number - to;
                lock(&self.d.progress).current = to;
            }
            Err(e) => tracing::error!(error = %e, "rollback failed"),
        }
    }
}

/// Whether consecutive headers link (numbers and parent hashes).
fn linked(headers: &[SealedHeader]) -> bool {
    headers
        .windows(2)
        .all(|w| w[0].number.checked_add(1) == Some(w[1].number) && w[1].parent_hash == w[0].hash())
}

/// Runs a request under a timeout and measures it.
async fn timed<F>(id: u64, ttl: Duration, fut: F) -> Reply
where
    F: std::future::Future<Output = Result<Payload, chain_types::Error>>,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(ttl, fut).await.ok();
    Reply {
        id,
        outcome,
        elapsed: started.elapsed(),
    }
}

/// A body's commitments, computed once.
struct BodyRoots {
    transactions: H256,
    ommers: H256,
    withdrawals: Option<H256>,
}

impl BodyRoots {
    fn of(body: &Body) -> Self {
        Self {
            transactions: chain_types::roots::transactions_root(&body.transactions),
            ommers: chain_types::roots::ommers_hash(&body.ommers),
            withdrawals: body
                .withdrawals
                .as_deref()
                .map(chain_types::roots::withdrawals_root),
        }
    }

    fn matches(&self, header: &Header) -> bool {
        self.transactions == header.transactions_root
            && self.ommers == header.ommers_hash
            && self.withdrawals == header.withdrawals_root
    }
}

/// Estimated memory of a receipt list.
fn receipts_size(receipts: &[Receipt]) -> usize {
    receipts
        .iter()
        .map(|r| {
            std::mem::size_of::<Receipt>()
                + r.logs
                    .iter()
                    .map(|l| std::mem::size_of_val(l) + l.data.len() + 32 * l.topics.len())
                    .sum::<usize>()
        })
        .sum()
}
