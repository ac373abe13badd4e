//! A deterministic chain generator (feature `generator`) for tests, benches and the devnet command.
//!
//! Every block is a pure function of the [`GeneratorOptions`], its number and its parent's hash
//! ([`generate_block`]), driven by a small built-in SplitMix64 generator, so the same options always give the same
//! chain, on every run and every machine. Blocks carry random transactions (legacy RLP lists and EIP-1559 `0x02`
//! envelopes), ommers on some blocks, receipts with logs and blooms, optional withdrawals, and headers whose roots
//! match their content. Nothing is executed: state roots are random and ommers are well-formed headers that are
//! not valid uncles under the consensus rules.
//!
//! [`Chain`] holds a generated chain in memory (with forks at chosen points, heavier if their difficulty is higher);
//! [`CompactChain`] keeps only hashes and total difficulties and regenerates blocks on demand, for chains of
//! millions of blocks. [`ChainServer`] serves a chain as an honest [`ChainSource`].

use std::{collections::HashMap, future::Future, ops::Range, sync::Arc};

use bytes::Bytes;
use primitive_types::{H160, H256, U256};
use rlp::RlpStream;

use crate::{
    Block, BlockEntry, BlockHashOrNumber, Body, ChainSource, EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH,
    Error, Header, HeadersRequest, Log, Receipt, ReceiptStatus, SealedHeader, Withdrawal, roots,
};

/// SplitMix64: a tiny, fast, deterministic generator (no external randomness).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// A generator for block `number` of a chain with seed `seed`.
    fn for_block(seed: u64, number: u64) -> Self {
        let mut r = Self(seed ^ number.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), with negligible bias.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn h256(&mut self) -> H256 {
        let mut h = H256::zero();
        self.fill(h.as_bytes_mut());
        h
    }

    fn h160(&mut self) -> H160 {
        let mut h = H160::zero();
        self.fill(h.as_bytes_mut());
        h
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

/// What the generator puts into blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// Seed: chains (and fork segments) with different seeds differ in every block.
    pub seed: u64,
    /// Headers only: every body is empty, there are no receipts, and the headers carry the empty roots.
    pub light: bool,
    /// Most transactions in a block. About a third of the blocks have none.
    pub max_txs: u32,
    /// Every block whose number is a multiple of this (and at least 2) has one ommer; 0 means never.
    pub ommers_every: u64,
    /// Most logs per receipt.
    pub max_logs: u32,
    /// Base difficulty of a block; each block adds up to an eighth of it at random. A fork with a higher value is
    /// heavier per block.
    pub difficulty: U256,
    /// London headers (with a base fee).
    pub london: bool,
    /// Shanghai headers and bodies (with withdrawals); implies `london` in the header shape.
    pub shanghai: bool,
    /// Genesis timestamp; block `n` has `timestamp + 12 * n`.
    pub timestamp: u64,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            light: false,
            max_txs: 4,
            ommers_every: 5,
            max_logs: 2,
            difficulty: U256::from(131_072u64),
            london: true,
            shanghai: false,
            timestamp: 1_600_000_000,
        }
    }
}

impl GeneratorOptions {
    /// Default options with seed `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Headers-only options with seed `seed` (empty bodies, empty roots).
    pub fn light(seed: u64) -> Self {
        Self {
            seed,
            light: true,
            ..Self::default()
        }
    }

    /// The same options with another seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same options with `factor` times the base difficulty (a heavier chain per block).
    #[must_use]
    pub fn heavier(mut self, factor: u64) -> Self {
        self.difficulty = self.difficulty.saturating_mul(U256::from(factor));
        self
    }
}

/// One generated block with its receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts (empty for an empty or light block).
    pub receipts: Vec<Receipt>,
}

/// Appends a random byte string of `len` bytes.
fn random_string(s: &mut RlpStream, rng: &mut Rng, len: usize) {
    s.append(&rng.bytes(len));
}

