//! The built-in chain specs: mainnet, sepolia and hoodi, with the fork schedules and blob schedules of
//! go-ethereum v1.17.10 (`params/chainspecs/*.json`) and genesis headers written out field by field (the state
//! roots were computed by [`ChainSpec::from_geth_genesis_json`] from the full allocs that `geth dumpgenesis`
//! prints; the tests check every genesis hash against the well-known value).

use std::collections::BTreeMap;

use bytes::Bytes;
use primitive_types::{H160, H256, U256};

use super::{BlobParams, ChainSpec, Fork, bootnodes};
use crate::{EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH, Header};

/// Mainnet's genesis hash.
pub const MAINNET_GENESIS_HASH: H256 = H256(hex32(
    b"d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
));
/// Sepolia's genesis hash.
pub const SEPOLIA_GENESIS_HASH: H256 = H256(hex32(
    b"25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9",
));
/// Hoodi's genesis hash.
pub const HOODI_GENESIS_HASH: H256 = H256(hex32(
    b"bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b",
));

/// Decodes 64 hex digits at compile time (a bad digit fails the build).
const fn hex32(s: &[u8; 64]) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (digit(s[2 * i]) << 4) | digit(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// The blob schedule shared by the three built-in chains.
fn blob_schedule() -> BTreeMap<Fork, BlobParams> {
    BTreeMap::from([
        (Fork::Cancun, BlobParams::CANCUN),
        (Fork::Prague, BlobParams::PRAGUE),
        (Fork::Bpo1, BlobParams::BPO1),
        (Fork::Bpo2, BlobParams::BPO2),
    ])
}

/// Every fork from Homestead through Berlin and London at block 0 (sepolia and hoodi start there).
fn block_forks_at_genesis() -> impl Iterator<Item = (Fork, u64)> {
    [
        Fork::Homestead,
        Fork::TangerineWhistle,
        Fork::Eip155,
        Fork::SpuriousDragon,
        Fork::Byzantium,
        Fork::Constantinople,
        Fork::Petersburg,
        Fork::Istanbul,
        Fork::MuirGlacier,
        Fork::Berlin,
        Fork::London,
    ]
    .into_iter()
    .map(|f| (f, 0))
}

impl ChainSpec {
    /// Ethereum mainnet (chain id and network id 1).
    pub fn mainnet() -> Self {
        let genesis = Header {
            ommers_hash: EMPTY_OMMERS_HASH,
            state_root: H256(hex32(
                b"d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544",
            )),
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            difficulty: U256::from(0x4_0000_0000u64),
            gas_limit: 5000,
            extra_data: Bytes::copy_from_slice(&hex32(
                b"11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa",
            )),
            nonce: 0x42u64.to_be_bytes(),
            ..Header::default()
        };
        let forks = BTreeMap::from([
            (Fork::Homestead, 1_150_000),
            (Fork::Dao, 1_920_000),
            (Fork::TangerineWhistle, 2_463_000),
            (Fork::Eip155, 2_675_000),
            (Fork::SpuriousDragon, 2_675_000),
            (Fork::Byzantium, 4_370_000),
            (Fork::Constantinople, 7_280_000),
            (Fork::Petersburg, 7_280_000),
            (Fork::Istanbul, 9_069_000),
            (Fork::MuirGlacier, 9_200_000),
            (Fork::Berlin, 12_244_000),
            (Fork::London, 12_965_000),
            (Fork::ArrowGlacier, 13_773_000),
            (Fork::GrayGlacier, 15_050_000),
            (Fork::Shanghai, 1_681_338_455),
            (Fork::Cancun, 1_710_338_135),
            (Fork::Prague, 1_746_612_311),
            (Fork::Osaka, 1_764_798_551),
            (Fork::Bpo1, 1_765_290_071),
            (Fork::Bpo2, 1_767_747_671),
        ]);
        Self {
            name: "mainnet".to_owned(),
            chain_id: 1,
            network_id: 1,
            genesis: genesis.seal(),
            forks,
            // 58 750 000 000 000 000 000 000.
            terminal_total_difficulty: Some(U256::from(58_750_000u64) * U256::exp10(15)),
            // The first proof-of-stake block (the terminal proof-of-work block is 15 537 393).
            merge_block: Some(15_537_394),
            blob_schedule: blob_schedule(),
            dao_fork_support: true,
            deposit_contract: Some(H160(deposit_contract())),
            bootnodes: bootnodes::MAINNET_BOOTNODES
                .iter()
                .map(|b| (*b).to_owned())
                .collect(),
            dns_networks: vec![bootnodes::ethdisco_tree("mainnet")],
        }
    }

    /// The sepolia test network (chain id and network id 11 155 111).
    pub fn sepolia() -> Self {
        let genesis = Header {
            ommers_hash: EMPTY_OMMERS_HASH,
            state_root: H256(hex32(
                b"5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494",
            )),
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            difficulty: U256::from(0x2_0000u64),
            gas_limit: 30_000_000,
            timestamp: 1_633_267_481,
            extra_data: Bytes::from_static(b"Sepolia, Athens, Attica, Greece!"),
            base_fee_per_gas: Some(1_000_000_000),
            ..Header::default()
        };
        let mut forks: BTreeMap<Fork, u64> = block_forks_at_genesis().collect();
        forks.extend([
            (Fork::MergeNetsplit, 1_735_371),
            (Fork::Shanghai, 1_677_557_088),
            (Fork::Cancun, 1_706_655_072),
            (Fork::Prague, 1_741_159_776),
            (Fork::Osaka, 1_760_427_360),
            (Fork::Bpo1, 1_761_017_184),
            (Fork::Bpo2, 1_761_607_008),
            (Fork::Amsterdam, 1_791_294_816),
        ]);
        Self {
            name: "sepolia".to_owned(),
            chain_id: 11_155_111,
            network_id: 11_155_111,
            genesis: genesis.seal(),
            forks,
            terminal_total_difficulty: Some(U256::from(17_000_000_000_000_000u64)),
            // Not recorded here: the netsplit block and the difficulty of each header tell.
            merge_block: None,
            blob_schedule: blob_schedule(),
            dao_fork_support: true,
            deposit_contract: Some(H160(hex20(*b"7f02c3e3c98b133055b8b348b2ac625669ed295d"))),
            bootnodes: bootnodes::SEPOLIA_BOOTNODES
                .iter()
                .map(|b| (*b).to_owned())
                .collect(),
            dns_networks: vec![bootnodes::ethdisco_tree("sepolia")],
        }
    }

    /// The hoodi test network (chain id and network id 560 048), merged from genesis.
    pub fn hoodi() -> Self {
        let genesis = Header {
            ommers_hash: EMPTY_OMMERS_HASH,
            state_root: H256(hex32(HOODI_STATE_ROOT)),
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            difficulty: U256::one(),
            gas_limit: 36_000_000,
            timestamp: 1_742_212_800,
            nonce: 0x1234u64.to_be_bytes(),
            base_fee_per_gas: Some(1_000_000_000),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(H256::zero()),
            ..Header::default()
        };
        let mut forks: BTreeMap<Fork, u64> = block_forks_at_genesis().collect();
        forks.extend([
            (Fork::MergeNetsplit, 0),
            (Fork::Shanghai, 0),
            (Fork::Cancun, 0),
            (Fork::Prague, 1_742_999_832),
            (Fork::Osaka, 1_761_677_592),
            (Fork::Bpo1, 1_762_365_720),
            (Fork::Bpo2, 1_762_955_544),
        ]);
        Self {
            name: "hoodi".to_owned(),
            chain_id: 560_048,
            network_id: 560_048,
            genesis: genesis.seal(),
            forks,
            terminal_total_difficulty: Some(U256::zero()),
            merge_block: Some(0),
            blob_schedule: blob_schedule(),
            dao_fork_support: true,
            deposit_contract: Some(H160(deposit_contract())),
            bootnodes: bootnodes::HOODI_BOOTNODES
                .iter()
                .map(|b| (*b).to_owned())
                .collect(),
            dns_networks: vec![bootnodes::ethdisco_tree("hoodi")],
        }
    }
}

/// Hoodi's genesis state root.
const HOODI_STATE_ROOT: &[u8; 64] =
    b"da87d7f5f91c51508791bbcbd4aa5baf04917830b86985eeb9ad3d5bfb657576";

/// The mainnet and hoodi deposit contract, `0x00000000219ab540356cBB839Cbe05303d7705Fa`.
const fn deposit_contract() -> [u8; 20] {
    hex20(*b"00000000219ab540356cbb839cbe05303d7705fa")
}

/// Decodes 40 hex digits at compile time.
const fn hex20(s: [u8; 40]) -> [u8; 20] {
    let mut padded = [b'0'; 64];
    let mut i = 0;
    while i < 40 {
        padded[24 + i] = s[i];
        i += 1;
    }
    let full = hex32(&padded);
    let mut out = [0u8; 20];
    let mut j = 0;
    while j < 20 {
        out[j] = full[12 + j];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_hashes_are_the_well_known_ones() {
        // The hashes go-ethereum v1.17.10 ships (`params/config.go`: MainnetGenesisHash, SepoliaGenesisHash,
        // HoodiGenesisHash); mainnet's is also block 0 of every block explorer.
        assert_eq!(ChainSpec::mainnet().genesis_hash(), MAINNET_GENESIS_HASH);
        assert_eq!(ChainSpec::sepolia().genesis_hash(), SEPOLIA_GENESIS_HASH);
        assert_eq!(ChainSpec::hoodi().genesis_hash(), HOODI_GENESIS_HASH);
    }
}
