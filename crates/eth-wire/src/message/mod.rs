//! The eth/66 to eth/70 messages with their RLP encodings.
//!
//! Every request and its reply carry a request id (EIP-2481): `[request-id, [fields…]]`. Codes are relative to
//! the eth protocol's offset in the multiplexed connection. eth/67 dropped `GetNodeData`/`NodeData`; eth/68
//! changed `NewPooledTransactionHashes` to `[types, sizes, hashes]`; eth/69 (EIP-7642) replaced the Status,
//! removed `NewBlockHashes` and `NewBlock`, added `BlockRangeUpdate` (0x11) and dropped the bloom from receipts;
//! eth/70 (EIP-7975) paginates receipts. Each version's layouts are separate [`EthMessage`] variants, chosen by
//! the negotiated version when decoding, never guessed from the payload.
//!
//! Decoding is strict: the payload must be exactly one RLP item and trailing bytes are rejected, every list must
//! be exactly filled by well-formed items, and every list's item count is read from the item headers and checked
//! against its byte size before any item is decoded (so a 10 MiB message cannot expand into hundreds of MB).

mod receipts;
#[cfg(test)]
mod tests;
mod types;
mod wire;

use bytes::Bytes;
use chain_types::{Body, Header, HeadersRequest, Receipt};
use p2p_msg::Msg;
use primitive_types::H256;
use rlp::{DecoderError, Rlp, RlpStream};

pub(crate) use receipts::receipt69_size;
pub use receipts::{GetReceipts70, Receipts70};
pub use types::{
    BlockHashNumber, BlockRangeUpdate, NewBlock, PooledTransactionsAnnouncement, RequestPair,
    Status, Status69, StatusMessage,
};
use wire::{
    MIN_ANY, MIN_BODY, MIN_HASH, MIN_HEADER, MIN_RECEIPT68, append_txs, append_vec, bounded,
    bounded_with, checked_count, decode_body, decode_txs, exact, fields, pair, unpair,
};

use crate::Error;

/// The largest eth message accepted or sent (10 MiB, as geth's `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: u64 = 10 * 1024 * 1024;

/// Number of message codes eth/66 to eth/68 reserve: 0x00 to 0x10 (see [`EthVersion::message_count`]).
pub const ETH_MESSAGE_COUNT: u64 = 17;

/// Message codes, relative to the eth protocol offset.
pub mod codes {
    /// Status.
    pub const STATUS: u64 = 0x00;
    /// NewBlockHashes (up to eth/68).
    pub const NEW_BLOCK_HASHES: u64 = 0x01;
    /// Transactions.
    pub const TRANSACTIONS: u64 = 0x02;
    /// GetBlockHeaders.
    pub const GET_BLOCK_HEADERS: u64 = 0x03;
    /// BlockHeaders.
    pub const BLOCK_HEADERS: u64 = 0x04;
    /// GetBlockBodies.
    pub const GET_BLOCK_BODIES: u64 = 0x05;
    /// BlockBodies.
    pub const BLOCK_BODIES: u64 = 0x06;
    /// NewBlock (up to eth/68).
    pub const NEW_BLOCK: u64 = 0x07;
    /// NewPooledTransactionHashes.
    pub const NEW_POOLED_TRANSACTION_HASHES: u64 = 0x08;
    /// GetPooledTransactions.
    pub const GET_POOLED_TRANSACTIONS: u64 = 0x09;
    /// PooledTransactions.
    pub const POOLED_TRANSACTIONS: u64 = 0x0a;
    /// GetNodeData (eth/66 only).
    pub const GET_NODE_DATA: u64 = 0x0d;
    /// NodeData (eth/66 only).
    pub const NODE_DATA: u64 = 0x0e;
    /// GetReceipts.
    pub const GET_RECEIPTS: u64 = 0x0f;
    /// Receipts.
    pub const RECEIPTS: u64 = 0x10;
    /// BlockRangeUpdate (eth/69 and later, EIP-7642).
    pub const BLOCK_RANGE_UPDATE: u64 = 0x11;
}

/// An eth protocol version this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EthVersion {
    /// eth/66: request ids (EIP-2481).
    Eth66 = 66,
    /// eth/67: without GetNodeData/NodeData.
    Eth67 = 67,
    /// eth/68: typed transaction announcements.
    Eth68 = 68,
    /// eth/69 (EIP-7642): Status with a block range, BlockRangeUpdate, receipts without bloom, no NewBlock.
    Eth69 = 69,
    /// eth/70 (EIP-7975): paginated receipts.
    Eth70 = 70,
}