/// A random transaction shaped as a legacy RLP list or a `0x02` envelope; returns it and its data length.
fn random_tx(rng: &mut Rng) -> (Bytes, u8, usize) {
    let data_len = usize::try_from(rng.below(96)).unwrap_or(0);
    let typed = rng.below(2) == 1;
    let mut s = RlpStream::new();
    if typed {
        s.begin_list(12);
        s.append(&1u64); // chain id
        s.append(&rng.below(1 << 20)); // nonce
        s.append(&rng.below(1 << 32)); // max priority fee
        s.append(&rng.below(1 << 40)); // max fee
        s.append(&(21_000 + rng.below(100_000))); // gas
        s.append(&rng.h160());
        s.append(&rng.below(1 << 60)); // value
        random_string(&mut s, rng, data_len);
        s.begin_list(0); // access list
        s.append(&rng.below(2)); // y parity
        s.append(&rng.h256());
        s.append(&rng.h256());
        let mut out = Vec::with_capacity(s.len() + 1);
        out.push(2);
        out.extend_from_slice(&s.out());
        (Bytes::from(out), 2, data_len)
    } else {
        s.begin_list(9);
        s.append(&rng.below(1 << 20)); // nonce
        s.append(&rng.below(1 << 40)); // gas price
        s.append(&(21_000 + rng.below(100_000))); // gas
        s.append(&rng.h160());
        s.append(&rng.below(1 << 60)); // value
        random_string(&mut s, rng, data_len);
        s.append(&(37 + rng.below(2))); // v (EIP-155, chain id 1)
        s.append(&rng.h256());
        s.append(&rng.h256());
        (s.out().freeze(), 0, data_len)
    }
}

/// Generates block `number` on top of a parent with hash `parent_hash` (`H256::zero()` for genesis). A pure
/// function: the same arguments always give the same block.
pub fn generate_block(opts: &GeneratorOptions, number: u64, parent_hash: H256) -> GeneratedBlock {
    let (header, body, receipts) = generate_unsealed(opts, number, parent_hash);
    GeneratedBlock {
        block: Block {
            header: header.seal(),
            body,
        },
        receipts,
    }
}

/// As [`generate_block`], without hashing the header.
fn generate_unsealed(
    opts: &GeneratorOptions,
    number: u64,
    parent_hash: H256,
) -> (Header, Body, Vec<Receipt>) {
    let mut rng = Rng::for_block(opts.seed, number);
    // Per-seed constants, so that light forks differ from the fork point on.
    let mut seed_rng = Rng::for_block(opts.seed, u64::MAX);
    let beneficiary = seed_rng.h160();

    let extra = rng.below(8);
    let jitter = opts.difficulty / U256::from(8u64);
    let difficulty = if number == 0 {
        opts.difficulty
    } else {
        opts.difficulty + U256::from(rng.next_u64()) % (jitter + U256::one())
    };
    let mut header = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary,
        state_root: rng.h256(),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty,
        number,
        gas_limit: 30_000_000,
        timestamp: opts.timestamp.saturating_add(number.saturating_mul(12)),
        extra_data: Bytes::from(
            [
                &opts.seed.to_be_bytes()[..],
                &[u8::try_from(extra).unwrap_or(0)],
            ]
            .concat(),
        ),
        mix_hash: rng.h256(),
        nonce: rng.next_u64().to_be_bytes(),
        base_fee_per_gas: (opts.london || opts.shanghai).then(|| 7 + rng.below(1_000_000_000)),
        ..Header::default()
    };
    let mut body = Body::default();
    let mut receipts = Vec::new();
    if opts.shanghai {
        body.withdrawals = Some(Vec::new());
    }
    if !opts.light && number > 0 {
        let count = if rng.below(3) == 0 {
            0
        } else {
            1 + rng.below(u64::from(opts.max_txs.max(1)))
        };
        let mut cumulative = 0u64;
        for _ in 0..count {
            let (tx, tx_type, data_len) = random_tx(&mut rng);
            body.transactions.push(tx);
            cumulative += 21_000 + 16 * data_len as u64;
            let logs: Vec<Log> = (0..rng.below(u64::from(opts.max_logs) + 1))
                .map(|_| {
                    let address = rng.h160();
                    let topics = (0..rng.below(4)).map(|_| rng.h256()).collect();
                    let len = usize::try_from(rng.below(64)).unwrap_or(0);
                    Log {
                        address,
                        topics,
                        data: Bytes::from(rng.bytes(len)),
                    }
                })
                .collect();
            let status = if rng.below(8) == 0 {
                ReceiptStatus::Failure
            } else {
                ReceiptStatus::Success
            };
            receipts.push(Receipt {
                tx_type,
                status,
                cumulative_gas_used: cumulative,
                logs_bloom: Receipt::bloom_of(&logs),
                logs,
            });
        }
        header.gas_used = cumulative;
        if opts.ommers_every > 0 && number >= 2 && number.is_multiple_of(opts.ommers_every) {
            body.ommers.push(Header {
                parent_hash: rng.h256(),
                beneficiary: rng.h160(),
                state_root: rng.h256(),
                difficulty: opts.difficulty,
                number: number - 1,
                gas_limit: 30_000_000,
                timestamp: header.timestamp.saturating_sub(6),
                mix_hash: rng.h256(),
                nonce: rng.next_u64().to_be_bytes(),
                base_fee_per_gas: header.base_fee_per_gas,
                ..Header::default()
            });
        }
        if let Some(w) = &mut body.withdrawals {
            for i in 0..rng.below(3) {
                w.push(Withdrawal {
                    index: number * 4 + i,
                    validator_index: rng.below(1 << 20),
                    address: rng.h160(),
                    amount: rng.below(1 << 32),
                });
            }
        }
        header.transactions_root = roots::transactions_root(&body.transactions);
        header.ommers_hash = roots::ommers_hash(&body.ommers);
        header.receipts_root = roots::receipts_root(&receipts);
        for r in &receipts {
            header.logs_bloom.accrue_bloom(&r.logs_bloom);
        }
    }
    if let Some(w) = &body.withdrawals {
        header.withdrawals_root = Some(roots::withdrawals_root(w));
    }
    (header, body, receipts)
}

