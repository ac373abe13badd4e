//! RLP helpers shared by the message codecs: strict framing (one item spanning the payload, lists exactly filled
//! by their items), and bounded lists, whose item count is read from the item headers and checked against a
//! limit and against the list's byte size (`count * smallest item <= payload`) before any item is decoded or
//! any vector allocated. Transactions are taken from the message buffer without copying.

use bytes::Bytes;
use chain_types::Body;
use chain_types::codec::exact_list;
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use super::RequestPair;

/// Smallest encoding of a transaction in a list (geth's `minTxEncodedSize`: a list header and nine fields).
pub(crate) const MIN_TX: usize = 1 + 9;
/// Encoding of a 32-byte hash.
pub(crate) const MIN_HASH: usize = 33;
/// A lower bound for an encoded header: its bloom alone takes 259 bytes.
pub(crate) const MIN_HEADER: usize = 256;
/// Smallest encoded body: `[[], []]`.
pub(crate) const MIN_BODY: usize = 3;
/// Smallest eth/66-68 receipt: a list with a 259-byte bloom.
pub(crate) const MIN_RECEIPT68: usize = 260;
/// Smallest eth/69 receipt (geth's `minReceiptEncodedSize`): a list header and four one-byte fields.
pub(crate) const MIN_RECEIPT69: usize = 1 + 4;
/// Smallest item of any other list (one byte).
pub(crate) const MIN_ANY: usize = 1;
/// Most items of any list: no list in a 10 MiB message can hold more one-byte items.
pub(crate) const MAX_ITEMS: usize = 10 * 1024 * 1024;

/// Wraps `bytes` as one RLP item that must span all of them.
pub(crate) fn exact(bytes: &[u8]) -> Result<Rlp<'_>, DecoderError> {
    let rlp = Rlp::new(bytes);
    let info = rlp.payload_info()?;
    if info.total() != bytes.len() {
        return Err(DecoderError::RlpInconsistentLengthAndData);
    }
    Ok(rlp)
}

/// Checks that `rlp` is a list of exactly `n` well-formed items filling its payload; returns the list trimmed to
/// itself, to read the fields from.
pub(crate) fn fields<'a>(rlp: &Rlp<'a>, n: usize) -> Result<Rlp<'a>, DecoderError> {
    let (list, count) = exact_list(rlp)?;
    if count != n {
        return Err(DecoderError::RlpIncorrectListLen);
    }
    Ok(list)
}

/// The payload of the list `rlp` and the byte ranges of its items, walked from the item headers only (no
/// allocation, nothing decoded). Fails if `rlp` is not a list or its items do not exactly fill it.
fn list_payload<'a>(rlp: &Rlp<'a>) -> Result<&'a [u8], DecoderError> {
    if !rlp.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    let info = rlp.payload_info()?;
    let raw = rlp.as_raw();
    let end = info
        .header_len
        .checked_add(info.value_len)
        .ok_or(DecoderError::RlpIsTooShort)?;
    raw.get(info.header_len..end)
        .ok_or(DecoderError::RlpIsTooShort)
}

/// The length of the item at the start of `bytes`.
fn item_len(bytes: &[u8]) -> Result<usize, DecoderError> {
    let info = Rlp::new(bytes).payload_info()?;
    let total = info.total();
    if total == 0 || total > bytes.len() {
        return Err(DecoderError::RlpIsTooShort);
    }
    Ok(total)
}

/// Number of items of the list `rlp`, from their headers alone; the items must exactly fill the list.
pub(crate) fn count_items(rlp: &Rlp<'_>) -> Result<usize, DecoderError> {
    let payload = list_payload(rlp)?;
    let mut offset = 0;
    let mut count = 0;
    while let Some(rest) = payload.get(offset..).filter(|r| !r.is_empty()) {
        offset += item_len(rest)?;
        count += 1;
    }
    Ok(count)
}

/// Checks the item count of the list `rlp` against `max` and against its byte size (each item takes at least
/// `min_item` bytes) before anything is decoded; returns the count.
pub(crate) fn checked_count(
    rlp: &Rlp<'_>,
    min_item: usize,
    max: usize,
) -> Result<usize, DecoderError> {
    let count = count_items(rlp)?;
    if count > max {
        return Err(DecoderError::Custom("list has more items than allowed"));
    }
    let bytes = list_payload(rlp)?.len();
    if count.saturating_mul(min_item) > bytes {
        return Err(DecoderError::Custom(
            "list has more items than its size can hold",
        ));
    }
    Ok(count)
}

