//! The same behaviour suite run against [`MemoryStore`] and [`RedbStore`] (in memory and in a file).

use chain_types::{
    BlockEntry, BlockHashOrNumber, ChainStore, Header, HeadersRequest, MemoryStore, RedbStore,
    SealedHeader, U256,
    generator::{Chain, GeneratorOptions},
};

fn plain_chain(len: u64) -> Vec<SealedHeader> {
    let mut out: Vec<SealedHeader> = Vec::new();
    for n in 0..len {
        let parent_hash = out.last().map(SealedHeader::hash).unwrap_or_default();
        out.push(
            Header {
                parent_hash,
                number: n,
                difficulty: U256::from(10 + n),
                ..Header::default()
            }
            .seal(),
        );
    }
    out
}

fn entries(headers: &[SealedHeader]) -> Vec<BlockEntry> {
    headers.iter().cloned().map(BlockEntry::from).collect()
}

/// Runs `check` against every store kind.
fn each_store(check: impl Fn(&dyn ChainStore)) {
    check(&MemoryStore::new());
    check(&RedbStore::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    check(&RedbStore::open(dir.path().join("chain.redb")).unwrap());
}

#[test]
fn linkage_is_enforced() {
    each_store(|store| {
        let c = plain_chain(10);
        assert!(store.head().unwrap().is_none());
        let err = store.insert_batch(entries(&c[1..3])).unwrap_err();
        assert!(err.is_linkage(), "{err}");
        store.insert_batch(entries(&c[0..4])).unwrap();
        let err = store.insert_batch(entries(&c[5..7])).unwrap_err();
        assert!(err.is_linkage(), "gap: {err}");
        let err = store.insert_batch(entries(&c[3..5])).unwrap_err();
        assert!(err.is_linkage(), "overlap: {err}");
        let mut broken = entries(&c[4..8]);
        broken.remove(2);
        let err = store.insert_batch(broken).unwrap_err();
        assert!(err.is_linkage(), "broken batch: {err}");
        let other = Header {
            parent_hash: c[3].hash(),
            number: 4,
            gas_limit: 1,
            ..Header::default()
        }
        .seal();
        let mut unlinked = entries(&c[4..7]);
        unlinked[0] = other.into();
        let err = store.insert_batch(unlinked).unwrap_err();
        assert!(
            err.is_linkage(),
            "second header does not link to a replaced first: {err}"
        );
        assert_eq!(
            store.head_number().unwrap(),
            Some(3),
            "a rejected batch stores nothing"
        );
        assert!(store.header_by_number(4).unwrap().is_none());
        store.insert_batch(Vec::new()).unwrap();
        store.insert_batch(entries(&c[4..10])).unwrap();
        let (head, td) = store.head().unwrap().unwrap();
        assert_eq!(head.hash(), c[9].hash());
        assert_eq!(td, U256::from((0..10u64).map(|n| 10 + n).sum::<u64>()));
        assert_eq!(store.header_by_hash(&c[5].hash()).unwrap().unwrap(), c[5]);
        assert_eq!(store.header_by_number(7).unwrap().unwrap(), c[7]);
        assert_eq!(store.hash_by_number(8).unwrap(), Some(c[8].hash()));
        assert_eq!(
            store.total_difficulty(&c[1].hash()).unwrap(),
            Some(U256::from(21u64))
        );
        assert!(store.header_by_number(10).unwrap().is_none());
    });
}

#[test]
fn content_round_trips_and_rewind_removes_it() {
    let chain = Chain::generate(40, &GeneratorOptions::seeded(11));
    each_store(|store| {
        store
            .insert_batch(chain.entries(0..20, true, true))
            .unwrap();
        store
            .insert_batch(chain.entries(20..41, true, false))
            .unwrap();
        for n in [0u64, 5, 19, 20, 40] {
            let b = chain.block(n).unwrap();
            assert_eq!(store.header_by_number(n).unwrap().unwrap(), b.header);
            assert_eq!(store.body(&b.hash()).unwrap().unwrap(), b.body);
            assert_eq!(store.total_difficulty(&b.hash()).unwrap(), chain.td(n));
            let receipts = store.receipts(&b.hash()).unwrap();
            if n < 20 {
                assert_eq!(receipts.unwrap(), chain.receipts(n).unwrap());
            } else {
                assert!(receipts.is_none());
            }
        }
        assert_eq!(store.head().unwrap().unwrap().1, chain.head_td());

        store.rewind(50).unwrap();
        assert_eq!(
            store.head_number().unwrap(),
            Some(40),
            "rewinding above the head does nothing"
        );
        store.rewind(15).unwrap();
        assert_eq!(store.head_number().unwrap(), Some(15));
        let gone = chain.block(16).unwrap().hash();
        assert!(!store.contains(&gone).unwrap());
        assert!(store.body(&gone).unwrap().is_none());
        assert!(store.receipts(&gone).unwrap().is_none());
        assert!(store.total_difficulty(&gone).unwrap().is_none());
        assert!(store.contains(&chain.block(15).unwrap().hash()).unwrap());
    });
}

#[test]
fn reorg_is_a_rewind_then_an_insert() {
    let base = Chain::generate(30, &GeneratorOptions::seeded(1));
    let heavy = base.fork(20, 5, &GeneratorOptions::seeded(2).heavier(4));
    assert!(
        heavy.head_td() > base.head_td(),
        "the shorter fork is heavier"
    );
    each_store(|store| {
        store
            .insert_batch(base.entries(0..31, false, false))
            .unwrap();
        assert!(
            store
                .insert_batch(heavy.entries(21..26, false, false))
                .unwrap_err()
                .is_linkage()
        );
        store.rewind(20).unwrap();
        store
            .insert_batch(heavy.entries(21..26, false, false))
            .unwrap();
        let (head, td) = store.head().unwrap().unwrap();
        assert_eq!(head.hash(), heavy.head().hash());
        assert_eq!(td, heavy.head_td());
        assert!(!store.contains(&base.block(25).unwrap().hash()).unwrap());
    });
}

#[test]
fn headers_matching_serves_like_geth() {
    let chain = Chain::generate(50, &GeneratorOptions::light(4));
    each_store(|store| {
        store
            .insert_batch(chain.entries(0..51, false, false))
            .unwrap();
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Number(10),
            amount: 5,
            skip: 9,
            reverse: false,
        };
        let got: Vec<u64> = store
            .headers_matching(&req, 100)
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(got, vec![10, 20, 30, 40, 50]);
        let req = HeadersRequest { amount: 10, ..req };
        assert_eq!(
            store.headers_matching(&req, 100).unwrap().len(),
            5,
            "stops at the first unknown block"
        );
        let by_hash = HeadersRequest {
            origin: chain.block(30).unwrap().hash().into(),
            amount: 3,
            skip: 0,
            reverse: true,
        };
        let got: Vec<u64> = store
            .headers_matching(&by_hash, 2)
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(got, vec![30, 29], "limit applies");
        let unknown = HeadersRequest {
            origin: chain_types::H256::repeat_byte(1).into(),
            ..by_hash
        };
        assert!(store.headers_matching(&unknown, 10).unwrap().is_empty());
        assert_eq!(
            store.headers_matching(&req, 100).unwrap()[1],
            *chain.header(20).unwrap()
        );
    });
}

