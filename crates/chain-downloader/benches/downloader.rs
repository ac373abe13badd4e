//! Downloader benchmarks (a `harness = false` binary that prints its figures).
//!
//! Scenarios, each run in a fresh child process so that peak memory is its own:
//! - `floor`: RLP-decode and hash the same pre-encoded headers with no sync logic (the baseline);
//! - `light-mem N` / `light-redb N`: light sync of N headers from 4 in-process peers into `MemoryStore` /
//!   `RedbStore`, at N = 100 000 and 1 000 000;
//! - `full-mem N`: full sync of N blocks with bodies (transactions, ommers) from 4 peers into `MemoryStore`;
//! - `light-rev N` / `full-rev N`: the same light and full syncs into `MemoryStore`, but as the trusted-head sync
//!   (`sync_trusted`: headers in reverse from the 4 peers into the staging area, then forward import), beside
//!   the forward `synchronise` of the same chain; `light-redb-rev N` is the same into `RedbStore` beside
//!   `light-redb N`; the `vs fwd` column is the reverse rate over the forward one of the same run.
//!
//! The in-process peers serve data encoded ahead of time (RLP, as it would arrive off the wire) and decode it when
//! a request's future runs, so every header the downloader receives is decoded and hashed exactly as in the
//! floor. Peak memory is `VmHWM` after resetting it (`/proc/self/clear_refs`) once the sources are built: it is
//! what the sync adds on top of the sources' own data.
//!
//! `cargo bench -p chain-downloader` runs everything, each scenario 3 times (best rate kept, largest peak
//! reported); `-- quick` divides the sizes by 10 and runs once; `-- --scenario NAME N`
//! runs one scenario in this process. Other arguments filter the plan: a scenario runs if `name/N` contains one
//! of them (`cargo bench -p chain-downloader --bench downloader -- light-mem/100000 light-rev full`).

#![allow(clippy::print_stdout)]

