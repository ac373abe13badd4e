//! [`RedbStore`]: a [`ChainStore`] in a redb file.
//!
//! Layout. Table `headers` holds the canonical chain in *segments*: the key is the number of a segment's first
//! block, the value the concatenated records of up to [`SEGMENT_HEADERS`] consecutive blocks, each record being
//! `length (u32, little-endian) || hash (32 bytes) || total difficulty (32 bytes, big-endian) || rlp(header)`.
//! Writing one value per segment instead of one per header makes ingest several times faster, and keeping the hash
//! means reading a header never hashes. Tables `bodies` and `receipts` map a block number to the RLP of the body and
//! of the receipt list, so they too are appended in key order.
//!
//! The hash index. Table `numbers` maps a hash to its number for blocks below a persisted mark (`meta.indexed`);
//! the hashes of the blocks above it live in memory and are flushed into the table, sorted, once
//! [`INDEX_FLUSH_HEADERS`] have accumulated, in the same transaction as a batch. Random hash keys inserted batch by
//! batch would make the copy-on-write B-tree rewrite most of its index leaves on every commit; flushing in large
//! sorted runs keeps ingest fast as the chain grows. Opening a store rebuilds the in-memory part from the headers
//! above the mark (fewer than [`INDEX_FLUSH_HEADERS`] plus one batch).
//!
//! Staging. Table `staged_segments` holds the staged headers (see the [store docs](super)) in segments like
//! `headers` (module `redb_staged`); each staged batch and each clear is one write transaction, and
//! [`ChainStore::insert_staged`] inserts and clears in one. Staging writes are never made durable on their own
//! (staged headers can be downloaded again); the next durable commit makes them durable with it.
//!
//! Crash safety. Every batch and every rewind is one redb write transaction, so after a crash (or a kill) the file
//! holds the chain as of the last durable commit: a consistent, linked prefix without gaps. By default every batch
//! is durable (on disk when [`ChainStore::insert_batch`] returns, which costs one `fsync` per batch);
//! [`RedbStore::set_durable_every`] makes only every so many headers durable, so a crash may lose the latest
//! batches but still leaves a consistent prefix.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use primitive_types::{H256, U256};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    BlockEntry, ChainStore, check_and_total,
    redb_staged::{self, STAGED},
};
use crate::{
    Body, Error, Header, HeadersRequest, Receipt, SealedHeader, source::BlockHashOrNumber,
};

const HEADERS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("headers");
const NUMBERS: TableDefinition<'_, &[u8; 32], u64> = TableDefinition::new("numbers");
const BODIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("bodies");
const RECEIPTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("receipts");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// `META` key: blocks `0..indexed` are in `NUMBERS`.
const INDEXED: &str = "indexed";

/// Hashes kept in memory before they are flushed into the persistent hash index.
pub const INDEX_FLUSH_HEADERS: usize = 131_072;

/// Most headers in one segment of the `headers` table.
pub const SEGMENT_HEADERS: usize = 512;

/// Default page cache of the database in bytes.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of a record before the header's RLP (after the length).
const RECORD_PREFIX: usize = 64;

/// Converts any redb error.
pub(super) fn st<T, E: Into<redb::Error>>(r: Result<T, E>) -> Result<T, Error> {
    r.map_err(|e| Error::storage(e.into()))
}

/// Appends one record to a segment buffer.
fn push_record(buf: &mut Vec<u8>, header: &SealedHeader, td: U256) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(header.hash().as_bytes());
    buf.extend_from_slice(&td.to_big_endian());
    let mut s = rlp::RlpStream::new_with_buffer(bytes::BytesMut::new());
    s.append(header.header());
    buf.extend_from_slice(&s.out());
    let len = u32::try_from(buf.len() - at - 4).unwrap_or(u32::MAX);
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends one record with the header's RLP given.
fn push_raw_record(buf: &mut Vec<u8>, hash: &H256, td: U256, rlp: &[u8]) {
    let len = u32::try_from(RECORD_PREFIX + rlp.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(hash.as_bytes());
    buf.extend_from_slice(&td.to_big_endian());
    buf.extend_from_slice(rlp);
}

/// Iterates over the records of a segment value (each without its length).
fn records(value: &[u8]) -> impl Iterator<Item = Result<&[u8], Error>> {
    length_prefixed(value, RECORD_PREFIX, "malformed header segment")
}

/// Iterates over `u32`-length-prefixed records of at least `min_len` bytes (each without its length); a record
/// that is cut short or too small ends the iteration with [`Error::Corrupt`]`(what)`.
pub(super) fn length_prefixed<'a>(
    value: &'a [u8],
    min_len: usize,
    what: &'static str,
) -> impl Iterator<Item = Result<&'a [u8], Error>> {
    let mut rest = value;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let parsed = rest
            .split_first_chunk::<4>()
            .and_then(|(len, tail)| tail.split_at_checked(u32::from_le_bytes(*len) as usize))
            .filter(|(rec, _)| rec.len() >= min_len);
        match parsed {
            Some((rec, tail)) => {
                rest = tail;
                Some(Ok(rec))
            }
            None => {
                rest = &[];
                Some(Err(Error::Corrupt(what)))
            }
        }
    })
}

