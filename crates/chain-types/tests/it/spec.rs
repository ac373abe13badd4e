//! Chain specs against published known answers: genesis hashes, fork ids of every fork of the built-in chains,
//! geth genesis files (geth's own eth test chain, the full sepolia and hoodi allocs), and header validation over
//! consecutive headers that geth produced across Shanghai, Cancun, Prague, Osaka, BPO1, BPO2 and Amsterdam.

use chain_types::{
    ChainSpec, Fork, ForkHash, ForkId, H256, HeaderError, SealedHeader, spec::HOODI_GENESIS_HASH,
    spec::MAINNET_GENESIS_HASH, spec::SEPOLIA_GENESIS_HASH,
};

fn h256(s: &str) -> H256 {
    H256::from_slice(&hex::decode(s.trim_start_matches("0x")).unwrap())
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

// Fork ids (head number, head time, fork hash, fork next) from go-ethereum v1.17.10,
// `core/forkid/forkid_test.go`, `TestCreation` (the published EIP-2124 / EIP-6122 known answers for each chain).

/// mainnet.
const MAINNET_FORK_IDS: &[(u64, u64, u32, u64)] = &[
    (0, 0, 0xfc64_ec04, 1150000),
    (1149999, 0, 0xfc64_ec04, 1150000),
    (1150000, 0, 0x97c2_c34c, 1920000),
    (1919999, 0, 0x97c2_c34c, 1920000),
    (1920000, 0, 0x91d1_f948, 2463000),
    (2462999, 0, 0x91d1_f948, 2463000),
    (2463000, 0, 0x7a64_da13, 2675000),
    (2674999, 0, 0x7a64_da13, 2675000),
    (2675000, 0, 0x3edd_5b10, 4370000),
    (4369999, 0, 0x3edd_5b10, 4370000),
    (4370000, 0, 0xa00b_c324, 7280000),
    (7279999, 0, 0xa00b_c324, 7280000),
    (7280000, 0, 0x668d_b0af, 9069000),
    (9068999, 0, 0x668d_b0af, 9069000),
    (9069000, 0, 0x879d_6e30, 9200000),
    (9199999, 0, 0x879d_6e30, 9200000),
    (9200000, 0, 0xe029_e991, 12244000),
    (12243999, 0, 0xe029_e991, 12244000),
    (12244000, 0, 0x0eb4_40f6, 12965000),
    (12964999, 0, 0x0eb4_40f6, 12965000),
    (12965000, 0, 0xb715_077d, 13773000),
    (13772999, 0, 0xb715_077d, 13773000),
    (13773000, 0, 0x20c3_27fc, 15050000),
    (15049999, 0, 0x20c3_27fc, 15050000),
    (15050000, 0, 0xf0af_d0e3, 1681338455),
    (20000000, 1681338454, 0xf0af_d0e3, 1681338455),
    (20000000, 1681338455, 0xdce9_6c2d, 1710338135),
    (30000000, 1710338134, 0xdce9_6c2d, 1710338135),
    (30000000, 1710338135, 0x9f3d_2254, 1746612311),
    (30000000, 1746022486, 0x9f3d_2254, 1746612311),
    (30000000, 1746612311, 0xc376_cf8b, 1764798551),
    (30000000, 1764798550, 0xc376_cf8b, 1764798551),
    (30000000, 1764798551, 0x5167_e2a6, 1765290071),
    (30000000, 1765290070, 0x5167_e2a6, 1765290071),
    (30000000, 1765290071, 0xcba2_a1c0, 1767747671),
    (30000000, 1767747670, 0xcba2_a1c0, 1767747671),
    (30000000, 1767747671, 0x07c9_462e, 0),
    (50000000, 2000000000, 0x07c9_462e, 0),
];

/// sepolia.
const SEPOLIA_FORK_IDS: &[(u64, u64, u32, u64)] = &[
    (0, 0, 0xfe33_66e7, 1735371),
    (1735370, 0, 0xfe33_66e7, 1735371),
    (1735371, 0, 0xb96c_bd13, 1677557088),
    (1735372, 1677557087, 0xb96c_bd13, 1677557088),
    (1735372, 1677557088, 0xf7f9_bc08, 1706655072),
    (1735372, 1706655071, 0xf7f9_bc08, 1706655072),
    (1735372, 1706655072, 0x88cf_81d9, 1741159776),
    (1735372, 1741159775, 0x88cf_81d9, 1741159776),
    (1735372, 1741159776, 0xed88_b5fd, 1760427360),
    (1735372, 1760427359, 0xed88_b5fd, 1760427360),
    (1735372, 1760427360, 0xe2ae_4999, 1761017184),
    (1735372, 1761017183, 0xe2ae_4999, 1761017184),
    (1735372, 1761017184, 0x5607_8a1e, 1761607008),
    (1735372, 1761607007, 0x5607_8a1e, 1761607008),
    (1735372, 1761607008, 0x2689_56b6, 1791294816),
    (1735372, 1791294815, 0x2689_56b6, 1791294816),
    (1735372, 1791294816, 0x6c1d_9423, 0),
    (1735372, 2000000000, 0x6c1d_9423, 0),
];

/// hoodi.
const HOODI_FORK_IDS: &[(u64, u64, u32, u64)] = &[
    (0, 0, 0xbef7_1d30, 1742999832),
    (123, 1742999831, 0xbef7_1d30, 1742999832),
    (123, 1742999832, 0x0929_e24e, 1761677592),
    (123, 1761677591, 0x0929_e24e, 1761677592),
    (123, 1761677592, 0xe7e0_e7ff, 1762365720),
    (123, 1762365719, 0xe7e0_e7ff, 1762365720),
    (123, 1762365720, 0x3893_353e, 1762955544),
    (123, 1762955543, 0x3893_353e, 1762955544),
    (123, 1762955544, 0x23aa_1351, 0),
    (123, 2000000000, 0x23aa_1351, 0),
];

fn check_fork_ids(spec: &ChainSpec, cases: &[(u64, u64, u32, u64)]) {
    for &(number, time, hash, next) in cases {
        let want = ForkId {
            hash: ForkHash::from(hash),
            next,
        };
        assert_eq!(
            spec.fork_id_at(number, time),
            want,
            "{} at #{number} t={time}",
            spec.name
        );
        // The filter built from the spec accepts its own id at every head.
        assert_eq!(spec.fork_filter_at(number, time).validate(want), Ok(()));
    }
}

#[test]
fn mainnet_fork_ids_are_geths() {
    check_fork_ids(&ChainSpec::mainnet(), MAINNET_FORK_IDS);
}

#[test]
fn sepolia_fork_ids_are_geths() {
    check_fork_ids(&ChainSpec::sepolia(), SEPOLIA_FORK_IDS);
}

#[test]
fn hoodi_fork_ids_are_geths() {
    check_fork_ids(&ChainSpec::hoodi(), HOODI_FORK_IDS);
}

#[test]
fn the_issues_mainnet_fork_hashes() {
    let m = ChainSpec::mainnet();
    let at = |f| m.activation(f).unwrap();
    for (fork, hash) in [
        (Fork::Prague, 0xc376_cf8b),
        (Fork::Osaka, 0x5167_e2a6),
        (Fork::Bpo1, 0xcba2_a1c0),
        (Fork::Bpo2, 0x07c9_462e),
    ] {
        assert_eq!(
            m.fork_id_at(23_000_000, at(fork)).hash,
            ForkHash::from(hash),
            "{fork}"
        );
    }
}

#[test]
fn builtin_genesis_hashes_are_the_well_known_ones() {
    // Mainnet 0xd4e5…8fa3, sepolia 0x25a5…6dd9, hoodi 0xbbe3…971b: go-ethereum v1.17.10 `params/config.go`
    // (MainnetGenesisHash, SepoliaGenesisHash, HoodiGenesisHash).
    let cases = [
        (
            ChainSpec::mainnet(),
            "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
        ),
        (
            ChainSpec::sepolia(),
            "25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9",
        ),
        (
            ChainSpec::hoodi(),
            "bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b",
        ),
    ];
    for (spec, hash) in cases {
        assert_eq!(spec.genesis_hash(), h256(hash), "{}", spec.name);
        assert_eq!(
            spec.genesis.header().hash(),
            h256(hash),
            "the seal is honest"
        );
    }
    assert_eq!(ChainSpec::mainnet().genesis_hash(), MAINNET_GENESIS_HASH);
    assert_eq!(ChainSpec::sepolia().genesis_hash(), SEPOLIA_GENESIS_HASH);
    assert_eq!(ChainSpec::hoodi().genesis_hash(), HOODI_GENESIS_HASH);
}

/// `geth dumpgenesis --sepolia` / `--hoodi` (go-ethereum v1.17.10) give the full genesis files, allocs with
/// contract code and storage included; reading them must give the built-in specs, state root and all.
#[test]
fn dumped_geth_genesis_files_give_the_builtin_specs() {
    for (file, builtin) in [
        ("geth-sepolia-genesis.json", ChainSpec::sepolia()),
        ("geth-hoodi-genesis.json", ChainSpec::hoodi()),
    ] {
        let spec = ChainSpec::from_path(fixture(file)).unwrap();
        assert_eq!(spec.genesis, builtin.genesis, "{file}");
        assert_eq!(spec.forks, builtin.forks, "{file}");
        assert_eq!(spec.blob_schedule, builtin.blob_schedule, "{file}");
        assert_eq!(
            spec.terminal_total_difficulty,
            builtin.terminal_total_difficulty
        );
        assert_eq!(
            (spec.chain_id, spec.network_id),
            (builtin.chain_id, builtin.network_id)
        );
        assert_eq!(spec.deposit_contract, builtin.deposit_contract);
        assert_eq!(
            spec.fork_id_at(u64::MAX, u64::MAX),
            builtin.fork_id_at(u64::MAX, u64::MAX)
        );
    }
}

/// geth's devp2p eth test chain (go-ethereum v1.17.10, `cmd/devp2p/internal/ethtest/testdata/genesis.json`,
/// copied to `tests/fixtures/geth-ethtest-genesis.json`). The genesis hash is what the real geth v1.17.10
/// computes (`geth init` logged `hash=1518c3..52024c`; `eth.getBlock(0).hash` after importing the chain gave
/// the full value), and the fork id at the head (block 600, time 6000, `headblock.json`) is the one geth puts in
/// its ENR `eth` entry with that chain imported: `[0x5942bfc2, 0]`.
#[test]
fn geth_eth_test_chain_genesis_and_head_fork_id() {
    let spec = ChainSpec::from_path(fixture("geth-ethtest-genesis.json")).unwrap();
    assert_eq!(
        spec.genesis_hash(),
        h256("1518c33dab6ed4dbb2d0c48239ac2f00acc0e28dc43660bb745a0f127552024c")
    );
    assert_eq!(
        (spec.chain_id, spec.network_id),
        (3_503_995_874_084_926, 3_503_995_874_084_926)
    );
    let head = spec.fork_id_at(600, 6000);
    assert_eq!(
        head,
        ForkId {
            hash: ForkHash::from(0x5942_bfc2),
            next: 0
        }
    );
    // At genesis the next fork is Cancun at time 60 (Shanghai at 0 is not a fork of the id).
    assert_eq!(spec.fork_filter().current().next, 60);
    assert_eq!(spec.activation(Fork::Amsterdam), Some(360));
}

/// Headers 1-64 of geth's eth test chain (`chain.rlp` of the same test data; header RLPs cut out of blocks
/// 1-64 into `tests/fixtures/geth-ethtest-headers-1-64.rlp`). Block time is 10 s, so the chain crosses Cancun
/// (60), Prague (120), Osaka (180), BPO1 (240), BPO2 (300) and Amsterdam (360); geth accepted every header.
fn eth_test_chain() -> (ChainSpec, Vec<SealedHeader>) {
    let spec = ChainSpec::from_path(fixture("geth-ethtest-genesis.json")).unwrap();
    let bytes = std::fs::read(fixture("geth-ethtest-headers-1-64.rlp")).unwrap();
    let mut headers = vec![spec.genesis.clone()];
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = rlp::Rlp::new(rest).payload_info().unwrap().total();
        let (one, tail) = rest.split_at(len);
        headers.push(chain_types::codec::decode_exact(one).unwrap());
        rest = tail;
    }
    assert_eq!(headers.len(), 65);
    (spec, headers)
}

