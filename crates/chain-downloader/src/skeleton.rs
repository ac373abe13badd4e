//! Header scheduling of the forward sync: the master's skeleton (every `fetch`-th header), the fill batches
//! every idle peer downloads between skeleton headers, and tail requests to the master when no skeleton fits.
//!
//! The scheduler owns no peers and sends nothing: it says which request to send to whom, checks replies and
//! hands the contiguous prefix of accepted headers to the engine ([`Skeleton::take_ready`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chain_types::{H256, Header, HeadersRequest, SealedHeader};

use crate::{
    Error,
    request::{Ask, HeaderJob},
};

/// A fill task: a batch of headers ending at a skeleton header.
#[derive(Debug, Clone, Copy)]
struct FillTask {
    count: u64,
    parent: H256,
    last: H256,
}

/// What a fill reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FillVerdict {
    /// Accepted (whole or as a correct prefix), or stale.
    Accepted,
    /// Rejected: not offered to this peer again; `strike` if the reply was inconsistent in itself.
    Rejected {
        /// Whether the peer earns a strike.
        strike: bool,
    },
}

/// Whether consecutive headers link (numbers and parent hashes).
pub(crate) fn linked(headers: &[SealedHeader]) -> bool {
    headers
        .windows(2)
        .all(|w| w[0].number.checked_add(1) == Some(w[1].number) && w[1].parent_hash == w[0].hash())
}

/// The forward header scheduler.
#[derive(Debug)]
pub(crate) struct Skeleton {
    fetch: u64,
    size: u64,
    /// Target height (the announced head's number) and hash.
    height: u64,
    target: H256,
    /// Next header number not covered by a task, and the hash of the header below it.
    frontier: u64,
    frontier_hash: H256,
    /// The last header of the latest tail batch, held back until confirmed.
    tail_hold: Option<SealedHeader>,
    /// Whether the master answered a skeleton request with nothing (then only tail requests are made).
    skeleton_off: bool,
    tasks: BTreeMap<u64, FillTask>,
    pending: BTreeSet<u64>,
    done: BTreeMap<u64, Vec<SealedHeader>>,
    /// Fill tasks (batch starts) each peer could not fill.
    missing: HashMap<String, HashSet<u64>>,
    /// Next header number to hand to the engine.
    deliver_next: u64,
}

impl Skeleton {
    /// A scheduler from `origin` (the common ancestor, exclusive) to the head `target` at `height`.
    pub(crate) fn new(
        origin: &SealedHeader,
        height: u64,
        target: H256,
        fetch: u64,
        size: u64,
    ) -> Self {
        Self {
            fetch: fetch.max(1),
            size: size.max(1),
            height,
            target,
            frontier: origin.number + 1,
            frontier_hash: origin.hash(),
            tail_hold: None,
            skeleton_off: false,
            tasks: BTreeMap::new(),
            pending: BTreeSet::new(),
            done: BTreeMap::new(),
            missing: HashMap::new(),
            deliver_next: origin.number + 1,
        }
    }

    /// Whether every header up to the target has been handed out.
    pub(crate) const fn finished(&self) -> bool {
        self.deliver_next > self.height
    }

    /// The master's next request, if it is idle and `window` (whether headers up to a number fit) allows.
    pub(crate) fn master_ask(&self, window: impl Fn(u64) -> bool) -> Option<Ask> {
        if self.frontier > self.height || !window(self.frontier) {
            return None;
        }
        let remaining = self.height - self.frontier + 1;
        let fetch = self.fetch;
        if !self.skeleton_off && remaining >= fetch {
            if (self.tasks.len() as u64) >= self.size {
                return None;
            }
            let count = (remaining / fetch).min(self.size);
            let request = HeadersRequest {
                origin: (self.frontier + fetch - 1).into(),
                amount: count,
                skip: fetch - 1,
                reverse: false,
            };
            let job = HeaderJob::Skeleton {
                from: self.frontier,
                count,
            };
            Some(Ask::Headers(job, request))
        } else if self.skeleton_off || self.tasks.is_empty() {
            let count = remaining.min(fetch);
            let job = HeaderJob::Tail {
                from: self.frontier,
                count,
            };
            Some(Ask::Headers(
                job,
                HeadersRequest::rising(self.frontier, count),
            ))
        } else {
            None
        }
    }

