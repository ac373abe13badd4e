//! `cargo xtask bench rpc`: peerwire's JSON-RPC client beside jsonrpsee's and alloy's clients,
//! against the same in-process jsonrpsee server, in the same run.
//!
//! The server (jsonrpsee 0.26, HTTP and WebSocket on one loopback port, on its own runtime)
//! offers `fast` (returns `"lo"`), `big` (returns a 1 MiB string) and the subscription
//! `bench_subscribe [count, size]` (sends `count` notifications of a `size`-byte string, then
//! ends; `count = 0` means endless). Every client decodes results into `String`.
//!
//! Workloads (per client: peerwire over WebSocket and HTTP, jsonrpsee `WsClient` and
//! `HttpClient`, alloy's `RpcClient` over its WebSocket and reqwest transports):
//!
//! - `sequential`: 20 000 calls one after another (calls/s, p50, p99 latency);
//! - `concurrent`: 64 callers sharing one client, 500 calls each;
//! - `batch100`: batches of 100 calls (elements/s, p50 and p99 per batch);
//! - `1mib`: calls returning a 1 MiB string (MiB/s);
//! - `subscription`: one subscription receiving 200 000 notifications (WebSocket only).
//!
//! Each workload runs `ROUNDS` times alternating the clients; the best round of each client is
//! reported, with the ratio of peerwire's throughput to the best other client's on the same
//! transport, and of peerwire's p99 to the lowest other p99. The last section
//! runs a slow subscriber (one item per millisecond) against an endless stream and samples
//! the process RSS to show that memory stays bounded.
//!
//! `PEERWIRE_BENCH_SCALE` (a float, default 1) scales the iteration counts.

#![allow(clippy::print_stdout, missing_docs, unreachable_pub)]
// The counting allocator below needs `unsafe impl GlobalAlloc`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use jsonrpsee::server::{RpcModule, Server, ServerConfig, ServerHandle, SubscriptionMessage};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use rpc_client::{Client, ClientBuilder, OverflowPolicy, SubscriptionOptions};

use alloy_rpc_client::{RpcClient, WsConnect};

/// Default number of alternating rounds per workload (`PEERWIRE_BENCH_ROUNDS` overrides).
const ROUNDS: usize = 5;
const ONE_MIB: usize = 1 << 20;

/// Notifications buffered per subscription in the slow-subscriber run (jsonrpsee's default).
const SLOW_CAPACITY: usize = 1024;

/// Notifications buffered per subscription in the throughput runs, the same for both clients.
const SUB_CAPACITY: usize = 1 << 16;

fn rounds() -> usize {
    std::env::var("PEERWIRE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS)
        .max(1)
}

/// Whether workload `name` is selected by `PEERWIRE_BENCH_ONLY` (a comma-separated list; all
/// when unset).
fn selected(name: &str) -> bool {
    std::env::var("PEERWIRE_BENCH_ONLY")
        .map(|only| only.split(',').any(|w| w.trim() == name))
        .unwrap_or(true)
}

fn scale(n: usize) -> usize {
    let f: f64 = std::env::var("PEERWIRE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * f) as usize).max(1)
}

// ---------------------------------------------------------------------------------------------
// Allocation counting (client side only: threads of the server runtime are not counted).

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn count(size: usize) {
    if !SERVER_THREAD.try_with(Cell::get).unwrap_or(true) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Client-side allocations and allocated bytes per operation of `f`, run `n` times.
async fn allocs_per_op<F, Fut>(n: usize, f: F) -> (f64, f64)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    // Let background work of earlier runs settle.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let b0 = ALLOC_BYTES.load(Ordering::Relaxed);
    for _ in 0..n {
        f().await;
    }
    let a = ALLOCS.load(Ordering::Relaxed) - a0;
    let b = ALLOC_BYTES.load(Ordering::Relaxed) - b0;
    (a as f64 / n as f64, b as f64 / n as f64)
}

// ---------------------------------------------------------------------------------------------
// Server.

/// Subscription ids as 32-byte hex strings: alloy's pubsub accepts no other form (`B256`), and
/// peerwire and jsonrpsee take any.
#[derive(Debug, Default)]
struct HexIds(AtomicU64);

impl jsonrpsee::core::traits::IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        jsonrpsee::types::SubscriptionId::Str(format!("0x{n:064x}").into())
    }
}

