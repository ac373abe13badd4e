//! Known-answer tests: real mainnet headers and their hashes.

use bytes::Bytes;
use chain_types::{
    Address, Bloom, EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH, H256, Header, SealedHeader, U256,
};

fn h256(s: &str) -> H256 {
    H256::from_slice(&hex::decode(s.trim_start_matches("0x")).unwrap())
}

/// The mainnet genesis header (values from the genesis block as every client ships it).
pub(crate) fn mainnet_genesis() -> Header {
    Header {
        parent_hash: H256::zero(),
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: Address::zero(),
        state_root: h256("d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::default(),
        difficulty: U256::from(0x4_0000_0000u64),
        number: 0,
        gas_limit: 5000,
        gas_used: 0,
        timestamp: 0,
        extra_data: Bytes::from(
            hex::decode("11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa")
                .unwrap(),
        ),
        mix_hash: H256::zero(),
        nonce: [0, 0, 0, 0, 0, 0, 0, 0x42],
        ..Header::default()
    }
}

#[test]
fn mainnet_genesis_hash() {
    let genesis = mainnet_genesis();
    let expected = h256("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3");
    assert_eq!(genesis.hash(), expected);
    let enc = rlp::encode(&genesis);
    let sealed: SealedHeader = rlp::decode(&enc).unwrap();
    assert_eq!(sealed.hash(), expected);
    assert_eq!(sealed.header(), &genesis);
    assert_eq!(genesis.seal().hash(), expected);
}

#[test]
fn a_changed_field_changes_the_hash() {
    let mut g = mainnet_genesis();
    g.nonce[7] = 0x43;
    assert_ne!(
        g.hash(),
        h256("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3")
    );
}
