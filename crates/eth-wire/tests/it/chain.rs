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
        Self::build(len, salt, None)
    }

    /// A chain of `len` blocks after genesis where every block has `per_block` transactions (legacy and typed
    /// in turn) whose receipts carry a log each (so blooms are not empty).
    pub(crate) fn with_logs(len: u64, per_block: u64) -> Self {
        Self::build(len, 7, Some(per_block))
    }

    fn build(len: u64, salt: u8, logs: Option<u64>) -> Self {
        let mut headers: Vec<SealedHeader> = Vec::new();
        let mut bodies = Vec::new();
        let mut receipts = Vec::new();
        for n in 0..=len {
            let txs: Vec<Bytes> = match logs {
                None => {
                    let mut txs: Vec<Bytes> = (0..n % 3).map(|i| raw_tx(n, i)).collect();
                    if n > 0 && n % 4 == 0 {
                        txs.push(typed_tx(n));
                    }
                    txs
                }
                Some(k) if n > 0 => (0..k)
                    .map(|i| {
                        if i % 2 == 0 {
                            raw_tx(n, i)
                        } else {
                            typed_tx(n * 1000 + i)
                        }
                    })
                    .collect(),
                Some(_) => Vec::new(),
            };
            let rs: Vec<Receipt> = txs
                .iter()
                .enumerate()
                .map(|(i, tx)| {
                    let log = chain_types::Log {
                        address: H160::from_low_u64_be(n * 1000 + i as u64),
                        topics: vec![H256::from_low_u64_be(n), H256::repeat_byte(i as u8)],
                        data: Bytes::from(vec![i as u8; 64]),
                    };
                    let logs = if logs.is_some() {
                        vec![log]
                    } else {
                        Vec::new()
                    };
                    Receipt {
                        tx_type: if tx.first().is_some_and(|b| *b >= 0xc0) {
                            0
                        } else {
                            2
                        },
                        status: if i % 3 == 2 {
                            ReceiptStatus::Failure
                        } else {
                            ReceiptStatus::Success
                        },
                        cumulative_gas_used: 21_000 * (i as u64 + 1),
                        logs_bloom: Receipt::bloom_of(&logs),
                        logs,
                    }
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
        self.store_upto(self.headers.len() as u64 - 1)
    }

    /// A memory store holding blocks `0..=last`.
    pub(crate) fn store_upto(&self, last: u64) -> Arc<MemoryStore> {
        let store = MemoryStore::new();
        self.extend(&store, 0, last);
        Arc::new(store)
    }

    /// Inserts blocks `from..=to` into `store`.
    pub(crate) fn extend(&self, store: &MemoryStore, from: u64, to: u64) {
        let (from, to) = (from as usize, to as usize + 1);
        let batch = self.headers[from..to]
            .iter()
            .zip(&self.bodies[from..to])
            .zip(&self.receipts[from..to])
            .map(|((h, b), r)| BlockEntry {
                header: h.clone(),
                body: Some(b.clone()),
                receipts: Some(r.clone()),
            })
            .collect();
        store.insert_batch(batch).expect("test chain links");
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
