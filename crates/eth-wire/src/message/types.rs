//! The message bodies that are not plain lists: both Status layouts (eth/66-68 and eth/69+), BlockRangeUpdate
//! (eth/69+), NewBlockHashes entries, NewBlock and the eth/68 transaction announcement, and the request-id pair.

use chain_types::codec::{exact_list, list_of};
use chain_types::{BlockRange, Body, Header};
use primitive_types::{H256, U256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use super::wire::{append_txs, append_vec, decode_txs_copied, fields};
use crate::ForkId;

/// The eth/66-68 Status message: `[version, networkid, td, besthash, genesis, forkid]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The eth version.
    pub version: u8,
    /// The network id.
    pub network_id: u64,
    /// Total difficulty of the best block.
    pub total_difficulty: U256,
    /// Hash of the best block.
    pub best_hash: H256,
    /// Hash of the genesis block.
    pub genesis: H256,
    /// The EIP-2124 fork id.
    pub fork_id: ForkId,
}

impl Encodable for Status {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(6);
        s.append(&self.version);
        s.append(&self.network_id);
        s.append(&self.total_difficulty);
        s.append(&self.best_hash);
        s.append(&self.genesis);
        s.append(&self.fork_id);
    }
}

impl Decodable for Status {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        // Extra well-formed elements are tolerated (forward compatibility), missing or malformed ones are not.
        let (list, count) = exact_list(rlp)?;
        if count < 6 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            version: list.val_at(0)?,
            network_id: list.val_at(1)?,
            total_difficulty: list.val_at(2)?,
            best_hash: list.val_at(3)?,
            genesis: list.val_at(4)?,
            fork_id: list.val_at(5)?,
        })
    }
}

/// The eth/69 Status message (EIP-7642), also used by eth/70:
/// `[version, networkid, genesis, forkid, earliest, latest, latestHash]`. It carries no total difficulty; the
/// sender announces the range of blocks it serves instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status69 {
    /// The eth version (69 or 70).
    pub version: u8,
    /// The network id.
    pub network_id: u64,
    /// Hash of the genesis block.
    pub genesis: H256,
    /// The EIP-2124 fork id.
    pub fork_id: ForkId,
    /// The lowest block the sender has bodies and receipts for.
    pub earliest: u64,
    /// The sender's head number.
    pub latest: u64,
    /// The sender's head hash.
    pub latest_hash: H256,
}

impl Status69 {
    /// The announced range.
    pub const fn block_range(&self) -> BlockRange {
        BlockRange {
            earliest: self.earliest,
            latest: self.latest,
            latest_hash: self.latest_hash,
        }
    }
}

impl Encodable for Status69 {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(7);
        s.append(&self.version);
        s.append(&self.network_id);
        s.append(&self.genesis);
        s.append(&self.fork_id);
        s.append(&self.earliest);
        s.append(&self.latest);
        s.append(&self.latest_hash);
    }
}

impl Decodable for Status69 {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        // As for the eth/68 Status, extra well-formed trailing elements are tolerated.
        let (list, count) = exact_list(rlp)?;
        if count < 7 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            version: list.val_at(0)?,
            network_id: list.val_at(1)?,
            genesis: list.val_at(2)?,
            fork_id: list.val_at(3)?,
            earliest: list.val_at(4)?,
            latest: list.val_at(5)?,
            latest_hash: list.val_at(6)?,
        })
    }
}

/// A Status of either layout, as the handshake sends and receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMessage {
    /// eth/66 to eth/68.
    Legacy(Status),
    /// eth/69 and eth/70.
    Eth69(Status69),
}

impl StatusMessage {
    /// The eth version field.
    pub const fn version(&self) -> u8 {
        match self {
            Self::Legacy(s) => s.version,
            Self::Eth69(s) => s.version,
        }
    }

    /// The network id.
    pub const fn network_id(&self) -> u64 {
        match self {
            Self::Legacy(s) => s.network_id,
            Self::Eth69(s) => s.network_id,
        }
    }

    /// The genesis hash.
    pub const fn genesis(&self) -> H256 {
        match self {
            Self::Legacy(s) => s.genesis,
            Self::Eth69(s) => s.genesis,
        }
    }

    /// The fork id.
    pub const fn fork_id(&self) -> ForkId {
        match self {
            Self::Legacy(s) => s.fork_id,
            Self::Eth69(s) => s.fork_id,
        }
    }

    /// The announced head: best hash and total difficulty (eth/68), or latest hash and a zero difficulty
    /// (eth/69+, which announce no difficulty).
    pub fn head(&self) -> (H256, U256) {
        match self {
            Self::Legacy(s) => (s.best_hash, s.total_difficulty),
            Self::Eth69(s) => (s.latest_hash, U256::zero()),
        }
    }

    /// The announced block range (eth/69+ only).
    pub const fn block_range(&self) -> Option<BlockRange> {
        match self {
            Self::Legacy(_) => None,
            Self::Eth69(s) => Some(s.block_range()),
        }
    }
}

impl From<Status> for StatusMessage {
    fn from(s: Status) -> Self {
        Self::Legacy(s)
    }
}

impl From<&Status> for StatusMessage {
    fn from(s: &Status) -> Self {
        Self::Legacy(*s)
    }
}

