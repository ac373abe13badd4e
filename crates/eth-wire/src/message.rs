//! The eth/66, eth/67 and eth/68 messages with their RLP encodings.
//!
//! Every request and its reply carry a request id (EIP-2481): `[request-id, [fields…]]`. Codes are relative to
//! the eth protocol's offset in the multiplexed connection. eth/67 dropped `GetNodeData`/`NodeData`; eth/68
//! changed `NewPooledTransactionHashes` to `[types, sizes, hashes]`. Decoding is strict: the payload must be
//! exactly one RLP item and trailing bytes are rejected, and every list is read with the strict helpers of
//! [`chain_types::codec`], so a malformed or truncated item anywhere in a list is an error rather than the end of
//! a silently shortened list.

use bytes::Bytes;
use chain_types::codec::{exact_list, list_of};
use chain_types::{Body, Header, HeadersRequest, Receipt};
use p2p_msg::Msg;
use primitive_types::{H256, U256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::{Error, ForkId};

/// The largest eth message accepted or sent (10 MiB, as geth's `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: u64 = 10 * 1024 * 1024;

/// Number of message codes the eth protocol reserves (eth/66 to eth/68): 0x00 to 0x10.
pub const ETH_MESSAGE_COUNT: u64 = 17;

/// Message codes, relative to the eth protocol offset.
pub mod codes {
    /// Status.
    pub const STATUS: u64 = 0x00;
    /// NewBlockHashes.
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
    /// NewBlock.
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
}

impl EthVersion {
    /// Every supported version, newest first.
    pub const ALL: [Self; 3] = [Self::Eth68, Self::Eth67, Self::Eth66];

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
            _ => None,
        }
    }

    /// Whether `code` is a message of this version.
    pub const fn has_code(self, code: u64) -> bool {
        match code {
            0x00..=0x0a | 0x0f | 0x10 => true,
            0x0d | 0x0e => matches!(self, Self::Eth66),
            _ => false,
        }
    }
}

impl std::fmt::Display for EthVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eth/{}", self.number())
    }
}

/// The Status message: `[version, networkid, td, besthash, genesis, forkid]`.
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

/// NewBlock: `[[header, txs, ommers, (withdrawals)], td]`.
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
        let transactions = decode_txs(&block.at(1)?)?;
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

/// The eth/68 NewPooledTransactionHashes: `[types, [size…], [hash…]]` of equal lengths.
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

/// An eth message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EthMessage {
    /// 0x00 Status.
    Status(Status),
    /// 0x01 NewBlockHashes.
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
    /// 0x07 NewBlock.
    NewBlock(Box<NewBlock>),
    /// 0x08 NewPooledTransactionHashes as in eth/66 and eth/67: a list of hashes.
    NewPooledTransactionHashes66(Vec<H256>),
    /// 0x08 NewPooledTransactionHashes as in eth/68.
    NewPooledTransactionHashes68(PooledTransactionsAnnouncement),
    /// 0x09 GetPooledTransactions.
    GetPooledTransactions(RequestPair<Vec<H256>>),
    /// 0x0a PooledTransactions (raw EIP-2718 transactions).
    PooledTransactions(RequestPair<Vec<Bytes>>),
    /// 0x0d GetNodeData (eth/66 only).
    GetNodeData(RequestPair<Vec<H256>>),
    /// 0x0e NodeData (eth/66 only).
    NodeData(RequestPair<Vec<Bytes>>),
    /// 0x0f GetReceipts.
    GetReceipts(RequestPair<Vec<H256>>),
    /// 0x10 Receipts.
    Receipts(RequestPair<Vec<Vec<Receipt>>>),
}

