//! Benchmarks: resolving a 1000-record tree from the fixture resolver, beside the floor of the
//! signature checks any client must do for it (one root signature and 1000 record signatures).
//!
//! Run with `cargo xtask bench dns` (or `cargo bench -p p2p-dnsdisc`).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use p2p_dnsdisc::{Client, Config, Enr, FixtureResolver, Tree};
use secp256k1::ecdsa::Signature;
use secp256k1::{Message, PublicKey, SecretKey};

const RECORDS: u32 = 1000;

fn key(seed: u32) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    bytes[28..].copy_from_slice(&seed.to_be_bytes());
    SecretKey::from_secret_bytes(bytes).expect("a valid key")
}

fn records() -> Vec<Enr> {
    (0..RECORDS)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            Enr::builder()
                .ip4([127, a, b, c].into())
                .tcp4(30303)
                .udp4(30303)
                .build(&key(0x1000 + i))
                .expect("a small record")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let tree = Tree::sign(&records, &[], 1, &key(1));
    let dns = FixtureResolver::new();
    dns.extend(tree.txt_records("nodes.example.org"));
    let link = tree.link("nodes.example.org").expect("a valid domain");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");

    let mut group = c.benchmark_group("dns");
    group.sample_size(20);
    group.bench_function("resolve_1000_records", |b| {
        b.iter(|| {
            // A fresh client each time: nothing cached.
            let mut client = Client::new(&dns, Config::default());
            let resolved = rt.block_on(client.resolve(&link)).expect("resolves");
            assert_eq!(resolved.records.len(), RECORDS as usize);
            black_box(resolved)
        });
    });

    // The floor: 1001 ECDSA verifications (the root and every record), nothing else.
    let signed: Vec<(Message, Signature, PublicKey)> = (0..=RECORDS)
        .map(|i| {
            let k = key(0x5000 + i);
            let msg = Message::from_digest([i as u8; 32]);
            (msg, k.sign_ecdsa(msg), PublicKey::from_secret_key(&k))
        })
        .collect();
    group.bench_function("verify_floor_1001_signatures", |b| {
        b.iter(|| {
            for (msg, sig, pk) in &signed {
                sig.verify(*msg, pk).expect("valid");
            }
        });
    });

    // Decoding the 1000 leaf texts alone (base64, RLP, record signature: what the enr crate does).
    let texts: Vec<String> = records.iter().map(Enr::to_base64).collect();
    group.bench_function("decode_1000_enr_texts", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(t.parse::<Enr>().expect("valid"));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