#[test]
fn redb_file_keeps_the_chain_across_reopen() {
    let chain = Chain::generate(25, &GeneratorOptions::seeded(8));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        store
            .insert_batch(chain.entries(0..10, true, true))
            .unwrap();
        store
            .insert_batch(chain.entries(10..26, true, true))
            .unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.len().unwrap(), 26);
    let (head, td) = store.head().unwrap().unwrap();
    assert_eq!(head, chain.head().header);
    assert_eq!(td, chain.head_td());
    assert_eq!(
        store
            .body(&chain.block(7).unwrap().hash())
            .unwrap()
            .unwrap(),
        chain.block(7).unwrap().body
    );
}

#[test]
fn redb_rejects_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk");
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    let err = RedbStore::open(&path).unwrap_err();
    assert!(err.is_storage(), "{err}");
}

#[test]
fn redb_segments_index_flushes_reopen_and_deep_rewinds() {
    let chain = Chain::generate(1500, &GeneratorOptions::light(21));
    let fork = chain.fork(700, 400, &GeneratorOptions::light(22));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let check = |store: &RedbStore, c: &Chain, head: u64| {
        assert_eq!(store.verify().unwrap(), head + 1);
        for n in [0, 1, 255, 511, 512, 513, 700, head / 2, head] {
            let h = c.header(n).unwrap();
            assert_eq!(
                store.header_by_hash(&h.hash()).unwrap().as_ref(),
                Some(h),
                "block {n}"
            );
            assert_eq!(
                store.header_by_number(n).unwrap().as_ref(),
                Some(h),
                "block {n}"
            );
        }
        let req = HeadersRequest {
            origin: c.header(500).unwrap().hash().into(),
            amount: 30,
            skip: 0,
            reverse: false,
        };
        let got: Vec<u64> = store
            .headers_matching(&req, 100)
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(got, (500..530).collect::<Vec<_>>());
        assert_eq!(store.head().unwrap().unwrap().1, c.td(head).unwrap());
    };
    {
        let store = RedbStore::open(&path).unwrap();
        store.set_index_flush_threshold(300);
        for start in (0..=1500u64).step_by(250) {
            store
                .insert_batch(chain.entries(start..start + 250, false, false))
                .unwrap();
        }
        check(&store, &chain, 1500);
    }
    let store = RedbStore::open(&path).unwrap();
    store.set_index_flush_threshold(300);
    check(&store, &chain, 1500);
    store.rewind(700).unwrap();
    assert_eq!(store.verify().unwrap(), 701);
    assert!(!store.contains(&chain.header(701).unwrap().hash()).unwrap());
    assert!(!store.contains(&chain.header(1400).unwrap().hash()).unwrap());
    store
        .insert_batch(fork.entries(701..1101, false, false))
        .unwrap();
    check(&store, &fork, 1100);
    for to in [512, 511, 0] {
        store.rewind(to).unwrap();
        assert_eq!(store.verify().unwrap(), to + 1);
    }
    drop(store);
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.verify().unwrap(), 1);
    store
        .insert_batch(chain.entries(1..1501, false, false))
        .unwrap();
    check(&store, &chain, 1500);
}