impl EthVersion {
    /// Every supported version, newest first.
    pub const ALL: [Self; 5] = [
        Self::Eth70,
        Self::Eth69,
        Self::Eth68,
        Self::Eth67,
        Self::Eth66,
    ];

    /// The version number.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The version with number `n`, if supported.
    pub const fn from_number(n: u64) -> Option<Self> {
        match n {
            66 => Some(Self::Eth66),
            67 => Some(Self::Eth67),
            68 => Some(Self::Eth68),
            69 => Some(Self::Eth69),
            70 => Some(Self::Eth70),
            _ => None,
        }
    }

    /// Whether this version uses the eth/69 Status, BlockRangeUpdate and bloom-less receipts.
    pub const fn is_eth69_or_later(self) -> bool {
        self as u8 >= 69
    }

    /// The number of message codes the version reserves in the devp2p capability: 17 up to eth/68, 18 for
    /// eth/69 and eth/70 (as geth's `protocolLengths`; eth/70 adds no message).
    pub const fn message_count(self) -> u64 {
        if self.is_eth69_or_later() {
            ETH_MESSAGE_COUNT + 1
        } else {
            ETH_MESSAGE_COUNT
        }
    }

    /// Whether `code` is a message of this version.
    pub const fn has_code(self, code: u64) -> bool {
        match code {
            0x00 | 0x02..=0x06 | 0x08..=0x0a | 0x0f | 0x10 => true,
            0x01 | 0x07 => !self.is_eth69_or_later(),
            0x0d | 0x0e => matches!(self, Self::Eth66),
            0x11 => self.is_eth69_or_later(),
            _ => false,
        }
    }
}

impl std::fmt::Display for EthVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eth/{}", self.number())
    }
}

/// An eth message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EthMessage {
    /// 0x00 Status (eth/66-68).
    Status(Status),
    /// 0x00 Status (eth/69 and eth/70).
    Status69(Status69),
    /// 0x01 NewBlockHashes (eth/66-68).
    NewBlockHashes(Vec<BlockHashNumber>),
    /// 0x02 Transactions (raw EIP-2718 transactions).
    Transactions(Vec<Bytes>),
    /// 0x03 GetBlockHeaders.
    GetBlockHeaders(RequestPair<HeadersRequest>),
    /// 0x04 BlockHeaders.
    BlockHeaders(RequestPair<Vec<Header>>),
    /// 0x05 GetBlockBodies.
    GetBlockBodies(RequestPair<Vec<H256>>),
    /// 0x06 BlockBodies.
    BlockBodies(RequestPair<Vec<Body>>),
    /// 0x07 NewBlock (eth/66-68).
    NewBlock(Box<NewBlock>),
    /// 0x08 NewPooledTransactionHashes as in eth/66 and eth/67: a list of hashes.
    NewPooledTransactionHashes66(Vec<H256>),
    /// 0x08 NewPooledTransactionHashes as in eth/68 and later.
    NewPooledTransactionHashes68(PooledTransactionsAnnouncement),
    /// 0x09 GetPooledTransactions.
    GetPooledTransactions(RequestPair<Vec<H256>>),
    /// 0x0a PooledTransactions (raw EIP-2718 transactions).
    PooledTransactions(RequestPair<Vec<Bytes>>),
    /// 0x0d GetNodeData (eth/66 only).
    GetNodeData(RequestPair<Vec<H256>>),
    /// 0x0e NodeData (eth/66 only).
    NodeData(RequestPair<Vec<Bytes>>),
    /// 0x0f GetReceipts (eth/66-69).
    GetReceipts(RequestPair<Vec<H256>>),
    /// 0x0f GetReceipts (eth/70).
    GetReceipts70(GetReceipts70),
    /// 0x10 Receipts (eth/66-68: with blooms).
    Receipts(RequestPair<Vec<Vec<Receipt>>>),
    /// 0x10 Receipts (eth/69: without blooms on the wire; decoding rebuilds them).
    Receipts69(RequestPair<Vec<Vec<Receipt>>>),
    /// 0x10 Receipts (eth/70: eth/69 receipts, possibly cut inside the last block).
    Receipts70(Receipts70),
    /// 0x11 BlockRangeUpdate (eth/69 and eth/70).
    BlockRangeUpdate(BlockRangeUpdate),
}