/// The hash of a record.
fn record_hash(rec: &[u8]) -> H256 {
    H256::from_slice(&rec[..32])
}

/// Decodes a record.
fn decode_record(rec: &[u8]) -> Result<(SealedHeader, U256), Error> {
    let (prefix, rlp) = rec.split_at(RECORD_PREFIX);
    let header = Header::decode_exact(rlp).map_err(|_| Error::Corrupt("undecodable header"))?;
    let td = U256::from_big_endian(&prefix[32..64]);
    Ok((SealedHeader::new_unchecked(header, record_hash(prefix)), td))
}

/// The `index`-th record of a segment value.
fn nth_record(value: &[u8], index: u64) -> Result<Option<&[u8]>, Error> {
    let index = usize::try_from(index).unwrap_or(usize::MAX);
    records(value).nth(index).transpose()
}

/// The last record of a segment value.
fn last_record(value: &[u8]) -> Result<Option<&[u8]>, Error> {
    let mut last = None;
    for rec in records(value) {
        last = Some(rec?);
    }
    Ok(last)
}

/// The hash index of the blocks not yet in the `numbers` table.
#[derive(Debug, Default)]
struct Tail {
    /// Flush threshold (see [`INDEX_FLUSH_HEADERS`]).
    flush_at: usize,
    /// Blocks `0..indexed` are in the `numbers` table.
    indexed: u64,
    /// Hash to number for the blocks from `indexed` on.
    numbers: HashMap<H256, u64>,
}

