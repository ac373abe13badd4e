//! EIP-2124 / EIP-6122 vectors: fork ids of mainnet at various heads and the validation cases of the EIP.

use eth_wire::{ForkFilter, ForkHash, ForkId, ForkIdError};
use primitive_types::H256;

const MAINNET_GENESIS: &str = "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3";

/// Mainnet fork blocks up to Petersburg (Constantinople and Petersburg share 7 280 000), as in EIP-2124.
const PETERSBURG_FORKS: [u64; 7] = [
    1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 7_280_000,
];

fn genesis() -> H256 {
    H256::from_slice(&hex::decode(MAINNET_GENESIS).expect("test setup"))
}

fn id(hash: u32, next: u64) -> ForkId {
    ForkId {
        hash: ForkHash::from(hash),
        next,
    }
}

fn petersburg_filter(head: u64) -> ForkFilter {
    ForkFilter::new(genesis(), PETERSBURG_FORKS, [], head, 0)
}

#[test]
fn mainnet_fork_ids_by_head() {
    let cases = [
        (0, id(0xfc64ec04, 1_150_000)),
        (1_149_999, id(0xfc64ec04, 1_150_000)),
        (1_150_000, id(0x97c2c34c, 1_920_000)),
        (1_919_999, id(0x97c2c34c, 1_920_000)),
        (1_920_000, id(0x91d1f948, 2_463_000)),
        (2_462_999, id(0x91d1f948, 2_463_000)),
        (2_463_000, id(0x7a64da13, 2_675_000)),
        (2_674_999, id(0x7a64da13, 2_675_000)),
        (2_675_000, id(0x3edd5b10, 4_370_000)),
        (4_369_999, id(0x3edd5b10, 4_370_000)),
        (4_370_000, id(0xa00bc324, 7_280_000)),
        (7_279_999, id(0xa00bc324, 7_280_000)),
        (7_280_000, id(0x668db0af, 0)),
        (7_987_396, id(0x668db0af, 0)),
    ];
    for (head, want) in cases {
        assert_eq!(petersburg_filter(head).current(), want, "head {head}");
    }
}

#[test]
fn mainnet_fork_hashes_through_prague() {
    // The published mainnet fork hashes from Gray Glacier to Prague (block forks, then timestamp forks).
    let blocks = [
        1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 7_280_000, 9_069_000,
        9_200_000, 12_244_000, 12_965_000, 13_773_000, 15_050_000,
    ];
    let times = [1_681_338_455, 1_710_338_135, 1_746_612_311];
    let at =
        |number: u64, time: u64| ForkFilter::new(genesis(), blocks, times, number, time).current();
    assert_eq!(at(15_050_000, 0), id(0xf0afd0e3, 1_681_338_455));
    assert_eq!(at(20_000_000, 1_681_338_455), id(0xdce96c2d, 1_710_338_135));
    assert_eq!(at(20_000_000, 1_710_338_135), id(0x9f3d2254, 1_746_612_311));
    assert_eq!(at(22_000_000, 1_746_612_311), id(0xc376cf8b, 0));
}

#[test]
fn eip6122_timestamp_fork_after_homestead() {
    let f = ForkFilter::new(
        genesis(),
        [1_150_000],
        [1_668_000_000],
        1_150_000,
        1_668_000_000,
    );
    assert_eq!(f.current(), id(0xcb37b2ee, 0));
    let f = ForkFilter::new(
        genesis(),
        [1_150_000],
        [1_668_000_000],
        1_150_000,
        1_667_999_999,
    );
    assert_eq!(f.current(), id(0x97c2c34c, 1_668_000_000));
}

#[test]
fn genesis_only_chain_is_crc_of_genesis() {
    // The reference peer's chain has every fork at block 0: the fork hash is CRC32(genesis), next 0.
    let g = genesis();
    assert_eq!(ForkFilter::genesis_only(g).current(), id(0xfc64ec04, 0));
    assert_eq!(
        ForkFilter::new(g, [0, 0, 0], [0], 100, 100).current(),
        id(0xfc64ec04, 0)
    );
}