/// A generated chain held in memory: blocks from genesis, their receipts and total difficulties.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    blocks: Vec<Block>,
    receipts: Vec<Vec<Receipt>>,
    tds: Vec<U256>,
    by_hash: HashMap<H256, u64>,
}

impl Chain {
    /// Generates genesis and `blocks` blocks on top (the head has number `blocks`).
    pub fn generate(blocks: u64, opts: &GeneratorOptions) -> Self {
        let mut chain = Self::default();
        chain.extend(blocks.saturating_add(1), opts);
        chain
    }

    /// Appends `count` generated blocks.
    fn extend(&mut self, count: u64, opts: &GeneratorOptions) {
        let reserve = usize::try_from(count).unwrap_or(0);
        self.blocks.reserve(reserve);
        self.receipts.reserve(reserve);
        self.tds.reserve(reserve);
        self.by_hash.reserve(reserve);
        for _ in 0..count {
            let (number, parent) = match self.blocks.last() {
                Some(b) => (b.number() + 1, b.hash()),
                None => (0, H256::zero()),
            };
            let g = generate_block(opts, number, parent);
            let td = self
                .tds
                .last()
                .copied()
                .unwrap_or_default()
                .saturating_add(g.block.header.difficulty);
            self.by_hash.insert(g.block.hash(), number);
            self.blocks.push(g.block);
            self.receipts.push(g.receipts);
            self.tds.push(td);
        }
    }

    /// A fork: this chain's blocks `0..=at`, then `blocks` new blocks generated with `opts` (give it another seed,
    /// and a higher difficulty for a heavier fork). `at` is clamped to the head.
    pub fn fork(&self, at: u64, blocks: u64, opts: &GeneratorOptions) -> Self {
        let mut fork = self.truncated(at);
        fork.extend(blocks, opts);
        fork
    }

