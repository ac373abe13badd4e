//! Importing chains in the format of `geth export`: a concatenation of RLP blocks, each
//! `[header, transactions, ommers]` with `withdrawals` appended from Shanghai on (geth's `exportBlock`, which may
//! also carry an EIP-7928 block access list as a fifth item: such blocks are refused, as `chain-types` has no type
//! for them), optionally gzip-compressed (a name ending in `.gz`).
//!
//! The file is streamed: one block is in memory at a time (its size checked against [`MAX_BLOCK_BYTES`] before it
//! is read), plus one store batch. Each block must link to the one before it and its body must match its header's
//! roots; blocks the store already holds are checked against it and skipped, so a file that starts before the
//! stored head continues it, while a gap or another chain is refused. Blocks are stored in atomic batches, so an
//! error or a kill leaves the store holding a linked prefix of the file.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use chain_types::{Block, BlockEntry, ChainStore, SealedHeader};
use indicatif::ProgressBar;

/// The largest RLP block accepted from a file, in bytes (mainnet blocks are a few MiB at most).
pub(crate) const MAX_BLOCK_BYTES: usize = 64 << 20;

/// The most blocks in one store batch.
const BATCH_BLOCKS: usize = 1024;

/// The most block bytes in one store batch.
const BATCH_BYTES: usize = 32 << 20;

/// The header fields `chain-types` knows (15 base fields, then the optional ones through Amsterdam's
/// `slot_number`).
const KNOWN_HEADER_FIELDS: usize = 23;

/// A reader that counts the bytes taken from the file (before decompression), for progress.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads RLP blocks one at a time from a byte stream.
pub(crate) struct BlockReader {
    inner: Box<dyn BufRead + Send>,
    /// Bytes of the (decompressed) stream consumed so far.
    offset: u64,
    /// Bytes of the file read so far (compressed bytes for a `.gz` file).
    file_bytes: Arc<AtomicU64>,
    /// The file's size, if known.
    file_len: Option<u64>,
}

impl std::fmt::Debug for BlockReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockReader")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl BlockReader {
    /// Opens `path`, decompressing it if its name ends in `.gz`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let file_len = file.metadata().ok().map(|m| m.len());
        let file_bytes = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: file,
            count: file_bytes.clone(),
        };
        let inner: Box<dyn BufRead + Send> = if is_gzip(path) {
            Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
                BufReader::new(counting),
            )))
        } else {
            Box::new(BufReader::with_capacity(1 << 20, counting))
        };
        Ok(Self {
            inner,
            offset: 0,
            file_bytes,
            file_len,
        })
    }

    /// A reader over bytes in memory (for tests).
    #[cfg(test)]
    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            inner: Box::new(std::io::Cursor::new(bytes)),
            offset: 0,
            file_bytes: Arc::new(AtomicU64::new(0)),
            file_len: None,
        }
    }

    /// The next block's raw RLP and its byte offset in the stream; `None` at the end of the stream.
    ///
    /// # Errors
    ///
    /// When the stream ends inside a block, an item is not a list, its length is not canonical or above
    /// [`MAX_BLOCK_BYTES`], or reading fails.
    pub(crate) fn next_raw(&mut self) -> anyhow::Result<Option<(u64, Vec<u8>)>> {
        let start = self.offset;
        let mut first = [0u8; 1];
        loop {
            match self.inner.read(&mut first) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context(format!("cannot read at byte {start}")),
            }
        }
        let (len_bytes, payload_len) = match first[0] {
            b @ 0xc0..=0xf7 => (0, usize::from(b - 0xc0)),
            b @ 0xf8..=0xff => (usize::from(b - 0xf7), 0),
            b => bail!(
                "byte {start}: not a block (an RLP list starts with 0xc0 or above, found {b:#04x})"
            ),
        };
        let mut prefix = vec![first[0]];
        let payload_len = if len_bytes == 0 {
            payload_len
        } else {
            let mut len = [0u8; 8];
            self.read_exact(&mut len[8 - len_bytes..], start)?;
            prefix.extend_from_slice(&len[8 - len_bytes..]);
            let len = u64::from_be_bytes(len);
            if prefix[1] == 0 || len < 56 {
                bail!("byte {start}: the block's RLP length is not canonical");
            }
            usize::try_from(len).unwrap_or(usize::MAX)
        };
        if payload_len > MAX_BLOCK_BYTES {
            bail!(
                "byte {start}: a block of {payload_len} bytes, more than the limit of {MAX_BLOCK_BYTES}"
            );
        }
        let mut raw = Vec::with_capacity(prefix.len() + payload_len);
        raw.extend_from_slice(&prefix);
        raw.resize(prefix.len() + payload_len, 0);
        self.read_exact(&mut raw[prefix.len()..], start)?;
        self.offset = start + raw.len() as u64;
        Ok(Some((start, raw)))
    }

    /// Reads exactly `buf.len()` bytes of the block starting at `start`.
    fn read_exact(&mut self, buf: &mut [u8], start: u64) -> anyhow::Result<()> {
        match self.inner.read_exact(buf) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                bail!("byte {start}: the file is truncated inside a block")
            }
            Err(e) => Err(e).context(format!("cannot read the block at byte {start}")),
        }
    }

    /// The next block, decoded; `None` at the end of the stream.
    ///
    /// # Errors
    ///
    /// As [`BlockReader::next_raw`], and when the block does not decode.
    pub(crate) fn next_block(&mut self) -> anyhow::Result<Option<Block>> {
        let Some((start, raw)) = self.next_raw()? else {
            return Ok(None);
        };
        match chain_types::codec::decode_exact::<Block>(&raw) {
            Ok(block) => Ok(Some(block)),
            Err(e) => bail!("byte {start}: not a valid block: {e}{}", decode_hint(&raw)),
        }
    }

    /// Bytes of the file read so far and the file's size, for progress.
    pub(crate) fn file_progress(&self) -> (u64, Option<u64>) {
        (self.file_bytes.load(Ordering::Relaxed), self.file_len)
    }
}