impl EthMessage {
    /// The message code (relative to the eth offset).
    pub const fn code(&self) -> u64 {
        match self {
            Self::Status(_) | Self::Status69(_) => codes::STATUS,
            Self::NewBlockHashes(_) => codes::NEW_BLOCK_HASHES,
            Self::Transactions(_) => codes::TRANSACTIONS,
            Self::GetBlockHeaders(_) => codes::GET_BLOCK_HEADERS,
            Self::BlockHeaders(_) => codes::BLOCK_HEADERS,
            Self::GetBlockBodies(_) => codes::GET_BLOCK_BODIES,
            Self::BlockBodies(_) => codes::BLOCK_BODIES,
            Self::NewBlock(_) => codes::NEW_BLOCK,
            Self::NewPooledTransactionHashes66(_) | Self::NewPooledTransactionHashes68(_) => {
                codes::NEW_POOLED_TRANSACTION_HASHES
            }
            Self::GetPooledTransactions(_) => codes::GET_POOLED_TRANSACTIONS,
            Self::PooledTransactions(_) => codes::POOLED_TRANSACTIONS,
            Self::GetNodeData(_) => codes::GET_NODE_DATA,
            Self::NodeData(_) => codes::NODE_DATA,
            Self::GetReceipts(_) | Self::GetReceipts70(_) => codes::GET_RECEIPTS,
            Self::Receipts(_) | Self::Receipts69(_) | Self::Receipts70(_) => codes::RECEIPTS,
            Self::BlockRangeUpdate(_) => codes::BLOCK_RANGE_UPDATE,
        }
    }

    /// The message name, for logs and errors.
    pub const fn name(&self) -> &'static str {
        code_name(self.code())
    }

    /// The request id, for requests and replies.
    pub const fn request_id(&self) -> Option<u64> {
        match self {
            Self::GetBlockHeaders(p) => Some(p.request_id),
            Self::BlockHeaders(p) => Some(p.request_id),
            Self::GetBlockBodies(p)
            | Self::GetPooledTransactions(p)
            | Self::GetNodeData(p)
            | Self::GetReceipts(p) => Some(p.request_id),
            Self::BlockBodies(p) => Some(p.request_id),
            Self::PooledTransactions(p) | Self::NodeData(p) => Some(p.request_id),
            Self::Receipts(p) | Self::Receipts69(p) => Some(p.request_id),
            Self::GetReceipts70(m) => Some(m.request_id),
            Self::Receipts70(m) => Some(m.request_id),
            _ => None,
        }
    }

    /// The number of items of a reply (headers, bodies, receipt lists, transactions), `None` for other messages.
    pub fn reply_items(&self) -> Option<usize> {
        match self {
            Self::BlockHeaders(p) => Some(p.message.len()),
            Self::BlockBodies(p) => Some(p.message.len()),
            Self::Receipts(p) | Self::Receipts69(p) => Some(p.message.len()),
            Self::Receipts70(m) => Some(m.receipts.len()),
            Self::PooledTransactions(p) | Self::NodeData(p) => Some(p.message.len()),
            _ => None,
        }
    }

    /// The RLP payload.
    pub fn encode(&self) -> Bytes {
        let mut s = RlpStream::new();
        match self {
            Self::Status(m) => {
                s.append(m);
            }
            Self::Status69(m) => {
                s.append(m);
            }
            Self::NewBlockHashes(m) => append_vec(&mut s, m),
            Self::Transactions(m) => append_txs(&mut s, m),
            Self::GetBlockHeaders(p) => pair(&mut s, p.request_id, |s| {
                s.append(&p.message);
            }),
            Self::BlockHeaders(p) => pair(&mut s, p.request_id, |s| append_vec(s, &p.message)),
            Self::GetBlockBodies(p)
            | Self::GetPooledTransactions(p)
            | Self::GetNodeData(p)
            | Self::GetReceipts(p) => pair(&mut s, p.request_id, |s| append_vec(s, &p.message)),
            Self::BlockBodies(p) => pair(&mut s, p.request_id, |s| append_vec(s, &p.message)),
            Self::NewBlock(m) => {
                s.append(m.as_ref());
            }
            Self::NewPooledTransactionHashes66(m) => append_vec(&mut s, m),
            Self::NewPooledTransactionHashes68(m) => {
                s.append(m);
            }
            Self::PooledTransactions(p) => {
                pair(&mut s, p.request_id, |s| append_txs(s, &p.message))
            }
            Self::NodeData(p) => pair(&mut s, p.request_id, |s| append_vec(s, &p.message)),
            Self::Receipts(p) => pair(&mut s, p.request_id, |s| {
                s.begin_list(p.message.len());
                for receipts in &p.message {
                    append_vec(s, receipts);
                }
            }),
            Self::Receipts69(p) => pair(&mut s, p.request_id, |s| {
                receipts::append_receipt_lists69(s, &p.message);
            }),
            Self::GetReceipts70(m) => receipts::append_get_receipts70(&mut s, m),
            Self::Receipts70(m) => receipts::append_receipts70(&mut s, m),
            Self::BlockRangeUpdate(m) => {
                s.append(m);
            }
        }
        s.out().freeze()
    }

    /// The message as a [`Msg`] with its eth-relative code.
    pub fn to_msg(&self) -> Msg {
        Msg::new(self.code(), self.encode())
    }

    /// Decodes the payload of message `code` as eth `version` defines it.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCode`] if `version` has no such message (NewBlock from eth/69 on, for example),
    /// [`Error::MessageTooBig`] above [`MAX_MESSAGE_SIZE`], [`Error::Decode`] if the payload is malformed or a
    /// list holds more items than its size allows.
    pub fn decode(version: EthVersion, code: u64, payload: &[u8]) -> Result<Self, Error> {
        check_code_and_size(version, code, payload.len())?;
        decode_inner(version, code, &Bytes::copy_from_slice(payload))
            .map_err(|e| Error::decode(code_name(code), e))
    }

    /// Decodes a [`Msg`] (eth-relative code) as eth `version` defines it; transactions share the message's
    /// buffer.
    ///
    /// # Errors
    ///
    /// As [`EthMessage::decode`].
    pub fn from_msg(version: EthVersion, msg: &Msg) -> Result<Self, Error> {
        if u64::from(msg.size) > MAX_MESSAGE_SIZE {
            return Err(Error::MessageTooBig {
                size: u64::from(msg.size),
                limit: MAX_MESSAGE_SIZE,
            });
        }
        check_code_and_size(version, msg.code, msg.payload.len())?;
        decode_inner(version, msg.code, &msg.payload)
            .map_err(|e| Error::decode(code_name(msg.code), e))
    }
}

