//! The eth/69 and eth/70 messages: round trips and "never panics" properties for each new message, the wire
//! forms (no bloom in eth/69 receipts, the bloom rebuilt and the receipts root matching), typed errors for
//! malformed payloads, per-version codes and message counts, and bounded decoding.

use bytes::Bytes;
use chain_types::roots;
use eth_wire::{
    BlockRangeUpdate, Error, EthMessage, EthVersion, ForkHash, ForkId, GetReceipts70, Receipts70,
    RequestPair, Status69, codes,
};
use primitive_types::H256;
use proptest::prelude::*;
use rlp::RlpStream;

use crate::chain::TestChain;
use crate::messages::{h256, hashes, receipt};

fn status69() -> impl Strategy<Value = Status69> {
    (
        any::<u8>(),
        any::<u64>(),
        h256(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        h256(),
    )
        .prop_map(
            |(version, network_id, genesis, fh, next, earliest, latest, latest_hash)| Status69 {
                version,
                network_id,
                genesis,
                fork_id: ForkId {
                    hash: ForkHash::from(fh),
                    next,
                },
                earliest,
                latest,
                latest_hash,
            },
        )
}

fn receipt_lists() -> impl Strategy<Value = Vec<Vec<chain_types::Receipt>>> {
    proptest::collection::vec(proptest::collection::vec(receipt(), 0..3), 0..3)
}

/// Every new message with the version it decodes in.
fn message69() -> impl Strategy<Value = (EthVersion, EthMessage)> {
    let id = any::<u64>();
    prop_oneof![
        status69().prop_map(|s| (EthVersion::Eth69, EthMessage::Status69(s))),
        (any::<u64>(), any::<u64>(), h256()).prop_map(|(earliest, latest, latest_hash)| {
            let m = EthMessage::BlockRangeUpdate(BlockRangeUpdate {
                earliest,
                latest,
                latest_hash,
            });
            (EthVersion::Eth70, m)
        }),
        (id, receipt_lists()).prop_map(|(request_id, message)| {
            let m = EthMessage::Receipts69(RequestPair {
                request_id,
                message,
            });
            (EthVersion::Eth69, m)
        }),
        (id, hashes()).prop_map(|(request_id, message)| {
            let m = EthMessage::GetReceipts(RequestPair {
                request_id,
                message,
            });
            (EthVersion::Eth69, m)
        }),
        (id, any::<u64>(), hashes()).prop_map(|(request_id, first, hashes)| {
            let m = EthMessage::GetReceipts70(GetReceipts70 {
                request_id,
                first_block_receipt_index: first,
                hashes,
            });
            (EthVersion::Eth70, m)
        }),
        (id, any::<bool>(), receipt_lists()).prop_map(|(request_id, flag, receipts)| {
            let m = EthMessage::Receipts70(Receipts70 {
                request_id,
                last_block_incomplete: flag,
                receipts,
            });
            (EthVersion::Eth70, m)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_eth69_and_eth70_message_round_trips((version, m) in message69()) {
        let msg = m.to_msg();
        prop_assert_eq!(msg.code, m.code());
        let back = EthMessage::from_msg(version, &msg).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode(), m.encode());
    }

    #[test]
    fn mutated_eth69_and_eth70_messages_never_panic(
        (_, m) in message69(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut data = m.encode().to_vec();
        for (at, x) in flips {
            if !data.is_empty() {
                let i = at % data.len();
                data[i] ^= x;
            }
        }
        let cut = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
        for version in [EthVersion::Eth68, EthVersion::Eth69, EthVersion::Eth70] {
            let _ = EthMessage::decode(version, m.code(), &data);
            let _ = EthMessage::decode(version, m.code(), &data[..cut]);
        }
    }

    #[test]
    fn arbitrary_bytes_as_new_codes_never_panic(
        code in prop_oneof![Just(codes::STATUS), Just(codes::GET_RECEIPTS), Just(codes::RECEIPTS), Just(codes::BLOCK_RANGE_UPDATE)],
        data in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        for version in [EthVersion::Eth69, EthVersion::Eth70] {
            let _ = EthMessage::decode(version, code, &data);
        }
    }
}

#[test]
fn message_counts_and_codes_per_version() {
    // geth v1.17.10 `protocolLengths`: eth/69 and eth/70 reserve 18 codes; eth/66-68 reserve 17.
    for (v, n) in [
        (EthVersion::Eth66, 17),
        (EthVersion::Eth67, 17),
        (EthVersion::Eth68, 17),
        (EthVersion::Eth69, 18),
        (EthVersion::Eth70, 18),
    ] {
        assert_eq!(v.message_count(), n, "{v}");
        assert_eq!(v.has_code(codes::BLOCK_RANGE_UPDATE), n == 18, "{v}");
        assert_eq!(v.has_code(codes::NEW_BLOCK), n == 17, "{v}");
        assert_eq!(v.has_code(codes::NEW_BLOCK_HASHES), n == 17, "{v}");
    }
}

#[test]
fn new_block_and_new_block_hashes_are_unknown_from_eth69_on() {
    for version in [EthVersion::Eth69, EthVersion::Eth70] {
        for code in [codes::NEW_BLOCK, codes::NEW_BLOCK_HASHES] {
            let e = EthMessage::decode(version, code, &[0xc0]).unwrap_err();
            assert!(
                matches!(e, Error::UnknownCode { code: c, version: v } if c == code && v == version.number()),
                "{e}"
            );
            assert!(e.is_protocol_violation());
        }
    }
    let e = EthMessage::decode(EthVersion::Eth68, codes::BLOCK_RANGE_UPDATE, &[0xc0]).unwrap_err();
    assert!(matches!(
        e,
        Error::UnknownCode {
            code: 0x11,
            version: 68
        }
    ));
}

#[test]
fn eth69_receipts_carry_no_bloom_and_rebuild_it() {
    let chain = TestChain::with_logs(3, 4);
    let lists = chain.receipts[1..].to_vec();
    assert!(lists.iter().flatten().all(|r| !r.logs_bloom.is_zero()));
    let m68 = EthMessage::Receipts(RequestPair {
        request_id: 1,
        message: lists.clone(),
    });
    let m69 = EthMessage::Receipts69(RequestPair {
        request_id: 1,
        message: lists.clone(),
    });
    let (enc68, enc69) = (m68.encode(), m69.encode());
    // 12 receipts: each drops its 259-byte bloom, gains a one-byte type field; typed ones lose their
    // byte-string wrapper (3 bytes of header here).
    assert!(
        enc68.len() - enc69.len() >= 12 * 255,
        "{} vs {}",
        enc68.len(),
        enc69.len()
    );
    let EthMessage::Receipts69(back) =
        EthMessage::decode(EthVersion::Eth69, codes::RECEIPTS, &enc69).unwrap()
    else {
        panic!("eth/69 Receipts decode as Receipts69");
    };
    assert_eq!(back.message, lists);
    for (n, list) in back.message.iter().enumerate() {
        assert_eq!(
            roots::receipts_root(list),
            chain.headers[n + 1].receipts_root,
            "block {}",
            n + 1
        );
    }
    // The eth/68 form is not accepted on eth/69 (nothing is guessed from the layout).
    assert!(EthMessage::decode(EthVersion::Eth69, codes::RECEIPTS, &enc68).is_err());
}

#[test]
fn eth69_receipt_wire_form_is_a_plain_list() {
    // EIP-7642: [tx-type, post-state-or-status, cumulative-gas, logs], here for a typed receipt with no log.
    let r = chain_types::Receipt {
        tx_type: 2,
        status: chain_types::ReceiptStatus::Success,
        cumulative_gas_used: 0x5208,
        ..chain_types::Receipt::default()
    };
    let m = EthMessage::Receipts69(RequestPair {
        request_id: 7,
        message: vec![vec![r]],
    });
    let enc = m.encode();
    assert_eq!(
        enc.as_ref(),
        [
            0xca, 0x07, 0xc8, 0xc7, 0xc6, 0x02, 0x01, 0x82, 0x52, 0x08, 0xc0
        ]
    );
}

/// Encodes a list of raw items.
fn list(items: &[&[u8]]) -> Vec<u8> {
    let mut s = RlpStream::new_list(items.len());
    for i in items {
        s.append_raw(i, 1);
    }
    s.out().to_vec()
}

fn check_decode_error(version: EthVersion, code: u64, payload: &[u8], name: &str) {
    match EthMessage::decode(version, code, payload) {
        Err(Error::Decode { message, .. }) => assert_eq!(message, name),
        other => panic!("{name} {payload:02x?}: expected a decode error, got {other:?}"),
    }
}

#[test]
fn malformed_new_messages_give_typed_errors() {
    let v69 = EthVersion::Eth69;
    let v70 = EthVersion::Eth70;
    let hash = rlp::encode(&H256::repeat_byte(1)).to_vec();
    let fork = rlp::encode(&ForkId {
        hash: ForkHash::from(1),
        next: 0,
    })
    .to_vec();
    // Status69 with only six fields (the eth/68 count).
    let six = list(&[&[0x45], &[0x01], &hash, &fork, &[0x80], &[0x05]]);
    check_decode_error(v69, codes::STATUS, &six, "Status");
    // The eth/68 Status is not an eth/69 one.
    check_decode_error(
        v69,
        codes::STATUS,
        &list(&[&[0x44], &[0x01], &[0x80], &hash, &hash, &fork]),
        "Status",
    );
    // BlockRangeUpdate with two fields, with a short hash, with trailing bytes.
    check_decode_error(
        v69,
        codes::BLOCK_RANGE_UPDATE,
        &list(&[&[0x01], &[0x02]]),
        "BlockRangeUpdate",
    );
    check_decode_error(
        v69,
        codes::BLOCK_RANGE_UPDATE,
        &list(&[&[0x01], &[0x02], &[0x82, 1, 2]]),
        "BlockRangeUpdate",
    );
    let mut trailing = list(&[&[0x01], &[0x02], &hash]);
    trailing.push(0x80);
    check_decode_error(
        v69,
        codes::BLOCK_RANGE_UPDATE,
        &trailing,
        "BlockRangeUpdate",
    );
    // eth/70 GetReceipts without the index; with a list as index.
    check_decode_error(
        v70,
        codes::GET_RECEIPTS,
        &list(&[&[0x01], &list(&[&hash])]),
        "GetReceipts",
    );
    check_decode_error(
        v70,
        codes::GET_RECEIPTS,
        &list(&[&[0x01], &[0xc0], &list(&[&hash])]),
        "GetReceipts",
    );
    // eth/70 Receipts with a flag that is not a boolean.
    check_decode_error(
        v70,
        codes::RECEIPTS,
        &list(&[&[0x01], &[0x02], &[0xc0]]),
        "Receipts",
    );
    // eth/69 receipts: an invalid type, five fields, a bad status, a log list that is a string.
    let bad_receipts: [Vec<u8>; 4] = [
        list(&[&[0x81, 0x80], &[0x01], &[0x01], &[0xc0]]),
        list(&[&[0x02], &[0x01], &[0x01], &[0xc0], &[0x80]]),
        list(&[&[0x02], &[0x82, 1, 2], &[0x01], &[0xc0]]),
        list(&[&[0x02], &[0x01], &[0x01], &[0x80]]),
    ];
    for r in &bad_receipts {
        let block = list(&[r]);
        let lists = list(&[&block]);
        check_decode_error(v69, codes::RECEIPTS, &list(&[&[0x01], &lists]), "Receipts");
        check_decode_error(
            v70,
            codes::RECEIPTS,
            &list(&[&[0x01], &[0x80], &lists]),
            "Receipts",
        );
    }
}

#[test]
fn ten_mib_of_one_byte_transactions_is_rejected_from_the_list_header() {
    // 10 MiB - 8 bytes of one-byte "transactions" (each a typed transaction of type 1 and no payload): before,
    // every one became its own allocation; now the count alone (more items than 10-byte transactions fit) rejects
    // the message before any item is decoded.
    let n = 10 * 1024 * 1024 - 8;
    // A list header with a 3-byte length.
    let mut enc = vec![0xfa];
    enc.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
    enc.resize(4 + n, 0x01);
    match EthMessage::decode(EthVersion::Eth68, codes::TRANSACTIONS, &enc) {
        Err(Error::Decode { message, source }) => {
            assert_eq!(message, "Transactions");
            assert!(
                source.to_string().contains("more items than its size"),
                "{source}"
            );
        }
        other => panic!("expected a decode error, got {:?}", other.map(|m| m.name())),
    }
    // The same count of real-sized transactions within the limit decodes, sharing the message buffer.
    let tx = Bytes::from_static(&[0xc9, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let m = EthMessage::Transactions(vec![tx; 1000]);
    let msg = m.to_msg();
    let EthMessage::Transactions(back) = EthMessage::from_msg(EthVersion::Eth68, &msg).unwrap()
    else {
        panic!("Transactions decode as Transactions");
    };
    let range = msg.payload.as_ptr_range();
    assert!(
        back.iter().all(|t| range.contains(&t.as_ptr())),
        "zero-copy slices of the message"
    );
}
