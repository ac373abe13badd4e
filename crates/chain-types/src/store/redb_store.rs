//! [`RedbStore`]: a [`ChainStore`] in a redb file.
//!
//! Layout: table `headers` maps a block number to `hash (32 bytes) || total difficulty (32 bytes, big-endian) ||
//! rlp(header)`, so reading a header needs no hashing; table `numbers` maps a hash to its number; tables `bodies`
//! and `receipts` map a hash to the RLP of the body and of the receipt list. Every batch and every rewind is one
//! write transaction, so after a crash the file holds the chain as of the last committed batch: a consistent,
//! linked prefix.

use std::path::Path;

use primitive_types::{H256, U256};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{BlockEntry, ChainStore, check_and_total};
use crate::{Body, Error, Header, Receipt, SealedHeader};

const HEADERS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("headers");
const NUMBERS: TableDefinition<'_, &[u8; 32], u64> = TableDefinition::new("numbers");
const BODIES: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("bodies");
const RECEIPTS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("receipts");

/// Bytes of a `headers` value before the header's RLP.
const PREFIX: usize = 64;

/// Default page cache of the database in bytes.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Converts any redb error.
fn st<T, E: Into<redb::Error>>(r: Result<T, E>) -> Result<T, Error> {
    r.map_err(|e| Error::storage(e.into()))
}

/// A [`ChainStore`] in a redb database file.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

/// Splits a `headers` value.
fn decode_value(value: &[u8]) -> Result<(SealedHeader, U256), Error> {
    let (prefix, rlp) = value
        .split_at_checked(PREFIX)
        .ok_or(Error::Corrupt("short header record"))?;
    let (hash, td) = prefix.split_at(32);
    let header = Header::decode_exact(rlp).map_err(|_| Error::Corrupt("undecodable header"))?;
    Ok((
        SealedHeader::new_unchecked(header, H256::from_slice(hash)),
        U256::from_big_endian(td),
    ))
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
        st(tx.commit())?;
        Ok(Self { db })
    }

    /// The number of stored headers.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the backend fails.
    pub fn len(&self) -> Result<u64, Error> {
        let tx = st(self.db.begin_read())?;
        st(st(tx.open_table(HEADERS))?.len())
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
        let value = st(table.get(number))?;
        value.map(|v| decode_value(v.value())).transpose()
    }

    /// Reads the number of block `hash`.
    fn number_of(&self, hash: &H256) -> Result<Option<u64>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(NUMBERS))?;
        Ok(st(table.get(hash.as_fixed_bytes()))?.map(|v| v.value()))
    }

    /// Reads a blob keyed by hash.
    fn blob<T>(
        &self,
        table: TableDefinition<'_, &[u8; 32], &[u8]>,
        hash: &H256,
        decode: impl FnOnce(&[u8]) -> Result<T, rlp::DecoderError>,
    ) -> Result<Option<T>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(table))?;
        let value = st(table.get(hash.as_fixed_bytes()))?;
        value
            .map(|v| decode(v.value()).map_err(|_| Error::Corrupt("undecodable content")))
            .transpose()
    }
}

impl ChainStore for RedbStore {
    fn insert_batch(&self, batch: Vec<BlockEntry>) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = st(self.db.begin_write())?;
        {
            let mut headers = st(tx.open_table(HEADERS))?;
            let head = match st(headers.last())? {
                Some((_, v)) => {
                    let (h, td) = decode_value(v.value())?;
                    Some((h.number, h.hash(), td))
                }
                None => None,
            };
            // On error the transaction is dropped uncommitted: nothing is stored.
            let tds = check_and_total(head, &batch)?;
            tracing::trace!(len = batch.len(), "inserting batch into redb store");
            let mut numbers = st(tx.open_table(NUMBERS))?;
            let mut bodies = st(tx.open_table(BODIES))?;
            let mut receipts = st(tx.open_table(RECEIPTS))?;
            for (entry, td) in batch.iter().zip(tds) {
                let hash = entry.header.hash();
                let mut buf = bytes::BytesMut::with_capacity(PREFIX + 640);
                buf.extend_from_slice(hash.as_bytes());
                buf.extend_from_slice(&td.to_big_endian());
                let mut s = rlp::RlpStream::new_with_buffer(buf);
                s.append(entry.header.header());
                let record = s.out();
                st(headers.insert(entry.header.number, record.as_ref()))?;
                st(numbers.insert(hash.as_fixed_bytes(), entry.header.number))?;
                if let Some(body) = &entry.body {
                    st(bodies.insert(hash.as_fixed_bytes(), rlp::encode(body).as_ref()))?;
                }
                if let Some(r) = &entry.receipts {
                    st(receipts.insert(hash.as_fixed_bytes(), rlp::encode_list(r).as_ref()))?;
                }
            }
        }
        st(tx.commit())
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
        self.blob(BODIES, hash, rlp::decode)
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
        last.map(|(_, v)| decode_value(v.value())).transpose()
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
        let tx = st(self.db.begin_write())?;
        {
            tracing::debug!(to_number, "rewinding redb store");
            let mut headers = st(tx.open_table(HEADERS))?;
            let mut hashes = Vec::new();
            for item in st(headers.extract_from_if(from.., |_, _| true))? {
                let (_, v) = st(item)?;
                let v = v.value();
                let hash: [u8; 32] = v
                    .get(..32)
                    .and_then(|h| h.try_into().ok())
                    .ok_or(Error::Corrupt("short header record"))?;
                hashes.push(hash);
            }
            let mut numbers = st(tx.open_table(NUMBERS))?;
            let mut bodies = st(tx.open_table(BODIES))?;
            let mut receipts = st(tx.open_table(RECEIPTS))?;
            for hash in &hashes {
                st(numbers.remove(hash))?;
                st(bodies.remove(hash))?;
                st(receipts.remove(hash))?;
            }
        }
        st(tx.commit())
    }

    fn hash_by_number(&self, number: u64) -> Result<Option<H256>, Error> {
        let tx = st(self.db.begin_read())?;
        let table = st(tx.open_table(HEADERS))?;
        let value = st(table.get(number))?;
        value
            .map(|v| {
                v.value()
                    .get(..32)
                    .map(H256::from_slice)
                    .ok_or(Error::Corrupt("short header record"))
            })
            .transpose()
    }

    fn contains(&self, hash: &H256) -> Result<bool, Error> {
        Ok(self.number_of(hash)?.is_some())
    }
}
