//! Property tests: RLP round trips for every wire type, canonical re-encoding, and decoders that never panic on
//! arbitrary or mutated bytes.

use bytes::Bytes;
use chain_types::{
    Address, Block, BlockHashOrNumber, Bloom, Body, H256, Header, HeadersRequest, Log, Receipt,
    ReceiptStatus, SealedHeader, U256, Withdrawal,
};
use proptest::prelude::*;

fn h256() -> impl Strategy<Value = H256> {
    any::<[u8; 32]>().prop_map(H256)
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn bloom() -> impl Strategy<Value = Bloom> {
    prop_oneof![
        Just(Bloom::default()),
        proptest::collection::vec(any::<u8>(), 256).prop_map(|v| Bloom(v.try_into().unwrap())),
    ]
}

fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(|b| U256::from_big_endian(&b))
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Headers with every optional-tail shape: the tail is present up to a random length (0 to 6 fields).
pub(crate) fn header() -> impl Strategy<Value = Header> {
    let base = (
        h256(),
        h256(),
        address(),
        h256(),
        h256(),
        h256(),
        bloom(),
        u256(),
    );
    let rest = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        bytes(40),
        h256(),
        any::<[u8; 8]>(),
    );
    let tail = (
        0usize..=8,
        any::<u64>(),
        h256(),
        any::<u64>(),
        any::<u64>(),
        h256(),
        h256(),
        h256(),
        any::<u64>(),
    );
    (base, rest, tail).prop_map(|(b, r, t)| {
        let (tail_len, base_fee, wroot, blob, excess, beacon, requests, access_list, slot) = t;
        Header {
            parent_hash: b.0,
            ommers_hash: b.1,
            beneficiary: b.2,
            state_root: b.3,
            transactions_root: b.4,
            receipts_root: b.5,
            logs_bloom: b.6,
            difficulty: b.7,
            number: r.0,
            gas_limit: r.1,
            gas_used: r.2,
            timestamp: r.3,
            extra_data: r.4,
            mix_hash: r.5,
            nonce: r.6,
            base_fee_per_gas: (tail_len >= 1).then_some(base_fee),
            withdrawals_root: (tail_len >= 2).then_some(wroot),
            blob_gas_used: (tail_len >= 3).then_some(blob),
            excess_blob_gas: (tail_len >= 4).then_some(excess),
            parent_beacon_block_root: (tail_len >= 5).then_some(beacon),
            requests_hash: (tail_len >= 6).then_some(requests),
            block_access_list_hash: (tail_len >= 7).then_some(access_list),
            slot_number: (tail_len >= 8).then_some(slot),
        }
    })
}

/// A raw transaction: a legacy RLP list of random strings, or a typed envelope with a random payload.
fn transaction() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..9).prop_map(
            |items| {
                let mut s = rlp::RlpStream::new_list(items.len());
                for i in &items {
                    s.append(i);
                }
                Bytes::from(s.out().to_vec())
            }
        ),
        (1u8..=0x7f, proptest::collection::vec(any::<u8>(), 0..120)).prop_map(|(t, payload)| {
            let mut v = vec![t];
            v.extend(payload);
            Bytes::from(v)
        }),
    ]
}

fn withdrawal() -> impl Strategy<Value = Withdrawal> {
    (any::<u64>(), any::<u64>(), address(), any::<u64>()).prop_map(
        |(index, validator_index, address, amount)| Withdrawal {
            index,
            validator_index,
            address,
            amount,
        },
    )
}

fn body() -> impl Strategy<Value = Body> {
    (
        proptest::collection::vec(transaction(), 0..6),
        proptest::collection::vec(header(), 0..3),
        proptest::option::of(proptest::collection::vec(withdrawal(), 0..4)),
    )
        .prop_map(|(transactions, ommers, withdrawals)| Body {
            transactions,
            ommers,
            withdrawals,
        })
}

fn log() -> impl Strategy<Value = Log> {
    (
        address(),
        proptest::collection::vec(h256(), 0..5),
        bytes(80),
    )
        .prop_map(|(address, topics, data)| Log {
            address,
            topics,
            data,
        })
}

fn receipt() -> impl Strategy<Value = Receipt> {
    let status = prop_oneof![
        Just(ReceiptStatus::Success),
        Just(ReceiptStatus::Failure),
        h256().prop_map(ReceiptStatus::PostState)
    ];
    (
        prop_oneof![Just(0u8), 1u8..=0x7f],
        status,
        any::<u64>(),
        bloom(),
        proptest::collection::vec(log(), 0..4),
    )
        .prop_map(
            |(tx_type, status, cumulative_gas_used, logs_bloom, logs)| Receipt {
                tx_type,
                status,
                cumulative_gas_used,
                logs_bloom,
                logs,
            },
        )
}

