//! The service's configuration: [`Discv4Config`] with its [`Timeouts`], and the statistics and
//! events it reports.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use p2p_msg::NodeId;
use p2p_rlpx::Enode;

use crate::limits::Limits;
use crate::node::NodeRecord;
use crate::table::TableLimits;

/// How long to wait for one reply (geth's `respTimeout`).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long an endpoint proof stays valid (geth uses 24 h; 12 h here).
pub const BOND_EXPIRATION: Duration = Duration::from_secs(12 * 3600);

/// Concurrent FindNode requests in a lookup (Kademlia's alpha).
pub const ALPHA: usize = 3;

/// Timing of requests and of the table's maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long to wait for a Pong, the first Neighbors packet or an ENRResponse.
    pub response: Duration,
    /// How long a node's answered Ping counts as its endpoint proof.
    pub bond_expiration: Duration,
    /// How often the least recently seen node of a random bucket is pinged.
    pub revalidate_interval: Duration,
    /// How often a lookup of a random target refreshes the table (the first one, of our own
    /// id, runs soon after start).
    pub refresh_interval: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            response: RESPONSE_TIMEOUT,
            bond_expiration: BOND_EXPIRATION,
            revalidate_interval: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(60),
        }
    }
}

/// Everything [`Discv4::bind`](crate::Discv4::bind) needs besides the key.
#[derive(Debug, Clone)]
pub struct Discv4Config {
    /// The UDP address to listen on (default `0.0.0.0:30303`, like geth).
    pub listen_addr: SocketAddr,
    /// The IP address to announce in the ENR and enode; default: the listen address's IP.
    pub external_ip: Option<IpAddr>,
    /// The RLPx TCP port to announce; default: the UDP port.
    pub tcp_port: Option<u16>,
    /// Nodes to ping at start and to begin lookups from while the table is empty.
    pub bootnodes: Vec<Enode>,
    /// Extra entries of the local ENR: key and the value's raw RLP (for example `eth` with the
    /// fork id).
    pub enr_entries: Vec<(String, Vec<u8>)>,
    /// Rate limits and sizes of the flood-facing maps.
    pub limits: Limits,
    /// The table's per-subnet limits.
    pub table_limits: TableLimits,
    /// Request timeouts and maintenance intervals.
    pub timeouts: Timeouts,
    /// How many [`Discv4Event`]s a slow subscriber may lag behind.
    pub event_capacity: usize,
}

impl Default for Discv4Config {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 30303),
            external_ip: None,
            tcp_port: None,
            bootnodes: Vec::new(),
            enr_entries: Vec::new(),
            limits: Limits::default(),
            table_limits: TableLimits::default(),
            timeouts: Timeouts::default(),
            event_capacity: 1024,
        }
    }
}

/// A change in the routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discv4Event {
    /// A node proved its endpoint and entered a bucket.
    NodeAdded(NodeRecord),
    /// A live node's record was fetched or replaced by a newer one (for example, with the
    /// `eth` entry a peer pool filters on).
    NodeUpdated(NodeRecord),
    /// A node failed revalidation and left its bucket.
    NodeRemoved(NodeId),
}

/// Counters and sizes of the service, for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received.
    pub packets_in: u64,
    /// Datagrams sent.
    pub packets_out: u64,
    /// Dropped by the per-source rate limit (before any decoding).
    pub dropped_rate_limited: u64,
    /// Dropped as malformed: size, hash, signature, type or body.
    pub dropped_malformed: u64,
    /// Dropped because their expiration had passed.
    pub dropped_expired: u64,
    /// Dropped because the same packet hash was seen before.
    pub dropped_replayed: u64,
    /// Replies that matched no request.
    pub dropped_unsolicited: u64,
    /// Requests from nodes without an endpoint proof.
    pub dropped_unbonded: u64,
    /// Requests not sent because too many replies were pending.
    pub dropped_busy: u64,
    /// Live nodes in the table.
    pub table_nodes: u64,
    /// Requests waiting for replies.
    pub pending_replies: u64,
    /// Source IPs tracked by the rate limiter.
    pub tracked_sources: u64,
    /// Packet hashes in the replay filter.
    pub seen_hashes: u64,
    /// Endpoint-proof records kept.
    pub bonds: u64,
}

/// The counters behind [`Stats`], shared between the service and its handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) packets_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) unsolicited: AtomicU64,
    pub(crate) unbonded: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) table_nodes: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) sources: AtomicU64,
    pub(crate) hashes: AtomicU64,
    pub(crate) bonds: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, value: usize) {
        counter.store(value as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            packets_in: g(&self.packets_in),
            packets_out: g(&self.packets_out),
            dropped_rate_limited: g(&self.rate_limited),
            dropped_malformed: g(&self.malformed),
            dropped_expired: g(&self.expired),
            dropped_replayed: g(&self.replayed),
            dropped_unsolicited: g(&self.unsolicited),
            dropped_unbonded: g(&self.unbonded),
            dropped_busy: g(&self.busy),
            table_nodes: g(&self.table_nodes),
            pending_replies: g(&self.pending),
            tracked_sources: g(&self.sources),
            seen_hashes: g(&self.hashes),
            bonds: g(&self.bonds),
        }
    }
}
