//! [`MemoryStore`]: a [`ChainStore`] in memory, for tests and as a benchmark baseline.

use std::{
    collections::HashMap,
    sync::{RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use primitive_types::{H256, U256};

use super::{BlockEntry, ChainStore, StagedSide, check_and_total, check_staged};
use crate::{Body, Error, Receipt, SealedHeader};

/// The chain in memory.
#[derive(Debug, Default)]
struct Inner {
    /// Canonical headers; index = block number.
    headers: Vec<SealedHeader>,
    /// Total difficulties; index = block number.
    tds: Vec<U256>,
    /// Hash to number.
    numbers: HashMap<H256, u64>,
    /// Bodies by hash.
    bodies: HashMap<H256, Body>,
    /// Receipts by hash.
    receipts: HashMap<H256, Vec<Receipt>>,
    /// The staging area, falling numbers (the highest staged header first): staging below the chain and clearing
    /// its low end both work at the end of the vector, and memory freed by clearing goes back to the allocator.
    staged: Vec<SealedHeader>,
}

/// Unused staging capacity (in headers) kept before the vector is shrunk.
const STAGED_SLACK: usize = 4096;

impl Inner {
    /// The index of staged header `number`.
    fn staged_index(&self, number: u64) -> Option<usize> {
        let top = self.staged.first()?.number;
        let i = usize::try_from(top.checked_sub(number)?).ok()?;
        (i < self.staged.len()).then_some(i)
    }

    /// Removes the staged headers numbered `through` or lower.
    fn clear_staged(&mut self, through: u64) {
        let keep = match self.staged.first() {
            Some(top) if top.number > through => {
                usize::try_from(top.number - through).unwrap_or(usize::MAX)
            }
            _ => 0,
        };
        self.staged.truncate(keep);
        if self.staged.capacity() > self.staged.len() + STAGED_SLACK {
            self.staged.shrink_to_fit();
        }
    }
}

/// A [`ChainStore`] held in memory behind a read-write lock. Cheap to create; gone when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of stored headers.
    pub fn len(&self) -> usize {
        self.read().headers.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.read().headers.is_empty()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ChainStore for MemoryStore {
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        let mut inner = self.write();
        let head = inner
            .headers
            .last()
            .zip(inner.tds.last())
            .map(|(h, td)| (h.number, h.hash(), *td));
        let tds = check_and_total(head, &batch)?;
        inner.headers.reserve(batch.len());
        for (entry, td) in batch.into_iter().zip(tds) {
            let hash = entry.header.hash();
            if let Some(body) = entry.body {
                inner.bodies.insert(hash, body);
            }
            if let Some(receipts) = entry.receipts {
                inner.receipts.insert(hash, receipts);
            }
            inner.numbers.insert(hash, entry.header.number);
            inner.headers.push(entry.header);
            inner.tds.push(td);
        }
        Ok(())
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        let inner = self.read();
        Ok(usize::try_from(number)
            .ok()
            .and_then(|i| inner.headers.get(i))
            .cloned())
    }

    fn header_by_hash(&self, hash: &H256) -> Result<Option<SealedHeader>, Error> {
        let inner = self.read();
        Ok(inner
            .numbers
            .get(hash)
            .and_then(|n| usize::try_from(*n).ok())
            .and_then(|i| inner.headers.get(i))
            .cloned())
    }

    fn body(&self, hash: &H256) -> Result<Option<Body>, Error> {
        Ok(self.read().bodies.get(hash).cloned())
    }

    fn receipts(&self, hash: &H256) -> Result<Option<Vec<Receipt>>, Error> {
        Ok(self.read().receipts.get(hash).cloned())
    }

    fn head(&self) -> Result<Option<(SealedHeader, U256)>, Error> {
        let inner = self.read();
        Ok(inner.headers.last().cloned().zip(inner.tds.last().copied()))
    }

    fn total_difficulty(&self, hash: &H256) -> Result<Option<U256>, Error> {
        let inner = self.read();
        Ok(inner
            .numbers
            .get(hash)
            .and_then(|n| usize::try_from(*n).ok())
            .and_then(|i| inner.tds.get(i))
            .copied())
    }

    fn rewind(&self, to_number: u64) -> Result<(), Error> {
        let mut inner = self.write();
        let keep = usize::try_from(to_number.saturating_add(1)).unwrap_or(usize::MAX);
        if keep >= inner.headers.len() {
            return Ok(());
        }
        let removed: Vec<SealedHeader> = inner.headers.drain(keep..).collect();
        inner.tds.truncate(keep);
        for h in removed {
            let hash = h.hash();
            inner.numbers.remove(&hash);
            inner.bodies.remove(&hash);
            inner.receipts.remove(&hash);
        }
        Ok(())
    }

    fn stage_headers(&self, headers: Vec<SealedHeader>) -> Result<(), Error> {
        let mut inner = self.write();
        match check_staged(inner.staged.last(), inner.staged.first(), &headers)? {
            StagedSide::Below => inner.staged.extend(headers.into_iter().rev()),
            StagedSide::Above => {
                inner.staged.splice(0..0, headers.into_iter().rev());
            }
        }
        Ok(())
    }

    fn staged_header(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        let inner = self.read();
        Ok(inner
            .staged_index(number)
            .and_then(|i| inner.staged.get(i))
            .cloned())
    }

    fn staged_range(&self, from: u64, to: u64) -> Result<Vec<SealedHeader>, Error> {
        let inner = self.read();
        let Some(low) = inner.staged_index(from) else {
            return Ok(Vec::new());
        };
        if to < from {
            return Ok(Vec::new());
        }
        // Falling order: `to` (or the top) sits at a lower index than `from`.
        let high = inner.staged_index(to).unwrap_or(0);
        Ok(inner.staged[high..=low].iter().rev().cloned().collect())
    }

    fn insert_staged(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        let Some(last) = batch.last().map(|e| e.header.number) else {
            return Ok(());
        };
        self.insert_batch(batch)?;
        self.write().clear_staged(last);
        Ok(())
    }

    fn lowest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        Ok(self.read().staged.last().cloned())
    }

    fn highest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        Ok(self.read().staged.first().cloned())
    }

    fn clear_staged(&self, through: u64) -> Result<(), Error> {
        self.write().clear_staged(through);
        Ok(())
    }

    fn hash_by_number(&self, number: u64) -> Result<Option<H256>, Error> {
        let inner = self.read();
        Ok(usize::try_from(number)
            .ok()
            .and_then(|i| inner.headers.get(i))
            .map(SealedHeader::hash))
    }

    fn contains(&self, hash: &H256) -> Result<bool, Error> {
        Ok(self.read().numbers.contains_key(hash))
    }
}
