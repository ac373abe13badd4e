//! discv5 benchmarks, each beside the secp256k1 floor measured in the same run:
//!
//! - `sign_verify_floor`: one ECDSA signature and one verification over a 32-byte digest (the
//!   cheapest possible work behind a discv5 handshake, which signs once and verifies once, plus
//!   ECDH).
//! - `record_to_candidate`: a discv5 record (with the `eth` entry) converted into a peerwire
//!   [`Candidate`](p2p_discovery::Candidate): base64 out, parse, signature check, endpoint.
//! - `lookup_random`: one iterative lookup towards a random id from one node of a converged
//!   loopback network of 16 peerwire discv5 nodes (sessions already established, so this is the
//!   steady state: FINDNODE/NODES round trips, no handshakes).
//!
//! After criterion, a plain loop of lookups prints lookups per second and the bytes every node
//! together sent per lookup (discv5's process-wide byte counter).
//!
//! Last, `convergence`: a fresh loopback network of 64 nodes (`PEERWIRE_BENCH_DISCV5_NODES`
//! overrides), all booting from the first, each running [`Discv5::run_lookups`] every second;
//! prints the time until every node knows at least 90 % of the others (from its table and the
//! candidates its subscription delivered), bytes sent per node, and CPU. With `PEERWIRE_GETH` set,
//! 4 geth nodes (discv5 only, booting from the first peerwire node) join the network first and
//! count among the nodes to know; the time until every peerwire node knows every geth node is
//! printed too.
//!
//! Run with `cargo bench -p p2p-discovery --bench discv5`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chain_types::ChainSpec;
use criterion::{Criterion, criterion_group, criterion_main};
use enr::NodeId;
use p2p_discovery::eth_entry::EthEntry;
use p2p_discovery::v5::{Discv5, Discv5Config, candidate_of};
use p2p_rlpx::NodeKey;
use peerwire_testkit::GethNode;
use secp256k1::{Message, PublicKey, SecretKey};

/// Nodes in the loopback network.
const NODES: usize = 16;

fn config(tcp: u16) -> Discv5Config {
    Discv5Config::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .tcp_port(tcp)
        .eth_entry(&EthEntry::new(ChainSpec::mainnet().fork_id_at(0, 0)))
        .request_timeout(Duration::from_millis(500))
}

