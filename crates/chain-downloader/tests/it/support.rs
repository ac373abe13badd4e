//! Test support: deterministic chains with forks, and scripted in-process peers (honest, missing-header,
//! shifted, withholding, lying, slow, stalling, flooding), each counting what it was asked and how many of its
//! request futures are alive.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use chain_downloader::{Config, Downloader, SyncMode};
use chain_types::{
    BlockEntry, BlockHashOrNumber, BlockRange, Body, ChainSource, ChainStore, EMPTY_OMMERS_HASH,
    Error, H256, Header, HeadersRequest, MemoryStore, Receipt, SealedHeader, U256,
    generator::{self, GeneratorOptions},
};

/// A chain from the chain-types generator (transactions, ommers, receipts with logs, withdrawals), unpacked for
/// the mock peers.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) generated: generator::Chain,
    pub(crate) headers: Vec<SealedHeader>,
    pub(crate) bodies: Vec<Body>,
    pub(crate) receipts: Vec<Vec<Receipt>>,
    pub(crate) tds: Vec<U256>,
    pub(crate) by_hash: HashMap<H256, u64>,
}

/// A junk transaction (typed envelope).
fn tx(seed: u64, block: u64, i: u64) -> Bytes {
    let mut v = vec![0x02];
    v.extend(rlp::encode_list::<u64, u64>(&[seed, block, i]));
    Bytes::from(v)
}

/// The generator options of the tests: Shanghai blocks, so that withdrawals roots are exercised too.
fn options(seed: u64) -> GeneratorOptions {
    GeneratorOptions {
        shanghai: true,
        ..GeneratorOptions::seeded(seed)
    }
}

impl Chain {
    fn unpack(generated: generator::Chain) -> Self {
        let n = generated.len() as u64;
        let mut c = Self {
            headers: Vec::new(),
            bodies: Vec::new(),
            receipts: Vec::new(),
            tds: Vec::new(),
            by_hash: HashMap::new(),
            generated,
        };
        for i in 0..n {
            let b = c.generated.block(i).unwrap().clone();
            c.by_hash.insert(b.hash(), i);
            c.headers.push(b.header);
            c.bodies.push(b.body);
            c.receipts.push(c.generated.receipts(i).unwrap().to_vec());
            c.tds.push(c.generated.td(i).unwrap());
        }
        c
    }

    /// A chain of `len` blocks (genesis included) generated with `seed`.
    pub(crate) fn new(len: u64, seed: u64) -> Self {
        Self::unpack(generator::Chain::generate(len - 1, &options(seed)))
    }

    /// The first `keep` blocks of this chain, extended to `len` blocks with `seed` and `difficulty` times the
    /// base difficulty per block (a heavier fork for `difficulty > 1`).
    pub(crate) fn fork(&self, keep: u64, len: u64, seed: u64, difficulty: u64) -> Self {
        let opts = options(seed).heavier(difficulty);
        Self::unpack(self.generated.fork(keep - 1, len - keep, &opts))
    }

    pub(crate) fn len(&self) -> u64 {
        self.headers.len() as u64
    }

    pub(crate) fn head(&self) -> (H256, U256) {
        (
            self.headers.last().map(|h| h.hash()).unwrap_or_default(),
            self.tds.last().copied().unwrap_or_default(),
        )
    }

    /// The chain cut to `len` blocks.
    pub(crate) fn shorten(&self, len: u64) -> Self {
        Self::unpack(self.generated.truncated(len - 1))
    }

    pub(crate) fn genesis_store(&self) -> MemoryStore {
        let s = MemoryStore::new();
        s.insert_batch(vec![BlockEntry::header_only(self.headers[0].clone())])
            .unwrap();
        s
    }
}

