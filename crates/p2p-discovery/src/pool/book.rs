//! The pool's book-keeping, free of I/O: the nodes it knows with their state, backoff and last failure, the
//! queue of candidates waiting for a dial slot, and the counts the limits are checked against.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use p2p_msg::NodeId;
use p2p_rlpx::{Direction, Enode};
use tokio::time::Instant;

use super::{FailureReason, PoolConfig};
use crate::Source;

/// Where a node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Nothing in progress (never dialed, or its last dial or session ended).
    Idle,
    /// Waiting in the queue for a dial slot.
    Queued,
    /// A dial is in progress.
    Dialing,
    /// An eth session is up.
    Connected(Direction),
}

/// What the pool remembers of one node.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) enode: Enode,
    pub(super) source: Source,
    pub(super) state: State,
    /// Failures in a row (reset by a working session).
    pub(super) failures: u32,
    pub(super) last_failure: Option<FailureReason>,
    /// No dial before this instant.
    pub(super) not_before: Option<Instant>,
}

/// Why a candidate was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Already queued, dialing or connected.
    Busy,
    /// In backoff after a failure.
    BackedOff,
    /// The queue or the node table is full.
    Full,
}

/// The nodes, the queue and the counts.
#[derive(Debug)]
pub(super) struct Book {
    config: PoolConfig,
    nodes: HashMap<NodeId, Record>,
    queue: VecDeque<NodeId>,
    per_ip: HashMap<IpAddr, usize>,
    pub(super) outbound: usize,
    pub(super) inbound: usize,
    pub(super) dialing: usize,
}

impl Book {
    pub(super) fn new(config: PoolConfig) -> Self {
        Self {
            config,
            nodes: HashMap::new(),
            queue: VecDeque::new(),
            per_ip: HashMap::new(),
            outbound: 0,
            inbound: 0,
            dialing: 0,
        }
    }