fn headers_request() -> impl Strategy<Value = HeadersRequest> {
    let origin = prop_oneof![
        any::<u64>().prop_map(BlockHashOrNumber::Number),
        h256().prop_map(BlockHashOrNumber::Hash)
    ];
    (origin, any::<u64>(), any::<u64>(), any::<bool>()).prop_map(
        |(origin, amount, skip, reverse)| HeadersRequest {
            origin,
            amount,
            skip,
            reverse,
        },
    )
}

/// A valid encoding with one byte changed, a byte inserted or removed, or cut short.
fn mutate(mut v: Vec<u8>, kind: u8, at: usize, byte: u8) -> Vec<u8> {
    if v.is_empty() {
        return vec![byte];
    }
    let at = at % v.len();
    match kind % 4 {
        0 => v[at] = byte,
        1 => v.insert(at, byte),
        2 => {
            v.remove(at);
        }
        _ => v.truncate(at),
    }
    v
}

/// Tries every decoder of the crate on `data`; none may panic.
fn decode_everything(data: &[u8]) {
    let _ = rlp::decode::<Header>(data);
    let _ = Header::decode_exact(data);
    let _ = rlp::decode::<SealedHeader>(data);
    let _ = rlp::decode::<Body>(data);
    let _ = rlp::decode::<Block>(data);
    let _ = rlp::decode::<Receipt>(data);
    let _ = Receipt::decode_envelope(data);
    let _ = rlp::decode::<Log>(data);
    let _ = rlp::decode::<Withdrawal>(data);
    let _ = rlp::decode::<HeadersRequest>(data);
    let _ = rlp::decode::<BlockHashOrNumber>(data);
    let _ = rlp::decode::<ReceiptStatus>(data);
    let _ = rlp::Rlp::new(data).as_list::<Receipt>();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn header_round_trips(h in header()) {
        let enc = rlp::encode(&h);
        prop_assert_eq!(&rlp::decode::<Header>(&enc).unwrap(), &h);
        let sealed: SealedHeader = rlp::decode(&enc).unwrap();
        prop_assert_eq!(sealed.hash(), h.hash());
        prop_assert_eq!(Header::decode_exact(&enc).unwrap(), h);
    }

    #[test]
    fn body_and_block_round_trip(b in body(), h in header()) {
        prop_assert_eq!(&rlp::decode::<Body>(&rlp::encode(&b)).unwrap(), &b);
        let block = Block { header: h.seal(), body: b };
        prop_assert_eq!(rlp::decode::<Block>(&rlp::encode(&block)).unwrap(), block);
    }

    #[test]
    fn receipt_round_trips(r in receipt()) {
        prop_assert_eq!(&rlp::decode::<Receipt>(&rlp::encode(&r)).unwrap(), &r);
        prop_assert_eq!(&Receipt::decode_envelope(&r.encode_envelope()).unwrap(), &r);
        let list = vec![r.clone(), r];
        let mut s = rlp::RlpStream::new();
        s.append_list(&list);
        prop_assert_eq!(rlp::Rlp::new(&s.out()).as_list::<Receipt>().unwrap(), list);
    }

    #[test]
    fn small_types_round_trip(w in withdrawal(), req in headers_request(), l in log()) {
        prop_assert_eq!(rlp::decode::<Withdrawal>(&rlp::encode(&w)).unwrap(), w);
        prop_assert_eq!(rlp::decode::<HeadersRequest>(&rlp::encode(&req)).unwrap(), req);
        prop_assert_eq!(rlp::decode::<Log>(&rlp::encode(&l)).unwrap(), l);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..700)) {
        decode_everything(&data);
    }

    #[test]
    fn mutated_encodings_never_panic_and_headers_stay_canonical(
        h in header(), b in body(), r in receipt(), kind in any::<u8>(), at in any::<usize>(), byte in any::<u8>()
    ) {
        let block = Block { header: h.clone().seal(), body: b };
        for enc in [rlp::encode(&h).to_vec(), rlp::encode(&block).to_vec(), rlp::encode(&r).to_vec(), r.encode_envelope()] {
            let m = mutate(enc, kind, at, byte);
            decode_everything(&m);
            if let Ok(decoded) = Header::decode_exact(&m) {
                // Whatever decodes re-encodes to the same bytes, so hashes computed from the wire are stable.
                prop_assert_eq!(rlp::encode(&decoded).to_vec(), m);
            }
        }
    }
}