fn start_server(rt: &tokio::runtime::Runtime) -> (std::net::SocketAddr, ServerHandle) {
    rt.block_on(async {
        let config = ServerConfig::builder()
            .max_response_body_size(64 << 20)
            .max_request_body_size(64 << 20)
            .max_connections(1000)
            .set_id_provider(HexIds::default())
            .build();
        let server = Server::builder()
            .set_config(config)
            .build("127.0.0.1:0")
            .await
            .expect("server bind");
        let addr = server.local_addr().expect("server addr");
        let big: Arc<String> = Arc::new("x".repeat(ONE_MIB));
        let mut module = RpcModule::new(big);
        module
            .register_method("fast", |_, _, _| "lo")
            .expect("register fast");
        module
            .register_method("big", |_, big, _| big.as_str().to_owned())
            .expect("register big");
        module
            .register_subscription(
                "bench_subscribe",
                "bench_subscription",
                "bench_unsubscribe",
                |params, pending, _, _| async move {
                    let (count, size): (u64, usize) = params.parse().unwrap_or((1, 8));
                    let Ok(sink) = pending.accept().await else {
                        return;
                    };
                    let payload =
                        serde_json::value::to_raw_value(&"n".repeat(size)).expect("payload");
                    let mut sent = 0u64;
                    while count == 0 || sent < count {
                        let msg = SubscriptionMessage::from(payload.clone());
                        if sink.send(msg).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                },
            )
            .expect("register subscription");
        let handle = server.start(module);
        (addr, handle)
    })
}

// ---------------------------------------------------------------------------------------------
// Clients.

#[derive(Clone)]
enum Peer {
    Ours(Client),
    JWs(Arc<WsClient>),
    JHttp(Arc<HttpClient>),
    /// alloy's client over its WebSocket transport.
    AWs(RpcClient),
    /// alloy's client over its reqwest transport.
    AHttp(RpcClient),
}

impl Peer {
    async fn fast(&self) -> String {
        match self {
            Self::Ours(c) => c.request("fast", ()).await.expect("ours fast"),
            Self::JWs(c) => c.request("fast", rpc_params![]).await.expect("ws fast"),
            Self::JHttp(c) => c.request("fast", rpc_params![]).await.expect("http fast"),
            Self::AWs(c) | Self::AHttp(c) => c.request_noparams("fast").await.expect("alloy fast"),
        }
    }

    async fn big(&self) -> String {
        match self {
            Self::Ours(c) => c.request("big", ()).await.expect("ours big"),
            Self::JWs(c) => c.request("big", rpc_params![]).await.expect("ws big"),
            Self::JHttp(c) => c.request("big", rpc_params![]).await.expect("http big"),
            Self::AWs(c) | Self::AHttp(c) => c.request_noparams("big").await.expect("alloy big"),
        }
    }

    async fn batch(&self, n: usize) -> usize {
        match self {
            Self::Ours(c) => {
                let mut b = c.batch();
                for _ in 0..n {
                    b.add("fast", ()).expect("add");
                }
                let r = b.send().await.expect("ours batch");
                (0..r.len())
                    .map(|i| r.decode::<String>(i).expect("ours item").len())
                    .sum()
            }
            Self::JWs(c) => jsonrpsee_batch(c.as_ref(), n).await,
            Self::JHttp(c) => jsonrpsee_batch(c.as_ref(), n).await,
            Self::AWs(c) | Self::AHttp(c) => alloy_batch(c, n).await,
        }
    }
}

async fn alloy_batch(c: &RpcClient, n: usize) -> usize {
    let mut b = c.new_batch();
    let waiters: Vec<_> = (0..n)
        .map(|_| b.add_call::<_, String>("fast", &()).expect("alloy add"))
        .collect();
    b.send().await.expect("alloy batch");
    let mut total = 0;
    for w in waiters {
        total += w.await.expect("alloy item").len();
    }
    total
}

async fn jsonrpsee_batch<C: ClientT>(c: &C, n: usize) -> usize {
    let mut b = BatchRequestBuilder::new();
    for _ in 0..n {
        b.insert("fast", rpc_params![]).expect("insert");
    }
    let r = c.batch_request::<String>(b).await.expect("jsonrpsee batch");
    r.into_ok().expect("all ok").map(|s| s.len()).sum()
}

struct Clients {
    ours_ws: Peer,
    ours_http: Peer,
    j_ws: Peer,
    j_http: Peer,
    a_ws: Peer,
    a_http: Peer,
}

async fn connect(addr: std::net::SocketAddr) -> Clients {
    let ws_url = format!("ws://{addr}");
    let http_url = format!("http://{addr}");
    let connector = rpc_ws::WsConnector::builder(ws_url.as_str())
        .build()
        .expect("ws connector");
    let ours_ws = ClientBuilder::new()
        .subscription_capacity(SUB_CAPACITY)
        .spawn_connect(connector)
        .await
        .expect("ours ws connect");
    let j_ws = WsClientBuilder::default()
        .max_response_size(64 << 20)
        .max_buffer_capacity_per_subscription(SUB_CAPACITY)
        .build(&ws_url)
        .await
        .expect("jsonrpsee ws connect");
    let j_http = HttpClientBuilder::default()
        .max_response_size(64 << 20)
        .build(&http_url)
        .expect("jsonrpsee http client");
    let a_ws = alloy_rpc_client::ClientBuilder::default()
        .ws(WsConnect::new(ws_url.as_str()))
        .await
        .expect("alloy ws connect");
    // The same notification buffer as the other clients (alloy's default is 16).
    a_ws.set_channel_size(SUB_CAPACITY);
    let a_http =
        alloy_rpc_client::ClientBuilder::default().http(http_url.parse().expect("http url"));
    Clients {
        ours_ws: Peer::Ours(ours_ws),
        ours_http: Peer::Ours(ours_http(&http_url)),
        j_ws: Peer::JWs(Arc::new(j_ws)),
        j_http: Peer::JHttp(Arc::new(j_http)),
        a_ws: Peer::AWs(a_ws),
        a_http: Peer::AHttp(a_http),
    }
}

/// peerwire's HTTP client (rpc-http).
fn ours_http(url: &str) -> Client {
    let transport = rpc_http::HttpTransport::new(url).expect("http transport");
    ClientBuilder::new().build_request(transport)
}

// ---------------------------------------------------------------------------------------------
// Measurement.

#[derive(Clone, Copy, Debug)]
struct Measure {
    /// Operations (calls, elements, MiB or notifications) per second.
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// Operations measured.
    ops: f64,
    /// Client-side CPU time per operation (set by [`compare`]; the least over the rounds).
    cpu_ns: f64,
}

/// CPU time so far of every thread of this process except the server runtime's, from
/// `/proc/self/task/*/schedstat` (nanoseconds on CPU); 0 where that file does not exist.
fn client_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "server" {
            continue;
        }
        total += std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0);
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn summarize(ops: f64, elapsed: Duration, mut lat: Vec<Duration>) -> Measure {
    lat.sort_unstable();
    Measure {
        rate: ops / elapsed.as_secs_f64(),
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        ops,
        cpu_ns: f64::INFINITY,
    }
}

