//! Header scheduling of the trusted-head sync: the head by hash, then falling batches from every suitable peer
//! at once, linked by parent hashes down from the trusted head until they reach a header of the local chain.
//!
//! Batches are keyed by their highest block (`top`) and partition the numbers below the lowest linked header.
//! A reply is checked on arrival (falling numbers, linked internally, not longer than asked; a correct short
//! reply is kept and the rest re-queued) and again when its turn to link comes: its highest header must hash to
//! the parent hash of the lowest linked header. A batch that fails that is thrown away, the peer that sent it
//! earns a strike and is never asked for that batch again. Linked batches go to the caller, which writes them to
//! the store's staging area, so memory holds only the unlinked batches of the window (at most
//! `max_queued_headers` headers ahead of the linked chain).
//!
//! Validation is sampled as in the forward sync (`Config::header_check_frequency`): headers linked by hash to the
//! trusted head are authenticated by it, and the validator still runs on every n-th header, on the head and on
//! the link to the local chain.
//!
//! Extending: a staging area left by a sync to an older trusted head is kept when the new head is higher. The
//! download then goes down to just above the old staged top only, holding the linked headers in memory (at most
//! the window); once they reach it they are staged above the old chain in one write, and the download goes on
//! below the lowest staged header as in a resume. If the gap does not link to the old top (the new head is on
//! another branch) or does not fit into the window, the old staging area is discarded instead.
//!
//! The scheduler owns no peers and sends nothing; like [`Skeleton`](crate::skeleton::Skeleton) it says what to
//! send to whom.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chain_types::{BlockHashOrNumber, H256, Header, HeadersRequest, SealedHeader};

use crate::{
    Error, HeaderValidator,
    request::{Ask, HeaderJob},
};

/// What a reply did to its sender's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Accepted (or stale).
    Accepted,
    /// The peer does not have the data (an empty reply); it is not asked for it again.
    Lacking,
    /// The reply was wrong in itself or did not link; the peer earns a strike.
    Strike,
}

/// What linking produced.
#[derive(Debug, Default)]
pub(crate) struct Linked {
    /// Linked batches, rising numbers, highest batch first, to be staged in this order.
    pub(crate) batches: Vec<Vec<SealedHeader>>,
    /// Peers whose batches did not link.
    pub(crate) liars: Vec<String>,
    /// Empty the staging area before staging `batches` (the old staged chain could not be extended).
    pub(crate) clear_first: bool,
    /// Headers (rising) to stage just above the staged chain, before `batches`.
    pub(crate) above: Vec<SealedHeader>,
}

/// A staged chain of an older trusted head that the download tries to extend.
#[derive(Debug)]
struct Extension {
    /// Its highest header.
    top: SealedHeader,
    /// Its lowest header.
    low: SealedHeader,
    /// Linked headers between the new head and `top`, highest batch first, each batch rising.
    held: Vec<Vec<SealedHeader>>,
    /// Headers in `held`.
    held_len: u64,
}

/// The reverse header scheduler.
#[derive(Debug)]
pub(crate) struct Reverse {
    target: H256,
    batch: u64,
    window: u64,
    /// The trusted head, once fetched.
    head: Option<SealedHeader>,
    /// Peers asked for the head.
    head_tried: HashSet<String>,
    /// The lowest header linked to the trusted head.
    low: Option<SealedHeader>,
    /// The local head number at the start: tasks go no lower than one above it unless a fork shows up.
    local_head: u64,
    /// Lowest number tasks are made for.
    floor: u64,
    /// Highest number not covered by a task yet (tasks are made downwards from here).
    next_top: u64,
    /// Every unlinked task (top to count).
    tasks: BTreeMap<u64, u64>,
    /// Tasks nobody is working on.
    pending: BTreeSet<u64>,
    /// Received, not linked yet: top to (peer, rising headers).
    done: BTreeMap<u64, (String, Vec<SealedHeader>)>,
    /// Tasks each peer could not serve or got wrong.
    missing: HashMap<String, HashSet<u64>>,
    /// The number of the local header the chain linked to, once found.
    link: Option<u64>,
    /// Whether the head went to the caller for staging.
    head_staged: bool,
    /// Whether the lowest linked header still has to be checked against the local chain (after a resume).
    check_low: bool,
    /// Run the validator on every n-th header only (the head and the link always).
    frequency: u64,
    /// The older staged chain being extended, if any.
    extension: Option<Extension>,
    /// The extension was given up before any header was held: empty the staging area with the next delivery.
    discard_staged: bool,
}

