//! Strict list decoding: a malformed or truncated item anywhere in a message's lists, an item left over after a
//! list's fields, and bytes after the payload are typed decode errors, never a silently shortened list.
//!
//! Each malformed payload is built from a valid encoding by appending a broken item inside one of its lists. The
//! `rlp` crate's list iterator stops silently at such an item, so a lenient decoder would return the valid prefix.

use bytes::Bytes;
use chain_types::{BlockHashOrNumber, Body, Header, HeadersRequest, Receipt};
use eth_wire::{
    BlockHashNumber, EthMessage, EthVersion, ForkHash, ForkId, NewBlock,
    PooledTransactionsAnnouncement, RequestPair, Status, code_name,
};
use primitive_types::{H256, U256};
use rlp::Rlp;

/// Items whose header claims more bytes than the enclosing list holds: a string of 1 byte with no byte, a long
/// string without its length byte, a list of 5 bytes with 1 byte, and a string of 3 bytes with 1 byte.
const BROKEN_ITEMS: [&[u8]; 4] = [&[0x81], &[0xb8], &[0xc5, 0x01], &[0x83, 0x01]];

/// Wraps `payload` in an RLP list header.
fn wrap_list(payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = if len < 56 {
        vec![0xc0 + len as u8]
    } else {
        let be = (len as u64).to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        let mut h = vec![0xf7 + (8 - skip) as u8];
        h.extend_from_slice(&be[skip..]);
        h
    };
    out.extend_from_slice(payload);
    out
}

/// Re-encodes the valid list `enc` with `extra` appended to the payload of the list reached by `path` (indices of
/// nested list items; empty: the outer list).
fn append_in(enc: &[u8], path: &[usize], extra: &[u8]) -> Vec<u8> {
    let rlp = Rlp::new(enc);
    assert!(rlp.is_list(), "the path must lead through lists");
    let n = rlp.item_count().expect("a valid list");
    let mut payload = Vec::new();
    for i in 0..n {
        let item = rlp.at(i).expect("a valid item");
        match path.split_first() {
            Some((first, rest)) if *first == i => {
                payload.extend_from_slice(&append_in(item.as_raw(), rest, extra));
            }
            _ => payload.extend_from_slice(item.as_raw()),
        }
    }
    if path.is_empty() {
        payload.extend_from_slice(extra);
    }
    wrap_list(&payload)
}

/// Checks that `m` round-trips, and that every broken item appended to each list at `paths`, and every trailing
/// byte after the payload, is an `Error::Decode` naming the message.
fn assert_strict(version: EthVersion, m: &EthMessage, paths: &[&[usize]]) {
    let code = m.code();
    let enc = m.encode();
    assert_eq!(
        EthMessage::decode(version, code, &enc).ok().as_ref(),
        Some(m),
        "the valid {} message must decode",
        m.name()
    );
    let mut bad = Vec::new();
    for path in paths {
        for item in BROKEN_ITEMS {
            bad.push((
                format!("{item:02x?} in list {path:?}"),
                append_in(&enc, path, item),
            ));
        }
    }
    for trailing in [&[0x80][..], &[0x01], &[0x81], &[0xc0]] {
        let mut v = enc.to_vec();
        v.extend_from_slice(trailing);
        bad.push((format!("trailing {trailing:02x?}"), v));
    }
    for (what, payload) in bad {
        match EthMessage::decode(version, code, &payload) {
            Err(eth_wire::Error::Decode { message, .. }) => {
                assert_eq!(message, code_name(code), "{what}");
            }
            other => panic!(
                "{} with {what} ({:02x?}) must be a decode error, got {other:?}",
                m.name(),
                payload
            ),
        }
    }
}

fn hashes(n: u8) -> Vec<H256> {
    (1..=n).map(H256::repeat_byte).collect()
}

fn txs() -> Vec<Bytes> {
    // A legacy transaction (an RLP list) and a typed one (`type || payload`), nine fields each (the smallest a
    // decoder accepts in bulk: geth's minimum encoded transaction size).
    vec![
        Bytes::from_static(&[0xc9, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]),
        Bytes::from_static(&[
            0x02, 0xc9, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
        ]),
    ]
}

fn header(number: u64) -> Header {
    Header {
        number,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(7),
        ..Header::default()
    }
}

#[test]
fn block_headers_with_a_broken_item_are_rejected() {
    let m = EthMessage::BlockHeaders(RequestPair {
        request_id: 5,
        message: vec![header(1), header(2)],
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[]]);
}

#[test]
fn block_bodies_with_a_broken_item_are_rejected() {
    let body = Body {
        transactions: txs(),
        ommers: vec![header(9)],
        withdrawals: Some(Vec::new()),
    };
    let m = EthMessage::BlockBodies(RequestPair {
        request_id: 6,
        message: vec![body, Body::default()],
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[]]);
}