    pub(super) fn known(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn record(&self, id: &NodeId) -> Option<&Record> {
        self.nodes.get(id)
    }

    /// Queues a candidate for dialing unless it is busy, backed off, or there is no room.
    pub(super) fn offer(
        &mut self,
        enode: Enode,
        source: Source,
        now: Instant,
    ) -> Result<(), Refusal> {
        if self.queue.len() >= self.config.max_queued {
            return Err(Refusal::Full);
        }
        if !self.nodes.contains_key(&enode.id) && self.nodes.len() >= self.config.max_known {
            self.evict_idle();
            if self.nodes.len() >= self.config.max_known {
                return Err(Refusal::Full);
            }
        }
        let record = self.nodes.entry(enode.id).or_insert(Record {
            enode,
            source,
            state: State::Idle,
            failures: 0,
            last_failure: None,
            not_before: None,
        });
        if record.state != State::Idle {
            return Err(Refusal::Busy);
        }
        if record.not_before.is_some_and(|t| t > now) {
            return Err(Refusal::BackedOff);
        }
        // A newer address for the same node replaces the old one.
        record.enode = enode;
        record.source = source;
        record.state = State::Queued;
        self.queue.push_back(enode.id);
        Ok(())
    }

    /// Forgets one idle node without a failure to remember, else one idle node whose backoff is over.
    fn evict_idle(&mut self) {
        let victim = self
            .nodes
            .iter()
            .filter(|(_, r)| r.state == State::Idle)
            .min_by_key(|(_, r)| (r.failures == 0, r.not_before))
            .map(|(id, _)| *id);
        if let Some(id) = victim {
            self.nodes.remove(&id);
        }
    }

    fn ip_limited(&self, ip: IpAddr) -> bool {
        if ip.is_loopback() && !self.config.limit_loopback {
            return false;
        }
        self.per_ip.get(&ip).copied().unwrap_or(0) >= self.config.max_per_ip
    }

    fn ip_add(&mut self, ip: IpAddr) {
        *self.per_ip.entry(ip).or_insert(0) += 1;
    }

    fn ip_remove(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// The next candidate to dial now, marked as dialing: `None` when the dial or outbound slots are taken or
    /// the queue holds no candidate whose IP has room (those stay queued).
    pub(super) fn next_dial(&mut self) -> Option<Enode> {
        if self.dialing >= self.config.max_concurrent_dials
            || self.outbound + self.dialing >= self.config.max_outbound
        {
            return None;
        }
        let position = self.queue.iter().position(|id| {
            self.nodes
                .get(id)
                .is_some_and(|r| !self.ip_limited(r.enode.ip))
        })?;
        let id = self.queue.remove(position)?;
        let record = self.nodes.get_mut(&id)?;
        record.state = State::Dialing;
        let enode = record.enode;
        self.dialing += 1;
        self.ip_add(enode.ip);
        Some(enode)
    }

    /// A dial's eth session came up.
    pub(super) fn dial_connected(&mut self, id: &NodeId) {
        if let Some(record) = self.nodes.get_mut(id)
            && record.state == State::Dialing
        {
            record.state = State::Connected(Direction::Outbound);
            record.failures = 0;
            record.last_failure = None;
            self.dialing = self.dialing.saturating_sub(1);
            self.outbound += 1;
        }
    }

    /// Whether an inbound session may be admitted; if so it is counted.
    pub(super) fn admit_inbound(&mut self, enode: Enode) -> bool {
        if self.inbound >= self.config.max_inbound || self.ip_limited(enode.ip) {
            return false;
        }
        if let Some(record) = self.nodes.get(&enode.id)
            && record.state != State::Idle
            && record.state != State::Queued
        {
            // Already dialing or connected to it.
            return false;
        }
        if let Some(record) = self.nodes.get(&enode.id)
            && record.state == State::Queued
        {
            self.queue.retain(|q| q != &enode.id);
        }
        if !self.nodes.contains_key(&enode.id) && self.nodes.len() >= self.config.max_known {
            self.evict_idle();
        }
        self.nodes.insert(
            enode.id,
            Record {
                enode,
                source: Source::Inbound,
                state: State::Connected(Direction::Inbound),
                failures: 0,
                last_failure: None,
                not_before: None,
            },
        );
        self.inbound += 1;
        self.ip_add(enode.ip);
        true
    }

    /// A node's dial or session ended; `failure` says why when it never became a session (or broke). Returns
    /// the direction of the session that ended, if one had been up.
    pub(super) fn ended(
        &mut self,
        id: &NodeId,
        failure: Option<FailureReason>,
        now: Instant,
    ) -> Option<Direction> {
        let (was, ip) = self.nodes.get(id).map(|r| (r.state, r.enode.ip))?;
        let session = match was {
            State::Dialing => {
                self.dialing = self.dialing.saturating_sub(1);
                None
            }
            State::Connected(Direction::Outbound) => {
                self.outbound = self.outbound.saturating_sub(1);
                Some(Direction::Outbound)
            }
            State::Connected(Direction::Inbound) => {
                self.inbound = self.inbound.saturating_sub(1);
                Some(Direction::Inbound)
            }
            State::Idle | State::Queued => return None,
        };
        self.ip_remove(ip);
        let record = self.nodes.get_mut(id)?;
        record.state = State::Idle;
        if let Some(reason) = failure {
            record.failures = record.failures.saturating_add(1);
            record.last_failure = Some(reason);
        }
        // A failed dial waits base * 2^(failures-1); an ended session waits the base (no hammering).
        let exponent = record.failures.saturating_sub(1).min(20);
        let wait = self
            .config
            .backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.config.backoff_max);
        record.not_before = Some(now + wait);
        session
    }

    /// Queues again every idle node whose backoff is over (when redialing is on), within the queue's room.
    pub(super) fn requeue_due(&mut self, now: Instant) {
        if !self.config.redial {
            return;
        }
        let due: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, r)| {
                r.state == State::Idle
                    && r.source != Source::Inbound
                    && r.not_before.is_some_and(|t| t <= now)
            })
            .map(|(id, _)| *id)
            .take(self.config.max_queued.saturating_sub(self.queue.len()))
            .collect();
        for id in due {
            if let Some(record) = self.nodes.get_mut(&id) {
                record.state = State::Queued;
                self.queue.push_back(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn enode(n: u8, ip: [u8; 4]) -> Enode {
        let mut id = [0u8; 64];
        id[0] = n;
        Enode {
            id: NodeId(id),
            ip: IpAddr::V4(Ipv4Addr::from(ip)),
            tcp_port: 30303,
            udp_port: 30303,
        }
    }

    fn config() -> PoolConfig {
        PoolConfig {
            max_outbound: 3,
            max_concurrent_dials: 2,
            max_per_ip: 1,
            limit_loopback: true,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            max_queued: 4,
            max_known: 6,
            ..PoolConfig::default()
        }
    }

    #[test]
    fn dials_stay_within_the_dial_outbound_and_ip_limits() {
        let now = Instant::now();
        let mut book = Book::new(config());
        for n in 0..4 {
            book.offer(enode(n, [10, 0, 0, n]), Source::Discv4, now)
                .ok();
        }
        // Two concurrent dials at most.
        let a = book.next_dial().map(|e| e.id);
        let b = book.next_dial().map(|e| e.id);
        assert!(a.is_some() && b.is_some());
        assert_eq!(book.next_dial(), None);
        if let (Some(a), Some(b)) = (a, b) {
            book.dial_connected(&a);
            book.dial_connected(&b);
        }
        // Two sessions, one dial more reaches the outbound cap of three.
        assert!(book.next_dial().is_some());
        assert_eq!(book.next_dial(), None);
        assert_eq!(book.outbound + book.dialing, 3);
    }

    #[test]
    fn one_dial_per_ip_the_other_waits_in_the_queue() {
        let now = Instant::now();
        let mut book = Book::new(config());
        book.offer(enode(1, [10, 0, 0, 1]), Source::Dns, now).ok();
        book.offer(enode(2, [10, 0, 0, 1]), Source::Dns, now).ok();
        assert!(book.next_dial().is_some());
        assert_eq!(book.next_dial(), None);
        assert_eq!(book.queued(), 1);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_maximum() {
        let mut now = Instant::now();
        let mut book = Book::new(config());
        let node = enode(1, [10, 0, 0, 1]);
        let mut waits = Vec::new();
        for _ in 0..6 {
            assert_eq!(book.offer(node, Source::Discv4, now), Ok(()));
            assert_eq!(book.next_dial().map(|e| e.id), Some(node.id));
            book.ended(&node.id, Some(FailureReason::Timeout), now);
            assert_eq!(
                book.offer(node, Source::Discv4, now),
                Err(Refusal::BackedOff)
            );
            let until = book.record(&node.id).and_then(|r| r.not_before);
            let wait = until.map(|t| t - now);
            waits.push(wait.map(|w| w.as_secs()));
            now += wait.unwrap_or_default();
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8].map(Some));
        assert_eq!(
            book.record(&node.id).and_then(|r| r.last_failure),
            Some(FailureReason::Timeout)
        );
    }

    #[test]
    fn the_queue_and_the_table_are_bounded() {
        let now = Instant::now();
        let mut book = Book::new(config());
        let results: Vec<_> = (0..10)
            .map(|n| book.offer(enode(n, [10, 0, 1, n]), Source::Discv5, now))
            .collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
        assert!(results.iter().skip(4).all(|r| *r == Err(Refusal::Full)));
        assert!(book.known() <= 6);
    }

    #[test]
    fn inbound_sessions_count_against_the_inbound_cap() {
        let now = Instant::now();
        let mut book = Book::new(PoolConfig {
            max_inbound: 2,
            ..config()
        });
        assert!(book.admit_inbound(enode(1, [10, 0, 0, 1])));
        assert!(book.admit_inbound(enode(2, [10, 0, 0, 2])));
        assert!(!book.admit_inbound(enode(3, [10, 0, 0, 3])));
        assert_eq!(
            book.ended(&enode(1, [10, 0, 0, 1]).id, None, now),
            Some(Direction::Inbound)
        );
        assert!(book.admit_inbound(enode(3, [10, 0, 0, 3])));
    }
}
