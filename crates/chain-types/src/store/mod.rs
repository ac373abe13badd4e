//! Where chain data is kept: the [`ChainStore`] trait, the in-memory [`MemoryStore`] and the redb-backed
//! [`RedbStore`].
//!
//! A store holds one canonical chain that starts at genesis and has no gaps. Batches are inserted atomically and
//! must extend the stored head: the first header's parent is the head (or, for an empty store, the first header is
//! the genesis header) and the headers of a batch link to each other. A store computes total difficulty itself:
//! genesis has its own difficulty, every later block adds its difficulty to its parent's. Reorganisations are a
//! [`ChainStore::rewind`] followed by inserts.
//!
//! Beside the canonical chain a store keeps a *staging area*: headers downloaded in reverse from a trusted head
//! (post-merge sync) that do not link to the stored head yet. Staged headers form one linked chain that grows
//! downwards ([`ChainStore::stage_headers`] accepts a batch whose highest header is the parent of the lowest
//! staged one, or, to extend the staged chain towards a newer trusted head, whose lowest header is the child of the
//! highest staged one), so [`ChainStore::lowest_staged`] is the lowest header linked to the staged top. Every
//! staged batch is one atomic write, so after a crash the staging area is a linked chain as of the last staged
//! batch. [`ChainStore::staged_range`] reads a run of staged headers in one call. Staged headers leave the area
//! through [`ChainStore::insert_staged`] (insert into the canonical chain and clear, atomically) or
//! [`ChainStore::clear_staged`].

mod memory;
mod redb_staged;
mod redb_store;

use primitive_types::{H256, U256};

pub use memory::MemoryStore;
pub use redb_store::{DEFAULT_CACHE_BYTES, INDEX_FLUSH_HEADERS, RedbStore, SEGMENT_HEADERS};

use crate::{Body, Error, HeadersRequest, Receipt, SealedHeader, source::BlockHashOrNumber};

/// One block of a batch: its sealed header and, where downloaded, body and receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    /// The header with its hash.
    pub header: SealedHeader,
    /// The body, if it is stored with the header.
    pub body: Option<Body>,
    /// The receipts, if they are stored with the header.
    pub receipts: Option<Vec<Receipt>>,
}

impl BlockEntry {
    /// A header without content.
    pub const fn header_only(header: SealedHeader) -> Self {
        Self {
            header,
            body: None,
            receipts: None,
        }
    }

    /// A header with its body.
    pub const fn with_body(header: SealedHeader, body: Body) -> Self {
        Self {
            header,
            body: Some(body),
            receipts: None,
        }
    }
}

impl From<SealedHeader> for BlockEntry {
    fn from(header: SealedHeader) -> Self {
        Self::header_only(header)
    }
}

