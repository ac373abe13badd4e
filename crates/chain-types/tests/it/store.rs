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
