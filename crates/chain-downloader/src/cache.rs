//! The result cache: validated headers waiting for their bodies and receipts, in block order, bounded by items
//! and by bytes, with the body and receipt tasks still open.
//!
//! Headers whose roots say the body (or receipt list) is empty are complete on arrival; nothing is requested for
//! them. Bodies are matched to slots by transactions root, ommers hash and withdrawals root, receipts by receipts
//! root, so short, holey and reordered replies are used as far as they go. The complete prefix is handed to the
//! import; the item limit (the *throttle*) follows the average size of imported blocks.

use std::collections::{BTreeSet, VecDeque};

use chain_types::{BlockEntry, Body, H256, Header, Receipt, SealedHeader};

use crate::{Config, SyncMode, peer::Kind};

/// One block in the cache.
#[derive(Debug)]
struct Slot {
    header: SealedHeader,
    body: Option<Body>,
    receipts: Option<Vec<Receipt>>,
    size: usize,
}

/// How a content reply matched the request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The blocks still missing, at their request positions (`None`: delivered).
    pub(crate) open: Vec<Option<u64>>,
    /// Position of the last delivered block in the request.
    pub(crate) last_matched: usize,
    /// Items accepted.
    pub(crate) accepted: usize,
    /// Whether an item matched no open block (a wrong or duplicated item).
    pub(crate) invalid: bool,
}

impl Delivery {
    /// The blocks left out before the last delivered one: holes the peer lacks.
    pub(crate) fn holes(&self) -> impl Iterator<Item = u64> + '_ {
        self.open.iter().take(self.last_matched).flatten().copied()
    }

    /// Every block not delivered.
    pub(crate) fn undelivered(&self) -> Vec<u64> {
        self.open.iter().flatten().copied().collect()
    }
}

/// The result cache.
#[derive(Debug)]
pub(crate) struct ResultCache {
    mode: SyncMode,
    max_items: usize,
    max_bytes: usize,
    slots: VecDeque<Slot>,
    /// Number of the block in `slots[0]`.
    next_import: u64,
    /// Complete slots at the front.
    ready: usize,
    bodies: BTreeSet<u64>,
    receipts: BTreeSet<u64>,
    bytes: usize,
    avg_size: f64,
    throttle: usize,
}

impl ResultCache {
    /// An empty cache whose first block will be `next_import`.
    pub(crate) fn new(mode: SyncMode, config: &Config, next_import: u64) -> Self {
        Self {
            mode,
            max_items: config.cache_max_items.max(1),
            max_bytes: config.cache_max_bytes,
            slots: VecDeque::new(),
            next_import,
            ready: 0,
            bodies: BTreeSet::new(),
            receipts: BTreeSet::new(),
            bytes: 0,
            avg_size: 0.0,
            throttle: config
                .cache_initial_items
                .clamp(1, config.cache_max_items.max(1)),
        }
    }

    /// Whether another header fits.
    pub(crate) fn has_room(&self) -> bool {
        self.slots.len() < self.throttle && self.bytes < self.max_bytes
    }

    /// The item limit now.
    pub(crate) const fn throttle(&self) -> usize {
        self.throttle
    }

    /// Blocks held.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Estimated bytes held.
    pub(crate) const fn bytes(&self) -> usize {
        self.bytes
    }

    /// Complete blocks at the front.
    pub(crate) const fn ready(&self) -> usize {
        self.ready
    }

    /// Whether every held block is complete.
    pub(crate) fn all_ready(&self) -> bool {
        self.ready == self.slots.len()
    }

    /// First block number without a slot (the next header must have it).
    pub(crate) fn frontier(&self) -> u64 {
        self.next_import + self.slots.len() as u64
    }

    /// Adds the next header (number [`ResultCache::frontier`]) and opens its content tasks.
    pub(crate) fn push(&mut self, header: SealedHeader) {
        let number = header.number;
        let mut slot = Slot {
            size: header.approx_size(),
            header,
            body: None,
            receipts: None,
        };
        if self.mode.bodies() {
            if slot.header.has_empty_body() {
                slot.body = Some(Body {
                    transactions: Vec::new(),
                    ommers: Vec::new(),
                    withdrawals: slot.header.withdrawals_root.map(|_| Vec::new()),
                });
            } else {
                self.bodies.insert(number);
            }
        }
        if self.mode.receipts() {
            if slot.header.has_empty_receipts() {
                slot.receipts = Some(Vec::new());
            } else {
                self.receipts.insert(number);
            }
        }
        self.bytes += slot.size;
        self.slots.push_back(slot);
        self.advance_ready();
    }

    /// The open tasks of `kind` (bodies or receipts).
    pub(crate) fn tasks(&self, kind: Kind) -> &BTreeSet<u64> {
        match kind {
            Kind::Receipts => &self.receipts,
            Kind::Bodies | Kind::Headers => &self.bodies,
        }
    }