/// Storage for one canonical chain. Synchronous: callers on an async runtime may want `spawn_blocking` for large
/// batches on the disk-backed store.
pub trait ChainStore: Send + Sync {
    /// Inserts a batch atomically: all of it or nothing. An empty batch does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::NotGenesis`] if the store is empty and the batch does not start at block 0;
    /// [`Error::Unlinked`] if the batch does not extend the head; [`Error::BrokenBatch`] if its headers do not
    /// link; [`Error::Storage`] if the backend fails. Nothing is stored in any of these cases.
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), Error>;

    /// The canonical header with number `number`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] or [`Error::Corrupt`] if the backend fails.
    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, Error>;

    /// The stored header with hash `hash`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn header_by_hash(&self, hash: &H256) -> Result<Option<SealedHeader>, Error>;

    /// The stored body of block `hash`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn body(&self, hash: &H256) -> Result<Option<Body>, Error>;

    /// The stored receipts of block `hash`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn receipts(&self, hash: &H256) -> Result<Option<Vec<Receipt>>, Error>;

    /// The canonical head and its total difficulty; `None` for an empty store.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn head(&self) -> Result<Option<(SealedHeader, U256)>, Error>;

    /// The total difficulty of block `hash`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn total_difficulty(&self, hash: &H256) -> Result<Option<U256>, Error>;

    /// Removes every block above `to_number`, atomically. Rewinding to the head or above does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the backend fails (then nothing was removed).
    fn rewind(&self, to_number: u64) -> Result<(), Error>;

    /// Stages `headers` (rising numbers, linked to each other) below or above the staged chain, atomically: all of
    /// them or nothing. If the staging area is not empty, either the highest header of the batch must be the parent
    /// of the lowest staged header, or the lowest header of the batch must be a child of the highest staged header
    /// (the staged chain grows towards a newer head). An empty batch does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBatch`] if the headers do not link to each other; [`Error::Unlinked`] (with the lowest staged
    /// header in the `head_*` fields) if the batch neither ends just below nor starts just above the staged chain;
    /// [`Error::Storage`] if the backend fails. Nothing is staged in any of these cases.
    fn stage_headers(&self, headers: Vec<SealedHeader>) -> Result<(), Error>;

    /// The staged header with number `number`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn staged_header(&self, number: u64) -> Result<Option<SealedHeader>, Error>;

    /// The staged headers numbered `from..=to`, rising, in one read; the answer stops before the first number not
    /// staged (it is empty if `from` is not staged or `from > to`).
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn staged_range(&self, from: u64, to: u64) -> Result<Vec<SealedHeader>, Error> {
        let mut out = Vec::new();
        let mut n = from;
        while n <= to {
            match self.staged_header(n)? {
                Some(h) => out.push(h),
                None => break,
            }
            n = match n.checked_add(1) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(out)
    }

    /// Inserts `batch` (staged headers with their content) into the canonical chain as
    /// [`ChainStore::insert_batch`] does, and removes the staged headers numbered up to the batch's last one. Stores
    /// that can do both in one atomic write do so; the default makes two writes (a crash between them leaves
    /// imported headers staged, which [`ChainStore::clear_staged`] removes later).
    ///
    /// # Errors
    ///
    /// As [`ChainStore::insert_batch`] and [`ChainStore::clear_staged`].
    fn insert_staged(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        let Some(last) = batch.last().map(|e| e.header.number) else {
            return Ok(());
        };
        self.insert_batch(batch)?;
        self.clear_staged(last)
    }

    /// The lowest staged header: every staged header above it links down to it. `None` if nothing is staged.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn lowest_staged(&self) -> Result<Option<SealedHeader>, Error>;

    /// The highest staged header (the head the staged chain was downloaded from). `None` if nothing is staged.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn highest_staged(&self) -> Result<Option<SealedHeader>, Error>;

    /// Removes every staged header numbered `through` or lower, atomically (`u64::MAX` empties the area). The rest
    /// stays a linked chain.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the backend fails (then nothing was removed).
    fn clear_staged(&self, through: u64) -> Result<(), Error>;

    /// The canonical hash of block `number`.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn hash_by_number(&self, number: u64) -> Result<Option<H256>, Error> {
        Ok(self.header_by_number(number)?.map(|h| h.hash()))
    }

    /// The number of the head; `None` for an empty store.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn head_number(&self) -> Result<Option<u64>, Error> {
        Ok(self.head()?.map(|(h, _)| h.number))
    }

    /// Whether block `hash` is stored (header at least).
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn contains(&self, hash: &H256) -> Result<bool, Error> {
        Ok(self.header_by_hash(hash)?.is_some())
    }

    /// The headers `request` selects, at most `limit`, as a server answers `GetBlockHeaders`: the answer stops at
    /// the first block not stored, and is empty if the origin is unknown.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::header_by_number`].
    fn headers_matching(
        &self,
        request: &HeadersRequest,
        limit: u64,
    ) -> Result<Vec<SealedHeader>, Error> {
        let origin = match request.origin {
            BlockHashOrNumber::Number(n) => n,
            BlockHashOrNumber::Hash(h) => match self.header_by_hash(&h)? {
                Some(header) => header.number,
                None => return Ok(Vec::new()),
            },
        };
        let mut out = Vec::new();
        for n in request.block_numbers(origin, limit) {
            match self.header_by_number(n)? {
                Some(h) => out.push(h),
                None => break,
            }
        }
        Ok(out)
    }
}