#[test]
fn every_header_of_geths_test_chain_validates() {
    let (spec, headers) = eth_test_chain();
    let mut forks_seen = std::collections::BTreeSet::new();
    for pair in headers.windows(2) {
        let (parent, header) = (&pair[0], &pair[1]);
        assert_eq!(
            spec.validate_header(header, parent),
            Ok(()),
            "#{}",
            header.number
        );
        forks_seen.insert(spec.fork_at(header.number, header.timestamp));
    }
    for fork in [
        Fork::Cancun,
        Fork::Prague,
        Fork::Osaka,
        Fork::Bpo1,
        Fork::Bpo2,
        Fork::Amsterdam,
    ] {
        assert!(forks_seen.contains(&Some(fork)), "{fork} crossed");
    }
    // Some header of the chain carries blobs, so the excess blob gas formula is exercised with non-zero values.
    assert!(headers.iter().any(|h| h.blob_gas_used.unwrap_or(0) > 0));
}

#[test]
fn tampered_test_chain_headers_fail_with_the_broken_rule() {
    let (spec, headers) = eth_test_chain();
    // The first Amsterdam header (time 360) without its block access list hash.
    let i = headers.iter().position(|h| h.timestamp == 360).unwrap();
    let mut h = headers[i].header().clone();
    h.block_access_list_hash = None;
    h.slot_number = None;
    assert_eq!(
        spec.validate_header(&h.seal(), &headers[i - 1]),
        Err(HeaderError::MissingField {
            field: "block access list hash",
            fork: Fork::Amsterdam
        })
    );
    // A header after the parent of another.
    assert!(matches!(
        spec.validate_header(&headers[5], &headers[3]),
        Err(HeaderError::ParentHash { .. })
    ));
    // A base fee one wei off.
    let mut h = headers[10].header().clone();
    h.base_fee_per_gas = h.base_fee_per_gas.map(|f| f + 1);
    assert!(matches!(
        spec.validate_header(&h.seal(), &headers[9]),
        Err(HeaderError::BaseFee { .. })
    ));
}

