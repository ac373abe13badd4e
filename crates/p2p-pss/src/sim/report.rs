//! The simulation's report: one row per target kind, printed as an aligned table.

use std::collections::HashSet;
use std::fmt;

use super::{Sent, SimConfig, Target};
use crate::OverlayAddr;

/// One target kind's results.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct TargetRow {
    /// The target kind.
    pub target: Target,
    /// Messages sent.
    pub messages: usize,
    /// Intended deliveries: per message, the live nodes with the hint that a path of live
    /// links leads to from the sender (the sender excluded), summed.
    pub intended: u64,
    /// Intended deliveries that happened (each node counted once per message).
    pub reached: u64,
    /// `reached / intended` (1 when nothing was intended).
    pub reached_share: f64,
    /// Deliveries to nodes whose address does not have the message's hint.
    pub outside: u64,
    /// Deliveries of a message a node had already delivered (should be 0).
    pub delivered_twice: u64,
    /// Links crossed by the median delivery.
    pub hops_p50: u32,
    /// Links crossed by the 99th-percentile delivery.
    pub hops_p99: u32,
    /// Copies written to links per intended delivery.
    pub wire_per_delivery: f64,
    /// Copies dropped by the nodes as already seen.
    pub duplicates: u64,
}

/// A simulation's results, per target kind. `Display` prints the table of `peerwire pss sim`.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SimReport {
    /// Nodes in the network.
    pub nodes: usize,
    /// Links at the end (including those added when the survivors repaired their tables).
    pub links: usize,
    /// Links of the initial topology.
    pub links_initial: usize,
    /// Nodes killed halfway through.
    pub killed: usize,
    /// One row per target kind, in the order of [`SimConfig::targets`].
    pub rows: Vec<TargetRow>,
    /// Seconds to build the network and bring the links up.
    pub setup_secs: f64,
    /// Seconds of sending and settling.
    pub send_secs: f64,
    /// Seconds of the whole run.
    pub wall_secs: f64,
}

impl SimReport {
    /// The row of a target kind.
    #[must_use]
    pub fn row(&self, target: Target) -> Option<&TargetRow> {
        self.rows.iter().find(|r| r.target == target)
    }
}

pub(super) struct Input<'a> {
    pub(super) config: &'a SimConfig,
    pub(super) nodes: usize,
    pub(super) links: usize,
    pub(super) links_initial: usize,
    pub(super) killed: usize,
    pub(super) alive: &'a [bool],
    pub(super) addrs: &'a [OverlayAddr],
    pub(super) sent: &'a [Sent],
    pub(super) tracker: &'a [Vec<(u32, u8)>],
    pub(super) wire: &'a [u64],
    pub(super) duplicates: &'a [u64],
    pub(super) setup_secs: f64,
    pub(super) send_secs: f64,
    pub(super) wall_secs: f64,
}

fn percentile(sorted: &[u8], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).map_or(0, |&h| u32::from(h))
}

pub(super) fn build(input: Input<'_>) -> SimReport {
    let mut rows = Vec::new();
    for (kind, &target) in input.config.targets.iter().enumerate() {
        let (mut intended, mut reached, mut outside, mut twice) = (0u64, 0u64, 0u64, 0u64);
        let mut hops = Vec::new();
        let mut messages = 0;
        for (g, s) in input
            .sent
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == kind)
        {
            messages += 1;
            let want: HashSet<usize> = s
                .intended
                .iter()
                .copied()
                .filter(|&i| input.alive.get(i).copied().unwrap_or(false))
                .collect();
            intended += want.len() as u64;
            let mut seen = HashSet::new();
            for &(node, h) in input.tracker.get(g).into_iter().flatten() {
                let node = node as usize;
                if !seen.insert(node) {
                    twice += 1;
                    continue;
                }
                if !input.addrs.get(node).is_some_and(|a| a.matches(&s.hint)) {
                    outside += 1;
                }
                if want.contains(&node) {
                    reached += 1;
                    hops.push(h);
                }
            }
        }
        hops.sort_unstable();
        let wire = input.wire.get(kind).copied().unwrap_or(0);
        rows.push(TargetRow {
            target,
            messages,
            intended,
            reached,
            reached_share: if intended == 0 {
                1.0
            } else {
                reached as f64 / intended as f64
            },
            outside,
            delivered_twice: twice,
            hops_p50: percentile(&hops, 0.5),
            hops_p99: percentile(&hops, 0.99),
            wire_per_delivery: if reached == 0 {
                0.0
            } else {
                wire as f64 / reached as f64
            },
            duplicates: input.duplicates.get(kind).copied().unwrap_or(0),
        });
    }
    SimReport {
        nodes: input.nodes,
        links: input.links,
        links_initial: input.links_initial,
        killed: input.killed,
        rows,
        setup_secs: input.setup_secs,
        send_secs: input.send_secs,
        wall_secs: input.wall_secs,
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pss sim: {} nodes, {} links ({} initial), {} killed; setup {:.2} s, traffic {:.2} s, wall {:.2} s",
            self.nodes,
            self.links,
            self.links_initial,
            self.killed,
            self.setup_secs,
            self.send_secs,
            self.wall_secs
        )?;
        writeln!(
            f,
            "{:<12} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
            "target",
            "messages",
            "intended",
            "reached",
            "share",
            "outside",
            "hops p50",
            "hops p99",
            "wire/deliv",
            "duplicates"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<12} {:>8} {:>9} {:>9} {:>7.1}% {:>8} {:>8} {:>8} {:>10.2} {:>10}",
                r.target.to_string(),
                r.messages,
                r.intended,
                r.reached,
                r.reached_share * 100.0,
                r.outside,
                r.hops_p50,
                r.hops_p99,
                r.wire_per_delivery,
                r.duplicates
            )?;
        }
        Ok(())
    }
}