impl Reverse {
    /// A scheduler for the trusted head `target`, over a local chain with head number `local_head`, with
    /// `batch` headers per request and at most `window` unlinked headers in memory.
    pub(crate) fn new(target: H256, local_head: u64, batch: u64, window: u64) -> Self {
        let batch = batch.max(1);
        Self {
            target,
            batch,
            window: window.max(batch),
            head: None,
            head_tried: HashSet::new(),
            low: None,
            local_head,
            floor: local_head.saturating_add(1).max(1),
            next_top: 0,
            tasks: BTreeMap::new(),
            pending: BTreeSet::new(),
            done: BTreeMap::new(),
            missing: HashMap::new(),
            link: None,
            head_staged: false,
            check_low: false,
            frequency: 1,
            extension: None,
            discard_staged: false,
        }
    }

    /// Runs the validator on every `every`-th header only (at least 1; the head and the link are always checked).
    pub(crate) fn set_check_frequency(&mut self, every: u64) {
        self.frequency = every.max(1);
    }

    /// Tries to extend a staged chain of an older trusted head (`top` its highest, `low` its lowest header)
    /// instead of downloading it again.
    pub(crate) fn extend(&mut self, top: SealedHeader, low: SealedHeader) {
        self.extension = Some(Extension {
            top,
            low,
            held: Vec::new(),
            held_len: 0,
        });
    }

    /// Resumes from a staged chain: `head` is the trusted head (the highest staged header) and `low` the lowest
    /// staged header.
    pub(crate) fn resume(&mut self, head: SealedHeader, low: SealedHeader) {
        self.next_top = low.number.saturating_sub(1);
        self.head = Some(head);
        self.low = Some(low);
        self.head_staged = true;
        self.check_low = true;
    }

    /// The trusted head's hash.
    pub(crate) const fn target(&self) -> H256 {
        self.target
    }

    /// The trusted head, once fetched.
    pub(crate) const fn head(&self) -> Option<&SealedHeader> {
        self.head.as_ref()
    }

    /// The local block the trusted chain links to, once found.
    pub(crate) const fn link(&self) -> Option<u64> {
        self.link
    }

    /// Whether the reverse download is over.
    pub(crate) const fn finished(&self) -> bool {
        self.link.is_some()
    }

    /// Headers received but not linked yet.
    pub(crate) fn unlinked(&self) -> usize {
        self.done.values().map(|(_, b)| b.len()).sum()
    }