/// How a mock peer misbehaves.
#[derive(Debug, Clone, Default)]
pub(crate) struct Behaviour {
    /// Block numbers the peer does not serve (skipped silently).
    pub(crate) missing: HashSet<u64>,
    /// Delay before every reply.
    pub(crate) delay: Duration,
    /// Delay before body replies only.
    pub(crate) body_delay: Duration,
    /// Body replies for requests containing this block are delayed by `body_delay` (others are immediate).
    pub(crate) slow_block: Option<u64>,
    /// Never answer (stalls until the request is dropped).
    pub(crate) stall: bool,
    /// Answer every header request with this many junk headers, and bodies with junk.
    pub(crate) flood: Option<usize>,
    /// Reply with bodies in reverse order.
    pub(crate) reverse_bodies: bool,
    /// Serve at most this many items per reply.
    pub(crate) cap: Option<usize>,
    /// Reply with nothing to body and receipt requests.
    pub(crate) empty_content: bool,
    /// Corrupt every body (an extra transaction).
    pub(crate) bad_bodies: bool,
    /// Announce this total difficulty instead of the real one.
    pub(crate) td: Option<U256>,
    /// Announce this head instead of the chain's.
    pub(crate) head: Option<H256>,
    /// Mangle replies at random (truncate, empty, reorder, drop, corrupt, duplicate, append, delay, stall).
    pub(crate) chaos: bool,
    /// Header requests answered honestly before the chaos starts.
    pub(crate) chaos_after: usize,
    /// The block range announced (eth/69), if any.
    pub(crate) range: Option<BlockRange>,
}

/// Counters shared by a mock peer and the test.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) header_requests: AtomicUsize,
    pub(crate) body_requests: AtomicUsize,
    pub(crate) receipt_requests: AtomicUsize,
    pub(crate) bodies_asked: Mutex<Vec<H256>>,
    pub(crate) receipts_asked: Mutex<Vec<H256>>,
    pub(crate) header_asks: Mutex<Vec<HeadersRequest>>,
    pub(crate) live: AtomicUsize,
}

/// A scripted in-process peer over a [`Chain`].
#[derive(Debug, Clone)]
pub(crate) struct MockPeer {
    pub(crate) rng: Arc<Mutex<u64>>,
    pub(crate) id: String,
    pub(crate) chain: Arc<Chain>,
    pub(crate) behaviour: Arc<Mutex<Behaviour>>,
    pub(crate) counters: Arc<Counters>,
}

/// Decrements the live-future counter when a request future is dropped.
struct Live(Arc<Counters>);