/// Environment variable that turns the crash test's process into the child that is killed.
const CRASH_CHILD: &str = "CHAIN_TYPES_CRASH_CHILD_DB";
/// Set for the child: make only every 150th header durable.
const CRASH_LAZY: &str = "CHAIN_TYPES_CRASH_CHILD_LAZY";

fn crash_chain() -> Chain {
    Chain::generate(1500, &GeneratorOptions::seeded(31))
}

/// Inserts batches of varying size (with bodies and receipts) from the stored head on, forever.
fn crash_child(path: &str) -> ! {
    let chain = crash_chain();
    let store = RedbStore::open(path).unwrap();
    store.set_index_flush_threshold(400);
    if std::env::var(CRASH_LAZY).is_ok() {
        store.set_durable_every(150);
    }
    // Tell the parent that writing starts now.
    let mut out = std::io::stdout();
    std::io::Write::write_all(&mut out, b"ready\n").unwrap();
    std::io::Write::flush(&mut out).unwrap();
    let mut size = 1u64;
    loop {
        let next = store.head_number().unwrap().map_or(0, |n| n + 1);
        if next as usize >= chain.len() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        size = size * 7 % 31 + 1;
        store
            .insert_batch(chain.entries(next..next + size, true, true))
            .unwrap();
        // Spread the run over time so that the parent's kills land all along it.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Kills a process that is writing batches at 20 points in time; after each kill the file must hold a linked,
/// gap-free prefix with all content, and writing resumes from its head until the chain is complete.
#[test]
fn redb_survives_being_killed_mid_batch() {
    if let Ok(path) = std::env::var(CRASH_CHILD) {
        crash_child(&path);
    }
    let chain = crash_chain();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let exe = std::env::current_exe().unwrap();
    let mut heads = Vec::new();
    for round in 0u64..20 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "store::redb_survives_being_killed_mid_batch",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD, &path)
            .env(
                if round % 2 == 1 {
                    CRASH_LAZY
                } else {
                    "CHAIN_TYPES_UNUSED"
                },
                "1",
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = std::io::BufReader::new(stdout);
        // The test harness may print its own lines first.
        while !line.contains("ready") {
            line.clear();
            assert!(
                std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
                "child exited early"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5 + (round * 13) % 40));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = RedbStore::open(&path).unwrap();
        let count = store.verify().unwrap();
        heads.push(count);
        if let Some((head, td)) = store.head().unwrap() {
            assert_eq!(
                &head,
                chain.header(head.number).unwrap(),
                "the stored chain is a prefix of the chain"
            );
            assert_eq!(Some(td), chain.td(head.number));
            for n in [0, head.number / 2, head.number] {
                let b = chain.block(n).unwrap();
                assert_eq!(
                    store.body(&b.hash()).unwrap().as_ref(),
                    Some(&b.body),
                    "body of block {n}"
                );
                assert_eq!(
                    store.receipts(&b.hash()).unwrap().as_deref(),
                    chain.receipts(n),
                    "receipts of block {n}"
                );
            }
        }
    }
    assert!(
        heads.windows(2).all(|w| w[0] <= w[1]),
        "progress is never lost: {heads:?}"
    );
    let distinct = heads
        .iter()
        .filter(|&&h| h > 0 && h < chain.len() as u64)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        distinct.len() >= 5,
        "kills landed in the middle of the sync: {heads:?}"
    );
    let store = RedbStore::open(&path).unwrap();
    let next = store.head_number().unwrap().map_or(0, |n| n + 1);
    store
        .insert_batch(chain.entries(next..chain.len() as u64, true, true))
        .unwrap();
    assert_eq!(store.verify().unwrap(), chain.len() as u64);
    assert_eq!(store.head().unwrap().unwrap().0, chain.head().header);
}