/// A [`ChainStore`] in a redb database file.
pub struct RedbStore {
    db: Database,
    /// Make a commit durable once this many headers were committed since the last durable one (0: every commit).
    durable_every: AtomicU64,
    /// Headers committed since the last durable commit.
    since_durable: AtomicU64,
    tail: RwLock<Tail>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("durable_every", &self.durable_every.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Looks up the record of block `number` in the `headers` table.
fn find<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    number: u64,
) -> Result<Option<(SealedHeader, U256)>, Error> {
    let mut range = st(table.range::<u64>(..=number))?;
    let Some(item) = range.next_back() else {
        return Ok(None);
    };
    let (start, value) = st(item)?;
    match nth_record(value.value(), number - start.value())? {
        Some(rec) => decode_record(rec).map(Some),
        None => Ok(None),
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it if it does not exist, with a page cache of
    /// [`DEFAULT_CACHE_BYTES`].
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the file cannot be opened or created, or is not a redb database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// As [`RedbStore::open`] with a page cache of `cache_bytes`.
    ///
    /// # Errors
    ///
    /// As [`RedbStore::open`].
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Self, Error> {
        let db = st(Database::builder().set_cache_size(cache_bytes).create(path))?;
        Self::init(db)
    }

    /// A database held in memory (for tests).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if redb fails to initialise.
    pub fn in_memory() -> Result<Self, Error> {
        let db =
            st(Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()))?;
        Self::init(db)
    }

    /// Creates the tables.
    fn init(db: Database) -> Result<Self, Error> {
        let tx = st(db.begin_write())?;
        st(tx.open_table(HEADERS))?;
        st(tx.open_table(NUMBERS))?;
        st(tx.open_table(BODIES))?;
        st(tx.open_table(RECEIPTS))?;
        st(tx.open_table(META))?;
        st(tx.open_table(STAGED))?;
        st(tx.commit())?;
        let mut tail = Tail {
            flush_at: INDEX_FLUSH_HEADERS,
            ..Tail::default()
        };
        {
            let tx = st(db.begin_read())?;
            tail.indexed = st(st(tx.open_table(META))?.get(INDEXED))?.map_or(0, |v| v.value());
            let headers = st(tx.open_table(HEADERS))?;
            let first = st(st(headers.range::<u64>(..=tail.indexed))?
                .next_back()
                .transpose())?
            .map_or(tail.indexed, |(k, _)| k.value());
            for item in st(headers.range::<u64>(first..))? {
                let (start, value) = st(item)?;
                for (i, rec) in records(value.value()).enumerate() {
                    let number = start.value() + i as u64;
                    if number >= tail.indexed {
                        tail.numbers.insert(record_hash(rec?), number);
                    }
                }
            }
        }
        Ok(Self {
            db,
            durable_every: AtomicU64::new(0),
            since_durable: AtomicU64::new(0),
            tail: RwLock::new(tail),
        })
    }

    fn tail_read(&self) -> RwLockReadGuard<'_, Tail> {
        self.tail
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tail_write(&self) -> RwLockWriteGuard<'_, Tail> {
        self.tail
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes a batch durable only once `headers` headers were committed since the last durable one (0, the
    /// default: every batch). Other batches are committed without waiting for the disk (redb's
    /// `Durability::None`): ingest is faster, and a crash loses the batches since the last durable one but still
    /// leaves a consistent, linked prefix. Rewinds are always durable.
    pub fn set_durable_every(&self, headers: u64) {
        self.durable_every.store(headers, Ordering::Relaxed);
    }

    /// Sets how many hashes are kept in memory before they are flushed into the persistent hash index (default
    /// [`INDEX_FLUSH_HEADERS`]; at least 1). Lower values use less memory and make ingest slower.
    pub fn set_index_flush_threshold(&self, headers: usize) {
        self.tail_write().flush_at = headers.max(1);
    }

    /// Begins a write transaction for `headers` new headers; returns whether it will be durable.
    fn begin_write(&self, headers: u64) -> Result<(redb::WriteTransaction, bool), Error> {
        let mut tx = st(self.db.begin_write())?;
        let every = self.durable_every.load(Ordering::Relaxed);
        let since = self.since_durable.load(Ordering::Relaxed);
        let durable = every == 0 || since.saturating_add(headers) >= every;
        if !durable {
            tx.set_durability(redb::Durability::None);
        }
        Ok((tx, durable))
    }

    /// Begins a write transaction that does not wait for the disk (staging writes).
    fn begin_lazy_write(&self) -> Result<redb::WriteTransaction, Error> {
        let mut tx = st(self.db.begin_write())?;
        tx.set_durability(redb::Durability::None);
        Ok(tx)
    }

    /// Makes every committed batch durable now (a no-op when nothing is pending). Dropping the store does this too.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the commit fails.
    pub fn flush(&self) -> Result<(), Error> {
        if self.since_durable.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let tx = st(self.db.begin_write())?;
        st(tx.commit())?;
        self.committed(0, true);
        Ok(())
    }

    /// Records a successful commit of `headers` headers.
    fn committed(&self, headers: u64, durable: bool) {
        if durable {
            self.since_durable.store(0, Ordering::Relaxed);
        } else {
            self.since_durable.fetch_add(headers, Ordering::Relaxed);
        }
    }

    /// The number of stored headers.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the backend fails.
    pub fn len(&self) -> Result<u64, Error> {
        Ok(self.head_number()?.map_or(0, |n| n + 1))
    }

    /// Whether nothing is stored.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the backend fails.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Reads the header record with number `number`.
    fn record(&self, number: u64) -> Result<Option<(SealedHeader, U256)>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(HEADERS))?;
        find(&table, number)
    }

