//! Envelope crypto benchmarks, each beside its floor measured in the same run.
//!
//! For payloads of 256 B and 4 KiB (`<size>` below):
//!
//! - `sym_seal/<size>/pss` is [`seal_sym`]; `sym_seal/<size>/floor` is AES-256-GCM directly
//!   (`aes-gcm`: the cipher keyed from the same 32 bytes, then an allocating encrypt of the same
//!   bytes with the same authenticated data and a fixed nonce), since `seal_sym` takes a key per
//!   call; `sym_seal/<size>/floor_prekeyed` is the encrypt alone with a cipher keyed once.
//! - `sym_open/<size>/pss` is [`open_sym`]; `floor` and `floor_prekeyed` decrypt likewise.
//! - `asym_seal/<size>/pss` is [`seal_asym`]; `asym_seal/<size>/floor` is
//!   `sign_ecdsa_recoverable` of a Keccak-256 hash of the same bytes plus
//!   [`p2p_rlpx::ecies_encrypt`] of the signature and the plaintext, done directly.
//! - `asym_open/<size>/pss` is [`open_asym`]; `asym_open/<size>/floor` is
//!   [`p2p_rlpx::ecies_decrypt`] plus `recover_ecdsa` over the same hash.
//!
//! The ratio of a `pss` figure to the `floor` beside it is the cost of the crate's framing.
//! Run with `cargo bench -p p2p-pss --bench crypto`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p2p_pss::{SymKey, open_asym, open_sym, seal_asym, seal_sym};
use p2p_rlpx::NodeKey;
use secp256k1::Message;
use secp256k1::ecdsa::RecoverableSignature;
use sha3::{Digest, Keccak256};

const SIZES: [(usize, &str); 2] = [(256, "256"), (4096, "4k")];

/// Authenticated data of the size [`p2p_pss::PssMsg::aad`] gives for an 8-byte hint.
const AAD: &[u8] = &[0x11; 25];

fn hash(aad: &[u8], plaintext: &[u8]) -> Message {
    let mut hasher = Keccak256::new();
    hasher.update((aad.len() as u64).to_be_bytes());
    hasher.update(aad);
    hasher.update(plaintext);
    Message::from_digest(hasher.finalize().into())
}

fn symmetric(c: &mut Criterion) {
    let key = SymKey::generate();
    let nonce = Nonce::from([7u8; 12]);
    let prekeyed = Aes256Gcm::new(&key.0.into());
    for (size, name) in SIZES {
        let plain = vec![0x5a; size];
        let aad = AAD;

        let mut g = c.benchmark_group("sym_seal");
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{name}/pss"), |b| {
            b.iter(|| seal_sym(&key, aad, black_box(&plain)));
        });
        g.bench_function(format!("{name}/floor"), |b| {
            b.iter(|| {
                let cipher = Aes256Gcm::new(&black_box(&key).0.into());
                let msg = Payload {
                    msg: black_box(&plain),
                    aad,
                };
                cipher.encrypt(&nonce, msg)
            });
        });
        g.bench_function(format!("{name}/floor_prekeyed"), |b| {
            b.iter(|| {
                let msg = Payload {
                    msg: black_box(&plain),
                    aad,
                };
                prekeyed.encrypt(&nonce, msg)
            });
        });
        g.finish();

        let sealed = seal_sym(&key, aad, &plain);
        let raw = prekeyed
            .encrypt(&nonce, Payload { msg: &plain, aad })
            .expect("encrypt");
        let mut g = c.benchmark_group("sym_open");
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{name}/pss"), |b| {
            b.iter(|| open_sym(&key, aad, black_box(&sealed)).expect("opens"));
        });
        g.bench_function(format!("{name}/floor"), |b| {
            b.iter(|| {
                let cipher = Aes256Gcm::new(&black_box(&key).0.into());
                let msg = Payload {
                    msg: black_box(&raw),
                    aad,
                };
                cipher.decrypt(&nonce, msg).expect("opens")
            });
        });
        g.bench_function(format!("{name}/floor_prekeyed"), |b| {
            b.iter(|| {
                let msg = Payload {
                    msg: black_box(&raw),
                    aad,
                };
                prekeyed.decrypt(&nonce, msg).expect("opens")
            });
        });
        g.finish();
    }
}

fn asymmetric(c: &mut Criterion) {
    let (sender, recipient) = (NodeKey::generate(), NodeKey::generate());
    let (sender_secret, recipient_public) = (*sender.secret_key(), *recipient.public_key());
    for (size, name) in SIZES {
        let plain = vec![0x5a; size];

        let mut g = c.benchmark_group("asym_seal");
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{name}/pss"), |b| {
            b.iter(|| seal_asym(&sender_secret, &recipient_public, AAD, black_box(&plain)));
        });
        g.bench_function(format!("{name}/floor"), |b| {
            b.iter(|| {
                let plain = black_box(&plain);
                let sig =
                    RecoverableSignature::sign_ecdsa_recoverable(hash(AAD, plain), &sender_secret);
                let (recid, compact) = sig.serialize_compact();
                let mut signed = Vec::with_capacity(65 + plain.len());
                signed.extend_from_slice(&compact);
                signed.push(u8::from(recid));
                signed.extend_from_slice(plain);
                p2p_rlpx::ecies_encrypt(&recipient_public, &signed, AAD)
            });
        });
        g.finish();

        let sealed = seal_asym(&sender_secret, &recipient_public, AAD, &plain);
        let mut g = c.benchmark_group("asym_open");
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{name}/pss"), |b| {
            b.iter(|| open_asym(recipient.secret_key(), AAD, black_box(&sealed)).expect("opens"));
        });
        g.bench_function(format!("{name}/floor"), |b| {
            b.iter(|| {
                let signed =
                    p2p_rlpx::ecies_decrypt(recipient.secret_key(), black_box(&sealed), AAD)
                        .expect("decrypts");
                let (sig, plain) = signed.split_at(65);
                let recid = secp256k1::ecdsa::RecoveryId::try_from(i32::from(sig[64]))
                    .expect("recovery id");
                RecoverableSignature::from_compact(&sig[..64], recid)
                    .expect("signature")
                    .recover_ecdsa(hash(AAD, plain))
                    .expect("recovers")
            });
        });
        g.finish();
    }
}

criterion_group!(benches, symmetric, asymmetric);
criterion_main!(benches);