#[test]
fn redb_lazy_durability_keeps_batches_across_a_clean_close() {
    let chain = Chain::generate(300, &GeneratorOptions::seeded(41));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        store.set_durable_every(1_000_000);
        for start in (0..=300u64).step_by(50) {
            store
                .insert_batch(chain.entries(start..start + 50, true, true))
                .unwrap();
        }
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.verify().unwrap(), 301);
    store.set_durable_every(1_000_000);
    store.rewind(100).unwrap();
    store
        .insert_batch(chain.entries(101..201, true, false))
        .unwrap();
    store.flush().unwrap();
    drop(store);
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.verify().unwrap(), 201);
    assert_eq!(
        store
            .body(&chain.block(150).unwrap().hash())
            .unwrap()
            .unwrap(),
        chain.block(150).unwrap().body
    );
}

#[test]
fn staging_grows_downwards_linked_and_clears_from_below() {
    each_store(|store| {
        let c = plain_chain(20);
        assert!(store.lowest_staged().unwrap().is_none());
        assert!(store.highest_staged().unwrap().is_none());
        store.stage_headers(Vec::new()).unwrap();
        store.stage_headers(c[15..20].to_vec()).unwrap();
        assert_eq!(store.highest_staged().unwrap().unwrap(), c[19]);
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[15]);
        // A batch that does not end just below the staged chain is refused, and stores nothing.
        let err = store.stage_headers(c[8..14].to_vec()).unwrap_err();
        assert!(err.is_linkage(), "gap: {err}");
        let mut broken = c[10..15].to_vec();
        broken.remove(1);
        let err = store.stage_headers(broken).unwrap_err();
        assert!(err.is_linkage(), "broken: {err}");
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[15]);
        assert!(store.staged_header(12).unwrap().is_none());
        store.stage_headers(c[10..15].to_vec()).unwrap();
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[10]);
        assert_eq!(store.staged_header(12).unwrap().unwrap(), c[12]);
        // Staged headers are not canonical.
        assert!(store.header_by_hash(&c[12].hash()).unwrap().is_none());
        assert!(store.head().unwrap().is_none());
        store.clear_staged(12).unwrap();
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[13]);
        assert!(store.staged_header(12).unwrap().is_none());
        assert_eq!(store.highest_staged().unwrap().unwrap(), c[19]);
        store.clear_staged(u64::MAX).unwrap();
        assert!(store.lowest_staged().unwrap().is_none());
        // An empty area accepts any linked batch again.
        store.stage_headers(c[3..6].to_vec()).unwrap();
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[3]);
    });
}

