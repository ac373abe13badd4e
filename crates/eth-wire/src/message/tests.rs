//! Unit tests of the message codecs.

use chain_types::BlockHashOrNumber;

use super::*;

#[test]
fn get_block_headers_matches_the_reference_peer_log() {
    // The reference peer logs `[1, [0, 1024, 0, 0]]` as 0xc801c6008204000000... with `reverse` as 0x80 here.
    let m = EthMessage::GetBlockHeaders(RequestPair {
        request_id: 1,
        message: HeadersRequest {
            origin: BlockHashOrNumber::Number(0),
            amount: 1024,
            skip: 0,
            reverse: false,
        },
    });
    let enc = m.encode();
    assert_eq!(
        enc.as_ref(),
        [0xc8, 0x01, 0xc6, 0x80, 0x82, 0x04, 0x00, 0x80, 0x80]
    );
    assert_eq!(EthMessage::decode(EthVersion::Eth68, 3, &enc).ok(), Some(m));
}

#[test]
fn node_data_only_in_eth66() {
    let m = EthMessage::GetNodeData(RequestPair {
        request_id: 7,
        message: vec![H256::repeat_byte(1)],
    });
    let enc = m.encode();
    assert!(EthMessage::decode(EthVersion::Eth66, codes::GET_NODE_DATA, &enc).is_ok());
    let e = EthMessage::decode(EthVersion::Eth67, codes::GET_NODE_DATA, &enc);
    assert!(matches!(
        e,
        Err(Error::UnknownCode {
            code: 0x0d,
            version: 67
        })
    ));
}

#[test]
fn trailing_bytes_are_rejected() {
    let m = EthMessage::GetReceipts(RequestPair {
        request_id: 7,
        message: vec![H256::repeat_byte(1)],
    });
    let mut enc = m.encode().to_vec();
    enc.push(0x80);
    assert!(EthMessage::decode(EthVersion::Eth68, codes::GET_RECEIPTS, &enc).is_err());
}

#[test]
fn announcement_lengths_must_agree() {
    let bad = PooledTransactionsAnnouncement {
        types: vec![2, 2],
        sizes: vec![100],
        hashes: vec![H256::zero()],
    };
    let enc = rlp::encode(&bad);
    let e = EthMessage::decode(
        EthVersion::Eth68,
        codes::NEW_POOLED_TRANSACTION_HASHES,
        &enc,
    );
    assert!(matches!(e, Err(Error::Decode { .. })));
}