impl From<Status69> for StatusMessage {
    fn from(s: Status69) -> Self {
        Self::Eth69(s)
    }
}

impl From<&Status69> for StatusMessage {
    fn from(s: &Status69) -> Self {
        Self::Eth69(*s)
    }
}

impl From<&Self> for StatusMessage {
    fn from(s: &Self) -> Self {
        *s
    }
}

/// BlockRangeUpdate (eth/69+, EIP-7642): `[earliest, latest, latestHash]`, sent when the sender's range moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRangeUpdate {
    /// The lowest block the sender has bodies and receipts for.
    pub earliest: u64,
    /// The sender's head number.
    pub latest: u64,
    /// The sender's head hash.
    pub latest_hash: H256,
}

impl BlockRangeUpdate {
    /// The range as `chain-types` describes it.
    pub const fn block_range(&self) -> BlockRange {
        BlockRange {
            earliest: self.earliest,
            latest: self.latest,
            latest_hash: self.latest_hash,
        }
    }

    /// The check geth applies to a Status range and to every BlockRangeUpdate: `earliest <= latest` and a
    /// non-zero latest hash. Returns the reason of a failure.
    ///
    /// # Errors
    ///
    /// A short reason (`"earliest > latest"`, `"zero latest hash"`).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.earliest > self.latest {
            return Err("earliest > latest");
        }
        if self.latest_hash.is_zero() {
            return Err("zero latest hash");
        }
        Ok(())
    }
}

impl From<BlockRange> for BlockRangeUpdate {
    fn from(r: BlockRange) -> Self {
        Self {
            earliest: r.earliest,
            latest: r.latest,
            latest_hash: r.latest_hash,
        }
    }
}

impl Encodable for BlockRangeUpdate {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3);
        s.append(&self.earliest);
        s.append(&self.latest);
        s.append(&self.latest_hash);
    }
}

impl Decodable for BlockRangeUpdate {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let list = fields(rlp, 3)?;
        Ok(Self {
            earliest: list.val_at(0)?,
            latest: list.val_at(1)?,
            latest_hash: list.val_at(2)?,
        })
    }
}

/// One entry of NewBlockHashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHashNumber {
    /// Block hash.
    pub hash: H256,
    /// Block number.
    pub number: u64,
}

impl Encodable for BlockHashNumber {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.append(&self.hash);
        s.append(&self.number);
    }
}

impl Decodable for BlockHashNumber {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let list = fields(rlp, 2)?;
        Ok(Self {
            hash: list.val_at(0)?,
            number: list.val_at(1)?,
        })
    }
}

/// NewBlock: `[[header, txs, ommers, (withdrawals)], td]` (eth/66-68 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    /// The block header.
    pub header: Header,
    /// The block body.
    pub body: Body,
    /// Total difficulty including this block.
    pub total_difficulty: U256,
}

impl Encodable for NewBlock {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.begin_list(3 + usize::from(self.body.withdrawals.is_some()));
        s.append(&self.header);
        append_txs(s, &self.body.transactions);
        append_vec(s, &self.body.ommers);
        if let Some(w) = &self.body.withdrawals {
            append_vec(s, w);
        }
        s.append(&self.total_difficulty);
    }
}

impl Decodable for NewBlock {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let list = fields(rlp, 2)?;
        let (block, n) = exact_list(&list.at(0)?)?;
        if !(3..=4).contains(&n) {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let header = block.val_at(0)?;
        let transactions = decode_txs_copied(&block.at(1)?)?;
        let ommers = list_of(&block.at(2)?)?;
        let withdrawals = if n == 4 {
            Some(list_of(&block.at(3)?)?)
        } else {
            None
        };
        Ok(Self {
            header,
            body: Body {
                transactions,
                ommers,
                withdrawals,
            },
            total_difficulty: list.val_at(1)?,
        })
    }
}

/// The eth/68+ NewPooledTransactionHashes: `[types, [size…], [hash…]]` of equal lengths.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PooledTransactionsAnnouncement {
    /// The EIP-2718 type of each transaction.
    pub types: Vec<u8>,
    /// The encoded size of each transaction.
    pub sizes: Vec<u32>,
    /// The hash of each transaction.
    pub hashes: Vec<H256>,
}

impl Encodable for PooledTransactionsAnnouncement {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3);
        s.append(&self.types.as_slice());
        append_vec(s, &self.sizes);
        append_vec(s, &self.hashes);
    }
}

impl Decodable for PooledTransactionsAnnouncement {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let list = fields(rlp, 3)?;
        let types: Vec<u8> = list.val_at(0)?;
        let sizes: Vec<u32> = list_of(&list.at(1)?)?;
        let hashes: Vec<H256> = list_of(&list.at(2)?)?;
        if types.len() != sizes.len() || sizes.len() != hashes.len() {
            return Err(DecoderError::Custom(
                "announcement lists have different lengths",
            ));
        }
        Ok(Self {
            types,
            sizes,
            hashes,
        })
    }
}

/// A request or reply with its request id: `[request-id, message]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPair<T> {
    /// The request id (a reply echoes its request's id).
    pub request_id: u64,
    /// The request or reply.
    pub message: T,
}
