//! The in-order import: complete blocks from the front of the result cache go into the store in atomic
//! batches, after a pending rewind (a reorg); headers imported from the staging area leave it afterwards. After
//! a failed sync with sampled header validation, [`Importer::rollback`] removes the last unchecked headers.

use chain_types::{ChainStore, SealedHeader};

use crate::{Error, cache::ResultCache};

/// What one [`Importer::import`] call wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Imported {
    /// Blocks written.
    pub(crate) blocks: u64,
    /// Store batches written.
    pub(crate) batches: u64,
    /// The last block written.
    pub(crate) last: Option<SealedHeader>,
}

/// The import state of one sync.
#[derive(Debug, Default)]
pub(crate) struct Importer {
    /// Rewind the store to this number before the first batch.
    pub(crate) rewind_to: Option<u64>,
    /// Whether imported headers come from the staging area (then they are cleared from it).
    pub(crate) from_staging: bool,
    /// The block the sync started from (rollbacks go no lower).
    pub(crate) origin: u64,
    /// The last imported block.
    pub(crate) last: Option<SealedHeader>,
}

impl Importer {
    /// Imports up to `max` complete blocks from the front of `cache`, in batches of `batch` blocks.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if the store refuses a rewind, a batch or the staging clear.
    pub(crate) fn import(
        &mut self,
        store: &impl ChainStore,
        cache: &mut ResultCache,
        max: usize,
        batch: usize,
    ) -> Result<Imported, Error> {
        let mut out = Imported::default();
        let mut left = cache.ready().min(max);
        while left > 0 {
            let entries = cache.take_ready(left.min(batch.max(1)));
            let Some(last) = entries.last().map(|e| e.header.clone()) else {
                break;
            };
            if let Some(to) = self.rewind_to.take() {
                store.rewind(to).map_err(Error::store)?;
            }
            let n = entries.len();
            if self.from_staging {
                // Insert and leave the staging area in one write where the store can.
                store.insert_staged(entries).map_err(Error::store)?;
            } else {
                store.insert_batch(entries).map_err(Error::store)?;
            }
            left -= n;
            out.blocks += n as u64;
            out.batches += 1;
            out.last = Some(last.clone());
            self.last = Some(last);
        }
        Ok(out)
    }

    /// Removes up to `depth` of the last imported headers (no lower than the origin); returns how many.
    pub(crate) fn rollback(&self, store: &impl ChainStore, depth: u64) -> Option<(u64, u64)> {
        let last = self.last.as_ref()?;
        let to = last.number.saturating_sub(depth).max(self.origin);
        match store.rewind(to) {
            Ok(()) => Some((last.number, to)),
            Err(e) => {
                tracing::error!(error = %e, "rollback failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::test_chain::chain;
    use chain_types::{BlockEntry, Header, MemoryStore};

    use super::*;
    use crate::{Config, SyncMode};

    #[test]
    fn imports_in_batches_after_a_rewind_and_clears_the_staging_area() {
        let c = chain(10, 7);
        let store = MemoryStore::new();
        // A local chain 0..=4 whose 3 and 4 are replaced by the trusted chain.
        store
            .insert_batch(c[..3].iter().cloned().map(BlockEntry::from).collect())
            .unwrap();
        let fork: Vec<SealedHeader> = {
            let mut v = vec![c[2].clone()];
            for n in 3..5 {
                let parent_hash = v.last().unwrap().hash();
                v.push(
                    Header {
                        number: n,
                        parent_hash,
                        gas_limit: 1,
                        ..Header::default()
                    }
                    .seal(),
                );
            }
            v
        };
        store
            .insert_batch(fork[1..].iter().cloned().map(BlockEntry::from).collect())
            .unwrap();
        store.stage_headers(c[3..10].to_vec()).unwrap();
        let mut cache = ResultCache::new(SyncMode::Light, &Config::default(), 3);
        for h in &c[3..10] {
            cache.push(h.clone());
        }
        let mut imp = Importer {
            rewind_to: Some(2),
            from_staging: true,
            origin: 2,
            last: None,
        };
        let out = imp.import(&store, &mut cache, 5, 2).unwrap();
        assert_eq!((out.blocks, out.batches), (5, 3));
        assert_eq!(store.head_number().unwrap(), Some(7));
        assert_eq!(store.header_by_number(3).unwrap().unwrap(), c[3]);
        assert_eq!(store.lowest_staged().unwrap().unwrap(), c[8]);
        assert_eq!(imp.rollback(&store, 3), Some((7, 4)));
        assert_eq!(store.head_number().unwrap(), Some(4));
    }
}
