//! Where chain data comes from: [`ChainSource`] (a peer or anything else that answers header, body and receipt
//! requests), its object-safe adapter [`DynChainSource`], and the request vocabulary [`BlockHashOrNumber`] and
//! [`HeadersRequest`].

use std::{future::Future, pin::Pin, sync::Arc};

use primitive_types::{H256, U256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::{Body, Error, Header, Receipt};

/// Identifies a chain source (a peer id in hex, a URL, a test name).
pub type PeerId = String;

/// A boxed, `Send` future, as returned by [`DynChainSource`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A block named by hash or by number.
///
/// Its RLP form is the `origin` of eth's `GetBlockHeaders`: a 32-byte string for a hash, an integer otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockHashOrNumber {
    /// By hash.
    Hash(H256),
    /// By number.
    Number(u64),
}

impl From<H256> for BlockHashOrNumber {
    fn from(h: H256) -> Self {
        Self::Hash(h)
    }
}

impl From<u64> for BlockHashOrNumber {
    fn from(n: u64) -> Self {
        Self::Number(n)
    }
}

impl Encodable for BlockHashOrNumber {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self {
            Self::Hash(h) => s.append_internal(h),
            Self::Number(n) => s.append_internal(n),
        };
    }
}

impl Decodable for BlockHashOrNumber {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.is_data() && rlp.size() == 32 {
            Ok(Self::Hash(rlp.as_val()?))
        } else {
            Ok(Self::Number(rlp.as_val()?))
        }
    }
}

/// A request for headers: `amount` headers starting at `origin`, `skip` headers apart, falling if `reverse`.
///
/// Its RLP form is the body of eth's `GetBlockHeaders`: `[origin, amount, skip, reverse]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeadersRequest {
    /// First header.
    pub origin: BlockHashOrNumber,
    /// Maximum number of headers.
    pub amount: u64,
    /// Headers left out between two returned ones.
    pub skip: u64,
    /// Whether numbers fall (towards genesis) instead of rising.
    pub reverse: bool,
}

impl HeadersRequest {
    /// `amount` consecutive headers rising from block `number`.
    pub const fn rising(number: u64, amount: u64) -> Self {
        Self {
            origin: BlockHashOrNumber::Number(number),
            amount,
            skip: 0,
            reverse: false,
        }
    }

    /// The block numbers the request selects when its origin has number `origin_number`, at most `limit` of them.
    /// The sequence stops early where a number would fall below zero or overflow.
    pub fn block_numbers(
        &self,
        origin_number: u64,
        limit: u64,
    ) -> impl Iterator<Item = u64> + use<> {
        let step = self.skip.saturating_add(1);
        let reverse = self.reverse;
        let count = self.amount.min(limit);
        std::iter::successors(Some(origin_number), move |n| {
            if reverse {
                n.checked_sub(step)
            } else {
                n.checked_add(step)
            }
        })
        .take(usize::try_from(count).unwrap_or(usize::MAX))
    }
}

impl Encodable for HeadersRequest {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(4);
        s.append(&self.origin);
        s.append(&self.amount);
        s.append(&self.skip);
        s.append(&self.reverse);
    }
}

impl Decodable for HeadersRequest {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, count) = crate::header::exact_list(rlp)?;
        if count != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            origin: rlp.val_at(0)?,
            amount: rlp.val_at(1)?,
            skip: rlp.val_at(2)?,
            reverse: rlp.val_at(3)?,
        })
    }
}

/// The blocks a source can serve, as an eth/69 peer announces them: `earliest..=latest`, with the hash of
/// `latest` (its head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRange {
    /// The lowest block the source still has bodies and receipts for.
    pub earliest: u64,
    /// The source's head number.
    pub latest: u64,
    /// The source's head hash.
    pub latest_hash: H256,
}

impl BlockRange {
    /// Whether `number` is in the range.
    #[must_use]
    pub const fn contains(&self, number: u64) -> bool {
        self.earliest <= number && number <= self.latest
    }
}

/// A peer (or any source) that serves chain data.
///
/// Replies may be short, empty, out of order or wrong: callers validate them (linkage, hashes, roots). Bodies and
/// receipts answer a list of hashes positionally, but a source may skip hashes it does not know, without
/// placeholders, as geth does.
pub trait ChainSource: Send + Sync {
    /// The source's id (stable for its lifetime).
    fn id(&self) -> &str;

    /// The head the source announced: its hash and total difficulty.
    ///
    /// Post-merge peers (eth/69 and later) announce no total difficulty; their sources return the head hash
    /// with a zero difficulty and describe what they serve through [`ChainSource::block_range`].
    fn head(&self) -> (H256, U256);

    /// The range of blocks the source says it can serve (eth/69's Status and `BlockRangeUpdate`), if it announced
    /// one. The default is `None`: the source announced no range (eth/68 and older, in-process sources).
    fn block_range(&self) -> Option<BlockRange> {
        None
    }

    /// Headers selected by `request`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Disconnected`] or [`Error::Source`] when the source fails; a decoding error if
    /// its reply was malformed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; implementations must stay usable afterwards.
    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send;

    /// Bodies of the blocks with the given hashes.
    ///
    /// # Errors
    ///
    /// As [`ChainSource::headers`].
    ///
    /// # Cancel safety
    ///
    /// As [`ChainSource::headers`].
    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send;