#[test]
fn eip2124_validation_cases() {
    use ForkIdError::{LocalIncompatibleOrStale, RemoteStale};
    let cases: [(u64, ForkId, Result<(), ForkIdError>); 16] = [
        // Local Petersburg, remote the same, no future fork announced.
        (7_987_396, id(0x668db0af, 0), Ok(())),
        // Local Petersburg, remote the same plus an uncertain future fork.
        (7_987_396, id(0x668db0af, u64::MAX), Ok(())),
        // Local Byzantium (aware of Petersburg), remote Byzantium not aware of Petersburg.
        (7_279_999, id(0xa00bc324, 0), Ok(())),
        // Local Byzantium, remote Byzantium aware of Petersburg.
        (7_279_999, id(0xa00bc324, 7_280_000), Ok(())),
        // Local Byzantium, remote Byzantium aware of some random fork.
        (7_279_999, id(0xa00bc324, u64::MAX), Ok(())),
        // Local exactly on Petersburg, remote Byzantium aware of Petersburg: remote out of sync.
        (7_280_000, id(0xa00bc324, 7_280_000), Ok(())),
        // Local Petersburg, remote Byzantium aware of Petersburg: remote out of sync.
        (7_987_396, id(0xa00bc324, 7_280_000), Ok(())),
        // Local Petersburg, remote Spurious aware of Byzantium: remote out of sync.
        (7_987_396, id(0x3edd5b10, 4_370_000), Ok(())),
        // Local Byzantium, remote Petersburg: local out of sync.
        (7_279_999, id(0x668db0af, 0), Ok(())),
        // Local Spurious, remote Byzantium not aware of Petersburg: local out of sync.
        (4_369_999, id(0xa00bc324, 0), Ok(())),
        // Local Petersburg, remote Byzantium not aware of further forks: remote needs an update.
        (7_987_396, id(0xa00bc324, 0), Err(RemoteStale)),
        // Local Petersburg (no further forks known), remote Petersburg + 0xffffffff: local needs an update.
        (7_987_396, id(0x5cddc0e1, 0), Err(LocalIncompatibleOrStale)),
        // Local Byzantium aware of Petersburg, remote Petersburg + 0xffffffff: local needs an update.
        (7_279_999, id(0x5cddc0e1, 0), Err(LocalIncompatibleOrStale)),
        // Local Petersburg, remote Rinkeby Petersburg.
        (7_987_396, id(0xafec6b27, 0), Err(LocalIncompatibleOrStale)),
        // Local Petersburg far ahead, remote Petersburg with a next fork that already passed locally.
        (
            88_888_888,
            id(0x668db0af, 88_888_888),
            Err(LocalIncompatibleOrStale),
        ),
        // Local Byzantium, remote Byzantium with a next fork at the local head (already passed).
        (
            7_279_999,
            id(0xa00bc324, 7_279_999),
            Err(LocalIncompatibleOrStale),
        ),
    ];
    for (head, remote, want) in cases {
        assert_eq!(
            petersburg_filter(head).validate(remote),
            want,
            "head {head}, remote {remote:?}"
        );
    }
}

#[test]
fn timestamp_next_fork_compares_with_head_time() {
    // A remote on our current fork announcing a timestamp fork: rejected only once our head time passed it.
    let f = ForkFilter::new(genesis(), [1_150_000], [], 2_000_000, 1_700_000_000);
    let ours = f.current();
    assert!(
        f.validate(ForkId {
            hash: ours.hash,
            next: 1_800_000_000
        })
        .is_ok()
    );
    assert_eq!(
        f.validate(ForkId {
            hash: ours.hash,
            next: 1_600_000_000
        }),
        Err(ForkIdError::LocalIncompatibleOrStale)
    );
}