/// Starts the network and runs lookups until every node has every other in its table.
async fn network() -> Vec<Discv5> {
    let boot = Discv5::bind(&NodeKey::generate(), config(30_303))
        .await
        .unwrap();
    let boot_enr = boot.local_enr().unwrap();
    let mut nodes = vec![boot];
    for i in 1..NODES {
        let tcp = 30_303 + u16::try_from(i).unwrap();
        let node = Discv5::bind(&NodeKey::generate(), config(tcp).bootnode(boot_enr.clone()))
            .await
            .unwrap();
        nodes.push(node);
    }
    for _round in 0..20 {
        for node in &nodes {
            let _ = node.lookup_random().await;
        }
        if nodes.iter().all(|n| n.table_entries().len() == NODES - 1) {
            return nodes;
        }
    }
    let sizes: Vec<usize> = nodes.iter().map(|n| n.table_entries().len()).collect();
    panic!("the network did not converge: table sizes {sizes:?}");
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("discv5");
    group.measurement_time(Duration::from_secs(5));

    let secret = SecretKey::from_secret_bytes([7; 32]).unwrap();
    let public = PublicKey::from_secret_key(&secret);
    let digest = Message::from_digest([42; 32]);
    group.bench_function("sign_verify_floor", |b| {
        b.iter(|| {
            let sig = secret.sign_ecdsa(black_box(digest));
            public.verify(black_box(digest), &sig).unwrap();
        });
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let nodes = runtime.block_on(network());
    let record = nodes[1].local_discv5_enr();
    group.bench_function("record_to_candidate", |b| {
        b.iter(|| candidate_of(black_box(&record)).unwrap());
    });

    let node = nodes[0].clone();
    group.sample_size(20);
    group.bench_function("lookup_random", |b| {
        b.to_async(&runtime).iter(|| async {
            let found = node.lookup_random().await.unwrap();
            assert!(!found.is_empty());
        });
    });
    group.finish();

    // Lookups per second and bytes per lookup, outside criterion.
    let lookups = 200u32;
    let before = discv5::Discv5::metrics().bytes_sent;
    let cpu_before = cpu_time();
    let start = Instant::now();
    runtime.block_on(async {
        for _ in 0..lookups {
            node.lookup_random().await.unwrap();
        }
    });
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let bytes = discv5::Discv5::metrics().bytes_sent.saturating_sub(before);
    println!(
        "discv5 lookups on {NODES} loopback nodes: {lookups} in {elapsed:.2?} = {:.0} lookups/s, \
         {} bytes sent network-wide per lookup, {:.2?} CPU (all nodes) per lookup",
        f64::from(lookups) / elapsed.as_secs_f64(),
        bytes / lookups as usize,
        cpu / lookups
    );
    for node in &nodes {
        node.shutdown();
    }
    drop(nodes);
    runtime.block_on(convergence());
}

/// The `convergence` measurement (see the module docs).
async fn convergence() {
    let n: usize = std::env::var("PEERWIRE_BENCH_DISCV5_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let boot = Discv5::bind(&NodeKey::generate(), config(40_000))
        .await
        .unwrap();
    let boot_enr = boot.local_enr().unwrap();
    let mut nodes = vec![boot];
    for i in 1..n {
        let tcp = 40_000 + u16::try_from(i).unwrap();
        let config = config(tcp).bootnode(boot_enr.clone());
        nodes.push(Discv5::bind(&NodeKey::generate(), config).await.unwrap());
    }
    let mut ids: Vec<NodeId> = nodes.iter().map(Discv5::node_id).collect();
    let geths = match std::env::var_os("PEERWIRE_GETH") {
        Some(geth) => start_geths(std::path::Path::new(&geth), &nodes[0].local_enr_text(), 4).await,
        None => Vec::new(),
    };
    let geth_ids: Vec<NodeId> = geths.iter().map(|(_, id)| *id).collect();
    ids.extend(&geth_ids);
    let total = ids.len();
    let seen: Vec<Arc<Mutex<HashSet<NodeId>>>> = (0..n)
        .map(|_| Arc::new(Mutex::new(HashSet::new())))
        .collect();
    let bytes_before = discv5::Discv5::metrics().bytes_sent;
    let cpu_before = cpu_time();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (node, seen) in nodes.iter().zip(&seen) {
        let mut events = node.subscribe();
        let seen = Arc::clone(seen);
        tasks.push(tokio::spawn(async move {
            while let Some(candidate) = events.recv().await {
                if let Some(record) = candidate.enr {
                    seen.lock().unwrap().insert(record.node_id());
                }
            }
        }));
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            node.run_lookups(Duration::from_secs(1)).await;
        }));
    }
    let want = ((total - 1) * 9).div_ceil(10);
    let mut gethes_known = None;
    let deadline = Duration::from_secs(180);
    let mut done = None;
    while start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let known: Vec<HashSet<NodeId>> = nodes
            .iter()
            .zip(&seen)
            .map(|(node, seen)| {
                let mut known = seen.lock().unwrap().clone();
                known.extend(node.table_entries().iter().map(enr::Enr::node_id));
                known.remove(&node.node_id());
                known
            })
            .collect();
        if gethes_known.is_none() && known.iter().all(|k| geth_ids.iter().all(|g| k.contains(g))) {
            gethes_known = Some(start.elapsed());
        }
        let ready = known
            .iter()
            .all(|k| k.iter().filter(|id| ids.contains(id)).count() >= want);
        if ready {
            done = Some(start.elapsed());
            break;
        }
    }
    let elapsed = start.elapsed();
    let bytes = discv5::Discv5::metrics()
        .bytes_sent
        .saturating_sub(bytes_before);
    let cpu = cpu_time().saturating_sub(cpu_before);
    let lookups: u64 = nodes.iter().map(|node| node.stats().lookups).sum();
    match done {
        Some(t) => println!(
            "discv5 convergence, {n} peerwire + {} geth loopback nodes: every peerwire node knows >= {want} of the other {} after {t:.2?}",
            geth_ids.len(),
            total - 1
        ),
        None => println!("discv5 convergence, {n} loopback nodes: not reached in {deadline:?}"),
    }
    println!(
        "  until then: {lookups} lookups, {} bytes sent per node, {:.2?} CPU (all nodes) in {elapsed:.2?}",
        bytes / n,
        cpu
    );
    if !geth_ids.is_empty() {
        match gethes_known {
            Some(t) => println!(
                "  every peerwire node knew all {} geth nodes after {t:.2?}",
                geth_ids.len()
            ),
            None => println!("  some peerwire node never learnt of every geth node"),
        }
    }
    for node in &nodes {
        node.shutdown();
    }
    for task in tasks {
        let _ = task.await;
    }
    // Dropping the nodes kills the geths and removes their directories.
    drop(geths);
}

/// Starts `count` geth nodes (discv5 only, on 127.0.0.1) booting from `bootnode`; each with its
/// discv5 node id, read from `admin_nodeInfo`.
async fn start_geths(
    geth: &std::path::Path,
    bootnode: &str,
    count: usize,
) -> Vec<(GethNode, NodeId)> {
    let mut geths = Vec::new();
    for _ in 0..count {
        let node = GethNode::builder()
            .binary(geth)
            .discv5(true)
            .nat("extip:127.0.0.1")
            .bootnode(bootnode)
            .start()
            .await;
        let id = p2p_discovery::v5::parse_enr(node.enr()).unwrap().node_id();
        geths.push((node, id));
    }
    geths
}

/// This process's user plus system CPU time (Linux `/proc/self/stat`, 100 ticks per second);
/// zero elsewhere.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

criterion_group!(group, benches);
criterion_main!(group);
