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
//! Run with `cargo bench -p p2p-discovery --bench discv5`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use chain_types::ChainSpec;
use criterion::{Criterion, criterion_group, criterion_main};
use p2p_discovery::eth_entry::EthEntry;
use p2p_discovery::v5::{Discv5, Discv5Config, candidate_of};
use p2p_rlpx::NodeKey;
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