async fn timed<F: Future>(f: F) -> (F::Output, Duration) {
    let t = Instant::now();
    let out = f.await;
    (out, t.elapsed())
}

async fn sequential(peer: &Peer, n: usize) -> Measure {
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let (s, d) = timed(peer.fast()).await;
        assert_eq!(s, "lo");
        lat.push(d);
    }
    summarize(n as f64, start.elapsed(), lat)
}

async fn concurrent(peer: &Peer, callers: usize, each: usize) -> Measure {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let peer = peer.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(each);
                for _ in 0..each {
                    let (s, d) = timed(peer.fast()).await;
                    assert_eq!(s, "lo");
                    lat.push(d);
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(callers * each);
    for t in tasks {
        lat.extend(t.await.expect("caller task"));
    }
    summarize((callers * each) as f64, start.elapsed(), lat)
}

async fn batches(peer: &Peer, size: usize, n: usize) -> Measure {
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let (total, d) = timed(peer.batch(size)).await;
        assert_eq!(total, 2 * size);
        lat.push(d);
    }
    summarize((n * size) as f64, start.elapsed(), lat)
}

async fn big(peer: &Peer, n: usize) -> Measure {
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let (s, d) = timed(peer.big()).await;
        assert_eq!(s.len(), ONE_MIB);
        lat.push(d);
    }
    summarize(n as f64, start.elapsed(), lat)
}