    /// Whether no peer of `peers` can be asked for the head any more.
    pub(crate) fn head_exhausted<'a>(&self, mut peers: impl Iterator<Item = &'a String>) -> bool {
        self.head.is_none() && peers.all(|p| self.head_tried.contains(p))
    }

    /// The head request, for the first of `peers` not asked yet.
    pub(crate) fn head_ask(&mut self, peers: &[String]) -> Option<(String, Ask)> {
        if self.head.is_some() {
            return None;
        }
        let peer = peers.iter().find(|p| !self.head_tried.contains(*p))?;
        self.head_tried.insert(peer.clone());
        let request = HeadersRequest {
            origin: BlockHashOrNumber::Hash(self.target),
            amount: 1,
            skip: 0,
            reverse: true,
        };
        Some((peer.clone(), Ask::Headers(HeaderJob::Head, request)))
    }

    /// Handles a head reply. `Ok(None)`: accepted or lacking; `Err` with a reason: the peer lied.
    pub(crate) fn on_head(&mut self, headers: Vec<Header>) -> Result<Verdict, &'static str> {
        if self.head.is_some() {
            return Ok(Verdict::Accepted);
        }
        let mut headers = headers.into_iter();
        let (Some(first), None) = (headers.next(), headers.next()) else {
            return Ok(Verdict::Lacking);
        };
        let head = first.seal();
        if head.hash() != self.target {
            return Err("head reply has another hash");
        }
        if head.number > crate::config::MAX_HEAD_NUMBER {
            return Err("head number out of range");
        }
        self.next_top = head.number.saturating_sub(1);
        if let Some(ext) = &self.extension {
            if head.number > ext.top.number {
                self.floor = ext.top.number + 1;
            } else {
                tracing::debug!(
                    staged = ext.top.number,
                    head = head.number,
                    "discarding headers staged for a head not below the new one"
                );
                self.extension = None;
                self.discard_staged = true;
            }
        }
        self.low = Some(head.clone());
        self.head = Some(head);
        Ok(Verdict::Accepted)
    }

    /// Makes tasks down to the floor while the window allows.
    fn make_tasks(&mut self) {
        let Some(low) = self.low.as_ref().map(|l| l.number) else {
            return;
        };
        while self.link.is_none() && self.next_top >= self.floor {
            let count = self.batch.min(self.next_top - self.floor + 1);
            let bottom = self.next_top + 1 - count;
            if low - bottom > self.window {
                break;
            }
            self.tasks.insert(self.next_top, count);
            self.pending.insert(self.next_top);
            self.next_top = bottom - 1;
        }
    }

    /// Reverse requests for the idle `peers` (in preference order); `serves(peer, top)` says whether a peer's
    /// announced range reaches `top`.
    pub(crate) fn asks(
        &mut self,
        peers: &[String],
        serves: impl Fn(&str, u64) -> bool,
    ) -> Vec<(String, Ask)> {
        self.make_tasks();
        let mut out = Vec::new();
        for id in peers {
            let missing = self.missing.get(id);
            // The highest pending task first: it links soonest.
            let task = self
                .pending
                .iter()
                .rev()
                .copied()
                .find(|&t| missing.is_none_or(|m| !m.contains(&t)) && serves(id, t));
            let Some(top) = task else { continue };
            let count = self.tasks.get(&top).copied().unwrap_or(self.batch);
            self.pending.remove(&top);
            let request = HeadersRequest {
                origin: BlockHashOrNumber::Number(top),
                amount: count,
                skip: 0,
                reverse: true,
            };
            out.push((
                id.clone(),
                Ask::Headers(HeaderJob::Reverse { top }, request),
            ));
        }
        out
    }

    /// Whether tasks wait for a peer.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Puts a failed job back.
    pub(crate) fn requeue(&mut self, job: HeaderJob) {
        if let HeaderJob::Reverse { top } = job
            && self.tasks.contains_key(&top)
            && !self.done.contains_key(&top)
        {
            self.pending.insert(top);
        }
    }

    /// Handles a reverse reply from `peer` for the batch topped by `top`.
    pub(crate) fn on_reverse(&mut self, peer: &str, top: u64, headers: Vec<Header>) -> Verdict {
        let Some(&count) = self.tasks.get(&top) else {
            return Verdict::Accepted;
        };
        if self.done.contains_key(&top) {
            return Verdict::Accepted;
        }
        let reject = |s: &mut Self, verdict| {
            s.missing.entry(peer.to_owned()).or_default().insert(top);
            s.pending.insert(top);
            verdict
        };
        if headers.is_empty() {
            return reject(self, Verdict::Lacking);
        }
        if headers.len() as u64 > count {
            return reject(self, Verdict::Strike);
        }
        // Sealed in rising order straight away (no reversal of the sealed headers afterwards).
        let sealed: Vec<SealedHeader> = headers.into_iter().rev().map(Header::seal).collect();
        let len = sealed.len() as u64;
        let bottom = top + 1 - len;
        let rising = sealed
            .iter()
            .enumerate()
            .all(|(i, h)| h.number == bottom + i as u64)
            && sealed.windows(2).all(|w| w[1].parent_hash == w[0].hash());
        if !rising {
            return reject(self, Verdict::Strike);
        }
        if len < count {
            // A correct short reply (a serving limit): keep it, re-queue the rest.
            self.tasks.insert(top, len);
            self.tasks.insert(top - len, count - len);
            self.pending.insert(top - len);
        }
        self.pending.remove(&top);
        self.done.insert(top, (peer.to_owned(), sealed));
        Verdict::Accepted
    }

    /// Links what can be linked below the lowest linked header. `canonical(n)` is the local canonical header
    /// `n`; the validator checks every newly linked header against its parent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChain`] if the validator rejects a header linked to the trusted head, or the trusted
    /// chain does not meet the local chain above genesis; store errors from `canonical`.
    pub(crate) fn link_ready(
        &mut self,
        validator: &dyn HeaderValidator,
        canonical: impl Fn(u64) -> Result<Option<SealedHeader>, Error>,
    ) -> Result<Linked, Error> {
        let mut out = Linked {
            clear_first: std::mem::take(&mut self.discard_staged),
            ..Linked::default()
        };
        let Some(mut low) = self.low.clone() else {
            return Ok(out);
        };
        if self.link.is_some() {
            return Ok(out);
        }
        if !self.head_staged {
            self.head_staged = true;
            match self.link_at(&low, validator, &canonical)? {
                Some(n) if n == low.number => {}
                _ => self.emit(vec![low.clone()], &mut out),
            }
        }
        if self.check_low {
            self.check_low = false;
            self.link_at(&low, validator, &canonical)?;
        }
        while self.link.is_none() {
            if let Some(ext) = &self.extension
                && low.number == ext.top.number + 1
            {
                low = self.join_staged(low, &mut out);
                if self.check_low {
                    self.check_low = false;
                    self.link_at(&low, validator, &canonical)?;
                }
                continue;
            }
            let Some(top) = low.number.checked_sub(1) else {
                break;
            };
            let Some((peer, mut batch)) = self.done.remove(&top) else {
                break;
            };
            if batch.last().map(SealedHeader::hash) != Some(low.parent_hash) {
                tracing::debug!(peer, top, "reverse batch does not link");
                self.missing.entry(peer.clone()).or_default().insert(top);
                self.pending.insert(top);
                out.liars.push(peer);
                break;
            }
            self.tasks.remove(&top);
            let mut child = &low;
            for h in batch.iter().rev() {
                let sampled = self.frequency == 1
                    || child.number % self.frequency == 0
                    || self.head.as_ref().is_some_and(|t| t.number == child.number);
                if sampled {
                    validate(validator, h, child)?;
                }
                child = h;
            }
            let mut start = 0;
            for (i, h) in batch.iter().enumerate().rev() {
                match self.link_at(h, validator, &canonical)? {
                    Some(n) if n == h.number => {
                        start = i + 1;
                        break;
                    }
                    Some(_) => {
                        start = i;
                        break;
                    }
                    None => {}
                }
            }
            batch.drain(..start.min(batch.len()));
            if let Some(first) = batch.first() {
                low = first.clone();
                self.emit(batch, &mut out);
            }
        }
        if self.link.is_none()
            && low.number <= self.floor
            && self.next_top < self.floor
            && self.floor > 1
        {
            // Linked down to the floor without meeting the local chain: the trusted chain forks off below the
            // local head. Go on towards genesis.
            tracing::debug!(
                number = low.number,
                "trusted chain forks below the local head"
            );
            self.floor = 1;
        }
        self.low = Some(low);
        if self.link.is_some() && self.extension.is_some() {
            self.abandon_extension(&mut out);
        }
        if self.link.is_some() {
            self.tasks.clear();
            self.pending.clear();
            self.done.clear();
        }
        Ok(out)
    }

    /// Hands a linked batch on, or holds it while an older staged chain is being extended (giving the extension up
    /// if the held headers outgrow the window).
    fn emit(&mut self, batch: Vec<SealedHeader>, out: &mut Linked) {
        let Some(ext) = &mut self.extension else {
            out.batches.push(batch);
            return;
        };
        ext.held_len += batch.len() as u64;
        ext.held.push(batch);
        if ext.held_len > self.window {
            tracing::debug!(
                staged = ext.top.number,
                "gap to the staged headers outgrows the window, discarding them"
            );
            self.abandon_extension(out);
        }
    }

    /// Gives the extension up: the staging area is emptied and the held headers are staged as usual.
    fn abandon_extension(&mut self, out: &mut Linked) {
        if let Some(ext) = self.extension.take() {
            out.clear_first = true;
            out.batches.extend(ext.held);
        }
        self.floor = self.local_head.saturating_add(1).max(1);
    }

    /// The linked chain reached just above the older staged top: joins the two (the held headers are staged
    /// above it and the download goes on below its lowest header) if the lowest linked header `low` is the old
    /// top's child, else discards the old chain. Returns the new lowest linked header.
    fn join_staged(&mut self, low: SealedHeader, out: &mut Linked) -> SealedHeader {
        let Some(ext) = self.extension.take_if(|e| e.top.hash() == low.parent_hash) else {
            tracing::debug!(
                number = low.number,
                "new head is not a descendant of the staged headers, discarding them"
            );
            self.abandon_extension(out);
            return low;
        };
        tracing::debug!(
            top = ext.top.number,
            low = ext.low.number,
            "extending the staged headers"
        );
        out.above.extend(ext.held.into_iter().rev().flatten());
        self.floor = self.local_head.saturating_add(1).max(1);
        self.next_top = ext.low.number.saturating_sub(1);
        self.check_low = true;
        ext.low
    }

    /// Where `h` (linked to the trusted head) meets the local chain: at its own number if it is a local header,
    /// one below if its parent is. Sets the link then.
    fn link_at(
        &mut self,
        h: &SealedHeader,
        validator: &dyn HeaderValidator,
        canonical: &impl Fn(u64) -> Result<Option<SealedHeader>, Error>,
    ) -> Result<Option<u64>, Error> {
        if h.number <= self.local_head
            && canonical(h.number)?.is_some_and(|local| local.hash() == h.hash())
        {
            self.link = Some(h.number);
            return Ok(self.link);
        }
        let Some(below) = h.number.checked_sub(1) else {
            return Err(Error::InvalidChain(
                "trusted chain has another genesis than the local chain",
            ));
        };
        if below > self.local_head {
            return Ok(None);
        }
        match canonical(below)? {
            Some(parent) if parent.hash() == h.parent_hash => {
                validate(validator, &parent, h)?;
                self.link = Some(below);
                Ok(self.link)
            }
            _ if below == 0 => Err(Error::InvalidChain(
                "trusted chain has another genesis than the local chain",
            )),
            _ => Ok(None),
        }
    }
}

/// Runs the validator on `header` given `parent`.
fn validate(
    validator: &dyn HeaderValidator,
    parent: &SealedHeader,
    header: &SealedHeader,
) -> Result<(), Error> {
    validator.validate(header, parent).map_err(|reason| {
        tracing::debug!(
            number = header.number,
            reason,
            "header rejected by the validator"
        );
        Error::InvalidChain("header rejected by the validator")
    })
}

#[cfg(test)]
#[path = "reverse_tests.rs"]
mod tests;
