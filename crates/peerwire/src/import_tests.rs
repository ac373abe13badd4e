//! Unit tests of the block reader and the importer.

use chain_types::MemoryStore;
use chain_types::generator::{Chain, GeneratorOptions};
use proptest::prelude::*;

use super::*;

fn chain(blocks: u64) -> Chain {
    Chain::generate(blocks, &GeneratorOptions::seeded(9))
}

/// The RLP of blocks `range` of `chain`, concatenated.
fn file_of(chain: &Chain, range: std::ops::Range<usize>) -> Vec<u8> {
    chain.blocks()[range]
        .iter()
        .flat_map(|b| rlp::encode(b).to_vec())
        .collect()
}

fn store_with_genesis(chain: &Chain) -> MemoryStore {
    let store = MemoryStore::new();
    store
        .insert_batch(vec![BlockEntry::header_only(
            chain.genesis().header.clone(),
        )])
        .unwrap();
    store
}

fn import(store: &MemoryStore, chain: &Chain, bytes: Vec<u8>) -> anyhow::Result<ImportSummary> {
    import_blocks(
        store,
        &chain.genesis().header,
        &mut BlockReader::from_bytes(bytes),
        None,
    )
}

#[test]
fn reader_gives_each_block_then_none() {
    let c = chain(5);
    let mut reader = BlockReader::from_bytes(file_of(&c, 0..6));
    for expected in c.blocks() {
        assert_eq!(reader.next_block().unwrap().as_ref(), Some(expected));
    }
    assert!(reader.next_block().unwrap().is_none());
}

#[test]
fn import_stores_blocks_with_bodies_and_skips_stored_ones() {
    let c = chain(30);
    let store = store_with_genesis(&c);
    let s = import(&store, &c, file_of(&c, 0..11)).unwrap();
    assert_eq!(
        (s.read, s.skipped, s.imported, s.head.number),
        (11, 1, 10, 10)
    );
    // A file that starts before the stored head continues it.
    let s = import(&store, &c, file_of(&c, 5..31)).unwrap();
    assert_eq!(
        (s.read, s.skipped, s.imported, s.head.number),
        (26, 6, 20, 30)
    );
    for block in &c.blocks()[1..] {
        assert_eq!(
            store.body(&block.hash()).unwrap().as_ref(),
            Some(&block.body)
        );
    }
}

#[test]
fn a_gap_after_the_stored_head_is_refused() {
    let c = chain(10);
    let store = store_with_genesis(&c);
    let err = import(&store, &c, file_of(&c, 3..11)).unwrap_err();
    assert!(
        err.to_string().contains("blocks #1..#2 are missing"),
        "{err:#}"
    );
    assert_eq!(store.head_number().unwrap(), Some(0));
}

#[test]
fn another_chain_is_refused() {
    let c = chain(10);
    let other = Chain::generate(10, &GeneratorOptions::seeded(10));
    let store = store_with_genesis(&c);
    import(&store, &c, file_of(&c, 1..6)).unwrap();
    // Same numbers, other blocks: stored ones differ, and a new one does not link to the head.
    let err = import(&store, &c, file_of(&other, 3..11)).unwrap_err();
    assert!(err.to_string().contains("another chain"), "{err:#}");
    let err = import(&store, &c, file_of(&other, 6..11)).unwrap_err();
    assert!(err.to_string().contains("another chain"), "{err:#}");
    assert_eq!(store.head_number().unwrap(), Some(5));
}

#[test]
fn an_unlinked_block_fails_and_keeps_the_verified_prefix() {
    let c = chain(10);
    let store = store_with_genesis(&c);
    let mut bytes = file_of(&c, 1..5);
    bytes.extend(file_of(&c, 6..8));
    let err = import(&store, &c, bytes).unwrap_err();
    assert!(err.to_string().contains("block #6"), "{err:#}");
    assert_eq!(store.head_number().unwrap(), Some(4));
}

#[test]
fn a_body_that_does_not_match_its_roots_fails() {
    let c = chain(10);
    let store = store_with_genesis(&c);
    let mut blocks = c.blocks()[1..4].to_vec();
    let victim = blocks
        .iter_mut()
        .find(|b| !b.body.transactions.is_empty())
        .unwrap();
    victim.body.transactions.pop();
    let number = victim.number();
    let bytes: Vec<u8> = blocks
        .iter()
        .flat_map(|b| rlp::encode(b).to_vec())
        .collect();
    let err = import(&store, &c, bytes).unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("block #{number}")),
        "{err:#}"
    );
    assert_eq!(store.head_number().unwrap(), Some(number - 1));
}

#[test]
fn truncated_garbage_empty_and_oversized_input_fail() {
    let c = chain(3);
    let full = file_of(&c, 1..4);
    let store = store_with_genesis(&c);
    let err = import(&store, &c, full[..full.len() - 1].to_vec()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err:#}");
    assert_eq!(
        store.head_number().unwrap(),
        Some(2),
        "the complete blocks are kept"
    );

    let err = import(&store, &c, b"hello, not rlp".to_vec()).unwrap_err();
    assert!(err.to_string().contains("not a block"), "{err:#}");
    let err = import(&store, &c, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("no blocks"), "{err:#}");
    // A length prefix of 2^40 bytes is refused before anything is allocated.
    let err = import(&store, &c, vec![0xfd, 0x01, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err:#}");
    // A non-canonical length (a short one written in the long form).
    let err = import(&store, &c, vec![0xf8, 0x01, 0x80]).unwrap_err();
    assert!(err.to_string().contains("canonical"), "{err:#}");
    // A list that is not a block.
    let err = import(&store, &c, vec![0xc2, 0x80, 0x80]).unwrap_err();
    assert!(err.to_string().contains("not a valid block"), "{err:#}");
}

#[test]
fn a_wrong_genesis_is_refused() {
    let c = chain(3);
    let other = Chain::generate(3, &GeneratorOptions::seeded(10));
    let store = store_with_genesis(&other);
    let err = import(&store, &c, file_of(&c, 0..4)).unwrap_err();
    assert!(err.to_string().contains("genesis"), "{err:#}");
}

proptest! {
    #[test]
    fn the_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut reader = BlockReader::from_bytes(bytes);
        for _ in 0..64 {
            match reader.next_block() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    #[test]
    fn a_prefix_of_a_file_imports_its_complete_blocks(cut in 0usize..4000) {
        let c = chain(4);
        let full = file_of(&c, 1..5);
        let cut = cut.min(full.len());
        let store = store_with_genesis(&c);
        let result = import(&store, &c, full[..cut].to_vec());
        let mut complete = 0u64;
        let mut end = 0;
        let mut at_boundary = cut == 0;
        for block in &c.blocks()[1..] {
            end += rlp::encode(block).len();
            if end <= cut { complete += 1; }
            at_boundary |= end == cut;
        }
        prop_assert_eq!(store.head_number().unwrap(), Some(complete));
        // A cut between blocks is a shorter, valid file (an empty one is refused); any other cut is truncated.
        prop_assert_eq!(result.is_ok(), at_boundary && cut > 0);
    }
}