/// The crate's real mainnet headers (`known.rs`: the terminal proof-of-work block, London, Shanghai and Cancun
/// headers) have exactly the fields their forks require, and lose that property when a field is dropped.
#[test]
fn real_mainnet_headers_have_their_forks_fields() {
    let m = ChainSpec::mainnet();
    let headers = crate::known::real_mainnet_headers();
    assert!(headers.len() >= 5);
    for header in headers {
        assert_eq!(m.check_header_fields(&header), Ok(()), "#{}", header.number);
        let mut broken = header.clone();
        broken.base_fee_per_gas = None;
        assert!(matches!(
            m.check_header_fields(&broken),
            Err(HeaderError::MissingField {
                fork: Fork::London,
                ..
            })
        ));
        let mut early = header.clone();
        early.requests_hash = Some(H256::zero());
        assert!(matches!(
            m.check_header_fields(&early),
            Err(HeaderError::UnexpectedField { .. })
        ));
    }
}

/// The filter of a spec validates remote ids by the EIP-2124 rules: another chain is incompatible, a peer still
/// syncing through our past forks is fine when it announces the fork that followed, and stale when it does not.
#[test]
fn spec_filters_apply_the_eip_2124_rules() {
    let mainnet = ChainSpec::mainnet();
    let filter = mainnet.fork_filter_at(24_000_000, 1_767_747_671);
    let hoodi = ChainSpec::hoodi().fork_id_at(0, 0);
    assert_eq!(
        filter.validate(hoodi),
        Err(chain_types::ForkIdError::LocalIncompatibleOrStale)
    );
    let syncing = mainnet.fork_id_at(12_965_000, 0);
    assert_eq!(filter.validate(syncing), Ok(()));
    let stale = ForkId {
        next: 13_000_000,
        ..syncing
    };
    assert_eq!(
        filter.validate(stale),
        Err(chain_types::ForkIdError::RemoteStale)
    );
}