    /// Fill requests for the idle `peers` (in preference order). Returns them and whether the header window
    /// stopped the scheduling.
    pub(crate) fn fill_asks(
        &mut self,
        peers: &[String],
        window: impl Fn(u64) -> bool,
    ) -> (Vec<(String, Ask)>, bool) {
        let mut out = Vec::new();
        for id in peers {
            if self.pending.is_empty() {
                break;
            }
            let missing = self.missing.get(id);
            let task = self
                .pending
                .iter()
                .copied()
                .find(|s| missing.is_none_or(|m| !m.contains(s)));
            let Some(start) = task else { continue };
            let count = self.tasks.get(&start).map_or(self.fetch, |t| t.count);
            if !window(start + count - 1) {
                return (out, true);
            }
            self.pending.remove(&start);
            let job = HeaderJob::Fill { start };
            out.push((
                id.clone(),
                Ask::Headers(job, HeadersRequest::rising(start, count)),
            ));
        }
        (out, false)
    }

    /// Whether fill tasks wait that no peer may take.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Puts a failed job back.
    pub(crate) fn requeue(&mut self, job: HeaderJob) {
        if let HeaderJob::Fill { start } = job
            && self.tasks.contains_key(&start)
        {
            self.pending.insert(start);
        }
    }

    /// Handles the master's skeleton reply.
    pub(crate) fn on_skeleton(
        &mut self,
        from: u64,
        count: u64,
        headers: Vec<Header>,
    ) -> Result<(), Error> {
        if from != self.frontier {
            return Ok(());
        }
        let fetch = self.fetch;
        if headers.is_empty() {
            tracing::debug!("empty skeleton, fetching headers directly");
            self.skeleton_off = true;
            return Ok(());
        }
        if headers.len() as u64 > count {
            return Err(Error::BadPeer("skeleton reply longer than requested"));
        }
        let mut parent = self.frontier_hash;
        let mut start = from;
        for h in headers {
            let h = h.seal();
            if h.number != start + fetch - 1 {
                return Err(Error::InvalidChain("skeleton broke chain ordering"));
            }
            if h.number == self.height && h.hash() != self.target {
                return Err(Error::InvalidChain(
                    "skeleton head differs from the announced head",
                ));
            }
            self.tasks.insert(
                start,
                FillTask {
                    count: fetch,
                    parent,
                    last: h.hash(),
                },
            );
            self.pending.insert(start);
            parent = h.hash();
            start += fetch;
        }
        self.frontier = start;
        self.frontier_hash = parent;
        Ok(())
    }

    /// Handles a fill reply from `peer`.
    pub(crate) fn on_fill(&mut self, peer: &str, start: u64, headers: Vec<Header>) -> FillVerdict {
        let Some(task) = self.tasks.get(&start).copied() else {
            return FillVerdict::Accepted;
        };
        let over_long = headers.len() as u64 > task.count;
        let sealed: Vec<SealedHeader> = headers.into_iter().map(Header::seal).collect();
        let consistent = linked(&sealed);
        let starts_right = sealed
            .first()
            .is_some_and(|h| h.number == start && h.parent_hash == task.parent);
        let fits = sealed.len() as u64 == task.count
            && consistent
            && starts_right
            && sealed.last().is_some_and(|h| h.hash() == task.last);
        let prefix =
            !fits && !over_long && consistent && starts_right && (sealed.len() as u64) < task.count;
        if let (true, Some(last)) = (prefix, sealed.last()) {
            // A short but correct reply (a serving limit): keep it and ask for the rest later.
            let rest = start + sealed.len() as u64;
            let rest_task = FillTask {
                count: task.count - sealed.len() as u64,
                parent: last.hash(),
                last: task.last,
            };
            self.tasks.remove(&start);
            self.pending.remove(&start);
            self.tasks.insert(rest, rest_task);
            self.pending.insert(rest);
            self.done.insert(start, sealed);
            return FillVerdict::Accepted;
        }
        if !fits {
            tracing::trace!(peer, start, "fill rejected");
            self.missing
                .entry(peer.to_owned())
                .or_default()
                .insert(start);
            self.pending.insert(start);
            return FillVerdict::Rejected {
                strike: over_long || !consistent,
            };
        }
        self.tasks.remove(&start);
        self.done.insert(start, sealed);
        FillVerdict::Accepted
    }