    /// Reads the number of block `hash`.
    fn number_of(&self, hash: &H256) -> Result<Option<u64>, Error> {
        if let Some(n) = self.tail_read().numbers.get(hash) {
            return Ok(Some(*n));
        }
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(NUMBERS))?;
        Ok(st(table.get(hash.as_fixed_bytes()))?.map(|v| v.value()))
    }

    /// Reads the blob of block `hash` from a table keyed by number.
    fn blob<T>(
        &self,
        table: TableDefinition<'_, u64, &[u8]>,
        hash: &H256,
        decode: impl FnOnce(&[u8]) -> Result<T, rlp::DecoderError>,
    ) -> Result<Option<T>, Error> {
        let Some(number) = self.number_of(hash)? else {
            return Ok(None);
        };
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(table))?;
        let value = st(table.get(number))?;
        value
            .map(|v| decode(v.value()).map_err(|_| Error::Corrupt("undecodable content")))
            .transpose()
    }

    /// Checks the whole file: segments are contiguous from genesis, every header links to its parent, total
    /// difficulties add up, and the hash index holds exactly the stored headers. Returns the number of headers.
    /// Meant for tests and for `verify` commands; it reads everything.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] describing the first inconsistency, [`Error::Storage`] if the backend fails.
    pub fn verify(&self) -> Result<u64, Error> {
        let tail = self.tail_read();
        let tx = st(self.db.begin_read())?;
        let headers = st(tx.open_table(HEADERS))?;
        let numbers = st(tx.open_table(NUMBERS))?;
        let mut prev: Option<(SealedHeader, U256)> = None;
        let mut count = 0u64;
        for item in st(headers.iter())? {
            let (start, value) = st(item)?;
            if start.value() != count {
                return Err(Error::Corrupt("segments are not contiguous"));
            }
            for rec in records(value.value()) {
                let (header, td) = decode_record(rec?)?;
                if header.header().hash() != header.hash() {
                    return Err(Error::Corrupt("stored hash does not match the header"));
                }
                if header.number != count {
                    return Err(Error::Corrupt("header number does not match its position"));
                }
                let expected_td = match &prev {
                    None => header.difficulty,
                    Some((p, ptd)) => {
                        if header.parent_hash != p.hash() {
                            return Err(Error::Corrupt("header does not link to its parent"));
                        }
                        ptd.saturating_add(header.difficulty)
                    }
                };
                if td != expected_td {
                    return Err(Error::Corrupt("total difficulty does not add up"));
                }
                let indexed = if count < tail.indexed {
                    st(numbers.get(header.hash().as_fixed_bytes()))?.map(|v| v.value())
                } else {
                    tail.numbers.get(&header.hash()).copied()
                };
                if indexed != Some(count) {
                    return Err(Error::Corrupt("hash index misses a header"));
                }
                prev = Some((header, td));
                count += 1;
            }
        }
        if st(numbers.len())? != count.min(tail.indexed)
            || tail.numbers.len() as u64 != count.saturating_sub(tail.indexed)
        {
            return Err(Error::Corrupt("hash index has entries without headers"));
        }
        Ok(count)
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "could not make the last batches durable");
        }
    }
}

