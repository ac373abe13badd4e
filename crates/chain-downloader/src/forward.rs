//! The forward sync (`Synchronise`, eth/68 and older peers): the announced head from the master, the common
//! ancestor (a span request, then a binary search), then the engine with the header skeleton.

use std::sync::Arc;

use chain_types::{
    BlockHashOrNumber, ChainStore, DynChainSource, H256, Header, HeadersRequest, SealedHeader, U256,
};
use tokio::{sync::watch, time::Instant};

use crate::{
    Error, SyncMode,
    ancestor::span_request,
    config::MAX_HEAD_NUMBER,
    engine::Engine,
    headers::HeaderSource,
    peer::Kind,
    skeleton::Skeleton,
    state::{Shared, lock},
};

/// Runs one forward sync with `master`, which announced `target` with total difficulty `target_td`; returns the
/// local head at the end. A failed sync with sampled validation rolls back unchecked headers.
pub(crate) async fn run<S: ChainStore>(
    d: &Shared<S>,
    master: Arc<dyn DynChainSource>,
    target: H256,
    target_td: U256,
    mode: SyncMode,
    cancel: watch::Receiver<bool>,
) -> Result<SealedHeader, Error> {
    let master_id = master.id().to_owned();
    let mut engine = Engine::new(d, mode, cancel, Some(master));
    let result = sync(&mut engine, &master_id, target, target_td).await;
    if let Err(e) = &result
        && e.is_drop()
    {
        engine.rollback();
    }
    result
}

async fn sync<S: ChainStore>(
    e: &mut Engine<'_, S>,
    master: &str,
    target: H256,
    target_td: U256,
) -> Result<SealedHeader, Error> {
    let store = &e.d.store;
    let (local_head, _) = store
        .head()
        .map_err(Error::store)?
        .ok_or(Error::EmptyStore)?;
    let head = fetch_head(e, master, target).await?;
    let cfg = &e.d.config;
    if matches!(e.mode, SyncMode::Fast | SyncMode::Light)
        && cfg
            .checkpoint
            .is_some_and(|checkpoint| head.number < checkpoint)
    {
        return Err(Error::UnsyncedPeer);
    }
    let ancestor = match e
        .d
        .store
        .header_by_hash(&head.hash())
        .map_err(Error::store)?
    {
        Some(h) if h.number == head.number => h,
        _ => find_ancestor(e, master, &local_head, head.number).await?,
    };
    {
        let mut p = lock(&e.d.progress);
        // The starting block moves only if the last sync reached its target or this one starts lower (a reorg),
        // so that a retry after a failure reports the progress of the whole attempt.
        if p.completed || p.height <= ancestor.number || p.origin > ancestor.number {
            p.origin = ancestor.number;
        }
        p.completed = false;
        p.height = head.number;
        p.current = local_head.number;
    }
    tracing::debug!(
        origin = ancestor.number,
        height = head.number,
        "common ancestor found"
    );
    e.start_above(&ancestor);
    if ancestor.number < local_head.number {
        e.importer.rewind_to = Some(ancestor.number);
    }
    e.height = head.number;
    let fetch = e.d.config.max_header_fetch;
    let size = e.d.config.max_skeleton_size;
    e.headers = HeaderSource::Skeleton(Box::new(Skeleton::new(
        &ancestor,
        head.number,
        target,
        fetch,
        size,
    )));
    e.run().await?;
    let (head, td) =
        e.d.store
            .head()
            .map_err(Error::store)?
            .ok_or(Error::EmptyStore)?;
    if target_td > td {
        return Err(Error::StallingPeer);
    }
    Ok(head)
}

/// One header request to `peer`, bounded by the current timeout and by cancellation (the forward sync's
/// sequential head fetch and ancestor search).
async fn request_once<S: ChainStore>(
    e: &mut Engine<'_, S>,
    peer: &str,
    request: HeadersRequest,
) -> Result<Vec<SealedHeader>, Error> {
    let source = e
        .peers
        .get(peer)
        .map(|p| p.source.clone())
        .ok_or(Error::NoPeers)?;
    let ttl = e.qos.ttl();
    let fut = tokio::time::timeout(ttl, source.headers_boxed(request));
    let started = Instant::now();
    let outcome = tokio::select! {
        biased;
        _ = e.cancel.changed() => return Err(Error::Cancelled),
        r = fut => r,
    };
    let headers = match outcome {
        Err(_) => return Err(Error::Timeout),
        Ok(Err(e)) => {
            return Err(Error::Source {
                peer: peer.to_owned(),
                source: Arc::new(e),
            });
        }
        Ok(Ok(h)) => h,
    };
    if let Some(p) = e.peers.get_mut(peer) {
        p.update(Kind::Headers, headers.len(), started.elapsed());
    }
    lock(&e.d.stats).requests[Kind::Headers as usize] += 1;
    Ok(headers.into_iter().map(Header::seal).collect())
}