fn check_code_and_size(version: EthVersion, code: u64, len: usize) -> Result<(), Error> {
    if !version.has_code(code) {
        return Err(Error::UnknownCode {
            code,
            version: version.number(),
        });
    }
    if len as u64 > MAX_MESSAGE_SIZE {
        return Err(Error::MessageTooBig {
            size: len as u64,
            limit: MAX_MESSAGE_SIZE,
        });
    }
    Ok(())
}

/// Whether `code` is a reply (a message answering a request by its id).
pub(crate) const fn is_reply(code: u64) -> bool {
    matches!(
        code,
        codes::BLOCK_HEADERS
            | codes::BLOCK_BODIES
            | codes::POOLED_TRANSACTIONS
            | codes::NODE_DATA
            | codes::RECEIPTS
    )
}

/// The request id and item count of a reply, read from the RLP headers alone (nothing decoded, nothing
/// allocated), so that a reply to no pending request can be dropped and an oversized one rejected before its
/// body is decoded.
///
/// # Errors
///
/// [`Error::Decode`] if the reply's framing is malformed.
pub(crate) fn peek_reply(
    version: EthVersion,
    code: u64,
    payload: &[u8],
) -> Result<(u64, usize), Error> {
    let err = |e| Error::decode(code_name(code), e);
    let rlp = exact(payload).map_err(err)?;
    let paged = code == codes::RECEIPTS && version >= EthVersion::Eth70;
    let list = fields(&rlp, if paged { 3 } else { 2 }).map_err(err)?;
    let id: u64 = list.val_at(0).map_err(err)?;
    let items = list.at(if paged { 2 } else { 1 }).map_err(err)?;
    let count = checked_count(&items, MIN_ANY, wire::MAX_ITEMS).map_err(err)?;
    Ok((id, count))
}