async fn subscription(peer: &Peer, n: usize) -> Measure {
    let start = Instant::now();
    let mut got = 0usize;
    match peer {
        Peer::Ours(c) => {
            let mut sub = c
                .subscribe::<String, _>("bench", (n, 8))
                .await
                .expect("ours subscribe");
            while got < n {
                let item = sub.next().await.expect("ours stream ended");
                assert_eq!(item.expect("ours item").len(), 8);
                got += 1;
            }
            sub.unsubscribe().await.expect("ours unsubscribe");
        }
        Peer::JWs(c) => {
            let mut sub = c
                .subscribe::<String, _>("bench_subscribe", rpc_params![n, 8], "bench_unsubscribe")
                .await
                .expect("jsonrpsee subscribe");
            while got < n {
                let item = sub.next().await.expect("jsonrpsee stream ended");
                assert_eq!(item.expect("jsonrpsee item").len(), 8);
                got += 1;
            }
            sub.unsubscribe().await.expect("jsonrpsee unsubscribe");
        }
        Peer::AWs(c) => {
            let mut call = c.request::<_, alloy_primitives::B256>("bench_subscribe", (n, 8));
            call.set_is_subscription();
            let id = call.await.expect("alloy subscribe");
            let mut sub = c.get_raw_subscription(id).await;
            let mut lost = 0;
            while got < n {
                match sub.recv().await {
                    Ok(item) => assert_eq!(item.get().len(), 10),
                    // alloy's broadcast channel drops the oldest items when the reader falls
                    // behind by more than its capacity; count them as lost, not received.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                        let k = usize::try_from(k).unwrap_or(usize::MAX);
                        lost += k;
                        got = got.saturating_add(k);
                        continue;
                    }
                    Err(e) => panic!("alloy subscription ended: {e}"),
                }
                got += 1;
            }
            if lost > 0 {
                println!("note: alloy's subscription lagged, {lost} of {n} notifications lost");
            }
        }
        Peer::JHttp(_) | Peer::AHttp(_) => unreachable!("no subscriptions over HTTP"),
    }
    summarize(n as f64, start.elapsed(), Vec::new())
}

async fn bare_ws_sequential(addr: std::net::SocketAddr, n: usize) -> Measure {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("bare tcp connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}"), tcp)
        .await
        .expect("bare ws handshake");
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let req = format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"fast","params":[]}}"#);
        ws.send(Message::text(req)).await.expect("bare send");
        loop {
            match ws.next().await.expect("bare stream").expect("bare frame") {
                Message::Text(t) => {
                    assert!(t.len() > 20);
                    break;
                }
                _ => continue,
            }
        }
        lat.push(t.elapsed());
    }
    summarize(n as f64, start.elapsed(), lat)
}

// ---------------------------------------------------------------------------------------------
// Slow subscriber and memory.