/// Decodes the list `rlp` of `T` strictly, after [`checked_count`]; `each` decodes one item.
pub(crate) fn bounded_with<T>(
    rlp: &Rlp<'_>,
    min_item: usize,
    max: usize,
    mut each: impl FnMut(&Rlp<'_>) -> Result<T, DecoderError>,
) -> Result<Vec<T>, DecoderError> {
    let count = checked_count(rlp, min_item, max)?;
    let payload = list_payload(rlp)?;
    let mut out = Vec::with_capacity(count);
    let mut offset = 0;
    while let Some(rest) = payload.get(offset..).filter(|r| !r.is_empty()) {
        let len = item_len(rest)?;
        let item = rest.get(..len).ok_or(DecoderError::RlpIsTooShort)?;
        out.push(each(&Rlp::new(item))?);
        offset += len;
    }
    Ok(out)
}

/// Decodes the list `rlp` of `T` strictly, with its count checked first.
pub(crate) fn bounded<T: Decodable>(
    rlp: &Rlp<'_>,
    min_item: usize,
) -> Result<Vec<T>, DecoderError> {
    bounded_with(rlp, min_item, MAX_ITEMS, |r| r.as_val())
}

/// Reads `[request-id, inner]`.
pub(crate) fn unpair<T>(
    rlp: &Rlp<'_>,
    inner: impl FnOnce(&Rlp<'_>) -> Result<T, DecoderError>,
) -> Result<RequestPair<T>, DecoderError> {
    let list = fields(rlp, 2)?;
    Ok(RequestPair {
        request_id: list.val_at(0)?,
        message: inner(&list.at(1)?)?,
    })
}

/// Writes `[request-id, inner]`.
pub(crate) fn pair(s: &mut RlpStream, request_id: u64, inner: impl FnOnce(&mut RlpStream)) {
    s.begin_list(2);
    s.append(&request_id);
    inner(s);
}

/// Writes a list of items.
pub(crate) fn append_vec<T: Encodable>(s: &mut RlpStream, items: &[T]) {
    s.begin_list(items.len());
    for item in items {
        s.append(item);
    }
}

/// Appends transactions in their in-list form: a legacy transaction (an RLP list) as is, a typed one
/// (`type || payload`) as a byte string.
pub(crate) fn append_txs(s: &mut RlpStream, txs: &[Bytes]) {
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

/// The raw bytes of one transaction in its in-list form (a legacy list as is, a typed one as a byte string).
fn tx_bytes<'a>(item: &Rlp<'a>) -> Result<&'a [u8], DecoderError> {
    if item.is_list() {
        // A legacy transaction is kept as its raw list, whose items must be well-formed and fill it exactly.
        let (list, _) = exact_list(item)?;
        return Ok(list.as_raw());
    }
    let data = item.data()?;
    match data.first() {
        Some(t) if *t <= 0x7f => Ok(data),
        Some(_) => Err(DecoderError::Custom(
            "typed transaction with an invalid type byte",
        )),
        None => Err(DecoderError::Custom("empty transaction")),
    }
}

/// `raw` (a sub-slice of `src`) as a zero-copy slice of `src`.
fn sub_bytes(src: &Bytes, raw: &[u8]) -> Result<Bytes, DecoderError> {
    let start = (raw.as_ptr() as usize)
        .checked_sub(src.as_ptr() as usize)
        .ok_or(DecoderError::Custom("transaction outside the message"))?;
    let end = start
        .checked_add(raw.len())
        .filter(|end| *end <= src.len())
        .ok_or(DecoderError::Custom("transaction outside the message"))?;
    Ok(src.slice(start..end))
}

/// Decodes a list of transactions (count checked first) into raw EIP-2718 bytes sharing `src`'s buffer; `rlp`
/// must be a view into `src`.
pub(crate) fn decode_txs(rlp: &Rlp<'_>, src: &Bytes) -> Result<Vec<Bytes>, DecoderError> {
    bounded_with(rlp, MIN_TX, MAX_ITEMS, |item| {
        sub_bytes(src, tx_bytes(item)?)
    })
}

/// Decodes a list of transactions (count checked first) into copied raw EIP-2718 bytes.
pub(crate) fn decode_txs_copied(rlp: &Rlp<'_>) -> Result<Vec<Bytes>, DecoderError> {
    bounded_with(rlp, MIN_TX, MAX_ITEMS, |item| {
        Ok(Bytes::copy_from_slice(tx_bytes(item)?))
    })
}

/// Smallest encoded withdrawal (geth's `minWithdrawalEncodedSize`).
const MIN_WITHDRAWAL: usize = 1 + 3 + 21;

/// Decodes a block body `[txs, ommers, (withdrawals)]` with every list's count checked first; transactions
/// share `src`'s buffer.
pub(crate) fn decode_body(rlp: &Rlp<'_>, src: &Bytes) -> Result<Body, DecoderError> {
    let (list, n) = exact_list(rlp)?;
    if !(2..=3).contains(&n) {
        return Err(DecoderError::RlpIncorrectListLen);
    }
    Ok(Body {
        transactions: decode_txs(&list.at(0)?, src)?,
        ommers: bounded(&list.at(1)?, MIN_HEADER)?,
        withdrawals: if n == 3 {
            Some(bounded(&list.at(2)?, MIN_WITHDRAWAL)?)
        } else {
            None
        },
    })
}
