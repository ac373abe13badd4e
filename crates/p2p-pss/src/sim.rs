//! In-process networks of pss nodes over `MsgPipe` links, and the simulation behind
//! `peerwire pss sim` and the benchmarks.
//!
//! SKELETON: to be written (helper "router").

use std::fmt;

use crate::{Error, Pss};

/// A link between two in-process nodes over a `MsgPipe`; dropping it does not close it.
#[derive(Debug)]
pub struct Link {
    _private: (),
}

impl Link {
    /// Closes the link (both ends see the peer go away).
    pub fn close(&self) {
        unimplemented!("skeleton")
    }
}

/// Connects two nodes with a `MsgPipe` running `pss/2` (each side sees the other's node id);
/// spawns the two protocol runs.
#[must_use]
pub fn link(a: &Pss, b: &Pss) -> Link {
    let _ = (a, b);
    unimplemented!("skeleton")
}

/// What a simulation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Target {
    /// To one node's full address (one intended recipient).
    Full,
    /// To an address prefix of this many bytes (every node with the prefix is intended).
    Partial(u8),
    /// To the empty address (every node is intended).
    Flood,
}

/// A simulation's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Nodes in the network.
    pub nodes: usize,
    /// Peers each node picks in each proximity bin (more are kept when others pick it).
    pub peers_per_bin: usize,
    /// Messages sent per target kind.
    pub messages: usize,
    /// Which kinds of target to send to.
    pub targets: Vec<Target>,
    /// Share of nodes killed halfway through (0.0 to 1.0).
    pub kill_fraction: f64,
    /// Seed of the topology, keys and traffic.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 16,
            peers_per_bin: 2,
            messages: 100,
            targets: vec![Target::Full, Target::Partial(1), Target::Flood],
            kill_fraction: 0.0,
            seed: 1,
        }
    }
}

/// A simulation's results, per target kind. `Display` prints the table of `peerwire pss sim`.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SimReport {}

impl fmt::Display for SimReport {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        unimplemented!("skeleton")
    }
}

/// Builds the network, sends the traffic, waits for it to settle, and reports.
///
/// # Errors
///
/// Failures to send (for example a full outbox).
pub async fn run(config: SimConfig) -> Result<SimReport, Error> {
    let _ = config;
    unimplemented!("skeleton")
}
