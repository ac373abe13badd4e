//! The cost of sending a sealed message beside its crypto floors, measured in the same run.
//!
//! A node with no peers sends 256-byte payloads to a stored key with an 8-byte address hint:
//! [`Transport::send`] seals (with the key store's key), encodes the [`PssMsg`](p2p_pss::PssMsg),
//! enters it into the forward cache and queues it in the outbox, whose worker never runs
//! during the measurement (a current-thread runtime, and `send` does not yield). The outbox is
//! made large enough for a batch; each batch gets a fresh node (outside the timing).
//!
//! - `sym send` beside `seal_sym`: [`p2p_pss::seal_sym`] of the same payload with the same
//!   length of authenticated data (which also computes the AES key schedule on each call);
//! - `sym message work`: `seal_sym` plus what any send must do with the message itself, without
//!   a node: [`PssMsg::aad`](p2p_pss::PssMsg::aad), [`PssMsg::encode`](p2p_pss::PssMsg::encode)
//!   and [`PssMsg::digest`](p2p_pss::PssMsg::digest) (SHA-256 over the sealed payload, for
//!   the forward cache); the difference to `sym send` is the node's own bookkeeping (key store,
//!   forward cache, outbox);
//! - the sym crypto floor, the two cryptographic operations every symmetric send performs, as
//!   bare calls: AES-256-GCM with a prepared key ([`SymCipher::seal`](p2p_pss::SymCipher::seal),
//!   as the node keeps its keys) plus SHA-256 over as many bytes as the digest hashes (target:
//!   send within 1.5x of it);
//! - `asym send` beside `seal_asym`: [`p2p_pss::seal_asym`] likewise, and beside a bare
//!   secp256k1 recoverable signature of a 32-byte hash (the signing part of the seal).
//!
//! Each figure is the median over rounds of the mean cost in a batch; the rounds alternate
//! the operations so that a change in the machine's load hits all of them alike.
//!
//! Run with `cargo bench -p p2p-pss --bench send` (`-- --quick` for fewer rounds).

// A bench binary prints its results.
#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use p2p_pss::{
    Flags, PeerKey, Pss, PssConfig, PssMsg, SymKey, Topic, Transport as _, seal_asym, seal_sym,
};
use p2p_rlpx::NodeKey;
use secp256k1::Message;
use secp256k1::ecdsa::RecoverableSignature;
use sha2::{Digest as _, Sha256};

/// The payload size.
const PAYLOAD: usize = 256;
/// The address hint length of the sends.
const HINT: usize = 8;
/// Authenticated data of the length [`p2p_pss::PssMsg::aad`] gives for an 8-byte hint.
const AAD_LEN: usize = 8 + HINT + 1 + 4 + 4;
/// Symmetric operations per batch.
const SYM_BATCH: usize = 20_000;
/// Symmetric sends per batch in the small-batch row.
const SMALL_BATCH: usize = 256;
/// Asymmetric operations per batch.
const ASYM_BATCH: usize = 1_000;

/// A peerless node holding a symmetric key and a recipient's public key for the topic.
struct Sender {
    pss: Pss,
    sym: PeerKey,
    asym: PeerKey,
    topic: Topic,
}

impl Sender {
    fn new(batch: usize, sym_key: &SymKey, recipient: &NodeKey) -> Self {
        let mut config = PssConfig::default();
        config.outbox_messages = batch + 1;
        config.outbox_bytes = (batch + 1) * 4096;
        config.cache_entries = batch + 16;
        let pss = Pss::new(&NodeKey::generate(), config);
        let topic = Topic::from_name("bench-send");
        let hint = [0xab; HINT];
        let id = pss
            .set_symmetric_key(sym_key.clone(), topic, &hint, false)
            .expect("sym key");
        pss.set_peer_public_key(*recipient.public_key(), topic, &hint)
            .expect("public key");
        Self {
            pss,
            sym: PeerKey::Symmetric(id),
            asym: PeerKey::Asymmetric(*recipient.public_key()),
            topic,
        }
    }

    /// Nanoseconds per send of `batch` sends to `key`.
    fn time_sends(&self, key: &PeerKey, batch: usize, payload: &Bytes) -> f64 {
        let start = Instant::now();
        for _ in 0..batch {
            self.pss
                .send(key, self.topic, payload.clone())
                .expect("send");
        }
        per_op(start.elapsed(), batch)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.pss.shutdown();
    }
}

fn per_op(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_secs_f64() * 1e9 / n as f64
}