    /// Takes tasks out of the open set (they are being requested).
    pub(crate) fn take_tasks(&mut self, kind: Kind, numbers: &[u64]) {
        let set = match kind {
            Kind::Receipts => &mut self.receipts,
            Kind::Bodies | Kind::Headers => &mut self.bodies,
        };
        for n in numbers {
            set.remove(n);
        }
    }

    /// Puts tasks back (a request failed), except those of blocks already imported.
    pub(crate) fn requeue(&mut self, kind: Kind, numbers: impl IntoIterator<Item = u64>) {
        let next = self.next_import;
        let set = match kind {
            Kind::Receipts => &mut self.receipts,
            Kind::Bodies | Kind::Headers => &mut self.bodies,
        };
        set.extend(numbers.into_iter().filter(|&n| n >= next));
    }

    fn slot(&self, number: u64) -> Option<&Slot> {
        let i = usize::try_from(number.checked_sub(self.next_import)?).ok()?;
        self.slots.get(i)
    }

    fn slot_mut(&mut self, number: u64) -> Option<&mut Slot> {
        let i = usize::try_from(number.checked_sub(self.next_import)?).ok()?;
        self.slots.get_mut(i)
    }

    /// The hashes of blocks `numbers` (those still cached).
    pub(crate) fn hashes(&self, numbers: &[u64]) -> Vec<H256> {
        numbers
            .iter()
            .filter_map(|&n| self.slot(n).map(|s| s.header.hash()))
            .collect()
    }

    /// Matches a body reply to the requested blocks `numbers`.
    pub(crate) fn deliver_bodies(&mut self, numbers: &[u64], bodies: Vec<Body>) -> Delivery {
        let mut d = Delivery {
            open: numbers.iter().copied().map(Some).collect(),
            ..Delivery::default()
        };
        for body in bodies {
            let roots = BodyRoots::of(&body);
            let found = d.open.iter().position(|n| {
                n.and_then(|n| self.slot(n))
                    .is_some_and(|s| s.body.is_none() && roots.matches(&s.header))
            });
            let Some((i, number)) = found.and_then(|i| Some((i, d.open.get_mut(i)?.take()?)))
            else {
                d.invalid = true;
                continue;
            };
            d.last_matched = d.last_matched.max(i);
            let size = body.approx_size();
            if let Some(slot) = self.slot_mut(number) {
                slot.body = Some(body);
                slot.size += size;
                self.bytes += size;
                d.accepted += 1;
            }
        }
        self.advance_ready();
        d
    }

    /// Matches a receipt reply to the requested blocks `numbers`.
    pub(crate) fn deliver_receipts(
        &mut self,
        numbers: &[u64],
        receipts: Vec<Vec<Receipt>>,
    ) -> Delivery {
        let mut d = Delivery {
            open: numbers.iter().copied().map(Some).collect(),
            ..Delivery::default()
        };
        for list in receipts {
            let root = chain_types::roots::receipts_root(&list);
            let found = d.open.iter().position(|n| {
                n.and_then(|n| self.slot(n))
                    .is_some_and(|s| s.receipts.is_none() && s.header.receipts_root == root)
            });
            let Some((i, number)) = found.and_then(|i| Some((i, d.open.get_mut(i)?.take()?)))
            else {
                d.invalid = true;
                continue;
            };
            d.last_matched = d.last_matched.max(i);
            let size = receipts_size(&list);
            if let Some(slot) = self.slot_mut(number) {
                slot.receipts = Some(list);
                slot.size += size;
                self.bytes += size;
                d.accepted += 1;
            }
        }
        self.advance_ready();
        d
    }

    fn complete(&self, slot: &Slot) -> bool {
        (!self.mode.bodies() || slot.body.is_some())
            && (!self.mode.receipts() || slot.receipts.is_some())
    }

    fn advance_ready(&mut self) {
        while let Some(slot) = self.slots.get(self.ready) {
            if !self.complete(slot) {
                break;
            }
            self.ready += 1;
        }
    }

    /// Takes up to `n` complete blocks from the front, as store entries (content the mode does not keep is left
    /// out), and re-computes the throttle from their size.
    pub(crate) fn take_ready(&mut self, n: usize) -> Vec<BlockEntry> {
        let n = n.min(self.ready);
        if n == 0 {
            return Vec::new();
        }
        let mut bytes = 0;
        let mut out = Vec::with_capacity(n);
        for slot in self.slots.drain(..n) {
            bytes += slot.size;
            out.push(BlockEntry {
                header: slot.header,
                body: if self.mode.bodies() { slot.body } else { None },
                receipts: if self.mode.receipts() {
                    slot.receipts
                } else {
                    None
                },
            });
        }
        self.ready -= n;
        self.next_import += n as u64;
        self.bytes = self.bytes.saturating_sub(bytes);
        #[allow(clippy::cast_precision_loss)]
        let avg = bytes as f64 / n as f64;
        self.avg_size = if self.avg_size == 0.0 {
            avg
        } else {
            0.9 * self.avg_size + 0.1 * avg
        };
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let by_bytes = (self.max_bytes as f64 / self.avg_size.max(1.0)).ceil() as usize;
        self.throttle = by_bytes.clamp(1, self.max_items);
        out
    }
}

