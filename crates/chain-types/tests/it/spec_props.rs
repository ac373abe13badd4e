//! Property tests of the chain specs: reading a geth `genesis.json` never panics on arbitrary or mutated input,
//! and header validation never panics on arbitrary headers (unrelated pairs and pairs that link, so the deeper
//! rules run too), under every built-in spec and a spec with randomly scheduled forks.

use chain_types::{BlobParams, ChainSpec, Fork, Header, U256};
use proptest::prelude::*;

use crate::props::header;

/// JSON fragments that a genesis field may hold: good and bad numbers, hex, strings, nulls, containers.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| format!("\"0x{v:x}\"")),
        any::<i64>().prop_map(|v| format!("\"{v}\"")),
        Just("null".to_owned()),
        Just("\"0x\"".to_owned()),
        Just("-1".to_owned()),
        Just("1.5e3".to_owned()),
        Just(
            "99999999999999999999999999999999999999999999999999999999999999999999999999999999"
                .to_owned()
        ),
        Just("\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        Just("true".to_owned()),
        "[a-z0-9\"]{0,12}",
    ]
}

/// A genesis file with random values in every position geth reads.
fn genesis_json() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(fragment(), 12),
        proptest::sample::subsequence(Fork::ALL.to_vec(), 0..Fork::ALL.len()),
        "[0-9a-fA-Fx]{0,44}",
        proptest::collection::vec(("[0-9a-fx]{0,66}", "[0-9a-fx]{0,66}"), 0..4),
    )
        .prop_map(|(v, forks, address, storage)| {
            let forks: Vec<String> = forks
                .iter()
                .enumerate()
                .map(|(i, f)| format!("\"{}\":{}", f.geth_key(), v[i % v.len()]))
                .collect();
            let storage: Vec<String> =
                storage.iter().map(|(k, val)| format!("\"{k}\":\"{val}\"")).collect();
            format!(
                r#"{{"config":{{"chainId":{},{}"blobSchedule":{{"cancun":{{"target":{},"max":{},"baseFeeUpdateFraction":{}}},"prague":{{"target":1,"max":2,"baseFeeUpdateFraction":3}}}}}},
                "gasLimit":{},"difficulty":{},"timestamp":{},"baseFeePerGas":{},"extraData":"0x{}",
                "alloc":{{"{address}":{{"balance":{},"nonce":{},"code":"0x00","storage":{{{}}}}}}}}}"#,
                v[0],
                forks.iter().map(|f| format!("{f},")).collect::<String>(),
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                address.len() % 7,
                v[8],
                v[9],
                storage.join(","),
            )
        })
}

/// A spec with every fork scheduled at a random activation and random blob parameters.
fn random_spec() -> impl Strategy<Value = ChainSpec> {
    (
        proptest::collection::vec(any::<u64>(), Fork::ALL.len()),
        proptest::option::of(any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(|(at, ttd, (target, max, update_fraction))| {
            let mut spec = ChainSpec::mainnet();
            spec.forks.clear();
            for (fork, at) in Fork::ALL.iter().zip(at) {
                if *fork != Fork::Paris {
                    spec.forks.insert(*fork, at % 64);
                }
            }
            spec.terminal_total_difficulty = ttd.map(U256::from);
            for fork in [Fork::Cancun, Fork::Prague, Fork::Bpo1] {
                spec.blob_schedule.insert(
                    fork,
                    BlobParams {
                        target,
                        max,
                        update_fraction,
                    },
                );
            }
            spec
        })
}

/// Makes `child` link to `parent` (hash, number, later timestamp), so validation goes past the first rules.
fn linked(mut child: Header, parent: &Header, dt: u64) -> Header {
    child.parent_hash = parent.hash();
    child.number = parent.number.wrapping_add(1);
    child.timestamp = parent.timestamp.saturating_add(dt);
    child
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_the_genesis_reader(text in ".{0,300}") {
        let _ = ChainSpec::from_geth_genesis_json(&text);
    }

    #[test]
    fn structured_genesis_files_never_panic(json in genesis_json()) {
        if let Err(e) = ChainSpec::from_geth_genesis_json(&json) {
            prop_assert!(e.is_genesis());
        }
    }

    #[test]
    fn mutated_real_genesis_never_panics(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let text = include_str!("../fixtures/geth-ethtest-genesis.json");
        let mut bytes = text.as_bytes().to_vec();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] = byte }
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = ChainSpec::from_geth_genesis_json(s);
        }
    }

    #[test]
    fn validate_header_never_panics(
        h in header(),
        p in header(),
        dt in 0u64..30,
        spec in random_spec(),
        which in 0usize..4,
    ) {
        let specs = [ChainSpec::mainnet(), ChainSpec::sepolia(), ChainSpec::hoodi(), spec];
        let spec = &specs[which];
        let parent = p.clone().seal();
        let _ = spec.validate_header(&h.clone().seal(), &parent);
        let _ = spec.validate_header(&linked(h, &p, dt).seal(), &parent);
    }
}
