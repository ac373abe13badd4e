//! The Kademlia routing table: 256 log-distance buckets of [`BUCKET_SIZE`] live nodes each,
//! with a replacement list of [`REPLACEMENTS`] per bucket and per-subnet limits.
//!
//! Only nodes that proved their endpoint (answered our Ping) are inserted; the service
//! enforces that, the table just keeps order: the front of a bucket is the most recently
//! seen node, the back the one revalidation pings next.

use std::collections::HashMap;
use std::net::IpAddr;

use p2p_msg::NodeId;

use crate::node::{Key, NodeRecord, ip_limit_exempt, subnet};

/// Live nodes per bucket (Kademlia's k, geth's `bucketSize`).
pub const BUCKET_SIZE: usize = 16;

/// Replacement candidates per bucket (geth's `maxReplacements`).
pub const REPLACEMENTS: usize = 10;

/// How many nodes of one /24 one bucket may hold (geth's `bucketIPLimit`).
pub const BUCKET_SUBNET_LIMIT: usize = 2;

/// How many nodes of one /24 the whole table may hold (geth's `tableIPLimit`).
pub const TABLE_SUBNET_LIMIT: usize = 10;

/// The table's per-subnet limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLimits {
    /// Nodes per /24 (IPv4) or /64 (IPv6) in one bucket.
    pub bucket_subnet: usize,
    /// Nodes per /24 or /64 in the whole table.
    pub table_subnet: usize,
    /// Whether loopback and private-LAN addresses skip the limits (geth does).
    pub exempt_lan: bool,
}

impl Default for TableLimits {
    fn default() -> Self {
        Self {
            bucket_subnet: BUCKET_SUBNET_LIMIT,
            table_subnet: TABLE_SUBNET_LIMIT,
            exempt_lan: true,
        }
    }
}

/// What [`Table::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// The node is new in its bucket.
    Added,
    /// The node was already live; it moved to the front.
    Updated,
    /// The bucket is full (or the subnet limit hit); the node waits as a replacement.
    Replacement,
    /// The node is ourselves.
    Rejected,
}

#[derive(Debug, Clone)]
struct Bucket {
    entries: Vec<NodeRecord>,
    replacements: Vec<NodeRecord>,
}

/// The routing table.
#[derive(Debug)]
pub(crate) struct Table {
    local: Key,
    buckets: Vec<Bucket>,
    subnets: HashMap<[u8; 8], usize>,
    limits: TableLimits,
    len: usize,
}

impl Table {
    pub(crate) fn new(local: &NodeId, limits: TableLimits) -> Self {
        let empty = Bucket {
            entries: Vec::new(),
            replacements: Vec::new(),
        };
        Self {
            local: Key::of(local),
            buckets: vec![empty; 256],
            subnets: HashMap::new(),
            limits,
            len: 0,
        }
    }

    fn bucket_index(&self, id: &NodeId) -> Option<usize> {
        self.local.log_distance(&Key::of(id)).checked_sub(1)
    }

