//! The header sources behind the engine ([`HeaderSource`]): what header requests to send, what their replies
//! do, and what is ready to go on (validated forward batches into the header queue, linked reverse batches into
//! the store's staging area, staged headers read back).
//!
//! A source never touches peers or requests itself; it reports [`Effect`]s that the engine applies.

use std::collections::{HashMap, VecDeque};

use chain_types::{ChainStore, Header, SealedHeader};

use crate::{
    Error, HeaderValidator,
    peer::SyncPeer,
    request::{Ask, HeaderJob},
    reverse::{Reverse, Verdict},
    skeleton::{FillVerdict, Skeleton},
    staged::StagedReader,
};

/// Where the engine gets its headers from.
#[derive(Debug)]
pub(crate) enum HeaderSource {
    /// None yet.
    Idle,
    /// The forward skeleton from a master peer.
    Skeleton(Box<Skeleton>),
    /// The reverse download from a trusted head into the staging area.
    Reverse(Box<Reverse>),
    /// Staged headers read back from the store.
    Staged(StagedReader),
}

/// What the engine must do for a header source.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Send this request to this peer.
    Send(String, Ask),
    /// Count an invalid delivery against the peer.
    Strike(String, Error),
    /// Drop the peer now.
    Drop(String, Error),
    /// Zero the peer's header throughput (its next request is small).
    Slow(String),
    /// `n` headers were staged.
    Staged(u64),
}

/// What a source sees of the engine when it schedules.
#[derive(Debug)]
pub(crate) struct View<'a> {
    /// Peers idle for headers, in preference order.
    pub(crate) idle: &'a [String],
    /// Header requests in flight.
    pub(crate) in_flight: usize,
    /// Every peer of the sync.
    pub(crate) peers: &'a HashMap<String, SyncPeer>,
    /// The master, in a forward sync.
    pub(crate) master: Option<&'a str>,
    /// Headers up to (excluding) this number fit into the header window.
    pub(crate) window_end: u64,
}

/// The validated headers waiting for the result cache, and the last of them.
#[derive(Debug)]
pub(crate) struct Queue {
    /// The headers.
    pub(crate) headers: VecDeque<SealedHeader>,
    /// The last header queued (the parent for validation).
    pub(crate) last: SealedHeader,
}

/// What validation the forward batches get.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks<'a> {
    /// The validator.
    pub(crate) validator: &'a dyn HeaderValidator,
    /// Validate every n-th header only.
    pub(crate) frequency: u64,
    /// The target height (always validated).
    pub(crate) height: u64,
}

impl HeaderSource {
    /// Whether every header has been handed on, and whether the source feeds the result cache (then the header
    /// queue and the cache must be empty too for the phase to end).
    pub(crate) const fn finished(&self) -> (bool, bool) {
        match self {
            Self::Idle => (true, true),
            Self::Skeleton(s) => (s.finished(), true),
            Self::Reverse(r) => (r.finished(), false),
            Self::Staged(s) => (s.finished(), true),
        }
    }

    /// Puts a failed job back.
    pub(crate) fn requeue(&mut self, job: HeaderJob) {
        match self {
            Self::Skeleton(s) => s.requeue(job),
            Self::Reverse(r) => r.requeue(job),
            Self::Idle | Self::Staged(_) => {}
        }
    }

    /// Schedules header requests (staged headers are read into `queue` directly).
    pub(crate) fn schedule(
        &mut self,
        view: &View<'_>,
        store: &impl ChainStore,
        queue: &mut Queue,
        out: &mut Vec<Effect>,
    ) -> Result<(), Error> {
        let window_end = view.window_end;
        let allows = move |end: u64| end < window_end;
        match self {
            Self::Idle => {}
            Self::Skeleton(s) => {
                let mut sent = 0;
                if let Some(master) = view.master
                    && view.idle.iter().any(|id| id == master)
                    && let Some(ask) = s.master_ask(allows)
                {
                    out.push(Effect::Send(master.to_owned(), ask));
                    sent += 1;
                }
                let helpers: Vec<String> = view
                    .idle
                    .iter()
                    .filter(|id| sent == 0 || Some(id.as_str()) != view.master)
                    .cloned()
                    .collect();
                let (fills, throttled) = s.fill_asks(&helpers, allows);
                sent += fills.len();
                out.extend(fills.into_iter().map(|(p, a)| Effect::Send(p, a)));
                if !throttled && s.has_pending() && sent == 0 && view.in_flight == 0 {
                    return Err(Error::InvalidChain("skeleton chain unfillable"));
                }
            }
            Self::Reverse(r) => {
                if r.head().is_none() {
                    if view.in_flight == 0 {
                        if r.head_exhausted(view.peers.keys()) {
                            return Err(Error::HeadUnavailable);
                        }
                        let target = r.target();
                        let mut order = view.idle.to_vec();
                        // Peers that announced the trusted head as theirs first.
                        order.sort_by_key(|id| {
                            !view.peers.get(id).is_some_and(|p| {
                                p.source
                                    .block_range()
                                    .is_some_and(|b| b.latest_hash == target)
                            })
                        });
                        out.extend(r.head_ask(&order).map(|(p, a)| Effect::Send(p, a)));
                    }
                } else {
                    let peers = view.peers;
                    let asks = r.asks(view.idle, |id, top| {
                        peers.get(id).is_some_and(|p| p.serves_headers(top))
                    });
                    if asks.is_empty() && r.has_pending() && view.in_flight == 0 {
                        return Err(Error::PeersUnavailable);
                    }
                    out.extend(asks.into_iter().map(|(p, a)| Effect::Send(p, a)));
                }
            }
            Self::Staged(s) => {
                let end = window_end.saturating_sub(1);
                if !s.finished() && s.next() <= end {
                    let headers = s.read(store, end)?;
                    if let Some(last) = headers.last() {
                        queue.last = last.clone();
                    }
                    queue.headers.extend(headers);
                }
            }
        }
        Ok(())
    }

