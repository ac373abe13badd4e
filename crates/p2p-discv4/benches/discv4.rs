//! discv4 benchmarks, each beside its floor measured in the same run:
//!
//! - `packet`: `encode_sign` (a Ping built, RLP-encoded, hashed and signed) and
//!   `decode_verify` (hash checked, key recovered, body decoded) beside the secp256k1 floor:
//!   `floor_sign` (one recoverable signature of a digest, with extra nonce data as the crate
//!   signs) and `floor_recover` (one public key recovery). Also a full 12-node Neighbors.
//! - `lookup`: lookups of random targets per second on loopback networks of N peerwire nodes
//!   that already know each other (one lookup = several FindNode round trips).
//!
//! Run with `cargo bench -p p2p-discv4`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]
// A failed setup step should stop the benchmark loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p2p_discv4::packet::{self, Endpoint, Message, Neighbor, Neighbors, Ping};
use p2p_discv4::{Discv4, Discv4Config, Timeouts};
use p2p_rlpx::NodeKey;
use secp256k1::Message as Digest32;
use secp256k1::ecdsa::RecoverableSignature;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn ping() -> Message {
    let e = Endpoint {
        ip: "127.0.0.1".parse().unwrap(),
        udp_port: 30303,
        tcp_port: 30303,
    };
    Message::Ping(Ping {
        version: 4,
        from: e,
        to: e,
        expiration: packet::expiration_from_now(),
        enr_seq: Some(1),
    })
}

fn neighbors() -> Message {
    Message::Neighbors(Neighbors {
        nodes: (0..12)
            .map(|i| Neighbor {
                endpoint: Endpoint {
                    ip: "10.0.0.1".parse().unwrap(),
                    udp_port: 30303 + i,
                    tcp_port: 30303 + i,
                },
                id: NodeKey::generate().id(),
            })
            .collect(),
        expiration: packet::expiration_from_now(),
    })
}

fn packets(c: &mut Criterion) {
    let key = NodeKey::generate();
    let mut g = c.benchmark_group("packet");
    g.throughput(Throughput::Elements(1));
    let digest = [7u8; 32];
    let nonce = [9u8; 32];
    g.bench_function("floor_sign", |b| {
        b.iter(|| {
            RecoverableSignature::sign_ecdsa_recoverable_with_noncedata(
                Digest32::from_digest(black_box(digest)),
                key.secret_key(),
                &nonce,
            )
        });
    });
    let sig = RecoverableSignature::sign_ecdsa_recoverable(
        Digest32::from_digest(digest),
        key.secret_key(),
    );
    g.bench_function("floor_recover", |b| {
        b.iter(|| {
            black_box(&sig)
                .recover_ecdsa(Digest32::from_digest(digest))
                .unwrap()
        });
    });
    for (name, message) in [("ping", ping()), ("neighbors12", neighbors())] {
        g.bench_function(BenchmarkId::new("encode_sign", name), |b| {
            b.iter(|| packet::encode(black_box(&message), key.secret_key()));
        });
        let (bytes, _) = packet::encode(&message, key.secret_key());
        g.bench_function(BenchmarkId::new("decode_verify", name), |b| {
            b.iter(|| packet::decode(black_box(&bytes)).unwrap());
        });
    }
    g.finish();
}

/// N nodes bootstrapped from the first, each having looked up its own id twice.
async fn network(n: usize) -> Vec<Discv4> {
    let timeouts = Timeouts {
        refresh_interval: Duration::from_secs(3600),
        revalidate_interval: Duration::from_secs(3600),
        ..Timeouts::default()
    };
    let config = Discv4Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        timeouts,
        ..Discv4Config::default()
    };
    let boot = Discv4::bind(&NodeKey::generate(), config.clone())
        .await
        .unwrap();
    let mut nodes = vec![boot.clone()];
    for _ in 1..n {
        let cfg = Discv4Config {
            bootnodes: vec![boot.local_enode()],
            ..config.clone()
        };
        nodes.push(Discv4::bind(&NodeKey::generate(), cfg).await.unwrap());
    }
    for _ in 0..2 {
        for node in &nodes {
            node.lookup(node.local_enode().id).await.unwrap();
        }
    }
    nodes
}

fn lookups(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    for n in [16usize, 64] {
        let nodes = rt.block_on(network(n));
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("random_target", n), |b| {
            b.to_async(&rt).iter(|| {
                i = i.wrapping_add(1);
                let node = nodes[i % nodes.len()].clone();
                async move { node.lookup_random().await.unwrap() }
            });
        });
        let known: usize = rt.block_on(async {
            let mut sum = 0;
            for node in &nodes {
                sum += node.table_nodes().await.len();
            }
            sum
        });
        eprintln!(
            "lookup/{n}: mean table size {:.1} of {}",
            known as f64 / n as f64,
            n - 1
        );
    }
    g.finish();
}

criterion_group!(benches, packets, lookups);
criterion_main!(benches);