/// Whether `path` names a gzip file (`.gz`).
pub(crate) fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Why a block that is a well-formed list did not decode, when it is a known limitation.
fn decode_hint(raw: &[u8]) -> String {
    let block = rlp::Rlp::new(raw);
    let items = block.item_count().unwrap_or(0);
    let header_fields = block.at(0).and_then(|h| h.item_count()).unwrap_or(0);
    let number: Option<u64> = block.at(0).and_then(|h| h.val_at(8)).ok();
    let at = number.map_or_else(String::new, |n| format!(" (block #{n})"));
    if header_fields > KNOWN_HEADER_FIELDS {
        format!(
            "{at}: its header has {header_fields} fields, more than the {KNOWN_HEADER_FIELDS} known through Amsterdam"
        )
    } else if items == 5 {
        format!("{at}: it carries an EIP-7928 block access list, which is not supported")
    } else {
        at
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportSummary {
    /// Blocks read from the file.
    pub(crate) read: u64,
    /// Blocks the store already held (checked and skipped).
    pub(crate) skipped: u64,
    /// Blocks stored.
    pub(crate) imported: u64,
    /// The stored head after the import.
    pub(crate) head: SealedHeader,
}

/// Imports the blocks of `reader` into `store`, whose chain starts at `genesis`.
///
/// Every block must link to the previous block of the file, and its body must match the header's roots. The first
/// block may be any block up to the one after the stored head: stored blocks must be the same blocks (compared by
/// hash) and are skipped. Verified blocks are stored in batches; when a block fails, the blocks before it are stored
/// and the error names the failing block.
///
/// # Errors
///
/// When the store does not start at `genesis`, the file holds no block, a block is malformed, does not link, does
/// not match its roots, differs from a stored block (another chain) or leaves a gap after the stored head, or the
/// store fails.
pub(crate) fn import_blocks(
    store: &dyn ChainStore,
    genesis: &SealedHeader,
    reader: &mut BlockReader,
    bar: Option<&ProgressBar>,
) -> anyhow::Result<ImportSummary> {
    match store.header_by_number(0)? {
        Some(stored) if stored.hash() == genesis.hash() => {}
        Some(stored) => bail!(
            "the store's genesis {:#x} is not the chain's genesis {:#x}",
            stored.hash(),
            genesis.hash()
        ),
        None => bail!("the store holds no genesis"),
    }
    let (stored_head, _) = store.head()?.context("the store holds no genesis")?;
    let mut summary = ImportSummary {
        read: 0,
        skipped: 0,
        imported: 0,
        head: stored_head.clone(),
    };
    let mut batch = Batch::default();
    let result = (|| {
        let mut prev: Option<SealedHeader> = None;
        while let Some(block) = reader.next_block()? {
            check_block(store, &stored_head, prev.as_ref(), &block)?;
            summary.read += 1;
            prev = Some(block.header.clone());
            if block.header.number <= stored_head.number {
                summary.skipped += 1;
            } else {
                batch.push(block);
                if batch.is_full() {
                    summary.imported += batch.flush(store)?;
                }
            }
            if let Some(bar) = bar {
                let (done, total) = reader.file_progress();
                if let Some(total) = total {
                    bar.set_length(total.max(1));
                }
                bar.set_position(done);
            }
        }
        if summary.read == 0 {
            bail!("the file holds no blocks");
        }
        Ok(())
    })();
    // The verified blocks before a failure are kept: the store stays a linked prefix of the file.
    let flushed = batch.flush(store);
    result?;
    summary.imported += flushed?;
    summary.head = store.head()?.context("the store is empty")?.0;
    Ok(summary)
}

/// Checks one block of the file: its link to the previous block of the file (or, for the first, its place against
/// the stored head), a stored block's hash, and a new block's roots.
fn check_block(
    store: &dyn ChainStore,
    stored_head: &SealedHeader,
    prev: Option<&SealedHeader>,
    block: &Block,
) -> anyhow::Result<()> {
    let header = &block.header;
    let number = header.number;
    match prev {
        Some(prev)
            if Some(number) != prev.number.checked_add(1) || header.parent_hash != prev.hash() =>
        {
            bail!(
                "block #{number} ({:#x}) does not link to the block before it in the file (#{} {:#x})",
                header.hash(),
                prev.number,
                prev.hash()
            );
        }
        Some(_) => {}
        None if number > stored_head.number.saturating_add(1) => bail!(
            "the file starts at block #{number} but the data directory ends at #{}: blocks #{}..#{} are missing",
            stored_head.number,
            stored_head.number + 1,
            number - 1
        ),
        None => {}
    }
    if number <= stored_head.number {
        let stored = store.hash_by_number(number)?;
        if stored != Some(header.hash()) {
            bail!(
                "block #{number} of the file ({:#x}) is not the stored block #{number} ({}): the file holds another chain",
                header.hash(),
                stored.map_or_else(|| "missing".to_owned(), |h| format!("{h:#x}"))
            );
        }
        return Ok(());
    }
    if number == stored_head.number + 1 && header.parent_hash != stored_head.hash() {
        bail!(
            "block #{number} ({:#x}) does not link to the stored head #{} ({:#x}): the file holds another chain",
            header.hash(),
            stored_head.number,
            stored_head.hash()
        );
    }
    block
        .body
        .check_against(header.header())
        .with_context(|| format!("block #{number} ({:#x})", header.hash()))
}

/// Verified blocks waiting to be stored.
#[derive(Debug, Default)]
struct Batch {
    entries: Vec<BlockEntry>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, block: Block) {
        self.bytes += block.header.approx_size() + block.body.approx_size();
        self.entries
            .push(BlockEntry::with_body(block.header, block.body));
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= BATCH_BLOCKS || self.bytes >= BATCH_BYTES
    }

    /// Stores the batch in one atomic insert; returns how many blocks it held.
    fn flush(&mut self, store: &dyn ChainStore) -> anyhow::Result<u64> {
        if self.entries.is_empty() {
            return Ok(0);
        }
        let entries = std::mem::take(&mut self.entries);
        self.bytes = 0;
        let count = entries.len() as u64;
        let last = entries.last().map(|e| e.header.number);
        store
            .insert_batch(entries)
            .with_context(|| format!("cannot store the blocks up to #{}", last.unwrap_or(0)))?;
        Ok(count)
    }
}

/// The first block of the file at `path`, if the file has one.
///
/// # Errors
///
/// When the file cannot be read or its first block is malformed.
pub(crate) fn first_block(path: &Path) -> anyhow::Result<Option<Block>> {
    BlockReader::open(path)?.next_block()
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