#[test]
fn receipts_with_a_broken_item_are_rejected() {
    let r = Receipt {
        cumulative_gas_used: 21_000,
        ..Receipt::default()
    };
    let m = EthMessage::Receipts(RequestPair {
        request_id: 7,
        message: vec![vec![r.clone(), r.clone()], vec![r]],
    });
    // The list of blocks, the receipts of one block, and the request pair.
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[1, 0], &[1, 1], &[]]);
}

#[test]
fn new_block_hashes_with_a_broken_item_are_rejected() {
    let m = EthMessage::NewBlockHashes(vec![
        BlockHashNumber {
            hash: H256::repeat_byte(1),
            number: 1,
        },
        BlockHashNumber {
            hash: H256::repeat_byte(2),
            number: 2,
        },
    ]);
    // The outer list and one `[hash, number]` entry.
    assert_strict(EthVersion::Eth68, &m, &[&[], &[1]]);
}

#[test]
fn transactions_with_a_broken_item_are_rejected() {
    let m = EthMessage::Transactions(txs());
    // The list and the legacy transaction (kept raw, but it must be well-formed too).
    assert_strict(EthVersion::Eth68, &m, &[&[], &[0]]);
}

#[test]
fn get_block_bodies_with_a_broken_item_are_rejected() {
    let m = EthMessage::GetBlockBodies(RequestPair {
        request_id: 8,
        message: hashes(3),
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[]]);
}

#[test]
fn get_receipts_with_a_broken_item_are_rejected() {
    let m = EthMessage::GetReceipts(RequestPair {
        request_id: 9,
        message: hashes(2),
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[]]);
}

#[test]
fn eth66_announcement_with_a_broken_item_is_rejected() {
    let m = EthMessage::NewPooledTransactionHashes66(hashes(2));
    assert_strict(EthVersion::Eth66, &m, &[&[]]);
    assert_strict(EthVersion::Eth67, &m, &[&[]]);
}

#[test]
fn eth68_announcement_with_a_broken_item_is_rejected() {
    let m = EthMessage::NewPooledTransactionHashes68(PooledTransactionsAnnouncement {
        types: vec![0, 2],
        sizes: vec![100, 200],
        hashes: hashes(2),
    });
    // The sizes, the hashes and the outer `[types, sizes, hashes]`.
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[2], &[]]);
}

#[test]
fn pooled_transactions_with_a_broken_item_are_rejected() {
    let m = EthMessage::PooledTransactions(RequestPair {
        request_id: 10,
        message: txs(),
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[1, 0], &[]]);
}

#[test]
fn get_pooled_transactions_with_a_broken_item_are_rejected() {
    let m = EthMessage::GetPooledTransactions(RequestPair {
        request_id: 11,
        message: hashes(2),
    });
    assert_strict(EthVersion::Eth68, &m, &[&[1], &[]]);
}

#[test]
fn node_data_messages_with_a_broken_item_are_rejected() {
    let get = EthMessage::GetNodeData(RequestPair {
        request_id: 12,
        message: hashes(2),
    });
    assert_strict(EthVersion::Eth66, &get, &[&[1], &[]]);
    let data = EthMessage::NodeData(RequestPair {
        request_id: 12,
        message: vec![Bytes::from_static(b"node"), Bytes::new()],
    });
    assert_strict(EthVersion::Eth66, &data, &[&[1], &[]]);
}

#[test]
fn get_block_headers_with_a_broken_item_is_rejected() {
    let m = EthMessage::GetBlockHeaders(RequestPair {
        request_id: 13,
        message: HeadersRequest {
            origin: BlockHashOrNumber::Number(100),
            amount: 16,
            skip: 0,
            reverse: false,
        },
    });
    // The request pair and the `[origin, amount, skip, reverse]` request.
    assert_strict(EthVersion::Eth68, &m, &[&[], &[1]]);
}

#[test]
fn new_block_with_a_broken_item_is_rejected() {
    let m = EthMessage::NewBlock(Box::new(NewBlock {
        header: header(3),
        body: Body {
            transactions: txs(),
            ommers: Vec::new(),
            withdrawals: None,
        },
        total_difficulty: U256::from(1_000u64),
    }));
    // `[block, td]`, the block `[header, txs, ommers]` and its transactions.
    assert_strict(EthVersion::Eth68, &m, &[&[], &[0], &[0, 1]]);
}

#[test]
fn status_with_a_broken_item_is_rejected() {
    let m = EthMessage::Status(Status {
        version: 68,
        network_id: 1,
        total_difficulty: U256::from(17u64),
        best_hash: H256::repeat_byte(1),
        genesis: H256::repeat_byte(2),
        fork_id: ForkId {
            hash: ForkHash([1, 2, 3, 4]),
            next: 0,
        },
    });
    // Extra well-formed fields are tolerated (forward compatibility), a broken one is not; likewise in the fork id.
    assert_strict(EthVersion::Eth68, &m, &[&[], &[5]]);
}