    /// Handles the master's tail reply.
    pub(crate) fn on_tail(
        &mut self,
        from: u64,
        count: u64,
        headers: Vec<Header>,
    ) -> Result<(), Error> {
        if from != self.frontier {
            return Ok(());
        }
        if headers.is_empty() {
            return Err(Error::StallingPeer);
        }
        if headers.len() as u64 > count {
            return Err(Error::BadPeer("header reply longer than requested"));
        }
        let sealed: Vec<SealedHeader> = headers.into_iter().map(Header::seal).collect();
        if sealed
            .first()
            .is_some_and(|h| h.number != from || h.parent_hash != self.frontier_hash)
            || !linked(&sealed)
        {
            return Err(Error::InvalidChain("headers broke chain ordering"));
        }
        if sealed
            .iter()
            .any(|h| h.number == self.height && h.hash() != self.target)
        {
            return Err(Error::InvalidChain("head differs from the announced head"));
        }
        let Some(last) = sealed.last() else {
            return Err(Error::StallingPeer);
        };
        self.frontier = last.number + 1;
        self.frontier_hash = last.hash();
        // The last header of a tail batch is confirmed only by the next batch (its child links to it) or by
        // being the announced head; until then it is held back, so that a lying master cannot get an
        // unconfirmed header imported.
        let mut batch: Vec<SealedHeader> = self.tail_hold.take().into_iter().collect();
        batch.extend(sealed);
        if batch.last().is_some_and(|h| h.number != self.height) {
            self.tail_hold = batch.pop();
        }
        if let Some(first) = batch.first() {
            self.done.insert(first.number, batch);
        }
        Ok(())
    }

    /// The next batch of the contiguous accepted prefix, if any.
    pub(crate) fn take_ready(&mut self) -> Option<Vec<SealedHeader>> {
        loop {
            let batch = self.done.remove(&self.deliver_next)?;
            if let Some(last) = batch.last() {
                self.deliver_next = last.number + 1;
                return Some(batch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_chain::chain;

    fn raw(h: &[SealedHeader]) -> Vec<Header> {
        h.iter().map(|h| h.header().clone()).collect()
    }

    #[test]
    fn skeleton_then_fills_in_order() {
        let c = chain(21, 0);
        let mut s = Skeleton::new(&c[0], 20, c[20].hash(), 5, 10);
        let Some(Ask::Headers(HeaderJob::Skeleton { from: 1, count: 4 }, r)) =
            s.master_ask(|_| true)
        else {
            panic!("expected a skeleton request");
        };
        assert_eq!((r.origin, r.skip), (5.into(), 4));
        s.on_skeleton(
            1,
            4,
            raw(&[c[5].clone(), c[10].clone(), c[15].clone(), c[20].clone()]),
        )
        .unwrap();
        let peers = ["a".to_owned(), "b".to_owned()];
        let (asks, throttled) = s.fill_asks(&peers, |_| true);
        assert!(!throttled);
        assert_eq!(asks.len(), 2);
        // The second batch first: nothing is ready until the first arrives.
        assert_eq!(s.on_fill("b", 6, raw(&c[6..11])), FillVerdict::Accepted);
        assert!(s.take_ready().is_none());
        // A wrong batch is rejected and not offered to that peer again.
        assert_eq!(
            s.on_fill("a", 1, raw(&c[2..7])),
            FillVerdict::Rejected { strike: false }
        );
        let (asks, _) = s.fill_asks(&["a".to_owned()], |_| true);
        assert!(
            asks.iter()
                .all(|(_, a)| !matches!(a, Ask::Headers(HeaderJob::Fill { start: 1 }, _)))
        );
        // A correct prefix is kept and the rest re-queued.
        assert_eq!(s.on_fill("b", 1, raw(&c[1..3])), FillVerdict::Accepted);
        assert_eq!(s.take_ready().unwrap().len(), 2);
        assert_eq!(s.on_fill("b", 3, raw(&c[3..6])), FillVerdict::Accepted);
        assert_eq!(s.take_ready().unwrap().first().map(|h| h.number), Some(3));
        assert_eq!(s.take_ready().unwrap().first().map(|h| h.number), Some(6));
        assert!(!s.finished());
    }

    #[test]
    fn a_skeleton_with_a_wrong_head_is_an_invalid_chain() {
        let c = chain(11, 0);
        let mut s = Skeleton::new(&c[0], 10, H256::repeat_byte(1), 5, 10);
        let err = s
            .on_skeleton(1, 2, raw(&[c[5].clone(), c[10].clone()]))
            .unwrap_err();
        assert!(err.is_invalid_chain());
    }

    #[test]
    fn tail_holds_back_its_last_header_until_confirmed() {
        let c = chain(8, 0);
        let mut s = Skeleton::new(&c[0], 7, c[7].hash(), 5, 10);
        s.on_skeleton(1, 1, vec![]).unwrap();
        assert!(matches!(
            s.master_ask(|_| true),
            Some(Ask::Headers(HeaderJob::Tail { from: 1, count: 5 }, _))
        ));
        s.on_tail(1, 5, raw(&c[1..6])).unwrap();
        assert_eq!(s.take_ready().unwrap().len(), 4, "header 5 held back");
        s.on_tail(6, 2, raw(&c[6..8])).unwrap();
        assert_eq!(s.take_ready().unwrap().len(), 3);
        assert!(s.finished());
        assert!(s.on_tail(1, 1, vec![]).is_ok(), "a stale reply is ignored");
    }
}