impl Live {
    fn new(c: &Arc<Counters>) -> Self {
        c.live.fetch_add(1, Ordering::SeqCst);
        Self(c.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MockPeer {
    pub(crate) fn new(id: &str, chain: &Chain) -> Self {
        Self::with(id, chain, Behaviour::default())
    }

    pub(crate) fn with(id: &str, chain: &Chain, behaviour: Behaviour) -> Self {
        let seed = id.bytes().fold(0x9e37_79b9_u64, |a, b| {
            a.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        Self {
            rng: Arc::new(Mutex::new(seed)),
            id: id.to_owned(),
            chain: Arc::new(chain.clone()),
            behaviour: Arc::new(Mutex::new(behaviour)),
            counters: Arc::new(Counters::default()),
        }
    }

    pub(crate) fn b(&self) -> Behaviour {
        self.behaviour.lock().unwrap().clone()
    }

    fn serve_headers(&self, r: &HeadersRequest) -> Vec<Header> {
        let b = self.b();
        if let Some(n) = b.flood {
            return (0..n)
                .map(|i| Header {
                    number: i as u64,
                    ..Header::default()
                })
                .collect();
        }
        let origin = match r.origin {
            BlockHashOrNumber::Number(n) => n,
            BlockHashOrNumber::Hash(h) => match self.chain.by_hash.get(&h) {
                Some(&n) if !b.missing.contains(&n) => n,
                _ => return vec![],
            },
        };
        let limit = b.cap.unwrap_or(1024) as u64;
        r.block_numbers(origin, 1024)
            .filter(|n| !b.missing.contains(n))
            .map_while(|n| {
                self.chain
                    .headers
                    .get(n as usize)
                    .map(|h| h.header().clone())
            })
            .take(limit as usize)
            .collect()
    }

    fn serve_bodies(&self, hashes: &[H256]) -> Vec<Body> {
        let b = self.b();
        if b.empty_content {
            return vec![];
        }
        if b.flood.is_some() {
            return (0..hashes.len() * 2 + 1)
                .map(|i| Body {
                    transactions: vec![tx(99, i as u64, 0)],
                    ..Body::default()
                })
                .collect();
        }
        let mut out: Vec<Body> = hashes
            .iter()
            .filter_map(|h| self.chain.by_hash.get(h))
            .filter(|n| !b.missing.contains(n))
            .map(|&n| {
                let mut body = self.chain.bodies[n as usize].clone();
                if b.bad_bodies {
                    body.transactions.push(tx(77, n, 77));
                }
                body
            })
            .take(b.cap.unwrap_or(usize::MAX))
            .collect();
        if b.reverse_bodies {
            out.reverse();
        }
        out
    }

    fn serve_receipts(&self, hashes: &[H256]) -> Vec<Vec<Receipt>> {
        let b = self.b();
        if b.empty_content {
            return vec![];
        }
        hashes
            .iter()
            .filter_map(|h| self.chain.by_hash.get(h))
            .filter(|n| !b.missing.contains(n))
            .map(|&n| self.chain.receipts[n as usize].clone())
            .take(b.cap.unwrap_or(usize::MAX))
            .collect()
    }

    /// The next pseudo-random number below `n`.
    pub(crate) fn roll(&self, n: u64) -> u64 {
        let mut r = self.rng.lock().unwrap();
        *r = r
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*r >> 33) % n.max(1)
    }

    /// Mangles a reply at random.
    fn mangle<T: Clone>(&self, mut items: Vec<T>, corrupt: impl Fn(&mut T)) -> Vec<T> {
        let len = items.len() as u64;
        match self.roll(16) {
            0 => items.truncate(self.roll(len + 1) as usize),
            1 => items.clear(),
            2 => items.reverse(),
            3 if len > 0 => {
                items.remove(self.roll(len) as usize);
            }
            4 if len > 0 => {
                let i = self.roll(len) as usize;
                corrupt(&mut items[i]);
            }
            5 if len > 0 => {
                let i = self.roll(len) as usize;
                let dup = items[i].clone();
                items.insert(i, dup);
            }
            6 if len > 0 => {
                let dup = items[0].clone();
                items.push(dup);
            }
            _ => {}
        }
        items
    }

    /// A chaotic delay: usually none, sometimes seconds, rarely longer than any timeout.
    async fn chaos_wait(&self) {
        match self.roll(20) {
            0 => tokio::time::sleep(Duration::from_secs(100)).await,
            1..=3 => tokio::time::sleep(Duration::from_millis(self.roll(3000))).await,
            _ => {}
        }
    }

    async fn wait(&self, extra: Duration) {
        let b = self.b();
        if b.stall {
            std::future::pending::<()>().await;
        }
        let d = b.delay + extra;
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

impl ChainSource for MockPeer {
    fn id(&self) -> &str {
        &self.id
    }

    fn head(&self) -> (H256, U256) {
        let b = self.b();
        let (h, td) = self.chain.head();
        (b.head.unwrap_or(h), b.td.unwrap_or(td))
    }

    fn block_range(&self) -> Option<BlockRange> {
        self.b().range
    }

    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
        let live = Live::new(&self.counters);
        let nth = self.counters.header_requests.fetch_add(1, Ordering::SeqCst);
        self.counters.header_asks.lock().unwrap().push(request);
        let this = self.clone();
        async move {
            let _live = live;
            this.wait(Duration::ZERO).await;
            let out = this.serve_headers(&request);
            let b = this.b();
            if b.chaos && nth >= b.chaos_after {
                this.chaos_wait().await;
                return Ok(this.mangle(out, |h| h.extra_data = Bytes::from_static(b"mangled")));
            }
            Ok(out)
        }
    }

    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send {
        let live = Live::new(&self.counters);
        self.counters.body_requests.fetch_add(1, Ordering::SeqCst);
        self.counters
            .bodies_asked
            .lock()
            .unwrap()
            .extend(hashes.iter().copied());
        let this = self.clone();
        async move {
            let _live = live;
            let b = this.b();
            let slow = b
                .slow_block
                .is_none_or(|n| hashes.contains(&this.chain.headers[n as usize].hash()));
            this.wait(if slow { b.body_delay } else { Duration::ZERO })
                .await;
            Ok(this.serve_bodies(&hashes))
        }
    }

    fn receipts(
        &self,
        hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send {
        let live = Live::new(&self.counters);
        self.counters
            .receipt_requests
            .fetch_add(1, Ordering::SeqCst);
        self.counters
            .receipts_asked
            .lock()
            .unwrap()
            .extend(hashes.iter().copied());
        let this = self.clone();
        async move {
            let _live = live;
            this.wait(Duration::ZERO).await;
            let out = this.serve_receipts(&hashes);
            if this.b().chaos {
                this.chaos_wait().await;
                return Ok(this.mangle(out, |r| r.push(Receipt::default())));
            }
            Ok(out)
        }
    }
}

/// A downloader over a store holding `chain`'s genesis, with a drop log.
pub(crate) struct Tester {
    pub(crate) d: Downloader<MemoryStore>,
    pub(crate) dropped: Arc<Mutex<Vec<String>>>,
    pub(crate) peers: HashMap<String, MockPeer>,
}

impl Tester {
    pub(crate) fn new(chain: &Chain, config: Config) -> Self {
        Self::with_store(chain.genesis_store(), config)
    }

    pub(crate) fn with_store(store: MemoryStore, config: Config) -> Self {
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let log = dropped.clone();
        let d = Downloader::new(store, config)
            .with_drop_peer(move |id| log.lock().unwrap().push(id.to_owned()));
        Self {
            d,
            dropped,
            peers: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, peer: MockPeer) -> MockPeer {
        self.d.register_peer(Arc::new(peer.clone()));
        self.peers.insert(peer.id.clone(), peer.clone());
        peer
    }

    /// Syncs with `id` using its announced head, under a generous (paused-time) deadline, and checks that no
    /// request future of any peer outlives the sync.
    pub(crate) async fn sync(
        &self,
        id: &str,
        mode: SyncMode,
    ) -> Result<(), chain_downloader::Error> {
        let (head, td) = self.peers[id].head();
        self.sync_to(id, head, td, mode).await
    }

    pub(crate) async fn sync_to(
        &self,
        id: &str,
        head: H256,
        td: U256,
        mode: SyncMode,
    ) -> Result<(), chain_downloader::Error> {
        let r = tokio::time::timeout(
            Duration::from_secs(3600),
            self.d.synchronise(id, head, td, mode),
        )
        .await
        .expect("sync must end");
        for p in self.peers.values() {
            assert_eq!(
                p.counters.live.load(Ordering::SeqCst),
                0,
                "peer {} still has requests alive",
                p.id
            );
        }
        assert!(!self.d.is_syncing());
        r
    }

    /// Syncs to the trusted head `head` under a generous (paused-time) deadline, and checks that no request
    /// future of any peer outlives the sync.
    pub(crate) async fn sync_trusted(
        &self,
        head: H256,
        mode: SyncMode,
    ) -> Result<(), chain_downloader::Error> {
        let r = tokio::time::timeout(Duration::from_secs(3600), self.d.sync_trusted(head, mode))
            .await
            .expect("sync must end");
        for p in self.peers.values() {
            assert_eq!(
                p.counters.live.load(Ordering::SeqCst),
                0,
                "peer {} still has requests alive",
                p.id
            );
        }
        assert!(!self.d.is_syncing());
        r
    }

    pub(crate) fn dropped(&self) -> Vec<String> {
        self.dropped.lock().unwrap().clone()
    }

    pub(crate) fn head_number(&self) -> u64 {
        self.d.store().head_number().unwrap().unwrap()
    }
}

/// Checks that the store holds exactly `chain[..len]`, with bodies and receipts as the mode requires.
pub(crate) fn assert_own_chain(store: &impl ChainStore, chain: &Chain, len: u64, mode: SyncMode) {
    assert_eq!(store.head_number().unwrap(), Some(len - 1), "head");
    for n in 0..len {
        let h = store
            .header_by_number(n)
            .unwrap()
            .unwrap_or_else(|| panic!("header {n} missing"));
        assert_eq!(h.hash(), chain.headers[n as usize].hash(), "header {n}");
        if n == 0 {
            continue;
        }
        let body = store.body(&h.hash()).unwrap();
        let receipts = store.receipts(&h.hash()).unwrap();
        match mode {
            SyncMode::Light => assert!(
                body.is_none_or(|b| b.is_empty()),
                "light mode stored a body at {n}"
            ),
            _ => {
                let body = body.unwrap_or_else(|| panic!("body {n} missing"));
                assert_eq!(body, chain.bodies[n as usize], "body {n}");
            }
        }
        if mode == SyncMode::Fast {
            assert_eq!(
                receipts.unwrap_or_else(|| panic!("receipts {n} missing")),
                chain.receipts[n as usize]
            );
        }
    }
}

/// A small config for tests: fork ancestry 1000, a 1024-block cache.
pub(crate) fn test_config() -> Config {
    Config::default()
        .with_max_fork_ancestry(1000)
        .with_cache(1024, 64 << 20)
}

/// Whether a body is empty per its header commitments.
#[allow(dead_code)]
pub(crate) fn empty_header(h: &Header) -> bool {
    h.ommers_hash == EMPTY_OMMERS_HASH && h.has_empty_body()
}