/// The name of message `code`.
pub const fn code_name(code: u64) -> &'static str {
    match code {
        codes::STATUS => "Status",
        codes::NEW_BLOCK_HASHES => "NewBlockHashes",
        codes::TRANSACTIONS => "Transactions",
        codes::GET_BLOCK_HEADERS => "GetBlockHeaders",
        codes::BLOCK_HEADERS => "BlockHeaders",
        codes::GET_BLOCK_BODIES => "GetBlockBodies",
        codes::BLOCK_BODIES => "BlockBodies",
        codes::NEW_BLOCK => "NewBlock",
        codes::NEW_POOLED_TRANSACTION_HASHES => "NewPooledTransactionHashes",
        codes::GET_POOLED_TRANSACTIONS => "GetPooledTransactions",
        codes::POOLED_TRANSACTIONS => "PooledTransactions",
        codes::GET_NODE_DATA => "GetNodeData",
        codes::NODE_DATA => "NodeData",
        codes::GET_RECEIPTS => "GetReceipts",
        codes::RECEIPTS => "Receipts",
        codes::BLOCK_RANGE_UPDATE => "BlockRangeUpdate",
        _ => "unknown",
    }
}

fn decode_inner(version: EthVersion, code: u64, src: &Bytes) -> Result<EthMessage, DecoderError> {
    let rlp = exact(src)?;
    let eth69 = version.is_eth69_or_later();
    let eth70 = version >= EthVersion::Eth70;
    let hashes = |r: &Rlp<'_>| bounded::<H256>(r, MIN_HASH);
    let m = match code {
        codes::STATUS if eth69 => EthMessage::Status69(rlp.as_val()?),
        codes::STATUS => EthMessage::Status(rlp.as_val()?),
        codes::NEW_BLOCK_HASHES => EthMessage::NewBlockHashes(bounded(&rlp, 35)?),
        codes::TRANSACTIONS => EthMessage::Transactions(decode_txs(&rlp, src)?),
        codes::GET_BLOCK_HEADERS => EthMessage::GetBlockHeaders(unpair(&rlp, |r| r.as_val())?),
        codes::BLOCK_HEADERS => EthMessage::BlockHeaders(unpair(&rlp, |r| bounded(r, MIN_HEADER))?),
        codes::GET_BLOCK_BODIES => EthMessage::GetBlockBodies(unpair(&rlp, hashes)?),
        codes::BLOCK_BODIES => EthMessage::BlockBodies(unpair(&rlp, |r| {
            bounded_with(r, MIN_BODY, wire::MAX_ITEMS, |b| decode_body(b, src))
        })?),
        codes::NEW_BLOCK => EthMessage::NewBlock(Box::new(rlp.as_val()?)),
        codes::NEW_POOLED_TRANSACTION_HASHES if version >= EthVersion::Eth68 => {
            let list = fields(&rlp, 3)?;
            // Hashes bound the count; sizes must match it before they are decoded.
            let n = checked_count(&list.at(2)?, MIN_HASH, wire::MAX_ITEMS)?;
            checked_count(&list.at(1)?, MIN_ANY, n)?;
            EthMessage::NewPooledTransactionHashes68(rlp.as_val()?)
        }
        codes::NEW_POOLED_TRANSACTION_HASHES => {
            EthMessage::NewPooledTransactionHashes66(hashes(&rlp)?)
        }
        codes::GET_POOLED_TRANSACTIONS => EthMessage::GetPooledTransactions(unpair(&rlp, hashes)?),
        codes::POOLED_TRANSACTIONS => {
            EthMessage::PooledTransactions(unpair(&rlp, |r| decode_txs(r, src))?)
        }
        codes::GET_NODE_DATA => EthMessage::GetNodeData(unpair(&rlp, hashes)?),
        codes::NODE_DATA => EthMessage::NodeData(unpair(&rlp, |r| bounded(r, MIN_ANY))?),
        codes::GET_RECEIPTS if eth70 => {
            EthMessage::GetReceipts70(receipts::decode_get_receipts70(&rlp)?)
        }
        codes::GET_RECEIPTS => EthMessage::GetReceipts(unpair(&rlp, hashes)?),
        codes::RECEIPTS if eth70 => EthMessage::Receipts70(receipts::decode_receipts70(&rlp)?),
        codes::RECEIPTS if eth69 => {
            EthMessage::Receipts69(unpair(&rlp, receipts::decode_receipt_lists69)?)
        }
        codes::RECEIPTS => EthMessage::Receipts(unpair(&rlp, |r| {
            bounded_with(r, MIN_ANY, wire::MAX_ITEMS, |block| {
                bounded::<Receipt>(block, MIN_RECEIPT68)
            })
        })?),
        codes::BLOCK_RANGE_UPDATE => EthMessage::BlockRangeUpdate(rlp.as_val()?),
        _ => return Err(DecoderError::Custom("unknown message code")),
    };
    Ok(m)
}
