//! The trusted-head sync (post-merge, eth/69 peers): the head by hash from any peer, headers in reverse from
//! every suitable peer into the store's staging area until they link to the local chain, then the engine's
//! forward phase over the staged headers with bodies and receipts.
//!
//! Resuming: a staging area whose highest header is the trusted head is reused as far as it is linked; staged
//! headers the last run already imported are cleared first. A staging area for another head is extended towards
//! the new head if that is higher and descends from it (see [`Reverse`]), else discarded.

use chain_types::{ChainStore, H256, SealedHeader};
use tokio::sync::watch;

use crate::{
    Error, SyncMode,
    engine::Engine,
    headers::HeaderSource,
    reverse::Reverse,
    staged::StagedReader,
    state::{Shared, lock},
};

/// Runs one trusted-head sync to `target`; returns the local head at the end.
pub(crate) async fn run<S: ChainStore>(
    d: &Shared<S>,
    target: H256,
    mode: SyncMode,
    cancel: watch::Receiver<bool>,
) -> Result<SealedHeader, Error> {
    let store = &d.store;
    let (local_head, _) = store
        .head()
        .map_err(Error::store)?
        .ok_or(Error::EmptyStore)?;
    let batch = d.config.reverse_batch.max(1);
    let window = d.config.max_queued_headers as u64;
    let mut reverse = Reverse::new(target, local_head.number, batch, window);
    reverse.set_check_frequency(d.config.header_check_frequency);
    if let Some((top, low)) = resumable(store, &local_head)? {
        if top.hash() == target {
            tracing::debug!(
                head = top.number,
                low = low.number,
                "resuming from staged headers"
            );
            reverse.resume(top, low);
        } else {
            tracing::debug!(
                top = top.number,
                low = low.number,
                "trying to extend headers staged for another head"
            );
            reverse.extend(top, low);
        }
    }
    let mut engine = Engine::new(d, mode, cancel, None);
    engine.headers = HeaderSource::Reverse(Box::new(reverse));
    engine.run().await?;
    let HeaderSource::Reverse(reverse) = std::mem::replace(&mut engine.headers, HeaderSource::Idle)
    else {
        return Err(Error::InvalidChain(
            "reverse download ended in another phase",
        ));
    };
    let (Some(head), Some(link)) = (reverse.head().cloned(), reverse.link()) else {
        return Err(Error::InvalidChain("reverse download ended unlinked"));
    };
    {
        let mut p = lock(&d.progress);
        if p.completed || p.height != head.number || p.origin > link {
            p.origin = link;
        }
        p.completed = false;
        p.height = head.number;
        p.current = local_head.number;
    }
    if link == head.number {
        // The trusted head is already a local block.
        store.clear_staged(u64::MAX).map_err(Error::store)?;
        return Ok(head);
    }
    let link_header = store
        .header_by_number(link)
        .map_err(Error::store)?
        .ok_or(Error::InvalidChain("link header vanished"))?;
    tracing::debug!(link, height = head.number, "reverse download linked");
    engine.start_above(&link_header);
    engine.importer.from_staging = true;
    if link < local_head.number {
        engine.importer.rewind_to = Some(link);
    }
    engine.height = head.number;
    engine.headers = HeaderSource::Staged(StagedReader::new(&link_header, head.number));
    engine.run().await?;
    let (local, _) = store
        .head()
        .map_err(Error::store)?
        .ok_or(Error::EmptyStore)?;
    if local.hash() != head.hash() {
        return Err(Error::InvalidChain("import did not reach the trusted head"));
    }
    Ok(local)
}

/// The staged chain a sync can resume from or extend: the highest and the lowest staged header, after clearing
/// what is already imported.
fn resumable<S: ChainStore>(
    store: &S,
    local_head: &SealedHeader,
) -> Result<Option<(SealedHeader, SealedHeader)>, Error> {
    let Some(top) = store.highest_staged().map_err(Error::store)? else {
        return Ok(None);
    };
    // Imported by the last run but not cleared (a crash between the two writes): clear them. Staged headers below
    // the local head that are not local (the trusted chain forks off below it) stay; they link further down.
    if store
        .staged_header(local_head.number)
        .map_err(Error::store)?
        .is_some_and(|s| s.hash() == local_head.hash())
    {
        store
            .clear_staged(local_head.number)
            .map_err(Error::store)?;
    }
    match store.lowest_staged().map_err(Error::store)? {
        Some(low) => Ok(Some((top, low))),
        None => Ok(None),
    }
}