/// Fetches the announced head; it must hash to the announced hash.
async fn fetch_head<S: ChainStore>(
    e: &mut Engine<'_, S>,
    master: &str,
    target: H256,
) -> Result<SealedHeader, Error> {
    let request = HeadersRequest {
        origin: BlockHashOrNumber::Hash(target),
        amount: 1,
        skip: 0,
        reverse: true,
    };
    let mut headers = request_once(e, master, request).await?;
    if headers.len() != 1 {
        return Err(Error::BadPeer("head reply must hold exactly one header"));
    }
    let head = headers
        .pop()
        .ok_or(Error::BadPeer("head reply must hold exactly one header"))?;
    if head.hash() != target {
        return Err(Error::HeadMismatch {
            number: head.number,
            got: head.hash(),
            announced: target,
        });
    }
    if head.number > MAX_HEAD_NUMBER {
        return Err(Error::BadPeer("head number out of range"));
    }
    Ok(head)
}

/// Whether `header` is in the local chain at its number.
fn known<S: ChainStore>(store: &S, header: &SealedHeader) -> Result<bool, Error> {
    Ok(store
        .header_by_hash(&header.hash())
        .map_err(Error::store)?
        .is_some_and(|h| h.number == header.number))
}

fn local_header<S: ChainStore>(store: &S, number: u64) -> Result<SealedHeader, Error> {
    store
        .header_by_number(number)
        .map_err(Error::store)?
        .ok_or(Error::InvalidAncestor)
}

/// Finds the common ancestor with the master's chain: a span request, then a binary search.
async fn find_ancestor<S: ChainStore>(
    e: &mut Engine<'_, S>,
    master: &str,
    local_head: &SealedHeader,
    remote: u64,
) -> Result<SealedHeader, Error> {
    let local = local_head.number;
    let max_fork = e.d.config.max_fork_ancestry(e.mode);
    let floor = local.checked_sub(max_fork);
    let below_floor = |n: u64| floor.is_some_and(|f| n <= f);
    let span = span_request(remote, local);
    let request = HeadersRequest {
        origin: BlockHashOrNumber::Number(span.from),
        amount: span.count,
        skip: span.span - 1,
        reverse: false,
    };
    let headers = request_once(e, master, request).await?;
    if headers.is_empty() {
        return Err(Error::EmptyHeaderSet);
    }
    if headers.len() as u64 > span.count {
        return Err(Error::BadPeer("span reply longer than requested"));
    }
    for (i, h) in headers.iter().enumerate() {
        if h.number != span.from + i as u64 * span.span {
            return Err(Error::InvalidChain("span reply broke chain ordering"));
        }
    }
    for h in headers.iter().rev() {
        if h.number < span.from || h.number > span.max {
            continue;
        }
        if known(&e.d.store, h)? {
            if below_floor(h.number) {
                return Err(Error::InvalidAncestor);
            }
            return local_header(&e.d.store, h.number);
        }
    }
    // Binary search.
    let mut start = floor.unwrap_or(0);
    let mut end = remote;
    while start + 1 < end {
        let check = start + (end - start) / 2;
        let mut headers = request_once(e, master, HeadersRequest::rising(check, 1)).await?;
        if headers.len() != 1 {
            return Err(Error::BadPeer(
                "binary search reply must hold exactly one header",
            ));
        }
        let h = headers.pop().ok_or(Error::BadPeer(
            "binary search reply must hold exactly one header",
        ))?;
        if h.number != check {
            return Err(Error::BadPeer("binary search reply has the wrong number"));
        }
        match e.d.store.header_by_hash(&h.hash()).map_err(Error::store)? {
            None => end = check,
            Some(local) if local.number != check => {
                return Err(Error::BadPeer(
                    "binary search header known at another number",
                ));
            }
            Some(_) => start = check,
        }
    }
    if below_floor(start) {
        return Err(Error::InvalidAncestor);
    }
    local_header(&e.d.store, start)
}