    /// The number of live nodes.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    fn limited(&self, ip: IpAddr) -> bool {
        !(self.limits.exempt_lan && ip_limit_exempt(ip))
    }

    fn subnet_ok(&self, bucket: &Bucket, ip: IpAddr) -> bool {
        if !self.limited(ip) {
            return true;
        }
        let net = subnet(ip);
        let in_bucket = bucket
            .entries
            .iter()
            .filter(|n| subnet(n.enode.ip) == net)
            .count();
        in_bucket < self.limits.bucket_subnet
            && self.subnets.get(&net).copied().unwrap_or(0) < self.limits.table_subnet
    }

    fn count_ip(&mut self, ip: IpAddr, add: bool) {
        if !self.limited(ip) {
            return;
        }
        let net = subnet(ip);
        if add {
            *self.subnets.entry(net).or_default() += 1;
        } else if let Some(c) = self.subnets.get_mut(&net) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.subnets.remove(&net);
            }
        }
    }

    /// Inserts or refreshes a node that just proved its endpoint.
    pub(crate) fn insert(&mut self, mut record: NodeRecord) -> Inserted {
        let Some(index) = self.bucket_index(&record.enode.id) else {
            return Inserted::Rejected;
        };
        let Some(bucket) = self.buckets.get(index) else {
            return Inserted::Rejected;
        };
        let id = record.enode.id;
        if let Some(pos) = bucket.entries.iter().position(|n| n.enode.id == id) {
            let old_ip = bucket.entries.get(pos).map(|n| n.enode.ip);
            let bucket = &mut self.buckets[index];
            let old = bucket.entries.remove(pos);
            if record.enr_seq() < old.enr_seq() {
                record.enr = old.enr;
            }
            bucket.entries.insert(0, record.clone());
            if let Some(old_ip) = old_ip.filter(|ip| *ip != record.enode.ip) {
                self.count_ip(old_ip, false);
                self.count_ip(record.enode.ip, true);
            }
            return Inserted::Updated;
        }
        if bucket.entries.len() < BUCKET_SIZE && self.subnet_ok(bucket, record.enode.ip) {
            let ip = record.enode.ip;
            let bucket = &mut self.buckets[index];
            bucket.replacements.retain(|n| n.enode.id != id);
            bucket.entries.insert(0, record);
            self.count_ip(ip, true);
            self.len += 1;
            return Inserted::Added;
        }
        let bucket = &mut self.buckets[index];
        bucket.replacements.retain(|n| n.enode.id != id);
        bucket.replacements.insert(0, record);
        bucket.replacements.truncate(REPLACEMENTS);
        Inserted::Replacement
    }

    /// Removes a live node; promotes the newest replacement that fits. Returns the removed
    /// node and the promoted one.
    pub(crate) fn remove(&mut self, id: &NodeId) -> (Option<NodeRecord>, Option<NodeRecord>) {
        let Some(index) = self.bucket_index(id) else {
            return (None, None);
        };
        let Some(bucket) = self.buckets.get_mut(index) else {
            return (None, None);
        };
        let Some(pos) = bucket.entries.iter().position(|n| n.enode.id == *id) else {
            bucket.replacements.retain(|n| n.enode.id != *id);
            return (None, None);
        };
        let removed = bucket.entries.remove(pos);
        self.len -= 1;
        self.count_ip(removed.enode.ip, false);
        let mut promoted = None;
        let candidates = std::mem::take(&mut self.buckets[index].replacements);
        let mut rest = Vec::with_capacity(candidates.len());
        for c in candidates {
            if promoted.is_none() && self.subnet_ok(&self.buckets[index], c.enode.ip) {
                promoted = Some(c);
            } else {
                rest.push(c);
            }
        }
        self.buckets[index].replacements = rest;
        if let Some(p) = &promoted {
            // Promoted nodes go to the back: they are the least recently verified.
            self.buckets[index].entries.push(p.clone());
            self.count_ip(p.enode.ip, true);
            self.len += 1;
        }
        (Some(removed), promoted)
    }

    /// A live node by id.
    pub(crate) fn get(&self, id: &NodeId) -> Option<&NodeRecord> {
        let bucket = self.buckets.get(self.bucket_index(id)?)?;
        bucket.entries.iter().find(|n| n.enode.id == *id)
    }

    /// Stores a newer record for a live node.
    pub(crate) fn set_enr(&mut self, id: &NodeId, enr: crate::node::Enr) -> bool {
        let Some(index) = self.bucket_index(id) else {
            return false;
        };
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        match bucket.entries.iter_mut().find(|n| n.enode.id == *id) {
            Some(n) if n.enr_seq() < enr.seq() || n.enr.is_none() => {
                n.enr = Some(enr);
                true
            }
            _ => false,
        }
    }

    /// The `n` live nodes closest to `target`, nearest first.
    pub(crate) fn closest(&self, target: &Key, n: usize) -> Vec<NodeRecord> {
        let mut all: Vec<(&NodeRecord, [u8; 32])> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .map(|r| (r, target.distance(&Key::of(&r.enode.id))))
            .collect();
        all.sort_by_key(|a| a.1);
        all.into_iter().take(n).map(|(r, _)| r.clone()).collect()
    }

    /// Every live node.
    pub(crate) fn nodes(&self) -> Vec<NodeRecord> {
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter().cloned())
            .collect()
    }

    /// Every live node and every replacement candidate.
    pub(crate) fn known(&self) -> Vec<NodeRecord> {
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter().chain(b.replacements.iter()).cloned())
            .collect()
    }

    /// The least recently seen node of a bucket chosen by `pick` among the non-empty ones.
    pub(crate) fn revalidation_target(&self, pick: usize) -> Option<NodeRecord> {
        let non_empty: Vec<&Bucket> = self
            .buckets
            .iter()
            .filter(|b| !b.entries.is_empty())
            .collect();
        if non_empty.is_empty() {
            return None;
        }
        non_empty
            .get(pick % non_empty.len())
            .and_then(|b| b.entries.last())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use p2p_rlpx::{Enode, NodeKey};

    use super::*;

    fn record(ip: &str) -> NodeRecord {
        let addr: SocketAddr = format!("{ip}:30303").parse().unwrap();
        NodeRecord::new(Enode::new(NodeKey::generate().id(), addr))
    }

    #[test]
    fn a_full_bucket_sends_new_nodes_to_the_replacement_list() {
        let local = NodeKey::generate().id();
        let mut table = Table::new(&local, TableLimits::default());
        // About half of all random ids land in the farthest bucket.
        let mut in_far = Vec::new();
        while in_far.len() < BUCKET_SIZE + REPLACEMENTS + 3 {
            let r = record("127.0.0.1");
            if table.bucket_index(&r.enode.id) == Some(255) {
                in_far.push(r);
            }
        }
        let results: Vec<Inserted> = in_far.iter().map(|r| table.insert(r.clone())).collect();
        assert_eq!(
            results.iter().filter(|r| **r == Inserted::Added).count(),
            BUCKET_SIZE
        );
        assert_eq!(table.len(), BUCKET_SIZE);
        assert_eq!(table.buckets[255].replacements.len(), REPLACEMENTS);
        let (removed, promoted) = table.remove(&in_far[0].enode.id);
        assert_eq!(removed.unwrap().enode.id, in_far[0].enode.id);
        // The newest replacement is promoted.
        assert_eq!(promoted.unwrap().enode.id, in_far.last().unwrap().enode.id);
        assert_eq!(table.len(), BUCKET_SIZE);
    }

    #[test]
    fn subnet_limits_apply_to_public_addresses() {
        let local = NodeKey::generate().id();
        let mut table = Table::new(&local, TableLimits::default());
        let mut added = 0;
        for _ in 0..200 {
            if table.insert(record("8.8.8.8")) == Inserted::Added {
                added += 1;
            }
        }
        assert_eq!(added, TABLE_SUBNET_LIMIT);
        for b in &table.buckets {
            assert!(b.entries.len() <= BUCKET_SUBNET_LIMIT);
        }
    }

    #[test]
    fn loopback_nodes_skip_the_subnet_limits() {
        let local = NodeKey::generate().id();
        let mut table = Table::new(&local, TableLimits::default());
        for _ in 0..40 {
            table.insert(record("127.0.0.1"));
        }
        assert!(table.len() > TABLE_SUBNET_LIMIT);
    }

    #[test]
    fn closest_sorts_by_xor_distance() {
        let local = NodeKey::generate().id();
        let mut table = Table::new(&local, TableLimits::default());
        for _ in 0..50 {
            table.insert(record("127.0.0.1"));
        }
        let target = Key::of(&NodeKey::generate().id());
        let near = table.closest(&target, 16);
        assert_eq!(near.len(), 16);
        let d: Vec<[u8; 32]> = near
            .iter()
            .map(|r| target.distance(&Key::of(&r.enode.id)))
            .collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]));
        assert!(table.get(&near[0].enode.id).is_some());
    }
}
