//! Receipts as eth/69 and eth/70 carry them.
//!
//! eth/69 (EIP-7642) sends every receipt, legacy or typed, as the list
//! `[tx-type, post-state-or-status, cumulative-gas, logs]`, without the bloom: the receiver rebuilds it from the
//! logs ([`Receipt::bloom_of`]), so the receipts root of the block can still be checked. eth/70 (EIP-7975)
//! paginates: `GetReceipts` is `[request-id, firstBlockReceiptIndex, [hash…]]` (receipts of the first block
//! before that index are left out) and `Receipts` is `[request-id, lastBlockIncomplete, [[receipt…]…]]`, whose
//! flag says that the last block's list was cut and continues in a further request.

use chain_types::{MAX_TX_TYPE, Receipt, ReceiptStatus};
use primitive_types::H256;
use rlp::{DecoderError, Rlp, RlpStream};

use super::wire::{MIN_ANY, MIN_HASH, MIN_RECEIPT69, bounded, bounded_with, fields};

/// eth/70 GetReceipts: `[request-id, firstBlockReceiptIndex, [hash…]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetReceipts70 {
    /// The request id.
    pub request_id: u64,
    /// Receipts of the first block before this index are not wanted (they arrived in an earlier, cut reply).
    pub first_block_receipt_index: u64,
    /// The blocks whose receipts are wanted.
    pub hashes: Vec<H256>,
}

/// eth/70 Receipts: `[request-id, lastBlockIncomplete, [[receipt…]…]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipts70 {
    /// The request id.
    pub request_id: u64,
    /// The last block's list is cut: its remaining receipts must be requested again, starting at its length.
    pub last_block_incomplete: bool,
    /// One receipt list per block (the first one starting at the request's `firstBlockReceiptIndex`).
    pub receipts: Vec<Vec<Receipt>>,
}

/// Appends one receipt in the eth/69 form.
pub(crate) fn append_receipt69(s: &mut RlpStream, r: &Receipt) {
    s.begin_list(4);
    s.append(&r.tx_type);
    s.append(&r.status);
    s.append(&r.cumulative_gas_used);
    s.append_list(&r.logs);
}

/// The encoded size of a receipt in the eth/69 form.
pub(crate) fn receipt69_size(r: &Receipt) -> usize {
    let mut s = RlpStream::new();
    append_receipt69(&mut s, r);
    s.out().len()
}

/// Appends receipt lists (one per block) in the eth/69 form.
pub(crate) fn append_receipt_lists69(s: &mut RlpStream, lists: &[Vec<Receipt>]) {
    s.begin_list(lists.len());
    for list in lists {
        s.begin_list(list.len());
        for r in list {
            append_receipt69(s, r);
        }
    }
}

/// Decodes one receipt in the eth/69 form, rebuilding its bloom from the logs.
fn decode_receipt69(rlp: &Rlp<'_>) -> Result<Receipt, DecoderError> {
    let list = fields(rlp, 4)?;
    let tx_type: u8 = list.val_at(0)?;
    if tx_type > MAX_TX_TYPE {
        return Err(DecoderError::Custom("receipt with an invalid type"));
    }
    let status: ReceiptStatus = list.val_at(1)?;
    let cumulative_gas_used = list.val_at(2)?;
    let logs = bounded(&list.at(3)?, MIN_ANY)?;
    Ok(Receipt {
        tx_type,
        status,
        cumulative_gas_used,
        logs_bloom: Receipt::bloom_of(&logs),
        logs,
    })
}

/// Decodes receipt lists (one per block) in the eth/69 form, counts checked before decoding.
pub(crate) fn decode_receipt_lists69(rlp: &Rlp<'_>) -> Result<Vec<Vec<Receipt>>, DecoderError> {
    bounded_with(rlp, MIN_ANY, super::wire::MAX_ITEMS, |block| {
        bounded_with(
            block,
            MIN_RECEIPT69,
            super::wire::MAX_ITEMS,
            decode_receipt69,
        )
    })
}

/// Writes an eth/70 GetReceipts.
pub(crate) fn append_get_receipts70(s: &mut RlpStream, m: &GetReceipts70) {
    s.begin_list(3);
    s.append(&m.request_id);
    s.append(&m.first_block_receipt_index);
    s.begin_list(m.hashes.len());
    for h in &m.hashes {
        s.append(h);
    }
}

/// Reads an eth/70 GetReceipts.
pub(crate) fn decode_get_receipts70(rlp: &Rlp<'_>) -> Result<GetReceipts70, DecoderError> {
    let list = fields(rlp, 3)?;
    Ok(GetReceipts70 {
        request_id: list.val_at(0)?,
        first_block_receipt_index: list.val_at(1)?,
        hashes: bounded(&list.at(2)?, MIN_HASH)?,
    })
}

/// Writes an eth/70 Receipts.
pub(crate) fn append_receipts70(s: &mut RlpStream, m: &Receipts70) {
    s.begin_list(3);
    s.append(&m.request_id);
    s.append(&m.last_block_incomplete);
    append_receipt_lists69(s, &m.receipts);
}

/// Reads an eth/70 Receipts.
pub(crate) fn decode_receipts70(rlp: &Rlp<'_>) -> Result<Receipts70, DecoderError> {
    let list = fields(rlp, 3)?;
    Ok(Receipts70 {
        request_id: list.val_at(0)?,
        last_block_incomplete: list.val_at(1)?,
        receipts: decode_receipt_lists69(&list.at(2)?)?,
    })
}
