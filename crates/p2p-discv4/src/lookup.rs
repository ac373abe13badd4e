//! Iterative Kademlia lookups, run on the caller's task through the handle: [`ALPHA`]
//! FindNode requests in flight, each to one of the [`BUCKET_SIZE`] closest nodes not yet
//! asked, until none is left; nodes we have no endpoint proof with are pinged first.

use std::collections::{BTreeMap, HashSet};

use futures_util::stream::{FuturesUnordered, StreamExt};
use p2p_msg::NodeId;
use p2p_rlpx::Enode;

use crate::config::ALPHA;
use crate::node::{Key, NodeRecord};
use crate::table::BUCKET_SIZE;
use crate::{Discv4, Error};

/// A random node id (a uniformly random lookup target).
#[must_use]
pub fn random_id() -> NodeId {
    let mut id = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut id);
    NodeId::from(id)
}

/// One candidate of a lookup.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    enode: Enode,
    queried: bool,
    answered: bool,
}

impl Discv4 {
    /// Asks one node for its neighbours of `target`, bonding first if needed.
    async fn query(&self, node: Enode, target: NodeId) -> Result<Vec<Enode>, Error> {
        self.ensure_bond(&node).await?;
        let neighbors = self.find_node(&node, target).await?;
        Ok(neighbors
            .into_iter()
            .filter(|n| !n.endpoint.ip.is_unspecified() && n.endpoint.udp_port != 0)
            .map(|n| Enode {
                id: n.id,
                ip: n.endpoint.ip,
                tcp_port: n.endpoint.tcp_port,
                udp_port: n.endpoint.udp_port,
            })
            .collect())
    }

    pub(crate) async fn run_lookup(&self, target: NodeId) -> Result<Vec<NodeRecord>, Error> {
        let key = Key::of(&target);
        let local = self.shared.local_enode.id;
        let mut candidates: BTreeMap<[u8; 32], Candidate> = BTreeMap::new();
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut add = |candidates: &mut BTreeMap<[u8; 32], Candidate>, enode: Enode| {
            if enode.id != local && seen.insert(enode.id) {
                candidates.insert(
                    key.distance(&Key::of(&enode.id)),
                    Candidate {
                        enode,
                        queried: false,
                        answered: false,
                    },
                );
            }
        };
        let mut start = self.closest(target, BUCKET_SIZE).await?;
        if start.is_empty() {
            start = self
                .shared
                .config
                .bootnodes
                .iter()
                .copied()
                .map(NodeRecord::new)
                .collect();
        }
        for r in start {
            add(&mut candidates, r.enode);
        }
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < ALPHA {
                let next = candidates
                    .iter_mut()
                    .take(BUCKET_SIZE)
                    .find(|(_, c)| !c.queried)
                    .map(|(d, c)| {
                        c.queried = true;
                        (*d, c.enode)
                    });
                let Some((distance, enode)) = next else { break };
                in_flight.push(async move { (distance, self.query(enode, target).await) });
            }
            let Some((distance, result)) = in_flight.next().await else {
                break;
            };
            match result {
                Ok(found) => {
                    if let Some(c) = candidates.get_mut(&distance) {
                        c.answered = true;
                    }
                    for enode in found {
                        add(&mut candidates, enode);
                    }
                }
                Err(e) if e.is_stopped() => return Err(e),
                Err(_) => {
                    candidates.remove(&distance);
                }
            }
        }
        let table: Vec<NodeRecord> = self.table_nodes().await;
        Ok(candidates
            .values()
            .filter(|c| c.answered)
            .take(BUCKET_SIZE)
            .map(|c| {
                table
                    .iter()
                    .find(|r| r.enode.id == c.enode.id)
                    .cloned()
                    .unwrap_or_else(|| NodeRecord::new(c.enode))
            })
            .collect())
    }
}