impl EthMessage {
    /// The message code (relative to the eth offset).
    pub const fn code(&self) -> u64 {
        match self {
            Self::Status(_) => codes::STATUS,
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
            Self::GetReceipts(_) => codes::GET_RECEIPTS,
            Self::Receipts(_) => codes::RECEIPTS,
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
            Self::Receipts(p) => Some(p.request_id),
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
    /// [`Error::UnknownCode`] if `version` has no such message, [`Error::MessageTooBig`] above
    /// [`MAX_MESSAGE_SIZE`], [`Error::Decode`] if the payload is malformed.
    pub fn decode(version: EthVersion, code: u64, payload: &[u8]) -> Result<Self, Error> {
        if !version.has_code(code) {
            return Err(Error::UnknownCode {
                code,
                version: version.number(),
            });
        }
        if payload.len() as u64 > MAX_MESSAGE_SIZE {
            return Err(Error::MessageTooBig {
                size: payload.len() as u64,
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let name = code_name(code);
        decode_inner(version, code, payload).map_err(|e| Error::decode(name, e))
    }

    /// Decodes a [`Msg`] (eth-relative code) as eth `version` defines it.
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
        Self::decode(version, msg.code, msg.data())
    }
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
        _ => "unknown",
    }
}

fn decode_inner(
    version: EthVersion,
    code: u64,
    payload: &[u8],
) -> Result<EthMessage, DecoderError> {
    let rlp = exact(payload)?;
    let m = match code {
        codes::STATUS => EthMessage::Status(rlp.as_val()?),
        codes::NEW_BLOCK_HASHES => EthMessage::NewBlockHashes(list_of(&rlp)?),
        codes::TRANSACTIONS => EthMessage::Transactions(decode_txs(&rlp)?),
        codes::GET_BLOCK_HEADERS => EthMessage::GetBlockHeaders(unpair(&rlp, |r| r.as_val())?),
        codes::BLOCK_HEADERS => EthMessage::BlockHeaders(unpair(&rlp, list_of)?),
        codes::GET_BLOCK_BODIES => EthMessage::GetBlockBodies(unpair(&rlp, list_of)?),
        codes::BLOCK_BODIES => EthMessage::BlockBodies(unpair(&rlp, list_of)?),
        codes::NEW_BLOCK => EthMessage::NewBlock(Box::new(rlp.as_val()?)),
        codes::NEW_POOLED_TRANSACTION_HASHES if version >= EthVersion::Eth68 => {
            EthMessage::NewPooledTransactionHashes68(rlp.as_val()?)
        }
        codes::NEW_POOLED_TRANSACTION_HASHES => {
            EthMessage::NewPooledTransactionHashes66(list_of(&rlp)?)
        }
        codes::GET_POOLED_TRANSACTIONS => EthMessage::GetPooledTransactions(unpair(&rlp, list_of)?),
        codes::POOLED_TRANSACTIONS => EthMessage::PooledTransactions(unpair(&rlp, decode_txs)?),
        codes::GET_NODE_DATA => EthMessage::GetNodeData(unpair(&rlp, list_of)?),
        codes::NODE_DATA => EthMessage::NodeData(unpair(&rlp, list_of)?),
        codes::GET_RECEIPTS => EthMessage::GetReceipts(unpair(&rlp, list_of)?),
        codes::RECEIPTS => EthMessage::Receipts(unpair(&rlp, |r| {
            Ok(list_of::<ListOf<Receipt>>(r)?
                .into_iter()
                .map(|block| block.0)
                .collect())
        })?),
        _ => return Err(DecoderError::Custom("unknown message code")),
    };
    Ok(m)
}

/// Wraps `bytes` as one RLP item that must span all of them.
fn exact(bytes: &[u8]) -> Result<Rlp<'_>, DecoderError> {
    let rlp = Rlp::new(bytes);
    let info = rlp.payload_info()?;
    if info.total() != bytes.len() {
        return Err(DecoderError::RlpInconsistentLengthAndData);
    }
    Ok(rlp)
}

/// Checks that `rlp` is a list of exactly `n` well-formed items filling its payload; returns the list trimmed to
/// itself, to read the fields from.
fn fields<'a>(rlp: &Rlp<'a>, n: usize) -> Result<Rlp<'a>, DecoderError> {
    let (list, count) = exact_list(rlp)?;
    if count != n {
        return Err(DecoderError::RlpIncorrectListLen);
    }
    Ok(list)
}

/// A nested list decoded strictly (the items of a list of lists, such as the receipts of one block).
struct ListOf<T>(Vec<T>);

impl<T: Decodable> Decodable for ListOf<T> {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        list_of(rlp).map(Self)
    }
}

