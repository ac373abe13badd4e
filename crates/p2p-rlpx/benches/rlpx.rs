//! RLPx benchmarks, each beside its floor measured in the same run:
//!
//! - `bulk_64k`: 64 KiB messages. `frame_crypto_floor` is the frame cryptography alone in
//!   memory (AES-256-CTR plus the Keccak MAC steps over the same bytes) for one end;
//!   `frame_crypto_floor_both_sides` is that of both ends in one thread; `codec_in_memory` is
//!   the crate's encoder plus decoder without sockets; `tcp_plain` is plain loopback TCP;
//!   `rlpx_tcp` is [`RlpxTransport`] over loopback TCP (writer and reader on two tasks).
//! - `small_100b`: the same four for 100-byte messages (message rate).
//! - `handshake`: full RLPx handshakes (both sides, in memory) beside the secp256k1
//!   operations they need (`handshake_crypto_floor`).
//!
//! Run with `cargo xtask bench rlpx` (or `cargo bench -p p2p-rlpx`).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p2p_msg::{FrameTransport, Msg};
use p2p_rlpx::{
    Enode, FrameDecoder, FrameEncoder, KeccakMac, NodeKey, RlpxTransport, Secrets, TransportConfig,
    UnauthedStream,
};
use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::{Message, PublicKey, SecretKey};
use sha3::{Digest, Keccak256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_util::codec::Decoder;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn secrets(flip: bool) -> Secrets {
    let mut a = KeccakMac::new();
    a.update(b"a");
    let mut b = KeccakMac::new();
    b.update(b"b");
    let (egress_mac, ingress_mac) = if flip { (b, a) } else { (a, b) };
    Secrets {
        aes_secret: [7; 32],
        mac_secret: [9; 32],
        egress_mac,
        ingress_mac,
    }
}

/// The frame cryptography of one direction without the codec: keystream, MAC steps.
struct CryptoFloor {
    ctr: ctr::Ctr128BE<aes::Aes256>,
    mac_cipher: aes::Aes256,
    mac: Keccak256,
}

impl CryptoFloor {
    fn new() -> Self {
        Self {
            ctr: ctr::Ctr128BE::new(&[7u8; 32].into(), &[0u8; 16].into()),
            mac_cipher: aes::Aes256::new(&[9u8; 32].into()),
            mac: Keccak256::new(),
        }
    }

    fn seed(&mut self, xor: &[u8]) -> [u8; 16] {
        let d: [u8; 32] = self.mac.clone().finalize().into();
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&d[..16]);
        let mut block = aes::Block::from(raw);
        self.mac_cipher.encrypt_block(&mut block);
        let mut seed: [u8; 16] = block.into();
        for (s, x) in seed.iter_mut().zip(xor) {
            *s ^= x;
        }
        self.mac.update(seed);
        let d: [u8; 32] = self.mac.clone().finalize().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        out
    }

    /// Encrypts the header and body in place and computes both MACs (the sender's work; the
    /// receiver's is the same operations).
    fn frame(&mut self, header: &mut [u8; 16], body: &mut [u8]) -> ([u8; 16], [u8; 16]) {
        self.ctr.apply_keystream(header);
        let header_mac = self.seed(&header[..]);
        self.ctr.apply_keystream(body);
        self.mac.update(&*body);
        let d: [u8; 32] = self.mac.clone().finalize().into();
        let frame_mac = self.seed(&d[..16]);
        (header_mac, frame_mac)
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (a, (b, _)) = (a.expect("connect"), b.expect("accept"));
    a.set_nodelay(true).expect("nodelay");
    b.set_nodelay(true).expect("nodelay");
    (a, b)
}

async fn rlpx_pair() -> (Arc<RlpxTransport>, Arc<RlpxTransport>) {
    let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let enode = Enode::new(b_key.id(), listener.local_addr().expect("addr"));
    let config = TransportConfig::default();
    let accept = async {
        let (s, _) = listener.accept().await.expect("accept");
        RlpxTransport::accept(s, &b_key, &config)
            .await
            .expect("handshake")
    };
    let (a, b) = tokio::join!(RlpxTransport::dial(&enode, &a_key, &config), accept);
    let a = a.expect("dial");
    // Get past the first-frame (Hello) limit.
    a.write_frame(Msg::new(0, vec![0xc0])).await.expect("write");
    b.read_frame().await.expect("read");
    (Arc::new(a), Arc::new(b))
}

fn bench_bulk(c: &mut Criterion, name: &str, size: usize) {
    let rt = runtime();
    let mut group = c.benchmark_group(name);
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    if size >= 1024 {
        group.throughput(Throughput::Bytes(size as u64));
    } else {
        group.throughput(Throughput::Elements(1));
    }
    let payload = vec![0x5au8; size];

    group.bench_function(BenchmarkId::new("frame_crypto_floor", size), |b| {
        let mut floor = CryptoFloor::new();
        let mut body = vec![0u8; (size + 1).div_ceil(16) * 16];
        body[1..=size].copy_from_slice(&payload);
        b.iter(|| {
            let mut header = [0u8; 16];
            black_box(floor.frame(&mut header, &mut body));
        });
    });

    group.bench_function(
        BenchmarkId::new("frame_crypto_floor_both_sides", size),
        |b| {
            // The sender's and the receiver's crypto for one message, one after the other: the
            // work of a connection when both ends share one core.
            let (mut sender, mut receiver) = (CryptoFloor::new(), CryptoFloor::new());
            let mut body = vec![0u8; (size + 1).div_ceil(16) * 16];
            body[1..=size].copy_from_slice(&payload);
            b.iter(|| {
                let mut header = [0u8; 16];
                black_box(sender.frame(&mut header, &mut body));
                black_box(receiver.frame(&mut header, &mut body));
            });
        },
    );

    group.bench_function(BenchmarkId::new("codec_in_memory", size), |b| {
        let mut enc = FrameEncoder::new(&secrets(false));
        let mut dec = FrameDecoder::new(&secrets(true));
        let mut buf = BytesMut::with_capacity(size + 128);
        b.iter(|| {
            enc.encode_frame(0x10, &payload, &mut buf).expect("encode");
            black_box(dec.decode(&mut buf).expect("decode").expect("frame"));
        });
    });

    group.bench_function(BenchmarkId::new("tcp_plain", size), |b| {
        let (writer, reader) = rt.block_on(tcp_pair());
        let writer = Arc::new(tokio::sync::Mutex::new(writer));
        let reader = Arc::new(tokio::sync::Mutex::new(reader));
        b.to_async(&rt).iter_custom(|iters| {
            let (writer, reader, payload) = (writer.clone(), reader.clone(), payload.clone());
            async move {
                let len = payload.len();
                let start = Instant::now();
                let write = tokio::spawn(async move {
                    let mut w = writer.lock().await;
                    for _ in 0..iters {
                        w.write_all(&payload).await.expect("write");
                    }
                });
                let mut r = reader.lock().await;
                let mut buf = vec![0u8; len];
                for _ in 0..iters {
                    r.read_exact(&mut buf).await.expect("read");
                }
                write.await.expect("writer");
                start.elapsed()
            }
        });
    });

    group.bench_function(BenchmarkId::new("rlpx_tcp", size), |b| {
        let (writer, reader) = rt.block_on(rlpx_pair());
        let payload = bytes::Bytes::from(payload.clone());
        b.to_async(&rt).iter_custom(|iters| {
            let (writer, reader, payload) = (writer.clone(), reader.clone(), payload.clone());
            async move {
                let start = Instant::now();
                let write = tokio::spawn(async move {
                    for _ in 0..iters {
                        writer
                            .write(Msg::new(0x10, payload.clone()))
                            .await
                            .expect("write");
                    }
                });
                for _ in 0..iters {
                    black_box(reader.read().await.expect("read"));
                }
                write.await.expect("writer");
                start.elapsed()
            }
        });
    });
    group.finish();
}

fn bulk_64k(c: &mut Criterion) {
    bench_bulk(c, "bulk_64k", 64 * 1024);
}

fn small_100b(c: &mut Criterion) {
    bench_bulk(c, "small_100b", 100);
}

fn handshake(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("handshake");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    group.throughput(Throughput::Elements(1));
    let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());

    group.bench_function("handshake_crypto_floor", |b| {
        // Per side: two key generations (ephemeral and ECIES), four ECDH, a signature or a
        // recovery.
        let static_b = *b_key.public_key();
        b.iter(|| {
            for side in 0..2 {
                let k1 = SecretKey::from_secret_bytes([side + 3; 32]).expect("key");
                let k2 = SecretKey::from_secret_bytes([side + 5; 32]).expect("key");
                let p1 = PublicKey::from_secret_key(&k1);
                let p2 = PublicKey::from_secret_key(&k2);
                for (p, k) in [(&static_b, &k1), (&p1, &k2), (&p2, &k1), (&static_b, &k2)] {
                    black_box(secp256k1::ecdh::shared_secret_point(p, k));
                }
                let msg = Message::from_digest([side + 1; 32]);
                let sig = RecoverableSignature::sign_ecdsa_recoverable(msg, &k1);
                if side == 1 {
                    black_box(sig.recover_ecdsa(msg).expect("recover"));
                } else {
                    black_box(sig);
                }
            }
        });
    });

    group.bench_function("rlpx_handshake_in_memory", |b| {
        let b_id = b_key.id();
        b.to_async(&rt).iter(|| {
            let (a_key, b_key) = (a_key.clone(), b_key.clone());
            async move {
                let (a_io, b_io) = tokio::io::duplex(4096);
                let (a, b) = tokio::join!(
                    UnauthedStream::new(a_io, a_key).connect(&b_id),
                    UnauthedStream::new(b_io, b_key).accept()
                );
                black_box((a.expect("initiator"), b.expect("recipient")));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bulk_64k, small_100b, handshake);
criterion_main!(benches);