    /// This chain cut after block `head` (clamped to the head).
    pub fn truncated(&self, head: u64) -> Self {
        let keep = usize::try_from(head.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(self.blocks.len());
        let blocks = self.blocks[..keep].to_vec();
        let by_hash = blocks.iter().map(|b| (b.hash(), b.number())).collect();
        Self {
            blocks,
            receipts: self.receipts[..keep].to_vec(),
            tds: self.tds[..keep].to_vec(),
            by_hash,
        }
    }

    /// Number of blocks, genesis included.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the chain has no block at all (not even genesis).
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// All blocks, genesis first.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The genesis block.
    ///
    /// # Panics
    ///
    /// If the chain is empty (only `Chain::default()` is).
    pub fn genesis(&self) -> &Block {
        &self.blocks[0]
    }

    /// The head block.
    ///
    /// # Panics
    ///
    /// If the chain is empty (only `Chain::default()` is).
    pub fn head(&self) -> &Block {
        &self.blocks[self.blocks.len() - 1]
    }

    /// The head's total difficulty (zero for an empty chain).
    pub fn head_td(&self) -> U256 {
        self.tds.last().copied().unwrap_or_default()
    }

    /// Block `number`.
    pub fn block(&self, number: u64) -> Option<&Block> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    /// Header of block `number`.
    pub fn header(&self, number: u64) -> Option<&SealedHeader> {
        self.block(number).map(|b| &b.header)
    }

    /// Receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Option<&[Receipt]> {
        self.receipts
            .get(usize::try_from(number).ok()?)
            .map(Vec::as_slice)
    }

    /// Total difficulty of block `number`.
    pub fn td(&self, number: u64) -> Option<U256> {
        self.tds.get(usize::try_from(number).ok()?).copied()
    }

    /// Number of block `hash`.
    pub fn number_of(&self, hash: &H256) -> Option<u64> {
        self.by_hash.get(hash).copied()
    }

    /// Block with hash `hash`.
    pub fn block_by_hash(&self, hash: &H256) -> Option<&Block> {
        self.number_of(hash).and_then(|n| self.block(n))
    }

    /// Answers a headers request as a geth server does: at most `limit` headers, stopping at the first unknown
    /// block; empty if the origin is unknown.
    pub fn headers_matching(&self, request: &HeadersRequest, limit: u64) -> Vec<Header> {
        let origin = match request.origin {
            BlockHashOrNumber::Number(n) => n,
            BlockHashOrNumber::Hash(h) => match self.number_of(&h) {
                Some(n) => n,
                None => return Vec::new(),
            },
        };
        request
            .block_numbers(origin, limit)
            .map_while(|n| self.header(n).map(|h| h.header().clone()))
            .collect()
    }

    /// Bodies of the known blocks among `hashes`, in order, skipping unknown ones.
    pub fn bodies_of(&self, hashes: &[H256]) -> Vec<Body> {
        hashes
            .iter()
            .filter_map(|h| self.block_by_hash(h))
            .map(|b| b.body.clone())
            .collect()
    }

    /// Receipts of the known blocks among `hashes`, in order, skipping unknown ones.
    pub fn receipts_of(&self, hashes: &[H256]) -> Vec<Vec<Receipt>> {
        hashes
            .iter()
            .filter_map(|h| self.number_of(h))
            .filter_map(|n| self.receipts(n))
            .map(<[Receipt]>::to_vec)
            .collect()
    }

    /// Store entries for the blocks in `numbers` (clamped to the chain), with bodies and receipts if asked.
    pub fn entries(&self, numbers: Range<u64>, bodies: bool, receipts: bool) -> Vec<BlockEntry> {
        let end = usize::try_from(numbers.end)
            .unwrap_or(usize::MAX)
            .min(self.blocks.len());
        let start = usize::try_from(numbers.start)
            .unwrap_or(usize::MAX)
            .min(end);
        self.blocks[start..end]
            .iter()
            .zip(&self.receipts[start..end])
            .map(|(b, r)| BlockEntry {
                header: b.header.clone(),
                body: bodies.then(|| b.body.clone()),
                receipts: receipts.then(|| r.clone()),
            })
            .collect()
    }
}

/// A segment of a [`CompactChain`]: blocks from `from` on are generated with `opts`.
#[derive(Debug, Clone)]
struct Segment {
    from: u64,
    opts: GeneratorOptions,
}

/// A generated chain that keeps only hashes and total difficulties (64 bytes per block plus a hash index) and
/// regenerates blocks on demand, for chains of millions of blocks. Regenerating a header costs no hashing (the
/// hash is kept); regenerating a full block recomputes its content.
#[derive(Debug, Clone, Default)]
pub struct CompactChain {
    segments: Vec<Segment>,
    hashes: Vec<H256>,
    tds: Vec<U256>,
    by_hash: HashMap<H256, u64>,
}