/// A generated genesis with a large alloc: 5000 accounts with balances, nonces, and for every seventh account
/// code and two storage slots (one zero, which must not enter the storage trie). The expected genesis hash and
/// state root are what the real geth v1.17.10 computed for the same file (written by an equivalent Python script,
/// then `geth init` and `eth.getBlock(0)`).
#[test]
fn large_generated_alloc_matches_geth() {
    const C: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
    let mut accounts = Vec::new();
    for i in 1u128..=5000 {
        let address = format!("{:040x}", i.wrapping_mul(C));
        let balance = chain_types::U256::from(i * i * i) * chain_types::U256::exp10(15);
        let mut account = format!(r#""balance":"{balance}","nonce":"0x{:x}""#, i % 5);
        if i % 7 == 0 {
            account.push_str(&format!(
                r#","code":"0x60{:02x}60005500","storage":{{"0x{i:064x}":"0x{:064x}","0x{:064x}":"0x{:064x}"}}"#,
                i % 256,
                i * i,
                i + 1,
                0
            ));
        }
        accounts.push(format!(r#""{address}":{{{account}}}"#));
    }
    let json = format!(
        r#"{{"config":{{"chainId":1337,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,
        "byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,
        "londonBlock":0,"mergeNetsplitBlock":0,"shanghaiTime":0,"cancunTime":0,"pragueTime":0,
        "terminalTotalDifficulty":0,"blobSchedule":{{"cancun":{{"target":3,"max":6,"baseFeeUpdateFraction":3338477}},
        "prague":{{"target":6,"max":9,"baseFeeUpdateFraction":5007716}}}}}},
        "gasLimit":"0x2faf080","difficulty":"0x0","timestamp":"0x0","extraData":"0x","alloc":{{{}}}}}"#,
        accounts.join(",")
    );
    let spec = ChainSpec::from_geth_genesis_json(&json).unwrap();
    assert_eq!(
        spec.genesis.state_root,
        h256("5d6def590d91a228c65b5ea35207e464635786501b458c6b100dc44a49cb5ba5")
    );
    assert_eq!(
        spec.genesis_hash(),
        h256("0087ce747f34fc963a47c12457048e63ff478ef2ae13929f77b33d09243a8177")
    );
}
