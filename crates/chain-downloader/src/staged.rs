//! The header source of the trusted-head sync's forward phase: staged headers read back from the store in
//! rising order, as far as the header window allows, each checked to link to the one before.

use chain_types::{ChainStore, H256, SealedHeader};

use crate::Error;

/// Most staged headers read per store call (one range read).
const READ_CHUNK: u64 = 4096;

/// Reads staged headers `next..=top`.
#[derive(Debug)]
pub(crate) struct StagedReader {
    next: u64,
    top: u64,
    parent: H256,
}

impl StagedReader {
    /// A reader for the staged headers above `link` (the local header the staged chain starts on) up to `top`.
    pub(crate) fn new(link: &SealedHeader, top: u64) -> Self {
        Self {
            next: link.number + 1,
            top,
            parent: link.hash(),
        }
    }

    /// Whether every staged header has been read.
    pub(crate) const fn finished(&self) -> bool {
        self.next > self.top
    }

    /// The next number to read.
    pub(crate) const fn next(&self) -> u64 {
        self.next
    }

    /// Reads the staged headers from the next one up to `end` (inclusive, capped at the top and at one chunk).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChain`] if a staged header is missing or does not link to the one below; store errors.
    pub(crate) fn read(
        &mut self,
        store: &impl ChainStore,
        end: u64,
    ) -> Result<Vec<SealedHeader>, Error> {
        let end = end
            .min(self.top)
            .min(self.next.saturating_add(READ_CHUNK - 1));
        if self.next > end {
            return Ok(Vec::new());
        }
        let out = store.staged_range(self.next, end).map_err(Error::store)?;
        if (out.len() as u64) < end - self.next + 1 {
            return Err(Error::InvalidChain("staged header missing"));
        }
        for h in &out {
            if h.parent_hash != self.parent || h.number != self.next {
                return Err(Error::InvalidChain("staged headers do not link"));
            }
            self.parent = h.hash();
            self.next += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chain_types::{Header, MemoryStore};

    use super::*;

    #[test]
    fn reads_linked_staged_headers_up_to_the_window() {
        let mut c: Vec<SealedHeader> = Vec::new();
        for i in 0..6 {
            let parent_hash = c.last().map(SealedHeader::hash).unwrap_or_default();
            c.push(
                Header {
                    number: i,
                    parent_hash,
                    ..Header::default()
                }
                .seal(),
            );
        }
        let store = MemoryStore::new();
        store.stage_headers(c[2..6].to_vec()).unwrap();
        let mut r = StagedReader::new(&c[1], 5);
        assert_eq!(r.read(&store, 3).unwrap(), c[2..4]);
        assert!(!r.finished());
        assert_eq!(r.read(&store, 100).unwrap(), c[4..6]);
        assert!(r.finished());
        let mut wrong = StagedReader::new(&c[0], 5);
        assert!(wrong.read(&store, 5).unwrap_err().is_invalid_chain());
    }
}