fn time(n: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    per_op(start.elapsed(), n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[derive(Default)]
struct Figures {
    sym_send: Vec<f64>,
    sym_send_small: Vec<f64>,
    sym_floor: Vec<f64>,
    sym_work: Vec<f64>,
    sym_prepared: Vec<f64>,
    sym_crypto_floor: Vec<f64>,
    asym_send: Vec<f64>,
    asym_floor: Vec<f64>,
    sign: Vec<f64>,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 11 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sym_key = SymKey::generate();
    let recipient = NodeKey::generate();
    let signer = NodeKey::generate();
    let payload = Bytes::from(vec![0x5a; PAYLOAD]);
    let aad = [0x11; AAD_LEN];
    let hash = Message::from_digest([0x42; 32]);
    let cipher = sym_key.cipher();
    // What the digest hashes besides the payload: len(to) (8), to, flags (1), topic (4).
    let digested_header = [0x22; 8 + HINT + 1 + 4];

    let figures = runtime.block_on(async {
        let mut f = Figures::default();
        for _ in 0..rounds {
            let sender = Sender::new(SYM_BATCH, &sym_key, &recipient);
            f.sym_send
                .push(sender.time_sends(&sender.sym, SYM_BATCH, &payload));
            drop(sender);
            // The same in batches of SMALL_BATCH on fresh nodes: the forward cache and the
            // outbox stay small (memory is reused) instead of growing to SYM_BATCH entries.
            let mut total = 0.0;
            for _ in 0..SYM_BATCH / SMALL_BATCH {
                let sender = Sender::new(SMALL_BATCH, &sym_key, &recipient);
                total += sender.time_sends(&sender.sym, SMALL_BATCH, &payload);
            }
            f.sym_send_small
                .push(total / (SYM_BATCH / SMALL_BATCH) as f64);
            f.sym_floor.push(time(SYM_BATCH, || {
                black_box(seal_sym(&sym_key, &aad, black_box(&payload)));
            }));

            f.sym_prepared.push(time(SYM_BATCH, || {
                black_box(cipher.seal(&aad, black_box(&payload)));
            }));
            f.sym_crypto_floor.push(time(SYM_BATCH, || {
                let sealed = cipher.seal(&aad, black_box(&payload));
                let mut hasher = Sha256::new();
                hasher.update(digested_header);
                hasher.update(&sealed);
                black_box((sealed, hasher.finalize()));
            }));

            f.sym_work.push(time(SYM_BATCH, || {
                let mut m = PssMsg {
                    to: Bytes::copy_from_slice(&[0xab; HINT]),
                    flags: Flags {
                        raw: false,
                        symmetric: true,
                    },
                    expire: 2_000_000_000,
                    topic: Topic::from_name("bench-send"),
                    hops: 0,
                    payload: Bytes::new(),
                };
                m.payload = cipher.seal(&m.aad(), black_box(&payload)).into();
                black_box((m.encode(), m.digest()));
            }));

            let sender = Sender::new(ASYM_BATCH, &sym_key, &recipient);
            f.asym_send
                .push(sender.time_sends(&sender.asym, ASYM_BATCH, &payload));
            drop(sender);
            f.asym_floor.push(time(ASYM_BATCH, || {
                black_box(seal_asym(
                    signer.secret_key(),
                    recipient.public_key(),
                    &aad,
                    black_box(&payload),
                ));
            }));
            f.sign.push(time(ASYM_BATCH, || {
                black_box(RecoverableSignature::sign_ecdsa_recoverable(
                    black_box(hash),
                    signer.secret_key(),
                ));
            }));
            // Let the dropped nodes' tasks end.
            tokio::task::yield_now().await;
        }
        f
    });

    let sym_send = median(figures.sym_send);
    let sym_send_small = median(figures.sym_send_small);
    let sym_floor = median(figures.sym_floor);
    let sym_work = median(figures.sym_work);
    let sym_prepared = median(figures.sym_prepared);
    let sym_crypto_floor = median(figures.sym_crypto_floor);
    let asym_send = median(figures.asym_send);
    let asym_floor = median(figures.asym_floor);
    let sign = median(figures.sign);
    let us = |ns: f64| ns / 1e3;
    println!("send (medians of {rounds} rounds, {PAYLOAD} B payloads, {HINT}-byte hint):");
    println!("| operation | cost | ratio |");
    println!("|---|---|---|");
    println!(
        "| sym send (seal + encode + enqueue), batches of {SYM_BATCH} | {:.2} us | {:.2}x its crypto floor (target <= 1.5x), {:.2}x seal_sym |",
        us(sym_send),
        sym_send / sym_crypto_floor,
        sym_send / sym_floor
    );
    println!(
        "| sym send, batches of {SMALL_BATCH} on fresh nodes | {:.2} us | {:.2}x its crypto floor, {:.2}x seal_sym |",
        us(sym_send_small),
        sym_send_small / sym_crypto_floor,
        sym_send_small / sym_floor
    );
    println!(
        "| sym crypto floor (prepared AES-256-GCM + SHA-256 digest) | {:.2} us | 1 |",
        us(sym_crypto_floor)
    );
    println!(
        "| AES-256-GCM with a prepared key (SymCipher::seal) | {:.2} us | {:.2}x seal_sym |",
        us(sym_prepared),
        sym_prepared / sym_floor
    );
    println!(
        "| sym message work (seal_sym + aad + encode + digest, no node) | {:.2} us | {:.2}x seal_sym |",
        us(sym_work),
        sym_work / sym_floor
    );
    println!(
        "| seal_sym (key schedule + AES-256-GCM) | {:.2} us | 1 |",
        us(sym_floor)
    );
    println!(
        "| asym send (seal + encode + enqueue) | {:.1} us | {:.2}x seal_asym, {:.2}x sign |",
        us(asym_send),
        asym_send / asym_floor,
        asym_send / sign
    );
    println!(
        "| seal_asym (sign + ECIES floor) | {:.1} us | {:.2}x sign |",
        us(asym_floor),
        asym_floor / sign
    );
    println!("| secp256k1 sign alone | {:.1} us | 1 |", us(sign));
}
