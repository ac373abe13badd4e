//! The same behaviour suite run against [`MemoryStore`] and [`RedbStore`].

use chain_types::{BlockEntry, ChainStore, Header, MemoryStore, RedbStore, SealedHeader, U256};

fn chain(len: u64) -> Vec<SealedHeader> {
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

fn linkage_is_enforced(store: &dyn ChainStore) {
    let c = chain(10);
    let err = store.insert_batch(entries(&c[1..3])).unwrap_err();
    assert!(err.is_linkage(), "{err}");
    store.insert_batch(entries(&c[0..4])).unwrap();
    let err = store.insert_batch(entries(&c[5..7])).unwrap_err();
    assert!(err.is_linkage(), "gap: {err}");
    let mut broken = entries(&c[4..8]);
    broken.remove(2);
    let err = store.insert_batch(broken).unwrap_err();
    assert!(err.is_linkage(), "broken batch: {err}");
    assert_eq!(
        store.head_number().unwrap(),
        Some(3),
        "a rejected batch stores nothing"
    );
    store.insert_batch(entries(&c[4..10])).unwrap();
    let (head, td) = store.head().unwrap().unwrap();
    assert_eq!(head.hash(), c[9].hash());
    assert_eq!(td, U256::from((0..10u64).map(|n| 10 + n).sum::<u64>()));
    assert_eq!(store.header_by_hash(&c[5].hash()).unwrap().unwrap(), c[5]);
    assert_eq!(store.header_by_number(7).unwrap().unwrap(), c[7]);
}

#[test]
fn memory_linkage_is_enforced() {
    linkage_is_enforced(&MemoryStore::new());
}

#[test]
fn redb_linkage_is_enforced() {
    linkage_is_enforced(&RedbStore::in_memory().unwrap());
}
