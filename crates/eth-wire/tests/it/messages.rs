//! Round trips of every message (proptest) and "decoding arbitrary bytes never panics" for every code and version.

use bytes::Bytes;
use chain_types::{
    BlockHashOrNumber, Body, Header, HeadersRequest, Log, Receipt, ReceiptStatus, Withdrawal,
};
use eth_wire::{
    BlockHashNumber, EthMessage, EthVersion, ForkHash, ForkId, NewBlock,
    PooledTransactionsAnnouncement, RequestPair, Status, codes,
};
use primitive_types::{H160, H256, U256};
use proptest::prelude::*;

pub(crate) fn h256() -> impl Strategy<Value = H256> {
    any::<[u8; 32]>().prop_map(H256)
}

fn u256() -> impl Strategy<Value = U256> {
    any::<[u64; 4]>().prop_map(U256)
}

fn header() -> impl Strategy<Value = Header> {
    (
        (h256(), h256(), any::<[u8; 20]>(), h256(), h256(), h256()),
        (
            u256(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (
            proptest::collection::vec(any::<u8>(), 0..40),
            h256(),
            any::<[u8; 8]>(),
        ),
        (
            0usize..=6,
            any::<u64>(),
            h256(),
            any::<u64>(),
            any::<u64>(),
            h256(),
            h256(),
        ),
    )
        .prop_map(
            |(
                (p, o, b, s, t, r),
                (d, n, gl, gu, ts),
                (x, m, nonce),
                (tail, bf, wr, bg, eb, pb, rh),
            )| Header {
                parent_hash: p,
                ommers_hash: o,
                beneficiary: H160(b),
                state_root: s,
                transactions_root: t,
                receipts_root: r,
                logs_bloom: chain_types::Bloom([n as u8; 256]),
                difficulty: d,
                number: n,
                gas_limit: gl,
                gas_used: gu,
                timestamp: ts,
                extra_data: Bytes::from(x),
                mix_hash: m,
                nonce,
                base_fee_per_gas: (tail >= 1).then_some(bf),
                withdrawals_root: (tail >= 2).then_some(wr),
                blob_gas_used: (tail >= 3).then_some(bg),
                excess_blob_gas: (tail >= 4).then_some(eb),
                parent_beacon_block_root: (tail >= 5).then_some(pb),
                requests_hash: (tail >= 6).then_some(rh),
                block_access_list_hash: None,
                slot_number: None,
            },
        )
}

/// A raw transaction: a legacy one (an RLP list) or a typed one (`type || rlp`), with at least nine fields as
/// every real transaction (decoders reject lists of transactions smaller than geth's minimum encoded size).
pub(crate) fn raw_tx() -> impl Strategy<Value = Bytes> {
    (0u8..=4, proptest::collection::vec(any::<u64>(), 9..12)).prop_map(|(ty, fields)| {
        let mut s = rlp::RlpStream::new_list(fields.len());
        for f in &fields {
            s.append(f);
        }
        let list = s.out();
        if ty == 0 {
            list.freeze()
        } else {
            let mut v = vec![ty];
            v.extend_from_slice(&list);
            Bytes::from(v)
        }
    })
}

fn withdrawal() -> impl Strategy<Value = Withdrawal> {
    (any::<u64>(), any::<u64>(), any::<[u8; 20]>(), any::<u64>()).prop_map(
        |(index, validator_index, a, amount)| Withdrawal {
            index,
            validator_index,
            address: H160(a),
            amount,
        },
    )
}

fn body() -> impl Strategy<Value = Body> {
    (
        proptest::collection::vec(raw_tx(), 0..4),
        proptest::collection::vec(header(), 0..2),
        proptest::option::of(proptest::collection::vec(withdrawal(), 0..3)),
    )
        .prop_map(|(transactions, ommers, withdrawals)| Body {
            transactions,
            ommers,
            withdrawals,
        })
}

pub(crate) fn receipt() -> impl Strategy<Value = Receipt> {
    (
        0u8..=3,
        0u8..3,
        any::<u64>(),
        proptest::collection::vec(
            (
                any::<[u8; 20]>(),
                proptest::collection::vec(h256(), 0..3),
                proptest::collection::vec(any::<u8>(), 0..20),
            ),
            0..3,
        ),
    )
        .prop_map(|(tx_type, st, gas, logs)| {
            let logs: Vec<Log> = logs
                .into_iter()
                .map(|(a, topics, data)| Log {
                    address: H160(a),
                    topics,
                    data: Bytes::from(data),
                })
                .collect();
            Receipt {
                tx_type,
                status: match st {
                    0 => ReceiptStatus::Success,
                    1 => ReceiptStatus::Failure,
                    _ => ReceiptStatus::PostState(H256::repeat_byte(3)),
                },
                cumulative_gas_used: gas,
                logs_bloom: Receipt::bloom_of(&logs),
                logs,
            }
        })
}

fn headers_request() -> impl Strategy<Value = HeadersRequest> {
    (
        prop_oneof![
            any::<u64>().prop_map(BlockHashOrNumber::Number),
            h256().prop_map(BlockHashOrNumber::Hash)
        ],
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(origin, amount, skip, reverse)| HeadersRequest {
            origin,
            amount,
            skip,
            reverse,
        })
}

pub(crate) fn hashes() -> impl Strategy<Value = Vec<H256>> {
    proptest::collection::vec(h256(), 0..8)
}

fn message() -> impl Strategy<Value = EthMessage> {
    let id = any::<u64>();
    prop_oneof![
        (
            any::<u8>(),
            any::<u64>(),
            u256(),
            h256(),
            h256(),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(|(version, network_id, td, best, genesis, fh, next)| {
                EthMessage::Status(Status {
                    version,
                    network_id,
                    total_difficulty: td,
                    best_hash: best,
                    genesis,
                    fork_id: ForkId {
                        hash: ForkHash::from(fh),
                        next,
                    },
                })
            }),
        proptest::collection::vec(
            (h256(), any::<u64>()).prop_map(|(hash, number)| BlockHashNumber { hash, number }),
            0..5
        )
        .prop_map(EthMessage::NewBlockHashes),
        proptest::collection::vec(raw_tx(), 0..5).prop_map(EthMessage::Transactions),
        (id, headers_request()).prop_map(|(request_id, message)| {
            EthMessage::GetBlockHeaders(RequestPair {
                request_id,
                message,
            })
        }),
        (id, proptest::collection::vec(header(), 0..4)).prop_map(|(request_id, message)| {
            EthMessage::BlockHeaders(RequestPair {
                request_id,
                message,
            })
        }),
        (id, hashes()).prop_map(
            |(request_id, message)| EthMessage::GetBlockBodies(RequestPair {
                request_id,
                message
            })
        ),
        (id, proptest::collection::vec(body(), 0..3)).prop_map(|(request_id, message)| {
            EthMessage::BlockBodies(RequestPair {
                request_id,
                message,
            })
        }),
        (header(), body(), u256()).prop_map(|(header, body, total_difficulty)| {
            EthMessage::NewBlock(Box::new(NewBlock {
                header,
                body,
                total_difficulty,
            }))
        }),
        hashes().prop_map(EthMessage::NewPooledTransactionHashes66),
        proptest::collection::vec((any::<u8>(), any::<u32>(), h256()), 0..5).prop_map(|v| {
            EthMessage::NewPooledTransactionHashes68(PooledTransactionsAnnouncement {
                types: v.iter().map(|x| x.0).collect(),
                sizes: v.iter().map(|x| x.1).collect(),
                hashes: v.iter().map(|x| x.2).collect(),
            })
        }),
        (id, hashes()).prop_map(|(request_id, message)| EthMessage::GetPooledTransactions(
            RequestPair {
                request_id,
                message
            }
        )),
        (id, proptest::collection::vec(raw_tx(), 0..4)).prop_map(|(request_id, message)| {
            EthMessage::PooledTransactions(RequestPair {
                request_id,
                message,
            })
        }),
        (id, hashes()).prop_map(
            |(request_id, message)| EthMessage::GetNodeData(RequestPair {
                request_id,
                message
            })
        ),
        (
            id,
            proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
                0..4
            )
        )
            .prop_map(|(request_id, message)| EthMessage::NodeData(RequestPair {
                request_id,
                message
            })),
        (id, hashes()).prop_map(
            |(request_id, message)| EthMessage::GetReceipts(RequestPair {
                request_id,
                message
            })
        ),
        (
            id,
            proptest::collection::vec(proptest::collection::vec(receipt(), 0..3), 0..3)
        )
            .prop_map(|(request_id, message)| EthMessage::Receipts(RequestPair {
                request_id,
                message
            })),
    ]
}

/// The version in which a message decodes back to itself.
fn version_for(m: &EthMessage) -> EthVersion {
    match m {
        EthMessage::GetNodeData(_)
        | EthMessage::NodeData(_)
        | EthMessage::NewPooledTransactionHashes66(_) => EthVersion::Eth66,
        _ => EthVersion::Eth68,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips(m in message()) {
        let version = version_for(&m);
        let msg = m.to_msg();
        prop_assert_eq!(msg.code, m.code());
        let back = EthMessage::from_msg(version, &msg).unwrap();
        prop_assert_eq!(&back, &m);
        // Re-encoding is stable.
        prop_assert_eq!(back.encode(), m.encode());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(code in 0u64..20, data in proptest::collection::vec(any::<u8>(), 0..300)) {
        for version in EthVersion::ALL {
            let _ = EthMessage::decode(version, code, &data);
        }
    }

    #[test]
    fn decoding_mutated_messages_never_panics(m in message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let mut data = m.encode().to_vec();
        for (at, x) in flips {
            if !data.is_empty() {
                let i = at % data.len();
                data[i] ^= x;
            }
        }
        let cut = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
        for version in EthVersion::ALL {
            let _ = EthMessage::decode(version, m.code(), &data);
            let _ = EthMessage::decode(version, m.code(), &data[..cut]);
        }
    }
}

#[test]
fn eth66_and_eth68_announcement_layouts_differ() {
    let hashes = vec![H256::repeat_byte(1), H256::repeat_byte(2)];
    let old = EthMessage::NewPooledTransactionHashes66(hashes.clone()).encode();
    // A plain hash list is not a valid eth/68 announcement, and the eth/68 form is not a hash list.
    assert!(
        EthMessage::decode(
            EthVersion::Eth68,
            codes::NEW_POOLED_TRANSACTION_HASHES,
            &old
        )
        .is_err()
    );
    assert!(
        EthMessage::decode(
            EthVersion::Eth67,
            codes::NEW_POOLED_TRANSACTION_HASHES,
            &old
        )
        .is_ok()
    );
    let new = EthMessage::NewPooledTransactionHashes68(PooledTransactionsAnnouncement {
        types: vec![0, 2],
        sizes: vec![100, 200],
        hashes,
    })
    .encode();
    assert!(
        EthMessage::decode(
            EthVersion::Eth67,
            codes::NEW_POOLED_TRANSACTION_HASHES,
            &new
        )
        .is_err()
    );
}

#[test]
fn oversized_payload_is_rejected_before_decoding() {
    let big = vec![0u8; (eth_wire::MAX_MESSAGE_SIZE + 1) as usize];
    let e = EthMessage::decode(EthVersion::Eth68, codes::BLOCK_BODIES, &big).unwrap_err();
    assert!(matches!(e, eth_wire::Error::MessageTooBig { .. }), "{e}");
    assert!(e.is_protocol_violation());
}

#[test]
fn status_with_extra_fields_is_accepted_and_short_one_rejected() {
    let s = Status {
        version: 68,
        network_id: 1,
        total_difficulty: U256::from(17u64),
        best_hash: H256::repeat_byte(1),
        genesis: H256::repeat_byte(2),
        fork_id: ForkId {
            hash: ForkHash([1, 2, 3, 4]),
            next: 0,
        },
    };
    let mut st = rlp::RlpStream::new_list(7);
    st.append(&s.version)
        .append(&s.network_id)
        .append(&s.total_difficulty)
        .append(&s.best_hash)
        .append(&s.genesis)
        .append(&s.fork_id)
        .append(&"future");
    let m = EthMessage::decode(EthVersion::Eth68, codes::STATUS, &st.out()).unwrap();
    assert_eq!(m, EthMessage::Status(s));
    let mut short = rlp::RlpStream::new_list(5);
    short
        .append(&s.version)
        .append(&s.network_id)
        .append(&s.total_difficulty)
        .append(&s.best_hash)
        .append(&s.genesis);
    assert!(EthMessage::decode(EthVersion::Eth68, codes::STATUS, &short.out()).is_err());
}
