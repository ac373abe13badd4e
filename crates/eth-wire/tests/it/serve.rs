//! The serving side against a store with a side chain: hash origins off the canonical chain walk down by parent
//! hashes (and continue by number once back on the canonical chain), and walk up not at all.

use std::collections::HashMap;
use std::sync::Arc;

use chain_types::{
    BlockEntry, BlockHashOrNumber, Body, ChainStore, Header, HeadersRequest, MemoryStore, Receipt,
    SealedHeader,
};
use eth_wire::ServeLimits;
use eth_wire::serve::{answer_bodies, answer_headers};
use primitive_types::{H256, U256};

use crate::chain::TestChain;

/// A canonical memory store plus side-chain headers reachable by hash only.
struct SideStore {
    canonical: Arc<MemoryStore>,
    side: HashMap<H256, SealedHeader>,
}

impl ChainStore for SideStore {
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), chain_types::Error> {
        self.canonical.insert_batch(batch)
    }
    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, chain_types::Error> {
        self.canonical.header_by_number(number)
    }
    fn header_by_hash(&self, hash: &H256) -> Result<Option<SealedHeader>, chain_types::Error> {
        match self.side.get(hash) {
            Some(h) => Ok(Some(h.clone())),
            None => self.canonical.header_by_hash(hash),
        }
    }
    fn body(&self, hash: &H256) -> Result<Option<Body>, chain_types::Error> {
        self.canonical.body(hash)
    }
    fn receipts(&self, hash: &H256) -> Result<Option<Vec<Receipt>>, chain_types::Error> {
        self.canonical.receipts(hash)
    }
    fn head(&self) -> Result<Option<(SealedHeader, U256)>, chain_types::Error> {
        self.canonical.head()
    }
    fn total_difficulty(&self, hash: &H256) -> Result<Option<U256>, chain_types::Error> {
        self.canonical.total_difficulty(hash)
    }
    fn rewind(&self, to_number: u64) -> Result<(), chain_types::Error> {
        self.canonical.rewind(to_number)
    }
    fn stage_headers(&self, headers: Vec<SealedHeader>) -> Result<(), chain_types::Error> {
        self.canonical.stage_headers(headers)
    }
    fn staged_header(&self, number: u64) -> Result<Option<SealedHeader>, chain_types::Error> {
        self.canonical.staged_header(number)
    }
    fn lowest_staged(&self) -> Result<Option<SealedHeader>, chain_types::Error> {
        self.canonical.lowest_staged()
    }
    fn highest_staged(&self) -> Result<Option<SealedHeader>, chain_types::Error> {
        self.canonical.highest_staged()
    }
    fn clear_staged(&self, through: u64) -> Result<(), chain_types::Error> {
        self.canonical.clear_staged(through)
    }
}

/// The canonical test chain of 20 blocks and a side chain 11'..15' forked off block 10.
fn store() -> (TestChain, SideStore, Vec<SealedHeader>) {
    let chain = TestChain::new(20, 1);
    let mut side = Vec::new();
    let mut parent = chain.headers[10].hash();
    for n in 11..=15 {
        let h = Header {
            parent_hash: parent,
            number: n,
            extra_data: bytes::Bytes::from_static(b"side"),
            ..Header::default()
        }
        .seal();
        parent = h.hash();
        side.push(h);
    }
    let s = SideStore {
        canonical: chain.store(),
        side: side.iter().map(|h| (h.hash(), h.clone())).collect(),
    };
    (chain, s, side)
}

#[test]
fn reverse_walk_from_a_side_block_follows_parents_then_numbers() {
    let (chain, s, side) = store();
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Hash(side[4].hash()),
        amount: 8,
        skip: 0,
        reverse: true,
    };
    let got = answer_headers(&s, &req, &ServeLimits::default()).unwrap();
    let hashes: Vec<H256> = got.iter().map(Header::hash).collect();
    let mut want: Vec<H256> = side.iter().rev().map(SealedHeader::hash).collect();
    want.extend([10, 9, 8].iter().map(|n| chain.headers[*n].hash()));
    assert_eq!(hashes, want);
    // With a skip: 15', 13', 11', 9, 7.
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Hash(side[4].hash()),
        amount: 5,
        skip: 1,
        reverse: true,
    };
    let got: Vec<H256> = answer_headers(&s, &req, &ServeLimits::default())
        .unwrap()
        .iter()
        .map(Header::hash)
        .collect();
    let want = vec![
        side[4].hash(),
        side[2].hash(),
        side[0].hash(),
        chain.headers[9].hash(),
        chain.headers[7].hash(),
    ];
    assert_eq!(got, want);
}

#[test]
fn forward_walk_from_a_side_block_returns_only_the_origin() {
    let (_chain, s, side) = store();
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Hash(side[1].hash()),
        amount: 5,
        skip: 0,
        reverse: false,
    };
    let got = answer_headers(&s, &req, &ServeLimits::default()).unwrap();
    assert_eq!(
        got.iter().map(Header::hash).collect::<Vec<_>>(),
        vec![side[1].hash()]
    );
}

#[test]
fn lookups_are_bounded() {
    let (_chain, s, side) = store();
    let limits = ServeLimits {
        max_lookups: 4,
        ..ServeLimits::default()
    };
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Hash(side[4].hash()),
        amount: 100,
        skip: 0,
        reverse: true,
    };
    let got = answer_headers(&s, &req, &limits).unwrap();
    assert!(got.len() <= 4, "{}", got.len());
    assert!(!got.is_empty());
}

#[test]
fn zero_amount_and_overflowing_skip() {
    let (chain, s, _side) = store();
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Number(3),
        amount: 0,
        skip: 0,
        reverse: false,
    };
    assert!(
        answer_headers(&s, &req, &ServeLimits::default())
            .unwrap()
            .is_empty()
    );
    let req = HeadersRequest {
        origin: BlockHashOrNumber::Number(3),
        amount: 3,
        skip: u64::MAX,
        reverse: false,
    };
    let got = answer_headers(&s, &req, &ServeLimits::default()).unwrap();
    assert_eq!(
        got.iter().map(Header::hash).collect::<Vec<_>>(),
        vec![chain.headers[3].hash()]
    );
    // Bodies: unknown hashes skipped, order kept.
    let hashes = vec![
        chain.headers[5].hash(),
        H256::repeat_byte(7),
        chain.headers[4].hash(),
    ];
    let bodies = answer_bodies(&s, &hashes, &ServeLimits::default()).unwrap();
    assert_eq!(
        bodies,
        vec![chain.bodies[5].clone(), chain.bodies[4].clone()]
    );
}