impl CompactChain {
    /// Generates genesis and `blocks` blocks on top.
    pub fn generate(blocks: u64, opts: &GeneratorOptions) -> Self {
        let mut chain = Self::default();
        chain.extend(blocks.saturating_add(1), opts);
        chain
    }

    fn extend(&mut self, count: u64, opts: &GeneratorOptions) {
        let from = self.hashes.len() as u64;
        self.segments.push(Segment {
            from,
            opts: opts.clone(),
        });
        let reserve = usize::try_from(count).unwrap_or(0);
        self.hashes.reserve(reserve);
        self.tds.reserve(reserve);
        self.by_hash.reserve(reserve);
        for number in from..from.saturating_add(count) {
            let parent = self.hashes.last().copied().unwrap_or_default();
            let g = generate_block(opts, number, parent);
            let td = self
                .tds
                .last()
                .copied()
                .unwrap_or_default()
                .saturating_add(g.block.header.difficulty);
            self.by_hash.insert(g.block.hash(), number);
            self.hashes.push(g.block.hash());
            self.tds.push(td);
        }
    }

    /// A fork after block `at` (clamped to the head) with `blocks` new blocks generated with `opts`.
    pub fn fork(&self, at: u64, blocks: u64, opts: &GeneratorOptions) -> Self {
        let keep = usize::try_from(at.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(self.hashes.len());
        let hashes = self.hashes[..keep].to_vec();
        let by_hash = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| (*h, i as u64))
            .collect();
        let segments = self
            .segments
            .iter()
            .filter(|s| s.from < keep as u64)
            .cloned()
            .collect();
        let mut fork = Self {
            segments,
            hashes,
            tds: self.tds[..keep].to_vec(),
            by_hash,
        };
        fork.extend(blocks, opts);
        fork
    }

    /// Number of blocks, genesis included.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the chain has no block.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Number of the head (0 for an empty chain).
    pub fn head_number(&self) -> u64 {
        (self.hashes.len() as u64).saturating_sub(1)
    }

    /// Hash of the head (zero for an empty chain).
    pub fn head_hash(&self) -> H256 {
        self.hashes.last().copied().unwrap_or_default()
    }

    /// Total difficulty of the head.
    pub fn head_td(&self) -> U256 {
        self.tds.last().copied().unwrap_or_default()
    }

    /// Hash of block `number`.
    pub fn hash(&self, number: u64) -> Option<H256> {
        self.hashes.get(usize::try_from(number).ok()?).copied()
    }

    /// Total difficulty of block `number`.
    pub fn td(&self, number: u64) -> Option<U256> {
        self.tds.get(usize::try_from(number).ok()?).copied()
    }

    /// Number of block `hash`.
    pub fn number_of(&self, hash: &H256) -> Option<u64> {
        self.by_hash.get(hash).copied()
    }

    fn opts_for(&self, number: u64) -> Option<&GeneratorOptions> {
        self.segments
            .iter()
            .rev()
            .find(|s| s.from <= number)
            .map(|s| &s.opts)
    }

    /// Regenerates block `number` with its receipts, sealed with the kept hash (no hashing).
    pub fn block(&self, number: u64) -> Option<GeneratedBlock> {
        let hash = self.hash(number)?;
        let parent = if number == 0 {
            H256::zero()
        } else {
            self.hash(number - 1)?
        };
        let opts = self.opts_for(number)?;
        let (header, body, receipts) = generate_unsealed(opts, number, parent);
        Some(GeneratedBlock {
            block: Block {
                header: SealedHeader::new_unchecked(header, hash),
                body,
            },
            receipts,
        })
    }

    /// Regenerates the header of block `number`, sealed with the kept hash (no hashing).
    pub fn header(&self, number: u64) -> Option<SealedHeader> {
        Some(self.block(number)?.block.header)
    }

    /// As [`Chain::headers_matching`].
    pub fn headers_matching(&self, request: &HeadersRequest, limit: u64) -> Vec<Header> {
        let origin = match request.origin {
            BlockHashOrNumber::Number(n) => n,
            BlockHashOrNumber::Hash(h) => match self.number_of(&h) {
                Some(n) => n,
                None => return Vec::new(),
            },
        };
        request
            .block_numbers(origin, limit)
            .map_while(|n| self.header(n).map(SealedHeader::into_header))
            .collect()
    }
}

