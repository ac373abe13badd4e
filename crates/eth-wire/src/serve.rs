//! The serving side: answering GetBlockHeaders, GetBlockBodies and GetReceipts from a [`ChainStore`] within the
//! usual limits (at most 1024 items, a 2 MiB soft response size), as geth does: header walks stop at the first
//! unknown block, unknown hashes in body and receipt requests are skipped without placeholders.
//!
//! Receipts are answered in the negotiated version's layout. eth/70 pages (EIP-7975): the answer starts at
//! the request's `firstBlockReceiptIndex` in the first block, stops at the first unknown block (as geth), and
//! when the soft size limit is reached inside a block, the block's list is cut there and the answer flagged
//! `lastBlockIncomplete`; a block that does not start in the answer is left for the next request, and the first
//! receipt of an answer is always included so that every page makes progress.

use chain_types::{BlockHashOrNumber, Body, ChainStore, Header, HeadersRequest, Receipt};

use crate::message::receipt69_size;
use crate::{EthMessage, EthVersion, Receipts70, RequestPair};

/// Serving limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most headers in one reply (geth: 1024).
    pub max_headers: usize,
    /// Most bodies in one reply (geth: 1024).
    pub max_bodies: usize,
    /// Most receipt lists in one reply (geth: 1024).
    pub max_receipts: usize,
    /// Soft size limit of a reply in bytes: items are added while the reply is below it (2 MiB).
    pub soft_response_bytes: usize,
    /// Most store lookups for one request (twice the item limit, as geth).
    pub max_lookups: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_headers: 1024,
            max_bodies: 1024,
            max_receipts: 1024,
            soft_response_bytes: 2 * 1024 * 1024,
            max_lookups: 2048,
        }
    }
}

/// The estimated encoded size of a header (as geth, about 500 bytes, plus its extra data).
fn header_size(h: &Header) -> usize {
    500 + h.extra_data.len()
}

/// The estimated encoded size of a body, without encoding it.
fn body_size(b: &Body) -> usize {
    3 + b.transactions.iter().map(|t| t.len() + 3).sum::<usize>()
        + b.ommers.iter().map(header_size).sum::<usize>()
        + b.withdrawals.as_ref().map_or(0, |w| w.len() * 48)
}

/// The estimated encoded size of a receipt, without encoding it.
fn receipt_size(r: &Receipt) -> usize {
    // Status, gas and the 256-byte bloom, plus each log's address, topics and data.
    280 + r
        .logs
        .iter()
        .map(|l| 30 + 33 * l.topics.len() + l.data.len())
        .sum::<usize>()
}

/// The headers a server answers to `request`.
///
/// A number origin walks the canonical chain. A hash origin may be a non-canonical block: walking down from it
/// follows parent hashes; walking up from it returns only the origin.
///
/// # Errors
///
/// The store's error if a lookup fails.
pub fn answer_headers<S: ChainStore + ?Sized>(
    store: &S,
    request: &HeadersRequest,
    limits: &ServeLimits,
) -> Result<Vec<Header>, chain_types::Error> {
    let count = usize::try_from(request.amount)
        .unwrap_or(usize::MAX)
        .min(limits.max_headers);
    let mut out = Vec::new();
    if count == 0 {
        return Ok(out);
    }
    let mut lookups = 1usize;
    let first = match request.origin {
        BlockHashOrNumber::Number(n) => store.header_by_number(n)?,
        BlockHashOrNumber::Hash(h) => store.header_by_hash(&h)?,
    };
    let Some(mut current) = first else {
        return Ok(out);
    };
    let mut canonical = match request.origin {
        BlockHashOrNumber::Number(_) => true,
        BlockHashOrNumber::Hash(h) => {
            lookups += 1;
            store.hash_by_number(current.number)? == Some(h)
        }
    };
    let step = request.skip.saturating_add(1);
    let mut bytes = 0usize;
    loop {
        bytes += header_size(current.header());
        out.push(current.header().clone());
        if out.len() >= count
            || bytes >= limits.soft_response_bytes
            || lookups >= limits.max_lookups
        {
            break;
        }
        let next = if request.reverse {
            current.number.checked_sub(step)
        } else {
            current.number.checked_add(step)
        };
        let Some(next) = next else { break };
        let found = if canonical {
            lookups += 1;
            store.header_by_number(next)?
        } else if request.reverse {
            // Follow parents from a side-chain block.
            let mut h = current.clone();
            let mut ok = true;
            for _ in 0..step {
                lookups += 1;
                if lookups > limits.max_lookups {
                    ok = false;
                    break;
                }
                match store.header_by_hash(&h.parent_hash)? {
                    Some(parent) => h = parent,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                lookups += 1;
                // Once the walk reaches the canonical chain it may continue by number.
                canonical = store.hash_by_number(h.number)? == Some(h.hash());
                Some(h)
            } else {
                None
            }
        } else {
            None
        };
        match found {
            Some(h) => current = h,
            None => break,
        }
    }
    Ok(out)
}

/// The bodies a server answers for `hashes` (unknown ones skipped).
///
/// # Errors
///
/// The store's error if a lookup fails.
pub fn answer_bodies<S: ChainStore + ?Sized>(
    store: &S,
    hashes: &[primitive_types::H256],
    limits: &ServeLimits,
) -> Result<Vec<Body>, chain_types::Error> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for hash in hashes.iter().take(limits.max_lookups) {
        if out.len() >= limits.max_bodies || bytes >= limits.soft_response_bytes {
            break;
        }
        if let Some(body) = store.body(hash)? {
            bytes += body_size(&body);
            out.push(body);
        }
    }
    Ok(out)
}