fn unpair<T>(
    rlp: &Rlp<'_>,
    inner: impl FnOnce(&Rlp<'_>) -> Result<T, DecoderError>,
) -> Result<RequestPair<T>, DecoderError> {
    let list = fields(rlp, 2)?;
    Ok(RequestPair {
        request_id: list.val_at(0)?,
        message: inner(&list.at(1)?)?,
    })
}

fn pair(s: &mut RlpStream, request_id: u64, inner: impl FnOnce(&mut RlpStream)) {
    s.begin_list(2);
    s.append(&request_id);
    inner(s);
}

fn append_vec<T: Encodable>(s: &mut RlpStream, items: &[T]) {
    s.begin_list(items.len());
    for item in items {
        s.append(item);
    }
}

/// Appends transactions in their in-list form: a legacy transaction (an RLP list) as is, a typed one
/// (`type || payload`) as a byte string.
fn append_txs(s: &mut RlpStream, txs: &[Bytes]) {
    s.begin_list(txs.len());
    for tx in txs {
        match tx.first() {
            Some(b) if *b >= 0xc0 => {
                s.append_raw(tx, 1);
            }
            _ => {
                s.append(&tx.as_ref());
            }
        }
    }
}

/// Decodes a list of transactions in their in-list form into raw EIP-2718 bytes.
fn decode_txs(rlp: &Rlp<'_>) -> Result<Vec<Bytes>, DecoderError> {
    Ok(list_of::<InListTx>(rlp)?
        .into_iter()
        .map(|tx| tx.0)
        .collect())
}

/// One transaction in its in-list form (a legacy list as is, a typed one as a byte string), as raw EIP-2718 bytes.
struct InListTx(Bytes);

impl Decodable for InListTx {
    fn decode(item: &Rlp<'_>) -> Result<Self, DecoderError> {
        if item.is_list() {
            // A legacy transaction is kept as its raw list, whose items must be well-formed and fill it exactly.
            let (list, _) = exact_list(item)?;
            return Ok(Self(Bytes::copy_from_slice(list.as_raw())));
        }
        let data = item.data()?;
        match data.first() {
            Some(t) if *t <= 0x7f => Ok(Self(Bytes::copy_from_slice(data))),
            Some(_) => Err(DecoderError::Custom(
                "typed transaction with an invalid type byte",
            )),
            None => Err(DecoderError::Custom("empty transaction")),
        }
    }
}

#[cfg(test)]
mod tests {
    use chain_types::BlockHashOrNumber;

    use super::*;

    #[test]
    fn get_block_headers_matches_the_reference_peer_log() {
        // The reference peer logs `[1, [0, 1024, 0, 0]]` as 0xc801c6008204000000... with `reverse` as 0x80 here.
        let m = EthMessage::GetBlockHeaders(RequestPair {
            request_id: 1,
            message: HeadersRequest {
                origin: BlockHashOrNumber::Number(0),
                amount: 1024,
                skip: 0,
                reverse: false,
            },
        });
        let enc = m.encode();
        assert_eq!(
            enc.as_ref(),
            [0xc8, 0x01, 0xc6, 0x80, 0x82, 0x04, 0x00, 0x80, 0x80]
        );
        assert_eq!(EthMessage::decode(EthVersion::Eth68, 3, &enc).ok(), Some(m));
    }

    #[test]
    fn node_data_only_in_eth66() {
        let m = EthMessage::GetNodeData(RequestPair {
            request_id: 7,
            message: vec![H256::repeat_byte(1)],
        });
        let enc = m.encode();
        assert!(EthMessage::decode(EthVersion::Eth66, codes::GET_NODE_DATA, &enc).is_ok());
        let e = EthMessage::decode(EthVersion::Eth67, codes::GET_NODE_DATA, &enc);
        assert!(matches!(
            e,
            Err(Error::UnknownCode {
                code: 0x0d,
                version: 67
            })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let m = EthMessage::GetReceipts(RequestPair {
            request_id: 7,
            message: vec![H256::repeat_byte(1)],
        });
        let mut enc = m.encode().to_vec();
        enc.push(0x80);
        assert!(EthMessage::decode(EthVersion::Eth68, codes::GET_RECEIPTS, &enc).is_err());
    }

    #[test]
    fn announcement_lengths_must_agree() {
        let bad = PooledTransactionsAnnouncement {
            types: vec![2, 2],
            sizes: vec![100],
            hashes: vec![H256::zero()],
        };
        let enc = rlp::encode(&bad);
        let e = EthMessage::decode(
            EthVersion::Eth68,
            codes::NEW_POOLED_TRANSACTION_HASHES,
            &enc,
        );
        assert!(matches!(e, Err(Error::Decode { .. })));
    }
}