impl<T: ChainStore + ?Sized> ChainStore for std::sync::Arc<T> {
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        (**self).insert_batch(batch)
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        (**self).header_by_number(number)
    }

    fn header_by_hash(&self, hash: &H256) -> Result<Option<SealedHeader>, Error> {
        (**self).header_by_hash(hash)
    }

    fn body(&self, hash: &H256) -> Result<Option<Body>, Error> {
        (**self).body(hash)
    }

    fn receipts(&self, hash: &H256) -> Result<Option<Vec<Receipt>>, Error> {
        (**self).receipts(hash)
    }

    fn head(&self) -> Result<Option<(SealedHeader, U256)>, Error> {
        (**self).head()
    }

    fn total_difficulty(&self, hash: &H256) -> Result<Option<U256>, Error> {
        (**self).total_difficulty(hash)
    }

    fn rewind(&self, to_number: u64) -> Result<(), Error> {
        (**self).rewind(to_number)
    }

    fn stage_headers(&self, headers: Vec<SealedHeader>) -> Result<(), Error> {
        (**self).stage_headers(headers)
    }

    fn staged_header(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        (**self).staged_header(number)
    }

    fn staged_range(&self, from: u64, to: u64) -> Result<Vec<SealedHeader>, Error> {
        (**self).staged_range(from, to)
    }

    fn insert_staged(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        (**self).insert_staged(batch)
    }

    fn lowest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        (**self).lowest_staged()
    }

    fn highest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        (**self).highest_staged()
    }

    fn clear_staged(&self, through: u64) -> Result<(), Error> {
        (**self).clear_staged(through)
    }

    fn hash_by_number(&self, number: u64) -> Result<Option<H256>, Error> {
        (**self).hash_by_number(number)
    }

    fn head_number(&self) -> Result<Option<u64>, Error> {
        (**self).head_number()
    }

    fn contains(&self, hash: &H256) -> Result<bool, Error> {
        (**self).contains(hash)
    }

    fn headers_matching(
        &self,
        request: &HeadersRequest,
        limit: u64,
    ) -> Result<Vec<SealedHeader>, Error> {
        (**self).headers_matching(request, limit)
    }
}

/// Where a batch to stage goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StagedSide {
    /// Below the staged chain (or into an empty staging area).
    Below,
    /// Above the staged chain.
    Above,
}

/// Checks that a batch to stage links internally and ends just below `lowest`, the lowest staged header, or starts
/// just above `highest`, the highest one.
pub(crate) fn check_staged(
    lowest: Option<&SealedHeader>,
    highest: Option<&SealedHeader>,
    headers: &[SealedHeader],
) -> Result<StagedSide, Error> {
    for w in headers.windows(2) {
        if w[1].parent_hash != w[0].hash() || Some(w[1].number) != w[0].number.checked_add(1) {
            return Err(Error::BrokenBatch {
                number: w[1].number,
            });
        }
    }
    if let (Some(highest), Some(first)) = (highest, headers.first())
        && first.parent_hash == highest.hash()
        && highest.number.checked_add(1) == Some(first.number)
    {
        return Ok(StagedSide::Above);
    }
    if let (Some(lowest), Some(top)) = (lowest, headers.last())
        && (lowest.parent_hash != top.hash() || top.number.checked_add(1) != Some(lowest.number))
    {
        return Err(Error::Unlinked {
            head_number: lowest.number,
            head_hash: lowest.hash(),
            number: top.number,
            parent_hash: lowest.parent_hash,
        });
    }
    Ok(StagedSide::Below)
}

/// Checks that `batch` extends `head` (number and hash of the stored head, `None` if empty) and links internally,
/// and returns the total difficulties of its blocks given the head's total difficulty.
pub(crate) fn check_and_total(
    head: Option<(u64, H256, U256)>,
    batch: &[BlockEntry],
) -> Result<Vec<U256>, Error> {
    let Some(first) = batch.first() else {
        return Ok(Vec::new());
    };
    let mut td = match head {
        None if first.header.number != 0 => {
            return Err(Error::NotGenesis {
                number: first.header.number,
            });
        }
        None => U256::zero(),
        Some((number, hash, td)) => {
            if first.header.parent_hash != hash
                || Some(first.header.number) != number.checked_add(1)
            {
                return Err(Error::Unlinked {
                    head_number: number,
                    head_hash: hash,
                    number: first.header.number,
                    parent_hash: first.header.parent_hash,
                });
            }
            td
        }
    };
    let mut tds = Vec::with_capacity(batch.len());
    let mut prev: Option<&SealedHeader> = None;
    for entry in batch {
        let h = &entry.header;
        if let Some(p) = prev
            && (h.parent_hash != p.hash() || Some(h.number) != p.number.checked_add(1))
        {
            return Err(Error::BrokenBatch { number: h.number });
        }
        td = td.checked_add(h.difficulty).ok_or(Error::Invalid {
            what: "header",
            reason: "total difficulty overflows",
        })?;
        tds.push(td);
        prev = Some(h);
    }
    Ok(tds)
}
