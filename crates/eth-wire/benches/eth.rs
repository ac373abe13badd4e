//! eth-wire benchmarks, each beside a baseline measured in the same run:
//!
//! - decoding a BlockHeaders reply of 1024 headers with [`EthMessage::decode`] beside decoding the same header
//!   list with plain `rlp` (the message layer's overhead: request id, strict length checks);
//! - a 192-header request/reply between two in-process peers over `MsgPipe` ([`EthPeer`] + serving from a
//!   `MemoryStore`) beside a bare pipe round trip carrying the same encoded request and reply.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chain_types::{BlockEntry, ChainStore, Header, HeadersRequest, MemoryStore, SealedHeader};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eth_wire::{
    EthMessage, EthVersion, ForkFilter, PeerConfig, RequestPair, Status, codes, establish,
};
use p2p_msg::{Msg, MsgPipe, MsgReader, MsgWriter};
use primitive_types::{H256, U256};

fn chain(len: u64) -> Vec<SealedHeader> {
    let mut out: Vec<SealedHeader> = Vec::new();
    for n in 0..len {
        let h = Header {
            parent_hash: out.last().map(SealedHeader::hash).unwrap_or_default(),
            number: n,
            difficulty: U256::one(),
            gas_limit: 30_000_000,
            timestamp: 1_700_000_000 + 12 * n,
            extra_data: Bytes::from_static(b"bench"),
            base_fee_per_gas: Some(7),
            state_root: H256::repeat_byte(1),
            ..Header::default()
        };
        out.push(h.seal());
    }
    out
}

fn decode(c: &mut Criterion) {
    let headers: Vec<Header> = chain(1024)
        .into_iter()
        .map(SealedHeader::into_header)
        .collect();
    let msg = EthMessage::BlockHeaders(RequestPair {
        request_id: 7,
        message: headers.clone(),
    });
    let payload = msg.encode();
    let mut list = rlp::RlpStream::new_list(headers.len());
    for h in &headers {
        list.append(h);
    }
    let plain = list.out().freeze();
    let mut g = c.benchmark_group("decode_1024_headers");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    g.bench_function("baseline_rlp_header_list", |b| {
        b.iter(|| {
            black_box(
                rlp::Rlp::new(black_box(&plain))
                    .as_list::<Header>()
                    .map(|v| v.len()),
            )
        })
    });
    g.bench_function("eth_message_decode", |b| {
        b.iter(|| {
            black_box(
                EthMessage::decode(EthVersion::Eth68, codes::BLOCK_HEADERS, black_box(&payload))
                    .is_ok(),
            )
        })
    });
    g.finish();
}

fn round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let headers = chain(1000);
    let genesis = headers[0].hash();
    let store = Arc::new(MemoryStore::new());
    store
        .insert_batch(
            headers
                .iter()
                .cloned()
                .map(BlockEntry::header_only)
                .collect(),
        )
        .expect("insert");
    let filter = ForkFilter::genesis_only(genesis);
    let status = Status {
        version: 68,
        network_id: 1,
        total_difficulty: U256::from(1000u64),
        best_hash: headers[999].hash(),
        genesis,
        fork_id: filter.current(),
    };
    let request = HeadersRequest::rising(100, 192);

    let mut g = c.benchmark_group("request_192_headers");
    g.throughput(Throughput::Elements(192));
    g.measurement_time(Duration::from_secs(3)).sample_size(30);

    // Baseline: the same bytes over a bare pipe, answered by a task that replies with a pre-encoded reply.
    let reply = EthMessage::BlockHeaders(RequestPair {
        request_id: 1,
        message: headers[100..292]
            .iter()
            .map(|h| h.header().clone())
            .collect(),
    })
    .encode();
    let req_bytes = EthMessage::GetBlockHeaders(RequestPair {
        request_id: 1,
        message: request,
    })
    .encode();
    g.bench_function("baseline_bare_pipe", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (a, z) = MsgPipe::pair();
                let server = async {
                    while let Ok(m) = z.read_msg().await {
                        black_box(&m);
                        if z.write_msg(Msg::new(codes::BLOCK_HEADERS, reply.clone()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                };
                let client = async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        a.write_msg(Msg::new(codes::GET_BLOCK_HEADERS, req_bytes.clone()))
                            .await
                            .expect("write");
                        let m = a.read_msg().await.expect("read");
                        black_box(EthMessage::decode(EthVersion::Eth68, m.code, m.data()).is_ok());
                    }
                    let t = start.elapsed();
                    a.close();
                    t
                };
                tokio::join!(server, client).1
            })
        })
    });
    g.bench_function("eth_peer_and_server", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (a, z) = MsgPipe::pair();
                let cfg = PeerConfig::default();
                let (c, s) = tokio::join!(
                    establish(a, "s", &status, &filter, cfg),
                    establish(z, "c", &status, &filter, cfg)
                );
                let (client, cd) = c.expect("client");
                let (_server, sd) = s.expect("server");
                let sd = sd.with_store(store.clone() as Arc<dyn ChainStore>);
                let work = async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        let h = client.get_block_headers(request).await.expect("headers");
                        assert_eq!(h.len(), 192);
                    }
                    start.elapsed()
                };
                tokio::select! {
                    t = work => t,
                    e = cd.run() => panic!("client driver: {e}"),
                    e = sd.run() => panic!("server driver: {e}"),
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, decode, round_trip);
criterion_main!(benches);