impl RedbStore {
    /// Inserts `batch` into the canonical chain and, if `clear_staged`, removes the staged headers up to its last
    /// one in the same transaction.
    fn insert_and_clear(&self, batch: Vec<BlockEntry>, clear_staged: bool) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let (tx, durable) = self.begin_write(batch.len() as u64)?;
        {
            let mut headers = st(tx.open_table(HEADERS))?;
            let head = match st(headers.last())? {
                Some((_, v)) => {
                    let rec =
                        last_record(v.value())?.ok_or(Error::Corrupt("empty header segment"))?;
                    let (h, td) = decode_record(rec)?;
                    Some((h.number, h.hash(), td))
                }
                None => None,
            };
            // On error the transaction is dropped uncommitted: nothing is stored.
            let tds = check_and_total(head, &batch)?;
            tracing::trace!(len = batch.len(), "inserting batch into redb store");
            // Headers moved out of the staging area keep their staged RLP (no second encoding).
            let mut staged = if clear_staged {
                Some(st(tx.open_table(STAGED))?)
            } else {
                None
            };
            let raw = match &staged {
                Some(table) => redb_staged::raw_rlp(table, &batch)?,
                None => redb_staged::RawRlp::default(),
            };
            let mut buf = Vec::with_capacity(SEGMENT_HEADERS * 600);
            for (i, (chunk, tds)) in batch
                .chunks(SEGMENT_HEADERS)
                .zip(tds.chunks(SEGMENT_HEADERS))
                .enumerate()
            {
                buf.clear();
                for (j, (entry, td)) in chunk.iter().zip(tds).enumerate() {
                    match raw.get(i * SEGMENT_HEADERS + j) {
                        Some(rlp) => push_raw_record(&mut buf, &entry.header.hash(), *td, rlp),
                        None => push_record(&mut buf, &entry.header, *td),
                    }
                }
                let start = chunk.first().map_or(0, |e| e.header.number);
                st(headers.insert(start, buf.as_slice()))?;
            }
            let mut bodies = st(tx.open_table(BODIES))?;
            let mut receipts = st(tx.open_table(RECEIPTS))?;
            for entry in &batch {
                let number = entry.header.number;
                if let Some(body) = &entry.body {
                    st(bodies.insert(number, rlp::encode(body).as_ref()))?;
                }
                if let Some(r) = &entry.receipts {
                    st(receipts.insert(number, rlp::encode_list(r).as_ref()))?;
                }
            }
            if let (Some(table), Some(last)) = (&mut staged, batch.last()) {
                redb_staged::clear(table, last.header.number)?;
            }
        }
        // The in-memory index changes only once the commit succeeded; readers wait for the lock meanwhile.
        let mut tail = self.tail_write();
        let flush = tail.numbers.len() + batch.len() >= tail.flush_at;
        if flush {
            let mut index: Vec<(H256, u64)> = tail.numbers.iter().map(|(h, n)| (*h, *n)).collect();
            index.extend(batch.iter().map(|e| (e.header.hash(), e.header.number)));
            // Sorted keys touch each leaf of the index once.
            index.sort_unstable();
            let mut numbers = st(tx.open_table(NUMBERS))?;
            for (hash, number) in &index {
                st(numbers.insert(hash.as_fixed_bytes(), *number))?;
            }
            let indexed = batch.last().map_or(tail.indexed, |e| e.header.number + 1);
            st(st(tx.open_table(META))?.insert(INDEXED, indexed))?;
            drop(numbers);
            st(tx.commit())?;
            tail.numbers.clear();
            tail.indexed = indexed;
        } else {
            st(tx.commit())?;
            tail.numbers
                .extend(batch.iter().map(|e| (e.header.hash(), e.header.number)));
        }
        self.committed(batch.len() as u64, durable);
        Ok(())
    }
}