#[test]
fn redb_file_keeps_staged_headers_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let c = plain_chain(10);
    {
        let store = RedbStore::open(&path).unwrap();
        store.insert_batch(entries(&c[0..2])).unwrap();
        store.stage_headers(c[6..10].to_vec()).unwrap();
        store.stage_headers(c[4..6].to_vec()).unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.lowest_staged().unwrap().unwrap(), c[4]);
    assert_eq!(store.highest_staged().unwrap().unwrap(), c[9]);
    assert_eq!(store.staged_header(7).unwrap().unwrap().hash(), c[7].hash());
    assert_eq!(store.head_number().unwrap(), Some(1));
    assert_eq!(store.verify().unwrap(), 2);
}

#[test]
fn staging_extends_upwards_and_reads_ranges() {
    each_store(|store| {
        let c = plain_chain(40);
        store.stage_headers(c[10..20].to_vec()).unwrap();
        // Above the staged chain: the child of the highest staged header starts the batch.
        store.stage_headers(c[20..25].to_vec()).unwrap();
        assert_eq!(store.highest_staged().unwrap().unwrap(), c[24]);
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[10]);
        // A gap above is refused.
        let err = store.stage_headers(c[26..30].to_vec()).unwrap_err();
        assert!(err.is_linkage(), "gap above: {err}");
        store.stage_headers(c[5..10].to_vec()).unwrap();
        assert_eq!(store.staged_range(5, 24).unwrap(), c[5..25]);
        assert_eq!(store.staged_range(8, 12).unwrap(), c[8..13]);
        // Capped at the top, empty below the lowest or for an empty range.
        assert_eq!(store.staged_range(22, 1000).unwrap(), c[22..25]);
        assert!(store.staged_range(3, 8).unwrap().is_empty());
        assert!(store.staged_range(12, 11).unwrap().is_empty());
        assert!(store.staged_range(30, 40).unwrap().is_empty());
    });
}

#[test]
fn insert_staged_moves_headers_into_the_chain_and_out_of_the_staging_area() {
    each_store(|store| {
        let c = plain_chain(30);
        store.insert_batch(entries(&c[0..10])).unwrap();
        store.stage_headers(c[10..30].to_vec()).unwrap();
        store.insert_staged(entries(&c[10..18])).unwrap();
        assert_eq!(store.head_number().unwrap(), Some(17));
        assert_eq!(store.header_by_hash(&c[15].hash()).unwrap().unwrap(), c[15]);
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[18]);
        assert!(store.staged_header(17).unwrap().is_none());
        // A batch that does not extend the head changes neither the chain nor the staging area.
        let err = store.insert_staged(entries(&c[20..22])).unwrap_err();
        assert!(err.is_linkage(), "unlinked: {err}");
        assert_eq!(store.head_number().unwrap(), Some(17));
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[18]);
        store.insert_staged(Vec::new()).unwrap();
        store.insert_staged(entries(&c[18..30])).unwrap();
        assert!(store.lowest_staged().unwrap().is_none());
        assert_eq!(store.head_number().unwrap(), Some(29));
    });
}