use std::{
    future::Future,
    io::Read,
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use chain_downloader::{Config, Downloader, SyncMode};
use chain_types::{
    BlockEntry, BlockHashOrNumber, Body, ChainSource, ChainStore, Error, H256, Header,
    HeadersRequest, MemoryStore, Receipt, RedbStore, U256,
    generator::{self, CompactChain, GeneratorOptions},
};

/// Encoded chain data shared by the in-process peers.
struct Encoded {
    /// Headers `0..=n`, RLP, back to back.
    headers: Bytes,
    /// Offsets of header `i` in `headers` (`n + 2` entries).
    offsets: Vec<u32>,
    /// Encoded bodies, back to back (empty when the chain has none).
    bodies: Bytes,
    /// Offsets of body `i` in `bodies`.
    body_offsets: Vec<u32>,
    /// Block number by hash.
    numbers: std::collections::HashMap<H256, u64>,
    head: (H256, U256),
}

/// Reads the first `count` little-endian `u32`s of a file.
fn read_u32s(path: &Path, count: usize) -> Vec<u32> {
    let mut raw = vec![0u8; count * 4];
    std::fs::File::open(path)
        .expect("open")
        .read_exact(&mut raw)
        .expect("read");
    raw.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Reads the first `len` bytes of a file.
fn read_prefix(path: &Path, len: usize) -> Bytes {
    let mut raw = vec![0u8; len];
    std::fs::File::open(path)
        .expect("open")
        .read_exact(&mut raw)
        .expect("read");
    Bytes::from(raw)
}

fn write_u32s(path: &Path, values: &[u32]) {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, raw).expect("write");
}

impl Encoded {
    fn header_bytes(&self, n: u64) -> Option<Bytes> {
        let i = usize::try_from(n).ok()?;
        let start = *self.offsets.get(i)? as usize;
        let end = *self.offsets.get(i + 1)? as usize;
        Some(self.headers.slice(start..end))
    }

    fn body_bytes(&self, n: u64) -> Option<Bytes> {
        let i = usize::try_from(n).ok()?;
        let start = *self.body_offsets.get(i)? as usize;
        let end = *self.body_offsets.get(i + 1)? as usize;
        Some(self.bodies.slice(start..end))
    }

    /// Generates a chain of `len` blocks on top of genesis (headers only, or with bodies) and writes it encoded
    /// into `dir`; returns the total difficulty of every block.
    fn generate(dir: &Path, len: u64, with_bodies: bool) -> Vec<U256> {
        let mut headers = Vec::new();
        let mut offsets = Vec::new();
        let mut hashes = Vec::new();
        let mut bodies = Vec::new();
        let mut body_offsets = Vec::new();
        let mut tds = Vec::new();
        let mut push_header = |h: &chain_types::SealedHeader, td: U256| {
            offsets.push(u32::try_from(headers.len()).expect("fits"));
            headers.extend_from_slice(&rlp::encode(h.header()));
            hashes.extend_from_slice(h.hash().as_bytes());
            tds.push(td);
        };
        if with_bodies {
            let chain = generator::Chain::generate(len, &GeneratorOptions::seeded(7));
            for b in chain.blocks() {
                push_header(&b.header, chain.td(b.number()).expect("td"));
                body_offsets.push(u32::try_from(bodies.len()).expect("fits"));
                bodies.extend_from_slice(&rlp::encode(&b.body));
            }
        } else {
            let chain = CompactChain::generate(len, &GeneratorOptions::light(7));
            for n in 0..=len {
                push_header(
                    &chain.header(n).expect("generated"),
                    chain.td(n).expect("td"),
                );
            }
        }
        offsets.push(u32::try_from(headers.len()).expect("fits"));
        body_offsets.push(u32::try_from(bodies.len()).expect("fits"));
        std::fs::write(dir.join("headers.bin"), &headers).expect("write");
        std::fs::write(dir.join("hashes.bin"), &hashes).expect("write");
        std::fs::write(dir.join("bodies.bin"), &bodies).expect("write");
        write_u32s(&dir.join("offsets.bin"), &offsets);
        write_u32s(&dir.join("body_offsets.bin"), &body_offsets);
        tds
    }

    /// Loads blocks `0..=n` from `dir` (exact allocations, so that the process holds no freed garbage that the
    /// sync could reuse unseen), announcing head `n` with total difficulty `td`.
    fn load(dir: &Path, n: u64, td: U256) -> Self {
        let count = usize::try_from(n).expect("fits") + 1;
        let offsets = read_u32s(&dir.join("offsets.bin"), count + 1);
        let headers = read_prefix(&dir.join("headers.bin"), offsets[count] as usize);
        let body_len = std::fs::metadata(dir.join("bodies.bin"))
            .map(|m| m.len())
            .unwrap_or(0);
        let (bodies, body_offsets) = if body_len == 0 {
            (Bytes::new(), Vec::new())
        } else {
            let o = read_u32s(&dir.join("body_offsets.bin"), count + 1);
            (read_prefix(&dir.join("bodies.bin"), o[count] as usize), o)
        };
        let hashes = read_prefix(&dir.join("hashes.bin"), count * 32);
        let mut numbers = std::collections::HashMap::with_capacity(count);
        for (i, h) in hashes.chunks_exact(32).enumerate() {
            numbers.insert(H256::from_slice(h), i as u64);
        }
        let head = H256::from_slice(&hashes[(count - 1) * 32..]);
        Self {
            headers,
            offsets,
            bodies,
            body_offsets,
            numbers,
            head: (head, td),
        }
    }

    fn genesis_entry(&self) -> BlockEntry {
        let h: Header = rlp::decode(&self.header_bytes(0).expect("genesis")).expect("valid");
        BlockEntry::header_only(h.seal())
    }
}

/// An in-process peer: serves slices of the encoded data, decoded when the request future runs.
struct Source {
    id: String,
    data: Arc<Encoded>,
}

impl ChainSource for Source {
    fn id(&self) -> &str {
        &self.id
    }

    fn head(&self) -> (H256, U256) {
        self.data.head
    }

    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
        // Server side: pick the encoded headers (no work beyond slicing).
        let origin = match request.origin {
            BlockHashOrNumber::Number(n) => Some(n),
            BlockHashOrNumber::Hash(h) => self.data.numbers.get(&h).copied(),
        };
        let raw: Vec<Bytes> = origin
            .map(|o| {
                request
                    .block_numbers(o, 1024)
                    .map_while(|n| self.data.header_bytes(n))
                    .collect()
            })
            .unwrap_or_default();
        // Client side: decode what arrived.
        async move { raw.iter().map(|b| Header::decode_exact(b)).collect() }
    }

    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send {
        let raw: Vec<Bytes> = hashes
            .iter()
            .filter_map(|h| self.data.numbers.get(h))
            .filter_map(|&n| self.data.body_bytes(n))
            .take(1024)
            .collect();
        async move {
            raw.iter()
                .map(|b| rlp::decode::<Body>(b).map_err(Error::from))
                .collect()
        }
    }

    fn receipts(
        &self,
        _hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send {
        std::future::ready(Ok(Vec::new()))
    }
}

/// A line of `/proc/self/status`, in KiB.
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak-RSS counter (Linux ≥ 4.0); returns whether it worked.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Decodes and hashes headers `1..=n` (decoding and checking non-empty bodies when the chain has them) and, if
/// `store` is given, inserts them in batches of [`import_batch`] blocks (no sync logic).
fn floor(data: &Encoded, n: u64, store: Option<&dyn ChainStore>) -> f64 {
    let start = Instant::now();
    let size = import_batch();
    let mut batch = Vec::with_capacity(size);
    let mut acc = 0u8;
    for i in 1..=n {
        let h = Header::decode_exact(&data.header_bytes(i).expect("present"))
            .expect("valid")
            .seal();
        acc ^= h.hash()[0];
        if !data.bodies.is_empty() && !h.has_empty_body() {
            // Full chains: decode the body and check it against the header, as a full sync must.
            let body: Body = rlp::decode(&data.body_bytes(i).expect("present")).expect("valid");
            body.check_against(&h).expect("matches");
        }
        if let Some(store) = store {
            batch.push(BlockEntry::header_only(h));
            if batch.len() == size || i == n {
                store
                    .insert_batch(std::mem::take(&mut batch))
                    .expect("insert");
            }
        }
    }
    std::hint::black_box(acc);
    start.elapsed().as_secs_f64()
}

/// Blocks per store batch: `DL_BENCH_BATCH` or the downloader's default.
fn import_batch() -> usize {
    std::env::var("DL_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(Config::default().import_batch)
}

/// Runs one scenario in this process and prints its `RESULT` line.
fn run_scenario(name: &str, n: u64, dir: &Path, td: U256) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let data = Arc::new(Encoded::load(dir, n, td));
    let db = tempfile::tempdir().expect("tempdir");
    let rss_base = status_kib("VmRSS:");
    let reset = reset_peak();
    let (secs, stats) = match name {
        "floor" => (floor(&data, n, None), None),
        "floor-mem" | "floor-redb" => {
            let store: Box<dyn ChainStore> = if name == "floor-mem" {
                Box::new(MemoryStore::new())
            } else {
                Box::new(RedbStore::open(db.path().join("bench.redb")).expect("open"))
            };
            store
                .insert_batch(vec![data.genesis_entry()])
                .expect("genesis");
            let secs = floor(&data, n, Some(store.as_ref()));
            assert_eq!(store.head_number().expect("store"), Some(n));
            (secs, None)
        }
        _ => {
            let mode = if name.starts_with("full") {
                SyncMode::Full
            } else {
                SyncMode::Light
            };
            let trusted = name.ends_with("-rev");
            let config = Config::default().with_import_batch(import_batch());
            let (secs, stats, head) = if name.starts_with("light-redb") {
                let store = RedbStore::open(db.path().join("bench.redb")).expect("open");
                store
                    .insert_batch(vec![data.genesis_entry()])
                    .expect("genesis");
                sync(&rt, Downloader::new(store, config), &data, mode, trusted)
            } else {
                let store = MemoryStore::new();
                store
                    .insert_batch(vec![data.genesis_entry()])
                    .expect("genesis");
                sync(&rt, Downloader::new(store, config), &data, mode, trusted)
            };
            assert_eq!(head, n, "synced to the head");
            (secs, Some(stats))
        }
    };
    let peak = status_kib("VmHWM:");
    let stats = stats.unwrap_or_default();
    println!(
        "RESULT name={name} n={n} secs={secs:.3} rate={:.0} rss_base_kib={rss_base} peak_kib={peak} \
         peak_reset={reset} cache_peak_items={} cache_peak_bytes={} requests={:?} batches={} staged={} \
         peak_unlinked={}",
        n as f64 / secs,
        stats.peak_cached_items,
        stats.peak_cached_bytes,
        stats.requests,
        stats.batches,
        stats.staged,
        stats.peak_unlinked_headers,
    );
}

fn sync<S: ChainStore>(
    rt: &tokio::runtime::Runtime,
    d: Downloader<S>,
    data: &Arc<Encoded>,
    mode: SyncMode,
    trusted: bool,
) -> (f64, chain_downloader::SyncStats, u64) {
    for i in 0..4 {
        d.register_peer(Arc::new(Source {
            id: format!("peer{i}"),
            data: data.clone(),
        }));
    }
    let (head, td) = data.head;
    let start = Instant::now();
    rt.block_on(async {
        let run = async {
            if trusted {
                d.sync_trusted(head, mode).await
            } else {
                d.synchronise("peer0", head, td, mode).await
            }
        };
        tokio::time::timeout(Duration::from_secs(3600), run)
            .await
            .expect("no timeout")
            .expect("sync succeeds");
    });
    let secs = start.elapsed().as_secs_f64();
    let head = d.store().head_number().expect("store").expect("head");
    (secs, d.stats(), head)
}

/// Parses `key=value` fields of a RESULT line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or("?")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let arg = |k: usize| args.get(i + k).expect("scenario arguments");
        let n = arg(2).parse().expect("size");
        let td = U256::from_dec_str(arg(4)).expect("td");
        run_scenario(arg(1), n, Path::new(arg(3)), td);
        return;
    }
    let quick = args.iter().any(|a| a == "quick");
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--") && *a != "quick")
        .collect();
    let scale = if quick { 10 } else { 1 };
    let reps = if quick { 1 } else { 3 };
    let exe = std::env::current_exe().expect("own path");
    let (big, small) = (1_000_000 / scale, 100_000 / scale);
    // Each reverse scenario runs right after the forward one it is compared with.
    let plan: [(&str, u64, bool); 15] = [
        ("floor", big, false),
        ("floor-mem", small, false),
        ("floor-mem", big, false),
        ("floor-redb", small, false),
        ("floor-redb", big, false),
        ("light-mem", small, false),
        ("light-rev", small, false),
        ("light-mem", big, false),
        ("light-rev", big, false),
        ("light-redb", small, false),
        ("light-redb-rev", small, false),
        ("light-redb", big, false),
        ("floor", small, true),
        ("full-mem", small, true),
        ("full-rev", small, true),
    ];
    let plan: Vec<(&str, u64, bool)> = plan
        .into_iter()
        .filter(|(name, n, _)| {
            let key = format!("{name}/{n}");
            filters.is_empty() || filters.iter().any(|f| key.contains(f.as_str()))
        })
        .collect();
    // Generate only as much as the plan needs.
    let big = plan.iter().filter(|p| !p.2).map(|p| p.1).max().unwrap_or(1);
    let small = plan.iter().filter(|p| p.2).map(|p| p.1).max().unwrap_or(1);
    let light_dir = tempfile::tempdir().expect("tempdir");
    let full_dir = tempfile::tempdir().expect("tempdir");
    let generated = Instant::now();
    let light_tds = Encoded::generate(light_dir.path(), big, false);
    let full_tds = Encoded::generate(full_dir.path(), small, true);
    println!(
        "generated {big} headers and {small} full blocks in {:.1} s",
        generated.elapsed().as_secs_f64()
    );
    let mut floors = std::collections::HashMap::new();
    println!(
        "{:<14} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9} {:>8}",
        "scenario",
        "n",
        "secs",
        "items/s",
        "vs floor",
        "vs store",
        "base MiB",
        "peak Δ MiB",
        "cache MiB",
        "vs fwd"
    );
    let mut forward = std::collections::HashMap::new();
    for (name, n, full) in plan {
        let (dir, tds) = if full {
            (&full_dir, &full_tds)
        } else {
            (&light_dir, &light_tds)
        };
        let td = tds[usize::try_from(n).expect("fits")].to_string();
        let dir = dir.path().to_str().expect("utf-8 path");
        // Best of `reps` runs (the machine is shared); the peak memory reported is the largest of them.
        let mut best: Option<String> = None;
        let mut worst_peak = 0.0f64;
        for _ in 0..reps {
            let out = Command::new(&exe)
                .args(["--scenario", name, &n.to_string(), dir, &td])
                .output()
                .expect("child runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT")) else {
                println!(
                    "{name} {n}: failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                continue;
            };
            let delta = field(line, "peak_kib").parse::<f64>().unwrap_or(0.0)
                - field(line, "rss_base_kib").parse::<f64>().unwrap_or(0.0);
            worst_peak = worst_peak.max(delta);
            let rate = |l: &str| field(l, "rate").parse::<f64>().unwrap_or(0.0);
            if best.as_deref().is_none_or(|b| rate(line) > rate(b)) {
                best = Some(line.to_owned());
            }
        }
        let Some(line) = best else { continue };
        let line = line.as_str();
        let rate: f64 = field(line, "rate").parse().unwrap_or(0.0);
        if !name.starts_with("floor") && !name.ends_with("-rev") {
            forward.insert((name, n), rate);
        }
        let vs_forward = if let Some(base) = name.strip_suffix("-rev") {
            // `light-rev` and `full-rev` go into `MemoryStore`, `light-redb-rev` into `RedbStore`.
            let fwd = if base == "light-redb" {
                base.to_owned()
            } else {
                format!("{base}-mem")
            };
            forward
                .get(&(fwd.as_str(), n))
                .map_or_else(|| "-".to_owned(), |f| format!("{:.1}%", rate / f * 100.0))
        } else {
            "-".to_owned()
        };
        if name.starts_with("floor") {
            floors.insert((name, full, if name == "floor" { 0 } else { n }), rate);
        }
        let ratio = |base: &str| {
            let key = (base, full, if base == "floor" { 0 } else { n });
            floors
                .get(&key)
                .map_or_else(|| "-".to_owned(), |f| format!("{:.1}%", rate / f * 100.0))
        };
        let store_base = match name {
            "light-mem" => ratio("floor-mem"),
            "light-redb" | "light-redb-rev" => ratio("floor-redb"),
            "light-rev" => ratio("floor-mem"),
            _ => "-".to_owned(),
        };
        let kib = |k: &str| field(line, k).parse::<f64>().unwrap_or(0.0) / 1024.0;
        let base = kib("rss_base_kib");
        let delta = if field(line, "peak_reset") == "true" {
            worst_peak / 1024.0
        } else {
            f64::NAN
        };
        let cache = field(line, "cache_peak_bytes")
            .parse::<f64>()
            .unwrap_or(0.0)
            / (1024.0 * 1024.0);
        println!(
            "{name:<14} {n:>8} {:>7} {rate:>9.0} {:>9} {store_base:>9} {base:>9.1} {delta:>11.1} {cache:>9.1} \
             {vs_forward:>8}",
            field(line, "secs"),
            ratio("floor"),
        );
    }
}