impl ChainStore for RedbStore {
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        self.insert_and_clear(batch, false)
    }

    fn insert_staged(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        self.insert_and_clear(batch, true)
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        Ok(self.record(number)?.map(|(h, _)| h))
    }

    fn header_by_hash(&self, hash: &H256) -> Result<Option<SealedHeader>, Error> {
        match self.number_of(hash)? {
            Some(n) => self.header_by_number(n),
            None => Ok(None),
        }
    }

    fn body(&self, hash: &H256) -> Result<Option<Body>, Error> {
        self.blob(BODIES, hash, crate::header::decode_exact)
    }

    fn receipts(&self, hash: &H256) -> Result<Option<Vec<Receipt>>, Error> {
        self.blob(RECEIPTS, hash, |b| {
            crate::header::list_of(&rlp::Rlp::new(b))
        })
    }

    fn head(&self) -> Result<Option<(SealedHeader, U256)>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(HEADERS))?;
        let last = st(table.last())?;
        match last {
            Some((_, v)) => last_record(v.value())?.map(decode_record).transpose(),
            None => Ok(None),
        }
    }

    fn total_difficulty(&self, hash: &H256) -> Result<Option<U256>, Error> {
        match self.number_of(hash)? {
            Some(n) => Ok(self.record(n)?.map(|(_, td)| td)),
            None => Ok(None),
        }
    }

    fn rewind(&self, to_number: u64) -> Result<(), Error> {
        let Some(from) = to_number.checked_add(1) else {
            return Ok(());
        };
        let (tx, _) = self.begin_write(u64::MAX)?;
        {
            tracing::debug!(to_number, "rewinding redb store");
            let mut headers = st(tx.open_table(HEADERS))?;
            let mut removed = Vec::new();
            // Whole segments above the new head.
            for item in st(headers.extract_from_if(from.., |_, _| true))? {
                let (_, v) = st(item)?;
                for rec in records(v.value()) {
                    removed.push(record_hash(rec?));
                }
            }
            // The segment holding the new head, cut after it.
            let containing = {
                let mut range = st(headers.range::<u64>(..=to_number))?;
                match range.next_back() {
                    Some(item) => {
                        let (start, v) = st(item)?;
                        let start = start.value();
                        let keep = usize::try_from(to_number - start)
                            .unwrap_or(usize::MAX)
                            .saturating_add(1);
                        let mut kept = Vec::new();
                        let mut cut = false;
                        for (i, rec) in records(v.value()).enumerate() {
                            let rec = rec?;
                            if i < keep {
                                kept.extend_from_slice(
                                    &u32::try_from(rec.len()).unwrap_or(u32::MAX).to_le_bytes(),
                                );
                                kept.extend_from_slice(rec);
                            } else {
                                cut = true;
                                removed.push(record_hash(rec));
                            }
                        }
                        cut.then_some((start, kept))
                    }
                    None => None,
                }
            };
            if let Some((start, kept)) = containing {
                st(headers.insert(start, kept.as_slice()))?;
            }
            st(st(tx.open_table(BODIES))?.retain_in(from.., |_, _| false))?;
            st(st(tx.open_table(RECEIPTS))?.retain_in(from.., |_, _| false))?;
            let mut tail = self.tail_write();
            if from < tail.indexed {
                let mut numbers = st(tx.open_table(NUMBERS))?;
                for hash in &removed {
                    st(numbers.remove(hash.as_fixed_bytes()))?;
                }
                st(st(tx.open_table(META))?.insert(INDEXED, from))?;
                drop(numbers);
                drop(headers);
                st(tx.commit())?;
                tail.indexed = from;
            } else {
                drop(headers);
                st(tx.commit())?;
            }
            tail.numbers.retain(|_, n| *n < from);
        }
        self.committed(0, true);
        Ok(())
    }

    fn stage_headers(&self, headers: Vec<SealedHeader>) -> Result<(), Error> {
        if headers.is_empty() {
            return Ok(());
        }
        let tx = self.begin_lazy_write()?;
        // On error the transaction is dropped uncommitted: nothing is staged.
        redb_staged::stage(&mut st(tx.open_table(STAGED))?, &headers)?;
        st(tx.commit())?;
        self.committed(headers.len() as u64, false);
        Ok(())
    }

    fn staged_header(&self, number: u64) -> Result<Option<SealedHeader>, Error> {
        let tx = st(self.db.begin_read())?;
        redb_staged::get(&st(tx.open_table(STAGED))?, number)
    }

    fn staged_range(&self, from: u64, to: u64) -> Result<Vec<SealedHeader>, Error> {
        let tx = st(self.db.begin_read())?;
        redb_staged::range(&st(tx.open_table(STAGED))?, from, to)
    }

    fn lowest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        let tx = st(self.db.begin_read())?;
        redb_staged::lowest(&st(tx.open_table(STAGED))?)
    }

    fn highest_staged(&self) -> Result<Option<SealedHeader>, Error> {
        let tx = st(self.db.begin_read())?;
        redb_staged::highest(&st(tx.open_table(STAGED))?)
    }

    fn clear_staged(&self, through: u64) -> Result<(), Error> {
        let tx = self.begin_lazy_write()?;
        redb_staged::clear(&mut st(tx.open_table(STAGED))?, through)?;
        st(tx.commit())?;
        self.committed(1, false);
        Ok(())
    }

    fn hash_by_number(&self, number: u64) -> Result<Option<H256>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(HEADERS))?;
        let mut range = st(table.range::<u64>(..=number))?;
        let Some(item) = range.next_back() else {
            return Ok(None);
        };
        let (start, value) = st(item)?;
        Ok(nth_record(value.value(), number - start.value())?.map(record_hash))
    }

    fn contains(&self, hash: &H256) -> Result<bool, Error> {
        Ok(self.number_of(hash)?.is_some())
    }

    fn headers_matching(
        &self,
        request: &HeadersRequest,
        limit: u64,
    ) -> Result<Vec<SealedHeader>, Error> {
        let origin = match request.origin {
            BlockHashOrNumber::Number(n) => n,
            BlockHashOrNumber::Hash(h) => match self.number_of(&h)? {
                Some(n) => n,
                None => return Ok(Vec::new()),
            },
        };
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(HEADERS))?;
        let mut out = Vec::new();
        for n in request.block_numbers(origin, limit) {
            match find(&table, n)? {
                Some((h, _)) => out.push(h),
                None => break,
            }
        }
        Ok(out)
    }
}