    /// Handles a header reply from `peer` for `job`.
    pub(crate) fn on_reply(
        &mut self,
        peer: &str,
        job: HeaderJob,
        headers: Vec<Header>,
        out: &mut Vec<Effect>,
    ) -> Result<(), Error> {
        match (self, job) {
            (Self::Skeleton(s), HeaderJob::Skeleton { from, count }) => {
                s.on_skeleton(from, count, headers)?;
            }
            (Self::Skeleton(s), HeaderJob::Tail { from, count }) => {
                s.on_tail(from, count, headers)?;
            }
            (Self::Skeleton(s), HeaderJob::Fill { start }) => {
                if let FillVerdict::Rejected { strike } = s.on_fill(peer, start, headers) {
                    out.push(Effect::Slow(peer.to_owned()));
                    if strike {
                        out.push(Effect::Strike(
                            peer.to_owned(),
                            Error::BadPeer("inconsistent headers"),
                        ));
                    }
                }
            }
            (Self::Reverse(r), HeaderJob::Head) => {
                if let Err(reason) = r.on_head(headers) {
                    out.push(Effect::Drop(peer.to_owned(), Error::BadPeer(reason)));
                }
            }
            (Self::Reverse(r), HeaderJob::Reverse { top }) => {
                let verdict = r.on_reverse(peer, top, headers);
                if verdict != Verdict::Accepted {
                    out.push(Effect::Slow(peer.to_owned()));
                }
                if verdict == Verdict::Strike {
                    out.push(Effect::Strike(
                        peer.to_owned(),
                        Error::BadPeer("inconsistent headers"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Hands on what is ready: forward batches are validated and queued, linked reverse batches are staged in
    /// `store` (one write for all that linked at once).
    pub(crate) fn deliver(
        &mut self,
        store: &impl ChainStore,
        checks: Checks<'_>,
        queue: &mut Queue,
        out: &mut Vec<Effect>,
    ) -> Result<(), Error> {
        match self {
            Self::Skeleton(s) => {
                let frequency = checks.frequency.max(1);
                while let Some(batch) = s.take_ready() {
                    for (i, h) in batch.iter().enumerate() {
                        if frequency == 1 || h.number % frequency == 0 || h.number == checks.height
                        {
                            let parent = if i == 0 { &queue.last } else { &batch[i - 1] };
                            if let Err(reason) = checks.validator.validate(h, parent) {
                                tracing::debug!(
                                    number = h.number,
                                    reason,
                                    "header rejected by the validator"
                                );
                                return Err(Error::InvalidChain(
                                    "header rejected by the validator",
                                ));
                            }
                        }
                    }
                    if let Some(last) = batch.last() {
                        queue.last = last.clone();
                    }
                    queue.headers.extend(batch);
                }
            }
            Self::Reverse(r) => {
                let linked = r.link_ready(checks.validator, |n| {
                    store.header_by_number(n).map_err(Error::store)
                })?;
                if linked.clear_first {
                    store.clear_staged(u64::MAX).map_err(Error::store)?;
                }
                if !linked.above.is_empty() {
                    let n = linked.above.len() as u64;
                    store.stage_headers(linked.above).map_err(Error::store)?;
                    out.push(Effect::Staged(n));
                }
                // Every batch linked now in one write: lowest batch first, rising (a single batch as it is).
                let n: usize = linked.batches.iter().map(Vec::len).sum();
                if n > 0 {
                    let mut batches = linked.batches;
                    let headers = if batches.len() == 1 {
                        batches.pop().unwrap_or_default()
                    } else {
                        let mut headers = Vec::with_capacity(n);
                        for batch in batches.into_iter().rev() {
                            headers.extend(batch);
                        }
                        headers
                    };
                    store.stage_headers(headers).map_err(Error::store)?;
                    out.push(Effect::Staged(n as u64));
                }
                for liar in linked.liars {
                    out.push(Effect::Strike(
                        liar,
                        Error::BadPeer("reverse batch does not link"),
                    ));
                }
            }
            Self::Idle | Self::Staged(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_chain::chain;
    use std::sync::Arc;

    use chain_types::{
        BlockRange, Body, ChainSource, H256, HeadersRequest, MemoryStore, Receipt, U256,
    };

    use super::*;
    use crate::{NoValidation, peer::SyncPeer};

    struct Ranged(&'static str, Option<BlockRange>);

    impl ChainSource for Ranged {
        fn id(&self) -> &str {
            self.0
        }
        fn head(&self) -> (H256, U256) {
            (H256::zero(), U256::zero())
        }
        fn block_range(&self) -> Option<BlockRange> {
            self.1
        }
        async fn headers(&self, _: HeadersRequest) -> Result<Vec<Header>, chain_types::Error> {
            Ok(vec![])
        }
        async fn bodies(&self, _: Vec<H256>) -> Result<Vec<Body>, chain_types::Error> {
            Ok(vec![])
        }
        async fn receipts(&self, _: Vec<H256>) -> Result<Vec<Vec<Receipt>>, chain_types::Error> {
            Ok(vec![])
        }
    }

    #[test]
    fn the_head_goes_first_to_the_peer_announcing_it_then_nobody_is_left() {
        let c = chain(3, 0);
        let range = BlockRange {
            earliest: 0,
            latest: 2,
            latest_hash: c[2].hash(),
        };
        let mut peers = HashMap::new();
        for (id, r) in [("a", None), ("b", Some(range))] {
            peers.insert(
                id.to_owned(),
                SyncPeer::new(Arc::new(Ranged(id, r)), [0.0; 3], 1.0),
            );
        }
        let idle = ["a".to_owned(), "b".to_owned()];
        let mut source = HeaderSource::Reverse(Box::new(Reverse::new(c[2].hash(), 0, 10, 100)));
        let store = MemoryStore::new();
        let mut queue = Queue {
            headers: VecDeque::new(),
            last: c[0].clone(),
        };
        let view = View {
            idle: &idle,
            in_flight: 0,
            peers: &peers,
            master: None,
            window_end: u64::MAX,
        };
        let mut out = Vec::new();
        source
            .schedule(&view, &store, &mut queue, &mut out)
            .unwrap();
        assert!(
            matches!(&out[..], [Effect::Send(p, Ask::Headers(HeaderJob::Head, _))] if p == "b")
        );
        // "b" lacked it; "a" is asked next, then nobody is left.
        source
            .on_reply("b", HeaderJob::Head, vec![], &mut out)
            .unwrap();
        out.clear();
        source
            .schedule(&view, &store, &mut queue, &mut out)
            .unwrap();
        assert!(matches!(&out[..], [Effect::Send(p, _)] if p == "a"));
        out.clear();
        let err = source
            .schedule(&view, &store, &mut queue, &mut out)
            .unwrap_err();
        assert!(err.is_head_unavailable());
    }

    #[test]
    fn a_wrong_head_drops_and_garbage_strikes() {
        let c = chain(12, 0);
        let mut source = HeaderSource::Reverse(Box::new(Reverse::new(c[11].hash(), 0, 10, 100)));
        let mut out = Vec::new();
        source
            .on_reply(
                "liar",
                HeaderJob::Head,
                vec![c[10].header().clone()],
                &mut out,
            )
            .unwrap();
        assert!(matches!(&out[..], [Effect::Drop(p, _)] if p == "liar"));
        out.clear();
        source
            .on_reply(
                "ok",
                HeaderJob::Head,
                vec![c[11].header().clone()],
                &mut out,
            )
            .unwrap();
        assert!(out.is_empty());
        let store = MemoryStore::new();
        store
            .insert_batch(vec![chain_types::BlockEntry::from(c[0].clone())])
            .unwrap();
        let checks = Checks {
            validator: &NoValidation,
            frequency: 1,
            height: 11,
        };
        let mut queue = Queue {
            headers: VecDeque::new(),
            last: c[0].clone(),
        };
        source
            .deliver(&store, checks, &mut queue, &mut out)
            .unwrap();
        assert!(
            matches!(&out[..], [Effect::Staged(1)]),
            "the head is staged"
        );
        assert_eq!(store.highest_staged().unwrap().unwrap(), c[11]);
        out.clear();
        let mut peers = HashMap::new();
        peers.insert(
            "bad".to_owned(),
            SyncPeer::new(Arc::new(Ranged("bad", None)), [0.0; 3], 1.0),
        );
        let idle = ["bad".to_owned()];
        let view = View {
            idle: &idle,
            in_flight: 0,
            peers: &peers,
            master: None,
            window_end: u64::MAX,
        };
        source
            .schedule(&view, &store, &mut queue, &mut out)
            .unwrap();
        assert!(
            matches!(&out[..], [Effect::Send(_, Ask::Headers(HeaderJob::Reverse { top: 10 }, r))] if r.amount == 10 && r.reverse)
        );
        out.clear();
        let garbage = vec![Header::default(), Header::default()];
        source
            .on_reply("bad", HeaderJob::Reverse { top: 10 }, garbage, &mut out)
            .unwrap();
        assert!(matches!(&out[..], [Effect::Slow(_), Effect::Strike(p, _)] if p == "bad"));
    }
}