/// A body's commitments, computed once.
struct BodyRoots {
    transactions: H256,
    ommers: H256,
    withdrawals: Option<H256>,
}

impl BodyRoots {
    fn of(body: &Body) -> Self {
        Self {
            transactions: chain_types::roots::transactions_root(&body.transactions),
            ommers: chain_types::roots::ommers_hash(&body.ommers),
            withdrawals: body
                .withdrawals
                .as_deref()
                .map(chain_types::roots::withdrawals_root),
        }
    }

    fn matches(&self, header: &Header) -> bool {
        self.transactions == header.transactions_root
            && self.ommers == header.ommers_hash
            && self.withdrawals == header.withdrawals_root
    }
}

/// Estimated memory of a receipt list.
fn receipts_size(receipts: &[Receipt]) -> usize {
    receipts
        .iter()
        .map(|r| {
            std::mem::size_of::<Receipt>()
                + r.logs
                    .iter()
                    .map(|l| std::mem::size_of_val(l) + l.data.len() + 32 * l.topics.len())
                    .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Headers 1..=n; odd blocks carry one transaction.
    fn blocks(n: u64) -> Vec<(SealedHeader, Body)> {
        (1..=n)
            .map(|i| {
                let body = Body {
                    transactions: if i % 2 == 1 {
                        vec![Bytes::from(vec![0x02, 0xc1, i as u8])]
                    } else {
                        vec![]
                    },
                    ..Body::default()
                };
                let header = Header {
                    number: i,
                    transactions_root: chain_types::roots::transactions_root(&body.transactions),
                    ommers_hash: chain_types::roots::ommers_hash(&[]),
                    ..Header::default()
                }
                .seal();
                (header, body)
            })
            .collect()
    }

    #[test]
    fn empty_bodies_are_complete_on_arrival_and_replies_match_out_of_order() {
        let b = blocks(4);
        let mut c = ResultCache::new(SyncMode::Full, &Config::default(), 1);
        for (h, _) in &b {
            c.push(h.clone());
        }
        assert_eq!(
            c.tasks(Kind::Bodies).iter().copied().collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(c.ready(), 0);
        // Reordered reply: block 3 first, then 1.
        let d = c.deliver_bodies(&[1, 3], vec![b[2].1.clone(), b[0].1.clone()]);
        assert_eq!((d.accepted, d.invalid), (2, false));
        assert_eq!(c.ready(), 4, "2 and 4 were complete already");
        let out = c.take_ready(3);
        assert_eq!(
            out.iter().map(|e| e.header.number).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(out[0].body.as_ref(), Some(&b[0].1));
        assert_eq!(c.frontier(), 5);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_wrong_body_is_invalid_and_holes_are_reported() {
        let b = blocks(5);
        let mut c = ResultCache::new(SyncMode::Full, &Config::default(), 1);
        for (h, _) in &b {
            c.push(h.clone());
        }
        // Block 1 left out, 5 delivered, plus a body no block has.
        let d = c.deliver_bodies(&[1, 3, 5], vec![b[4].1.clone(), b[1].1.clone()]);
        assert!(d.invalid);
        assert_eq!(d.accepted, 1);
        assert_eq!(d.holes().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(d.undelivered(), [1, 3]);
        assert_eq!(c.ready(), 0);
    }

    #[test]
    fn light_mode_needs_no_content_and_throttle_follows_bytes() {
        let b = blocks(10);
        let config = Config::default().with_cache(8, 1000);
        let mut c = ResultCache::new(SyncMode::Light, &config, 1);
        for (h, _) in &b {
            assert!(c.len() < 8 || !c.has_room());
            c.push(h.clone());
        }
        assert!(c.all_ready() && c.tasks(Kind::Bodies).is_empty());
        let size = b[0].0.approx_size();
        c.take_ready(10);
        assert_eq!(c.throttle(), (1000usize.div_ceil(size)).clamp(1, 8));
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn requeue_skips_imported_blocks() {
        let b = blocks(3);
        let mut c = ResultCache::new(SyncMode::Full, &Config::default(), 1);
        c.push(b[0].0.clone());
        c.take_tasks(Kind::Bodies, &[1]);
        c.deliver_bodies(&[1], vec![b[0].1.clone()]);
        c.take_ready(1);
        c.requeue(Kind::Bodies, [1]);
        assert!(c.tasks(Kind::Bodies).is_empty());
    }
}
