//! A small deterministic test chain: linked headers, bodies with raw legacy-shaped transactions, receipts, all
//! with matching roots; and helpers to build Status messages for it.

use std::sync::Arc;

use bytes::Bytes;
use chain_types::{
    BlockEntry, Body, ChainStore, EMPTY_OMMERS_HASH, Header, MemoryStore, Receipt, ReceiptStatus,
    SealedHeader, roots,
};
use eth_wire::{EthVersion, ForkFilter, Status, Status69, StatusMessage};
use primitive_types::{H160, H256, U256};

/// A raw legacy-shaped transaction (an RLP list) unique to (block, index).
pub(crate) fn raw_tx(block: u64, index: u64) -> Bytes {
    let mut s = rlp::RlpStream::new_list(3);
    s.append(&block);
    s.append(&index);
    s.append(&"peerwire test transaction");
    s.out().freeze()
}

/// A typed (EIP-2718 type 2) transaction blob.
pub(crate) fn typed_tx(block: u64) -> Bytes {
    let mut v = vec![2u8];
    let mut s = rlp::RlpStream::new_list(2);
    s.append(&block);
    s.append(&"typed");
    v.extend_from_slice(&s.out());
    Bytes::from(v)
}

/// The test chain: block `i` has `i % 3` legacy transactions and, every 4th block, one typed transaction.
#[derive(Debug, Clone)]
pub(crate) struct TestChain {
    /// Headers, index = number.
    pub(crate) headers: Vec<SealedHeader>,
    /// Bodies, index = number.
    pub(crate) bodies: Vec<Body>,
    /// Receipts, index = number.
    pub(crate) receipts: Vec<Vec<Receipt>>,
}

impl TestChain {
    /// A chain of `len` blocks after genesis; `salt` makes distinct chains.
    pub(crate) fn new(len: u64, salt: u8) -> Self {
        let mut headers: Vec<SealedHeader> = Vec::new();
        let mut bodies = Vec::new();
        let mut receipts = Vec::new();
        for n in 0..=len {
            let mut txs: Vec<Bytes> = (0..n % 3).map(|i| raw_tx(n, i)).collect();
            if n > 0 && n % 4 == 0 {
                txs.push(typed_tx(n));
            }
            let rs: Vec<Receipt> = txs
                .iter()
                .enumerate()
                .map(|(i, tx)| Receipt {
                    tx_type: if tx.first().is_some_and(|b| *b >= 0xc0) {
                        0
                    } else {
                        2
                    },
                    status: ReceiptStatus::Success,
                    cumulative_gas_used: 21_000 * (i as u64 + 1),
                    ..Receipt::default()
                })
                .collect();
            let body = Body {
                transactions: txs,
                ommers: Vec::new(),
                withdrawals: None,
            };
            let header = Header {
                parent_hash: headers.last().map(SealedHeader::hash).unwrap_or_default(),
                ommers_hash: EMPTY_OMMERS_HASH,
                beneficiary: H160::repeat_byte(0x11),
                state_root: H256::repeat_byte(salt),
                transactions_root: roots::transactions_root(&body.transactions),
                receipts_root: roots::receipts_root(&rs),
                difficulty: U256::one(),
                number: n,
                gas_limit: 30_000_000,
                gas_used: 21_000 * rs.len() as u64,
                timestamp: 1_700_000_000 + 12 * n,
                extra_data: Bytes::from_static(b"eth-wire test"),
                base_fee_per_gas: Some(7),
                ..Header::default()
            };
            headers.push(header.seal());
            bodies.push(body);
            receipts.push(rs);
        }
        Self {
            headers,
            bodies,
            receipts,
        }
    }

    /// The genesis hash.
    pub(crate) fn genesis(&self) -> H256 {
        self.headers
            .first()
            .map(SealedHeader::hash)
            .unwrap_or_default()
    }

    /// The head.
    pub(crate) fn head(&self) -> &SealedHeader {
        self.headers.last().expect("chain has a genesis")
    }

    /// A memory store holding the chain.
    pub(crate) fn store(&self) -> Arc<MemoryStore> {
        let store = MemoryStore::new();
        let batch = self
            .headers
            .iter()
            .zip(&self.bodies)
            .zip(&self.receipts)
            .map(|((h, b), r)| BlockEntry {
                header: h.clone(),
                body: Some(b.clone()),
                receipts: Some(r.clone()),
            })
            .collect();
        store.insert_batch(batch).expect("test chain links");
        Arc::new(store)
    }

    /// Our Status and fork filter at the head, on network 1337, all forks at genesis.
    pub(crate) fn status(&self, version: EthVersion) -> (Status, ForkFilter) {
        let filter = ForkFilter::genesis_only(self.genesis());
        let status = Status {
            version: version.number(),
            network_id: 1337,
            total_difficulty: U256::from(self.headers.len()),
            best_hash: self.head().hash(),
            genesis: self.genesis(),
            fork_id: filter.current(),
        };
        (status, filter)
    }

    /// Our Status in the layout of `version` (eth/69+: the range `0..=head`) and the fork filter at the head.
    pub(crate) fn status_for(&self, version: EthVersion) -> (StatusMessage, ForkFilter) {
        let (legacy, filter) = self.status(version);
        if version.is_eth69_or_later() {
            let status = Status69 {
                version: version.number(),
                network_id: legacy.network_id,
                genesis: legacy.genesis,
                fork_id: legacy.fork_id,
                earliest: 0,
                latest: self.head().number,
                latest_hash: self.head().hash(),
            };
            (StatusMessage::Eth69(status), filter)
        } else {
            (StatusMessage::Legacy(legacy), filter)
        }
    }
}