/// One step on the staging area.
#[derive(Debug, Clone)]
enum StageOp {
    /// Stage this many headers just below the staged chain.
    Below(u64),
    /// Stage this many headers just above it.
    Above(u64),
    /// Clear through this many headers above the lowest staged one.
    Clear(u64),
}

fn stage_op() -> impl proptest::strategy::Strategy<Value = StageOp> {
    use proptest::prelude::*;
    prop_oneof![
        (1u64..1200).prop_map(StageOp::Below),
        (1u64..1200).prop_map(StageOp::Above),
        (0u64..1500).prop_map(StageOp::Clear),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Staging below and above, clearing and range reads agree with a model of one contiguous staged range, for
    /// both stores (the redb one keeps segments of 512 headers, so the lengths cross segment bounds).
    #[test]
    fn staging_matches_a_contiguous_model(
        start in 4000u64..5000,
        ops in proptest::collection::vec(stage_op(), 1..12),
        reads in proptest::collection::vec((0u64..1400, 0u64..1400), 4),
    ) {
        let c = plain_chain(9000);
        let stores: [Box<dyn ChainStore>; 2] =
            [Box::new(MemoryStore::new()), Box::new(RedbStore::in_memory().unwrap())];
        for store in &stores {
            // The model: staged numbers `lo..hi` (empty when equal).
            let (mut lo, mut hi) = (start, start);
            for op in &ops {
                match *op {
                    StageOp::Below(n) => {
                        let from = lo.saturating_sub(n).max(1);
                        store.stage_headers(c[from as usize..lo as usize].to_vec()).unwrap();
                        lo = from;
                    }
                    StageOp::Above(n) => {
                        let to = (hi + n).min(c.len() as u64);
                        store.stage_headers(c[hi as usize..to as usize].to_vec()).unwrap();
                        hi = to;
                    }
                    StageOp::Clear(k) => {
                        store.clear_staged(lo + k).unwrap();
                        // An emptied area takes any linked batch again; the model goes on from where it was.
                        lo = (lo + k + 1).min(hi);
                    }
                }
                let expect_low = (lo < hi).then(|| c[lo as usize].clone());
                let expect_high = (lo < hi).then(|| c[hi as usize - 1].clone());
                proptest::prop_assert_eq!(store.lowest_staged().unwrap(), expect_low);
                proptest::prop_assert_eq!(store.highest_staged().unwrap(), expect_high);
            }
            for &(a, b) in &reads {
                let (from, to) = (lo.saturating_sub(100) + a, lo.saturating_sub(100) + b);
                let expect: Vec<SealedHeader> = if from >= lo && from < hi && from <= to {
                    c[from as usize..=(to.min(hi - 1)) as usize].to_vec()
                } else {
                    Vec::new()
                };
                proptest::prop_assert_eq!(store.staged_range(from, to).unwrap(), expect);
                let one = (from >= lo && from < hi).then(|| c[from as usize].clone());
                proptest::prop_assert_eq!(store.staged_header(from).unwrap(), one);
            }
        }
    }
}

#[test]
fn redb_insert_staged_keeps_a_verifiable_chain_across_segment_bounds() {
    let c = plain_chain(1500);
    let store = RedbStore::in_memory().unwrap();
    store.insert_batch(entries(&c[0..1])).unwrap();
    store.stage_headers(c[700..1500].to_vec()).unwrap();
    store.stage_headers(c[1..700].to_vec()).unwrap();
    // Segment bounds of the two tables differ: 1..=1100 crosses staged and canonical segments.
    store.insert_staged(entries(&c[1..1100])).unwrap();
    store.insert_staged(entries(&c[1100..1500])).unwrap();
    assert_eq!(store.verify().unwrap(), 1500);
    for n in [1, 511, 512, 699, 700, 1099, 1100, 1499] {
        assert_eq!(store.header_by_number(n).unwrap().unwrap(), c[n as usize]);
    }
    assert!(store.lowest_staged().unwrap().is_none());
}
