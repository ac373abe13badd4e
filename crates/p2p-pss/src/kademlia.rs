//! The routing table: connected pss peers in proximity-order bins around the node's own
//! overlay address, the neighbourhood depth, and the forwarding decision for an address hint.
//!
//! The table is a plain data structure (no I/O), generic over the peer handle `P`, so that the
//! forwarding cases can be tested on synthetic tables.
//!
//! # Forwarding rules (reference §3.4, made explicit)
//!
//! For a hint `to` (0 to 32 bytes, an MSB prefix of the destination's address), excluding the
//! peer the message came from:
//!
//! 1. empty hint: every peer ([`Route::Broadcast`], a flood);
//! 2. a full address equal to a peer's address: that peer only;
//! 3. a partial hint that some peers' addresses start with: all of those peers;
//! 4. a hint within the neighbourhood (proximity of the own address to the hint at least the
//!    [depth](Kademlia::depth)): every peer in the neighbourhood;
//! 5. otherwise every peer ordered from the closest to the hint (XOR distance over the hint's
//!    bytes) to the farthest ([`Route::Closest`]): the message goes to the first one that takes
//!    it, and the next best is the fallback when a link's queue is full or closed.

use std::cmp::Ordering;

use crate::{ADDRESS_LEN, OverlayAddr, proximity};

/// The number of nearest peers the neighbourhood must hold (the reference's `MinProxBinSize`).
pub const MIN_PROX_BIN_SIZE: usize = 2;

/// The number of proximity-order bins (one per bit of an address, plus the own address).
pub const BINS: usize = ADDRESS_LEN * 8 + 1;

/// Where to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<P> {
    /// To every one of these peers.
    Broadcast(Vec<P>),
    /// To the first of these peers (closest first) whose link takes the message.
    Closest(Vec<P>),
}

impl<P> Route<P> {
    /// The peers of the route, in order.
    #[must_use]
    pub fn peers(&self) -> &[P] {
        match self {
            Self::Broadcast(p) | Self::Closest(p) => p,
        }
    }

    /// Whether there is no peer to send to.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.peers().is_empty()
    }
}

/// A Kademlia table of connected peers keyed by their overlay address.
#[derive(Debug, Clone)]
pub struct Kademlia<P> {
    base: OverlayAddr,
    /// `(peer, address, proximity order to base)`, unordered.
    peers: Vec<(P, OverlayAddr, u32)>,
    /// Peers per proximity order.
    bins: Vec<usize>,
    depth: u32,
}

impl<P: Copy + PartialEq> Kademlia<P> {
    /// An empty table around `base`.
    #[must_use]
    pub fn new(base: OverlayAddr) -> Self {
        Self {
            base,
            peers: Vec::new(),
            bins: vec![0; BINS],
            depth: 0,
        }
    }

    /// The own address.
    #[must_use]
    pub fn base(&self) -> OverlayAddr {
        self.base
    }

    /// Adds a peer; `false` (and nothing changes) if the handle is already in the table.
    pub fn add(&mut self, peer: P, addr: OverlayAddr) -> bool {
        if self.peers.iter().any(|(p, _, _)| *p == peer) {
            return false;
        }
        let po = self.base.proximity(&addr.0);
        if let Some(n) = self.bins.get_mut(po as usize) {
            *n += 1;
        }
        self.peers.push((peer, addr, po));
        self.depth = self.compute_depth();
        true
    }

    /// Removes a peer; `false` if it was not in the table.
    pub fn remove(&mut self, peer: P) -> bool {
        let Some(pos) = self.peers.iter().position(|(p, _, _)| *p == peer) else {
            return false;
        };
        let (_, _, po) = self.peers.swap_remove(pos);
        if let Some(n) = self.bins.get_mut(po as usize) {
            *n = n.saturating_sub(1);
        }
        self.depth = self.compute_depth();
        true
    }

    /// The number of peers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The number of peers in bin `po`.
    #[must_use]
    pub fn bin_size(&self, po: u32) -> usize {
        self.bins.get(po as usize).copied().unwrap_or(0)
    }

    /// The peers with their addresses.
    pub fn peers(&self) -> impl Iterator<Item = (P, OverlayAddr)> + '_ {
        self.peers.iter().map(|(p, a, _)| (*p, *a))
    }

    /// The neighbourhood depth: the shallowest proximity order such that the
    /// [`MIN_PROX_BIN_SIZE`] nearest peers are at or deeper, and no shallower bin is empty
    /// (0 with fewer peers than that).
    #[must_use]
    pub fn depth(&self) -> u32 {
        self.depth
    }

    fn compute_depth(&self) -> u32 {
        if self.peers.len() < MIN_PROX_BIN_SIZE {
            return 0;
        }
        // The proximity order of the MIN_PROX_BIN_SIZE-th nearest peer, counted from the
        // deepest bin.
        let mut seen = 0;
        let mut nearest = 0u32;
        for po in (0..BINS).rev() {
            seen += self.bins.get(po).copied().unwrap_or(0);
            if seen >= MIN_PROX_BIN_SIZE {
                nearest = po as u32;
                break;
            }
        }
        let first_empty = self
            .bins
            .iter()
            .position(|&n| n == 0)
            .map_or(BINS as u32, |p| p as u32);
        nearest.min(first_empty)
    }

    /// The forwarding decision for the hint `to`, never including `exclude` (the peer the
    /// message came from). See the module docs for the rules.
    #[must_use]
    pub fn route(&self, to: &[u8], exclude: Option<P>) -> Route<P> {
        let others = || {
            self.peers
                .iter()
                .filter(move |(p, _, _)| Some(*p) != exclude)
        };
        if to.is_empty() {
            return Route::Broadcast(others().map(|(p, _, _)| *p).collect());
        }
        let matching: Vec<P> = others()
            .filter(|(_, a, _)| a.matches(to))
            .map(|(p, _, _)| *p)
            .collect();
        // A full hint matches at most one address: that peer only. When the own address has
        // the prefix too, only peers with the prefix still need the message.
        if !matching.is_empty() || self.base.matches(to) {
            return Route::Broadcast(matching);
        }
        if self.peers.len() >= MIN_PROX_BIN_SIZE && proximity(&self.base.0, to) >= self.depth {
            let hood: Vec<P> = others()
                .filter(|(_, _, po)| *po >= self.depth)
                .map(|(p, _, _)| *p)
                .collect();
            if !hood.is_empty() {
                return Route::Broadcast(hood);
            }
        }
        let mut ranked: Vec<(&P, &OverlayAddr)> = others().map(|(p, a, _)| (p, a)).collect();
        ranked.sort_by(|(_, a), (_, b)| closer(to, a, b));
        Route::Closest(ranked.into_iter().map(|(p, _)| *p).collect())
    }
}

/// Orders two addresses by XOR distance to `hint` over the hint's bytes (closer first).
fn closer(hint: &[u8], a: &OverlayAddr, b: &OverlayAddr) -> Ordering {
    for ((h, x), y) in hint.iter().zip(&a.0).zip(&b.0) {
        match (h ^ x).cmp(&(h ^ y)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}