/// The receipt lists a server answers for `hashes` (unknown ones skipped).
///
/// # Errors
///
/// The store's error if a lookup fails.
pub fn answer_receipts<S: ChainStore + ?Sized>(
    store: &S,
    hashes: &[primitive_types::H256],
    limits: &ServeLimits,
) -> Result<Vec<Vec<Receipt>>, chain_types::Error> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for hash in hashes.iter().take(limits.max_lookups) {
        if out.len() >= limits.max_receipts || bytes >= limits.soft_response_bytes {
            break;
        }
        if let Some(receipts) = store.receipts(hash)? {
            bytes += receipts.iter().map(receipt_size).sum::<usize>();
            out.push(receipts);
        }
    }
    Ok(out)
}

/// The eth/70 receipt page a server answers for `hashes`, starting at receipt `first_index` of the first block:
/// the lists and whether the last one is cut (see the module docs).
///
/// # Errors
///
/// The store's error if a lookup fails.
pub fn answer_receipts70<S: ChainStore + ?Sized>(
    store: &S,
    hashes: &[primitive_types::H256],
    first_index: u64,
    limits: &ServeLimits,
) -> Result<(Vec<Vec<Receipt>>, bool), chain_types::Error> {
    let mut out: Vec<Vec<Receipt>> = Vec::new();
    let mut bytes = 0usize;
    for (i, hash) in hashes.iter().take(limits.max_lookups).enumerate() {
        if out.len() >= limits.max_receipts || bytes >= limits.soft_response_bytes {
            break;
        }
        let Some(receipts) = store.receipts(hash)? else {
            break;
        };
        let skip = if i == 0 {
            usize::try_from(first_index).unwrap_or(usize::MAX)
        } else {
            0
        };
        let mut list = Vec::new();
        for r in receipts.into_iter().skip(skip) {
            let size = receipt69_size(&r);
            let first_of_page = out.is_empty() && list.is_empty();
            if bytes.saturating_add(size) > limits.soft_response_bytes && !first_of_page {
                if list.is_empty() {
                    // Nothing of this block fits: it starts in the next request.
                    return Ok((out, false));
                }
                out.push(list);
                return Ok((out, true));
            }
            bytes += size;
            list.push(r);
        }
        out.push(list);
    }
    Ok((out, false))
}

/// The reply to a request message, answered from `store` (`None`: a node without a chain, which answers
/// every request with an empty list), in the layout of eth `version`. Returns `None` for messages that are not
/// requests.
///
/// # Errors
///
/// The store's error if a lookup fails.
pub fn answer<S: ChainStore + ?Sized>(
    store: Option<&S>,
    version: EthVersion,
    request: &EthMessage,
    limits: &ServeLimits,
) -> Result<Option<EthMessage>, chain_types::Error> {
    let reply = match request {
        EthMessage::GetBlockHeaders(p) => EthMessage::BlockHeaders(RequestPair {
            request_id: p.request_id,
            message: match store {
                Some(s) => answer_headers(s, &p.message, limits)?,
                None => Vec::new(),
            },
        }),
        EthMessage::GetBlockBodies(p) => EthMessage::BlockBodies(RequestPair {
            request_id: p.request_id,
            message: match store {
                Some(s) => answer_bodies(s, &p.message, limits)?,
                None => Vec::new(),
            },
        }),
        EthMessage::GetReceipts(p) => {
            let pair = RequestPair {
                request_id: p.request_id,
                message: match store {
                    Some(s) => answer_receipts(s, &p.message, limits)?,
                    None => Vec::new(),
                },
            };
            if version >= EthVersion::Eth69 {
                EthMessage::Receipts69(pair)
            } else {
                EthMessage::Receipts(pair)
            }
        }
        EthMessage::GetReceipts70(m) => {
            let (receipts, last_block_incomplete) = match store {
                Some(s) => answer_receipts70(s, &m.hashes, m.first_block_receipt_index, limits)?,
                None => (Vec::new(), false),
            };
            EthMessage::Receipts70(Receipts70 {
                request_id: m.request_id,
                last_block_incomplete,
                receipts,
            })
        }
        // No transaction pool and no state: empty answers.
        EthMessage::GetPooledTransactions(p) => EthMessage::PooledTransactions(RequestPair {
            request_id: p.request_id,
            message: Vec::new(),
        }),
        EthMessage::GetNodeData(p) => EthMessage::NodeData(RequestPair {
            request_id: p.request_id,
            message: Vec::new(),
        }),
        _ => return Ok(None),
    };
    Ok(Some(reply))
}