/// An honest [`ChainSource`] over a [`Chain`], answering at once (serving limits as geth: at most
/// [`ChainServer::MAX_SERVE`] items per request).
#[derive(Debug, Clone)]
pub struct ChainServer {
    id: String,
    chain: Arc<Chain>,
}

impl ChainServer {
    /// Most headers, bodies or receipts per reply (geth's `maxHeadersServe` and friends).
    pub const MAX_SERVE: u64 = 1024;

    /// Serves `chain` under `id`.
    pub fn new(id: impl Into<String>, chain: Arc<Chain>) -> Self {
        Self {
            id: id.into(),
            chain,
        }
    }

    /// The chain served.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }
}

impl ChainSource for ChainServer {
    fn id(&self) -> &str {
        &self.id
    }

    fn head(&self) -> (H256, U256) {
        self.chain
            .blocks
            .last()
            .map(|b| (b.hash(), self.chain.head_td()))
            .unwrap_or_default()
    }

    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
        std::future::ready(Ok(self.chain.headers_matching(&request, Self::MAX_SERVE)))
    }

    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send {
        let limit = usize::try_from(Self::MAX_SERVE).unwrap_or(usize::MAX);
        std::future::ready(Ok(self.chain.bodies_of(&hashes[..hashes.len().min(limit)])))
    }

    fn receipts(
        &self,
        hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send {
        let limit = usize::try_from(Self::MAX_SERVE).unwrap_or(usize::MAX);
        std::future::ready(Ok(self
            .chain
            .receipts_of(&hashes[..hashes.len().min(limit)])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_match_their_headers() {
        let chain = Chain::generate(60, &GeneratorOptions::seeded(1));
        let mut txs = 0;
        let mut ommers = 0;
        for (i, b) in chain.blocks().iter().enumerate() {
            b.body.check_against(&b.header).unwrap();
            roots::check_receipts(chain.receipts(i as u64).unwrap(), &b.header).unwrap();
            assert_eq!(b.header.hash(), b.header.header().hash());
            txs += b.body.transactions.len();
            ommers += b.body.ommers.len();
            if i > 0 {
                assert_eq!(b.header.parent_hash, chain.blocks()[i - 1].hash());
                assert!(chain.td(i as u64).unwrap() > chain.td(i as u64 - 1).unwrap());
            }
        }
        assert!(txs > 30, "transactions generated: {txs}");
        assert!(ommers >= 10, "ommers generated: {ommers}");
        assert!(
            chain
                .blocks()
                .iter()
                .any(|b| b.body.transactions.is_empty())
        );
    }

    #[test]
    fn same_options_same_chain_and_seeds_differ() {
        let a = Chain::generate(20, &GeneratorOptions::seeded(5));
        let b = Chain::generate(20, &GeneratorOptions::seeded(5));
        let c = Chain::generate(20, &GeneratorOptions::seeded(6));
        assert_eq!(a.head().hash(), b.head().hash());
        assert_ne!(a.head().hash(), c.head().hash());
    }

    #[test]
    fn compact_chain_regenerates_the_same_blocks() {
        let opts = GeneratorOptions::seeded(3);
        let full = Chain::generate(30, &opts);
        let compact = CompactChain::generate(30, &opts);
        assert_eq!(compact.head_hash(), full.head().hash());
        for n in [0, 1, 15, 30] {
            let b = compact.block(n).unwrap().block;
            assert_eq!(b, *full.block(n).unwrap());
            assert_eq!(
                b.header.header().hash(),
                b.hash(),
                "kept hash matches the regenerated header"
            );
        }
        let heavy = opts.with_seed(9).heavier(2);
        let f1 = full.fork(10, 5, &heavy);
        let f2 = compact.fork(10, 5, &heavy);
        assert_eq!(f1.head().hash(), f2.head_hash());
        assert_eq!(f2.header(15).unwrap(), *f1.header(15).unwrap());
        assert_eq!(f2.header(3).unwrap(), *full.header(3).unwrap());
    }
}