/// The floor of a sequential HTTP call through reqwest: the same POST body each time, the
/// answer's body read whole, no JSON-RPC work at all.
async fn bare_http_sequential(addr: std::net::SocketAddr, n: usize) -> Measure {
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client");
    let url = format!("http://{addr}");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"fast","params":[]}"#;
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r = client
            .post(url.as_str())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("bare post");
        assert!(r.bytes().await.expect("bare body").len() > 20);
        lat.push(t.elapsed());
    }
    summarize(n as f64, start.elapsed(), lat)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct SlowReport {
    received: u64,
    lagged: u64,
    end: String,
    before_kib: u64,
    peak_kib: u64,
    last_kib: u64,
}

/// Reads at most one notification per millisecond from an endless stream of 1 KiB notifications for
/// `secs` seconds, sampling RSS every 100 ms.
async fn slow_subscriber(peer: &Peer, secs: u64, policy: OverflowPolicy) -> SlowReport {
    let before_kib = rss_kib();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut report = SlowReport {
        received: 0,
        lagged: 0,
        end: "still running".to_owned(),
        before_kib,
        peak_kib: before_kib,
        last_kib: before_kib,
    };
    let mut last_sample = Instant::now();
    let mut sample = |report: &mut SlowReport| {
        if last_sample.elapsed() >= Duration::from_millis(100) {
            last_sample = Instant::now();
            let now = rss_kib();
            report.peak_kib = report.peak_kib.max(now);
            report.last_kib = now;
        }
    };
    match peer {
        Peer::Ours(c) => {
            let mut sub = c
                .subscribe_with::<String, _>(
                    "bench",
                    (0, 1024),
                    SubscriptionOptions::new()
                        .policy(policy)
                        .capacity(SLOW_CAPACITY),
                )
                .await
                .expect("ours slow subscribe");
            while Instant::now() < deadline {
                match sub.next().await {
                    Some(Ok(_)) => report.received += 1,
                    Some(Err(rpc_client::Error::Lagged(n))) => {
                        // A marker costs the reader nothing: no slow step after it.
                        report.lagged += n;
                        continue;
                    }
                    Some(Err(e)) => {
                        report.end = format!("ended: {e}");
                        break;
                    }
                    None => {
                        report.end = "ended".to_owned();
                        break;
                    }
                }
                sample(&mut report);
                // A slow consumer: this future runs on the bench's main thread (`block_on`),
                // the clients' tasks on the runtime's worker, so blocking here only slows the
                // reader.
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(sub);
        }
        Peer::JWs(c) => {
            let mut sub = c
                .subscribe::<String, _>(
                    "bench_subscribe",
                    rpc_params![0, 1024],
                    "bench_unsubscribe",
                )
                .await
                .expect("jsonrpsee slow subscribe");
            while Instant::now() < deadline {
                match sub.next().await {
                    Some(Ok(_)) => report.received += 1,
                    Some(Err(e)) => {
                        report.end = format!("ended: {e}");
                        break;
                    }
                    None => {
                        report.end = format!("ended: {:?}", sub.close_reason());
                        break;
                    }
                }
                sample(&mut report);
                // A slow consumer: this future runs on the bench's main thread (`block_on`),
                // the clients' tasks on the runtime's worker, so blocking here only slows the
                // reader.
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(sub);
        }
        Peer::JHttp(_) | Peer::AWs(_) | Peer::AHttp(_) => {
            unreachable!("the slow subscriber runs peerwire and jsonrpsee over WebSocket")
        }
    }
    report
}

// ---------------------------------------------------------------------------------------------
// Report.

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

thread_local! {
    static CPU_ROWS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Prints one table row: peerwire's measure beside jsonrpsee's and alloy's on the same
/// transport; the ratios compare peerwire with the best of the others (highest throughput,
/// lowest p99, least CPU).
fn row(workload: &str, transport: &str, unit: &str, ours: Measure, j: Measure, a: Option<Measure>) {
    let per = unit.split('/').next().unwrap_or(unit);
    let cpu = |m: &Measure| format!("{:.2} µs", m.cpu_ns / 1000.0);
    let others: Vec<Measure> = std::iter::once(j).chain(a).collect();
    let best_rate = others.iter().map(|m| m.rate).fold(0.0, f64::max);
    let best_p99 = others.iter().map(|m| m.p99).min().unwrap_or_default();
    let best_cpu = others
        .iter()
        .map(|m| m.cpu_ns)
        .fold(f64::INFINITY, f64::min);
    let a_cpu = a.as_ref().map_or_else(|| "-".to_owned(), cpu);
    CPU_ROWS.with(|r| {
        r.borrow_mut().push(format!(
            "| {workload} | {transport} | {per} | {} | {} | {a_cpu} | {:.2}x |",
            cpu(&ours),
            cpu(&j),
            best_cpu / ours.cpu_ns
        ));
    });
    let with_lat = j.p99 > Duration::ZERO;
    let lat = |m: &Measure| {
        if with_lat {
            format!("{:>9} {:>9}", fmt_dur(m.p50), fmt_dur(m.p99))
        } else {
            format!("{:>9} {:>9}", "-", "-")
        }
    };
    let p99_ratio = if with_lat {
        format!("{:>6.2}", ours.p99.as_secs_f64() / best_p99.as_secs_f64())
    } else {
        format!("{:>6}", "-")
    };
    let (a_rate, a_lat) = match &a {
        Some(m) => (format!("{:>12.0}", m.rate), lat(m)),
        None => (format!("{:>12}", "n/a"), format!("{:>9} {:>9}", "-", "-")),
    };
    println!(
        "| {workload:<12} | {transport:<4} | {unit:<10} | {:>12.0} | {} | {:>12.0} | {} | {a_rate} | {a_lat} | {:>6.2}x | {p99_ratio} |",
        ours.rate,
        lat(&ours),
        j.rate,
        lat(&j),
        ours.rate / best_rate,
    );
}

fn best(a: Option<Measure>, b: Measure) -> Measure {
    let cpu_ns = a.map_or(b.cpu_ns, |a| a.cpu_ns.min(b.cpu_ns));
    let mut m = match a {
        Some(a) if a.rate >= b.rate => a,
        _ => b,
    };
    m.cpu_ns = cpu_ns;
    m
}

/// Runs `f` for every client `ROUNDS` times, alternating, and keeps each client's best round.
async fn compare<F, Fut>(peers: &[&Peer], f: F) -> Vec<Measure>
where
    F: Fn(Peer) -> Fut,
    Fut: Future<Output = Measure>,
{
    let mut out: Vec<Option<Measure>> = vec![None; peers.len()];
    for _ in 0..rounds() {
        for (i, p) in peers.iter().enumerate() {
            let cpu0 = client_cpu_ns();
            let mut m = f((*p).clone()).await;
            m.cpu_ns = (client_cpu_ns() - cpu0) as f64 / m.ops;
            out[i] = Some(best(out[i], m));
        }
    }
    out.into_iter().map(|m| m.expect("measured")).collect()
}

fn main() {
    SERVER_THREAD.with(|s| s.set(false));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| SERVER_THREAD.with(|s| s.set(true)))
        .enable_all()
        .thread_name("server")
        .build()
        .expect("server runtime");
    let (addr, handle) = start_server(&server_rt);
    let client_threads = std::env::var("PEERWIRE_BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .enable_all()
        .thread_name("client")
        .build()
        .expect("client runtime");

    let seq_n = scale(20_000);
    let conc_each = scale(500);
    let batch_n = scale(500);
    let big_n = scale(100);
    let sub_n = scale(200_000);

    client_rt.block_on(async {
        let c = connect(addr).await;
        // Warm up every connection.
        for p in [&c.ours_ws, &c.j_ws, &c.a_ws, &c.ours_http, &c.j_http, &c.a_http] {
            for _ in 0..200 {
                p.fast().await;
            }
        }
        println!(
            "rpc client benchmark: peerwire rpc-client vs jsonrpsee 0.26 and alloy-rpc-client 2.5 (same jsonrpsee server, loopback)"
        );
        println!(
            "rounds per workload: {} (alternating, best kept); ratio = peerwire / best other throughput; p99 ratio = peerwire / lowest other p99 (lower is better)",
            rounds()
        );
        println!();
        println!(
            "| workload     | tr   | unit       |     peerwire |       p50       p99 |    jsonrpsee |       p50       p99 |        alloy |       p50       p99 |   ratio | p99 r. |"
        );
        println!(
            "|--------------|------|------------|--------------|---------------------|--------------|---------------------|--------------|---------------------|---------|--------|"
        );

        type Workload<'a> = (&'a str, &'a str, Box<dyn Fn(Peer) -> std::pin::Pin<Box<dyn Future<Output = Measure>>>>);
        let workloads: Vec<Workload<'_>> = vec![
            (
                "sequential",
                "calls/s",
                Box::new(move |p| Box::pin(async move { sequential(&p, seq_n).await })),
            ),
            (
                "concurrent64",
                "calls/s",
                Box::new(move |p| Box::pin(async move { concurrent(&p, 64, conc_each).await })),
            ),
            (
                "batch100",
                "elems/s",
                Box::new(move |p| Box::pin(async move { batches(&p, 100, batch_n).await })),
            ),
            (
                "1mib",
                "MiB/s",
                Box::new(move |p| Box::pin(async move { big(&p, big_n).await })),
            ),
        ];
        for (name, unit, f) in workloads.iter().filter(|w| selected(w.0)) {
            let ws = compare(&[&c.ours_ws, &c.j_ws, &c.a_ws], f).await;
            row(name, "ws", unit, ws[0], ws[1], Some(ws[2]));
            let http = compare(&[&c.ours_http, &c.j_http, &c.a_http], f).await;
            row(name, "http", unit, http[0], http[1], Some(http[2]));
        }
        if selected("sequential") {
            // The floor of a sequential WebSocket call: a bare tokio-tungstenite connection
            // driven by the calling task itself (no background task, no id map, no JSON parse
            // beyond a length check).
            let mut floor: Option<Measure> = None;
            let mut http_floor: Option<Measure> = None;
            for _ in 0..rounds() {
                let cpu0 = client_cpu_ns();
                let mut m = bare_ws_sequential(addr, seq_n).await;
                m.cpu_ns = (client_cpu_ns() - cpu0) as f64 / m.ops;
                floor = Some(best(floor, m));
                let cpu0 = client_cpu_ns();
                let mut m = bare_http_sequential(addr, seq_n).await;
                m.cpu_ns = (client_cpu_ns() - cpu0) as f64 / m.ops;
                http_floor = Some(best(http_floor, m));
            }
            for (what, f) in [
                ("bare tokio-tungstenite in the calling task", floor),
                ("bare reqwest POST, body read whole", http_floor),
            ] {
                if let Some(f) = f {
                    println!(
                        "floor ({what}, sequential): {:.0} calls/s, p50 {}, p99 {}, client CPU {:.2} µs per call",
                        f.rate,
                        fmt_dur(f.p50),
                        fmt_dur(f.p99),
                        f.cpu_ns / 1000.0
                    );
                }
            }
        }
        if selected("subscription") {
            let subs = compare(&[&c.ours_ws, &c.j_ws, &c.a_ws], |p| async move { subscription(&p, sub_n).await }).await;
            row("subscription", "ws", "notifs/s", subs[0], subs[1], Some(subs[2]));
        }
        println!();
        println!("client-side CPU time per operation (every thread but the server's, /proc schedstat; least over the rounds); ratio = least other / peerwire (higher is better)");
        println!("| workload | tr | per | peerwire | jsonrpsee | alloy | ratio |");
        println!("|---|---|---|---|---|---|---|");
        CPU_ROWS.with(|r| {
            for line in r.borrow().iter() {
                println!("{line}");
            }
        });
        // Profiling aid (not in the default run): only peerwire's HTTP calls, for a heap
        // profiler attached to this process.
        if std::env::var("PEERWIRE_BENCH_ONLY").is_ok_and(|v| v == "http-calls") {
            for _ in 0..seq_n {
                c.ours_http.fast().await;
            }
            return;
        }
        if selected("allocs") {
            println!();
            println!("client-side heap allocations per operation (server threads not counted)");
            println!("| operation | peerwire ws | jsonrpsee ws | peerwire http | jsonrpsee http |");
            println!("|---|---|---|---|---|");
            let cell = |(a, b): (f64, f64)| format!("{a:.1} ({b:.0} B)");
            let peers = [Some(&c.ours_ws), Some(&c.j_ws), Some(&c.ours_http), Some(&c.j_http)];
            let mut line = String::from("| call (`fast`) |");
            for p in peers {
                match p {
                    Some(p) => line += &format!(" {} |", cell(allocs_per_op(2000, || async { p.fast().await; }).await)),
                    None => line += " - |",
                }
            }
            println!("{line}");
            // The floor under rpc-http: a bare reqwest POST of the same body (same client
            // options), its body read whole; no JSON-RPC work at all.
            let bare = reqwest::Client::builder()
                .http1_only()
                .tcp_nodelay(true)
                .gzip(true)
                .build()
                .expect("reqwest client");
            let url = format!("http://{addr}");
            let body = r#"{"jsonrpc":"2.0","id":1,"method":"fast","params":[]}"#;
            let (a, b) = allocs_per_op(2000, || async {
                let r = bare
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("bare post");
                assert!(r.bytes().await.expect("bare body").len() > 10);
            })
            .await;
            println!("| bare reqwest POST (floor of rpc-http) | - | - | {} | - |", cell((a, b)));
            let mut line = String::from("| batch of 100 |");
            for p in peers {
                match p {
                    Some(p) => line += &format!(" {} |", cell(allocs_per_op(100, || async { p.batch(100).await; }).await)),
                    None => line += " - |",
                }
            }
            println!("{line}");
            let mut line = String::from("| notification (of 20 000) |");
            for p in [&c.ours_ws, &c.j_ws] {
                let (a, b) = allocs_per_op(1, || async { subscription(p, 20_000).await; }).await;
                line += &format!(" {} |", cell((a / 20_000.0, b / 20_000.0)));
            }
            println!("{line} - | - |");
        }
        if !selected("slow") {
            return;
        }

        println!();
        println!("slow subscriber: endless 1 KiB notifications, one read per ms, RSS sampled every 100 ms");
        println!("| client | policy | received | dropped (lagged) | end | RSS before | peak | last |");
        println!("|---|---|---|---|---|---|---|---|");
        let secs = (3.0 * std::env::var("PEERWIRE_BENCH_SCALE").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(1.0)).ceil().max(1.0) as u64;
        let j_slow = Peer::JWs(Arc::new(
            WsClientBuilder::default()
                .max_buffer_capacity_per_subscription(SLOW_CAPACITY)
                .build(format!("ws://{addr}"))
                .await
                .expect("jsonrpsee ws connect"),
        ));
        for (name, peer, policy) in [
            ("peerwire (capacity 1024)", &c.ours_ws, OverflowPolicy::DropOldest),
            ("peerwire (capacity 1024)", &c.ours_ws, OverflowPolicy::Close),
            ("jsonrpsee (capacity 1024)", &j_slow, OverflowPolicy::Close),
        ] {
            let r = slow_subscriber(peer, secs, policy).await;
            let policy = match (peer, policy) {
                (Peer::JWs(_), _) => "close (built in)",
                (_, OverflowPolicy::DropOldest) => "drop oldest",
                _ => "close",
            };
            println!(
                "| {name} | {policy} | {} | {} | {} | {} MiB | {} MiB | {} MiB |",
                r.received,
                r.lagged,
                r.end,
                r.before_kib / 1024,
                r.peak_kib / 1024,
                r.last_kib / 1024
            );
        }
    });
    let _ = handle.stop();
    drop(server_rt);
}
