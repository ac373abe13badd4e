//! The staging area of [`RedbStore`](super::RedbStore): table `staged_segments` holds the staged chain in
//! segments like the canonical `headers` table. The key is the number of a segment's first header, the value the
//! concatenated records of up to [`STAGED_SEGMENT_HEADERS`] consecutive staged headers, each record being
//! `length (u32, little-endian) || hash (32 bytes) || rlp(header)`.
//!
//! One value per segment instead of one per header keeps a staged batch to a few B-tree inserts (and a clear to a
//! few removals), so staging and importing from the staging area cost about what the canonical table costs.

use redb::{ReadableTable, Table, TableDefinition};

use super::BlockEntry;
use super::redb_store::{length_prefixed, st};
use super::{StagedSide, check_staged};
use crate::{Error, Header, SealedHeader};

/// The staging table.
pub(super) const STAGED: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("staged_segments");

/// Most headers in one staged segment.
const STAGED_SEGMENT_HEADERS: usize = 512;

/// Iterates over the records of a segment value (each without its length: hash, then RLP).
fn records(value: &[u8]) -> impl Iterator<Item = Result<&[u8], Error>> {
    length_prefixed(value, 33, "malformed staged segment")
}

/// Decodes a record.
fn decode(rec: &[u8]) -> Result<SealedHeader, Error> {
    let (hash, rlp) = rec.split_at(32);
    let header =
        Header::decode_exact(rlp).map_err(|_| Error::Corrupt("undecodable staged header"))?;
    Ok(SealedHeader::new_unchecked(
        header,
        primitive_types::H256::from_slice(hash),
    ))
}

/// Appends the record of `header` to `buf`.
fn push_record(buf: &mut Vec<u8>, header: &SealedHeader) {
    let mut s = rlp::RlpStream::new_with_buffer(bytes::BytesMut::new());
    s.append(header.header());
    let rlp = s.out();
    let len = u32::try_from(32 + rlp.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(header.hash().as_bytes());
    buf.extend_from_slice(&rlp);
}

/// Appends a raw record (without its length) to `buf`.
fn push_raw(buf: &mut Vec<u8>, rec: &[u8]) {
    buf.extend_from_slice(&u32::try_from(rec.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(rec);
}

/// The lowest staged header.
pub(super) fn lowest<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
) -> Result<Option<SealedHeader>, Error> {
    let Some((_, v)) = st(table.first())? else {
        return Ok(None);
    };
    records(v.value())
        .next()
        .transpose()?
        .map(decode)
        .transpose()
}

/// The highest staged header.
pub(super) fn highest<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
) -> Result<Option<SealedHeader>, Error> {
    let Some((_, v)) = st(table.last())? else {
        return Ok(None);
    };
    let mut last = None;
    for rec in records(v.value()) {
        last = Some(rec?);
    }
    last.map(decode).transpose()
}

/// The staged headers `from..=to`, rising, stopping at the first gap.
pub(super) fn range<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    from: u64,
    to: u64,
) -> Result<Vec<SealedHeader>, Error> {
    let mut out = Vec::new();
    if to < from {
        return Ok(out);
    }
    // The segment holding `from` starts at or below it.
    let start = match st(st(table.range::<u64>(..=from))?.next_back().transpose())? {
        Some((k, _)) => k.value(),
        None => from,
    };
    let mut next = from;
    'segments: for item in st(table.range::<u64>(start..=to))? {
        let (key, value) = st(item)?;
        let key = key.value();
        if key > next {
            break;
        }
        for (i, rec) in records(value.value()).enumerate() {
            let number = key.saturating_add(i as u64);
            if number < next {
                continue;
            }
            if number > to {
                break 'segments;
            }
            out.push(decode(rec?)?);
            next = number.saturating_add(1);
        }
    }
    Ok(out)
}

/// The staged header `number`.
pub(super) fn get<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    number: u64,
) -> Result<Option<SealedHeader>, Error> {
    Ok(range(table, number, number)?.pop())
}

/// Stages `headers` below or above the staged chain (see [`ChainStore::stage_headers`](super::ChainStore)).
pub(super) fn stage(
    table: &mut Table<'_, u64, &'static [u8]>,
    headers: &[SealedHeader],
) -> Result<(), Error> {
    let low = lowest(table)?;
    let high = highest(table)?;
    let _: StagedSide = check_staged(low.as_ref(), high.as_ref(), headers)?;
    let mut buf = Vec::with_capacity(STAGED_SEGMENT_HEADERS * 600);
    for chunk in headers.chunks(STAGED_SEGMENT_HEADERS) {
        buf.clear();
        for h in chunk {
            push_record(&mut buf, h);
        }
        if let Some(first) = chunk.first() {
            st(table.insert(first.number, buf.as_slice()))?;
        }
    }
    Ok(())
}

/// Removes the staged headers numbered `through` or lower.
pub(super) fn clear(table: &mut Table<'_, u64, &'static [u8]>, through: u64) -> Result<(), Error> {
    // The segment holding `through` keeps the headers above it, under a new key.
    let kept = match st(st(table.range::<u64>(..=through))?.next_back().transpose())? {
        Some((key, value)) => {
            let key = key.value();
            let mut kept = Vec::new();
            for (i, rec) in records(value.value()).enumerate() {
                if key.saturating_add(i as u64) > through {
                    push_raw(&mut kept, rec?);
                }
            }
            kept
        }
        None => Vec::new(),
    };
    st(table.retain_in(..=through, |_, _| false))?;
    if !kept.is_empty()
        && let Some(key) = through.checked_add(1)
    {
        st(table.insert(key, kept.as_slice()))?;
    }
    Ok(())
}

/// The staged RLP of some headers of a batch, by index in the batch.
#[derive(Debug, Default)]
pub(super) struct RawRlp {
    /// The RLP, back to back.
    bytes: Vec<u8>,
    /// Per batch index: the range of its RLP in `bytes`, if it was staged with the same hash.
    ranges: Vec<Option<(usize, usize)>>,
}

impl RawRlp {
    /// The staged RLP of the `index`-th header of the batch.
    pub(super) fn get(&self, index: usize) -> Option<&[u8]> {
        let (start, end) = (*self.ranges.get(index)?)?;
        self.bytes.get(start..end)
    }
}

/// The staged RLP of the headers of `batch` (rising, consecutive) that are staged with the same hash.
pub(super) fn raw_rlp<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    batch: &[BlockEntry],
) -> Result<RawRlp, Error> {
    let mut out = RawRlp {
        bytes: Vec::new(),
        ranges: vec![None; batch.len()],
    };
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        return Ok(out);
    };
    let (from, to) = (first.header.number, last.header.number);
    let start = match st(st(table.range::<u64>(..=from))?.next_back().transpose())? {
        Some((k, _)) => k.value(),
        None => from,
    };
    for item in st(table.range::<u64>(start..=to))? {
        let (key, value) = st(item)?;
        let key = key.value();
        for (i, rec) in records(value.value()).enumerate() {
            let number = key.saturating_add(i as u64);
            if number < from {
                continue;
            }
            let Some(index) = usize::try_from(number - from)
                .ok()
                .filter(|&i| i < batch.len())
            else {
                break;
            };
            let rec = rec?;
            let (hash, rlp) = rec.split_at(32);
            if batch[index].header.hash().as_bytes() == hash {
                let at = out.bytes.len();
                out.bytes.extend_from_slice(rlp);
                out.ranges[index] = Some((at, out.bytes.len()));
            }
        }
    }
    Ok(out)
}
