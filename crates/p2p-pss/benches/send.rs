//! The cost of sending a sealed message beside its crypto floors, measured in the same run.
//!
//! A node with no peers sends 256-byte payloads to a stored key with an 8-byte address hint:
//! [`Transport::send`] seals (with the key store's key), encodes the [`PssMsg`](p2p_pss::PssMsg),
//! enters it into the forward cache and queues it in the outbox, whose worker never runs
//! during the measurement (a current-thread runtime, and `send` does not yield). The outbox is
//! made large enough for a batch; each batch gets a fresh node (outside the timing).
//!
//! - `sym send` beside `seal_sym`: [`p2p_pss::seal_sym`] of the same payload with the same
//!   length of authenticated data (target: send within 1.5x of it);
//! - `sym message work`: `seal_sym` plus what any send must do with the message itself, without
//!   a node: [`PssMsg::aad`](p2p_pss::PssMsg::aad), [`PssMsg::encode`](p2p_pss::PssMsg::encode)
//!   and [`PssMsg::digest`](p2p_pss::PssMsg::digest) (Keccak-256 over the sealed payload, for
//!   the forward cache); the difference to `sym send` is the node's own bookkeeping (key store,
//!   forward cache, outbox);
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

/// The payload size.
const PAYLOAD: usize = 256;
/// The address hint length of the sends.
const HINT: usize = 8;
/// Authenticated data of the length [`p2p_pss::PssMsg::aad`] gives for an 8-byte hint.
const AAD_LEN: usize = 8 + HINT + 1 + 4 + 4;
/// Symmetric operations per batch.
const SYM_BATCH: usize = 20_000;
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
    sym_floor: Vec<f64>,
    sym_work: Vec<f64>,
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

    let figures = runtime.block_on(async {
        let mut f = Figures::default();
        for _ in 0..rounds {
            let sender = Sender::new(SYM_BATCH, &sym_key, &recipient);
            f.sym_send
                .push(sender.time_sends(&sender.sym, SYM_BATCH, &payload));
            drop(sender);
            f.sym_floor.push(time(SYM_BATCH, || {
                black_box(seal_sym(&sym_key, &aad, black_box(&payload)));
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
                m.payload = seal_sym(&sym_key, &m.aad(), black_box(&payload)).into();
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
    let sym_floor = median(figures.sym_floor);
    let sym_work = median(figures.sym_work);
    let asym_send = median(figures.asym_send);
    let asym_floor = median(figures.asym_floor);
    let sign = median(figures.sign);
    let us = |ns: f64| ns / 1e3;
    println!("send (medians of {rounds} rounds, {PAYLOAD} B payloads, {HINT}-byte hint):");
    println!("| operation | cost | ratio |");
    println!("|---|---|---|");
    println!(
        "| sym send (seal + encode + enqueue) | {:.2} us | {:.2}x seal_sym (target <= 1.5x) |",
        us(sym_send),
        sym_send / sym_floor
    );
    println!(
        "| sym message work (seal_sym + aad + encode + digest, no node) | {:.2} us | {:.2}x seal_sym |",
        us(sym_work),
        sym_work / sym_floor
    );
    println!(
        "| seal_sym (AES-256-GCM floor) | {:.2} us | 1 |",
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