    /// Receipts of the blocks with the given hashes.
    ///
    /// # Errors
    ///
    /// As [`ChainSource::headers`].
    ///
    /// # Cancel safety
    ///
    /// As [`ChainSource::headers`].
    fn receipts(
        &self,
        hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send;
}

/// The object-safe form of [`ChainSource`], so that heterogeneous sources can be held as
/// `Arc<dyn DynChainSource>`. Every `ChainSource` implements it; `dyn DynChainSource` (and `Arc`s of it)
/// implement `ChainSource` again.
pub trait DynChainSource: Send + Sync {
    /// See [`ChainSource::id`].
    fn id(&self) -> &str;

    /// See [`ChainSource::head`].
    fn head(&self) -> (H256, U256);

    /// See [`ChainSource::block_range`].
    fn block_range(&self) -> Option<BlockRange>;

    /// See [`ChainSource::headers`].
    ///
    /// # Errors
    ///
    /// As [`ChainSource::headers`].
    ///
    /// # Cancel safety
    ///
    /// As [`ChainSource::headers`].
    fn headers_boxed(&self, request: HeadersRequest) -> BoxFuture<'_, Result<Vec<Header>, Error>>;

    /// See [`ChainSource::bodies`].
    ///
    /// # Errors
    ///
    /// As [`ChainSource::bodies`].
    ///
    /// # Cancel safety
    ///
    /// As [`ChainSource::headers`].
    fn bodies_boxed(&self, hashes: Vec<H256>) -> BoxFuture<'_, Result<Vec<Body>, Error>>;

    /// See [`ChainSource::receipts`].
    ///
    /// # Errors
    ///
    /// As [`ChainSource::receipts`].
    ///
    /// # Cancel safety
    ///
    /// As [`ChainSource::headers`].
    fn receipts_boxed(&self, hashes: Vec<H256>) -> BoxFuture<'_, Result<Vec<Vec<Receipt>>, Error>>;
}

impl<T: ChainSource> DynChainSource for T {
    fn id(&self) -> &str {
        ChainSource::id(self)
    }

    fn head(&self) -> (H256, U256) {
        ChainSource::head(self)
    }

    fn block_range(&self) -> Option<BlockRange> {
        ChainSource::block_range(self)
    }

    fn headers_boxed(&self, request: HeadersRequest) -> BoxFuture<'_, Result<Vec<Header>, Error>> {
        Box::pin(self.headers(request))
    }

    fn bodies_boxed(&self, hashes: Vec<H256>) -> BoxFuture<'_, Result<Vec<Body>, Error>> {
        Box::pin(self.bodies(hashes))
    }

    fn receipts_boxed(&self, hashes: Vec<H256>) -> BoxFuture<'_, Result<Vec<Vec<Receipt>>, Error>> {
        Box::pin(self.receipts(hashes))
    }
}

impl ChainSource for dyn DynChainSource {
    fn id(&self) -> &str {
        DynChainSource::id(self)
    }

    fn head(&self) -> (H256, U256) {
        DynChainSource::head(self)
    }

    fn block_range(&self) -> Option<BlockRange> {
        DynChainSource::block_range(self)
    }

    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
        self.headers_boxed(request)
    }

    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send {
        self.bodies_boxed(hashes)
    }

    fn receipts(
        &self,
        hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send {
        self.receipts_boxed(hashes)
    }
}

impl<T: ChainSource + ?Sized> ChainSource for Arc<T> {
    fn id(&self) -> &str {
        (**self).id()
    }

    fn head(&self) -> (H256, U256) {
        (**self).head()
    }

    fn block_range(&self) -> Option<BlockRange> {
        (**self).block_range()
    }

    fn headers(
        &self,
        request: HeadersRequest,
    ) -> impl Future<Output = Result<Vec<Header>, Error>> + Send {
        (**self).headers(request)
    }

    fn bodies(&self, hashes: Vec<H256>) -> impl Future<Output = Result<Vec<Body>, Error>> + Send {
        (**self).bodies(hashes)
    }

    fn receipts(
        &self,
        hashes: Vec<H256>,
    ) -> impl Future<Output = Result<Vec<Vec<Receipt>>, Error>> + Send {
        (**self).receipts(hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_numbers_follow_skip_and_direction() {
        let r = HeadersRequest {
            origin: 10.into(),
            amount: 4,
            skip: 2,
            reverse: false,
        };
        assert_eq!(
            r.block_numbers(10, 100).collect::<Vec<_>>(),
            vec![10, 13, 16, 19]
        );
        let r = HeadersRequest { reverse: true, ..r };
        assert_eq!(
            r.block_numbers(10, 100).collect::<Vec<_>>(),
            vec![10, 7, 4, 1]
        );
        assert_eq!(r.block_numbers(10, 2).count(), 2);
        let r = HeadersRequest {
            origin: 5.into(),
            amount: 10,
            skip: 2,
            reverse: true,
        };
        assert_eq!(r.block_numbers(5, 100).collect::<Vec<_>>(), vec![5, 2]);
        let r = HeadersRequest {
            origin: 5.into(),
            amount: 3,
            skip: u64::MAX,
            reverse: false,
        };
        assert_eq!(r.block_numbers(5, 100).collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn request_rlp_round_trips() {
        for origin in [
            BlockHashOrNumber::Number(0),
            BlockHashOrNumber::Number(1 << 40),
            H256::repeat_byte(9).into(),
        ] {
            let r = HeadersRequest {
                origin,
                amount: 192,
                skip: 191,
                reverse: true,
            };
            assert_eq!(rlp::decode::<HeadersRequest>(&rlp::encode(&r)).unwrap(), r);
        }
    }
}
