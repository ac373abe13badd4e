//! In-process networks of pss nodes over `MsgPipe` links, and the simulation behind
//! `peerwire pss sim` and the benchmarks.
//!
//! [`link`] connects two [`Pss`] nodes with a [`MsgPipe`] running `pss/2` on both ends.
//! [`run`] builds a network of [`SimConfig::nodes`] nodes (keys from the seed) on a random
//! Kademlia-connected topology: each node links to [`SimConfig::peers_per_bin`] random nodes of
//! each of its proximity bins, plus all of its nearest neighbours (the nodes at or deeper than
//! the shallowest proximity order that holds [`MIN_PROX_BIN_SIZE`] nodes). It then sends raw
//! messages from random senders per [`Target`] kind, counts the deliveries of every node through
//! a subscription, waits until the traffic settles, and reports ([`SimReport`]).
//!
//! With [`SimConfig::kill_fraction`], that share of the nodes is shut down halfway through the
//! sending (after the messages sent so far settled); the survivors then repair their tables as
//! Kademlia does (a node whose bin lost all its links links to live nodes of that bin, and to
//! its new nearest neighbours). Killed nodes are not intended recipients, and the share reached
//! counts only nodes that a path of live links leads to from the sender.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use p2p_msg::{Cap, DisconnectReason, MsgPipe, PeerInfo, new_peer_pipe};
use p2p_rlpx::NodeKey;

use crate::lock;
use crate::{
    Error, HandlerCaps, MIN_PROX_BIN_SIZE, OverlayAddr, PROTOCOL_NAME, PROTOCOL_VERSION, Pss,
    PssConfig, Topic, Transport, proximity,
};

mod report;

pub use report::{SimReport, TargetRow};

/// A link between two in-process nodes over a `MsgPipe`; dropping it does not close it.
#[derive(Debug, Clone)]
pub struct Link {
    info: PeerInfo,
}

impl Link {
    /// Closes the link (both ends see the peer go away).
    pub fn close(&self) {
        self.info.disconnect(DisconnectReason::Requested);
    }
}

/// Connects two nodes with a `MsgPipe` running `pss/2` (each side sees the other's node id);
/// spawns the two protocol runs.
#[must_use]
pub fn link(a: &Pss, b: &Pss) -> Link {
    let (pa, pb) = MsgPipe::pair();
    let caps = vec![Cap::new(PROTOCOL_NAME, PROTOCOL_VERSION)];
    let (ia, rwa) = new_peer_pipe(b.node_id(), "pss-sim", caps.clone(), pa);
    let (ib, rwb) = new_peer_pipe(a.node_id(), "pss-sim", caps, pb);
    tokio::spawn(a.protocol().run(ia.clone(), rwa));
    tokio::spawn(b.protocol().run(ib, rwb));
    Link { info: ia }
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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("full"),
            Self::Partial(n) => write!(f, "partial({n})"),
            Self::Flood => f.write_str("flood"),
        }
    }
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
    /// The settings of every node.
    pub node: PssConfig,
    /// How long the traffic may show no progress before a target kind counts as settled.
    pub settle_idle: Duration,
    /// The longest wait for the links to come up.
    pub link_timeout: Duration,
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
            node: PssConfig::default(),
            settle_idle: Duration::from_secs(1),
            link_timeout: Duration::from_secs(60),
        }
    }
}

/// The topic of the simulation's messages.
fn sim_topic() -> Topic {
    Topic::from_name("peerwire-pss-sim")
}

/// splitmix64: a small deterministic generator for topology, keys and traffic.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Up to `k` distinct random items of `items`.
    fn pick(&mut self, items: &[usize], k: usize) -> Vec<usize> {
        let mut v = items.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below(v.len() - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }

    fn key(&mut self) -> NodeKey {
        loop {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&self.next().to_be_bytes());
            }
            if let Ok(k) = NodeKey::from_bytes(b) {
                return k;
            }
        }
    }
}

/// Deliveries seen per message: `(node, hops)`.
#[derive(Debug, Default)]
struct Tracker {
    deliveries: Vec<Vec<(u32, u8)>>,
    total: u64,
}

/// The network under simulation.
struct Net {
    nodes: Vec<Pss>,
    addrs: Vec<OverlayAddr>,
    alive: Vec<bool>,
    edges: HashMap<(usize, usize), Link>,
    rng: Rng,
    peers_per_bin: usize,
}

impl Net {
    fn add_edge(&mut self, i: usize, j: usize) {
        let key = (i.min(j), i.max(j));
        if i == j || self.edges.contains_key(&key) {
            return;
        }
        let l = link(&self.nodes[key.0], &self.nodes[key.1]);
        self.edges.insert(key, l);
    }

    /// Links each live node to `peers_per_bin` live nodes of every bin where it has no live
    /// link yet (all bins at the start), and to all of its nearest live neighbours.
    fn connect(&mut self, only_missing: bool) {
        let n = self.nodes.len();
        let live: Vec<usize> = (0..n).filter(|&i| self.alive[i]).collect();
        let mut adjacency: Vec<HashSet<usize>> = vec![HashSet::new(); n];
        for &(a, b) in self.edges.keys() {
            adjacency[a].insert(b);
            adjacency[b].insert(a);
        }
        let mut new_edges = Vec::new();
        for &i in &live {
            let mut bins: Vec<Vec<usize>> = Vec::new();
            for &j in &live {
                if j == i {
                    continue;
                }
                let po = proximity(&self.addrs[i].0, &self.addrs[j].0) as usize;
                if bins.len() <= po {
                    bins.resize(po + 1, Vec::new());
                }
                bins[po].push(j);
            }
            for bin in &bins {
                let covered = bin.iter().any(|j| adjacency[i].contains(j));
                if only_missing && covered {
                    continue;
                }
                for j in self.rng.pick(bin, self.peers_per_bin) {
                    new_edges.push((i, j));
                }
            }
            // Nearest neighbours: every bin from the deepest up to the one that makes
            // MIN_PROX_BIN_SIZE nodes.
            let mut seen = 0;
            for bin in bins.iter().rev() {
                new_edges.extend(bin.iter().map(|&j| (i, j)));
                seen += bin.len();
                if seen >= MIN_PROX_BIN_SIZE {
                    break;
                }
            }
        }
        for (i, j) in new_edges {
            self.add_edge(i, j);
        }
    }

    async fn wait_linked(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let n = self.nodes.len();
        let mut want = vec![0usize; n];
        for &(a, b) in self.edges.keys() {
            if self.alive[a] && self.alive[b] {
                want[a] += 1;
                want[b] += 1;
            }
        }
        loop {
            let done = (0..n).all(|i| !self.alive[i] || self.nodes[i].peer_count() == want[i]);
            if done {
                return;
            }
            if Instant::now() > deadline {
                tracing::warn!("pss sim: not every link came up in time");
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Live nodes a path of live links leads to from `from`.
    fn reachable(&self, from: usize) -> Vec<bool> {
        let n = self.nodes.len();
        let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(a, b) in self.edges.keys() {
            if self.alive[a] && self.alive[b] {
                adjacency[a].push(b);
                adjacency[b].push(a);
            }
        }
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([from]);
        seen[from] = true;
        while let Some(i) = queue.pop_front() {
            for &j in &adjacency[i] {
                if !seen[j] {
                    seen[j] = true;
                    queue.push_back(j);
                }
            }
        }
        seen
    }

    fn kill(&mut self, count: usize) -> usize {
        let live: Vec<usize> = (0..self.nodes.len()).filter(|&i| self.alive[i]).collect();
        let victims = self
            .rng
            .pick(&live, count.min(live.len().saturating_sub(2)));
        for &v in &victims {
            self.alive[v] = false;
            self.nodes[v].shutdown();
        }
        for (&(a, b), l) in &self.edges {
            if !self.alive[a] || !self.alive[b] {
                l.close();
            }
        }
        victims.len()
    }

    fn random_live(&mut self, except: Option<usize>) -> usize {
        loop {
            let i = self.rng.below(self.nodes.len());
            if self.alive[i] && Some(i) != except {
                return i;
            }
        }
    }
}

/// One message sent: who may receive it, what it was for.
#[derive(Debug)]
struct Sent {
    kind: usize,
    hint: Vec<u8>,
    /// Intended recipients (at send time: live, reachable, with the hint; not the sender).
    intended: Vec<usize>,
}

/// Builds the network, sends the traffic, waits for it to settle, and reports.
///
/// # Errors
///
/// Failures to send (for example a full outbox).
pub async fn run(config: SimConfig) -> Result<SimReport, Error> {
    let started = Instant::now();
    let mut rng = Rng(config.seed);
    let n = config.nodes.max(2);
    let nodes: Vec<Pss> = (0..n)
        .map(|_| Pss::new(&rng.key(), config.node.clone()))
        .collect();
    let addrs = nodes.iter().map(Pss::address).collect();
    let mut net = Net {
        nodes,
        addrs,
        alive: vec![true; n],
        edges: HashMap::new(),
        rng,
        peers_per_bin: config.peers_per_bin.max(1),
    };
    net.connect(false);
    net.wait_linked(config.link_timeout).await;
    let links_initial = net.edges.len();
    let setup_secs = started.elapsed().as_secs_f64();

    let total = config.messages * config.targets.len();
    let tracker = Arc::new(Mutex::new(Tracker {
        deliveries: vec![Vec::new(); total],
        total: 0,
    }));
    for (i, node) in net.nodes.iter().enumerate() {
        let mut sub = node.subscribe(
            sim_topic(),
            HandlerCaps {
                raw: true,
                prox: false,
            },
        );
        let tracker = tracker.clone();
        tokio::spawn(async move {
            while let Some(d) = sub.recv().await {
                let Some(g) = d
                    .payload
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes)
                else {
                    continue;
                };
                let mut t = lock(&tracker);
                if let Some(list) = t.deliveries.get_mut(g as usize) {
                    list.push((i as u32, d.hops));
                    t.total += 1;
                }
            }
        });
    }

    let kill_at = (config.kill_fraction > 0.0).then_some(total / 2);
    let mut killed = 0;
    let mut sent: Vec<Sent> = Vec::with_capacity(total);
    let mut wire_after = vec![0u64; config.targets.len()];
    let mut dups = vec![0u64; config.targets.len()];
    let send_started = Instant::now();
    for (kind, target) in config.targets.iter().enumerate() {
        let before = sum_stats(&net.nodes);
        for _ in 0..config.messages {
            if kill_at == Some(sent.len()) && killed == 0 {
                settle(&tracker, &sent, &net, config.settle_idle).await;
                let count = (config.kill_fraction.clamp(0.0, 1.0) * n as f64).round() as usize;
                killed = net.kill(count);
                net.connect(true);
                net.wait_linked(config.link_timeout).await;
            }
            let from = net.random_live(None);
            let (hint, intended) = pick_target(&mut net, *target, from);
            let g = sent.len() as u32;
            net.nodes[from].send_raw(
                &hint,
                sim_topic(),
                Bytes::copy_from_slice(&g.to_be_bytes()),
            )?;
            sent.push(Sent {
                kind,
                hint,
                intended,
            });
            if sent.len().is_multiple_of(16) {
                tokio::task::yield_now().await;
            }
        }
        settle(&tracker, &sent, &net, config.settle_idle).await;
        let after = sum_stats(&net.nodes);
        wire_after[kind] = after.0.saturating_sub(before.0);
        dups[kind] = after.1.saturating_sub(before.1);
    }
    let send_secs = send_started.elapsed().as_secs_f64();

    let report = report::build(report::Input {
        config: &config,
        nodes: n,
        links: net.edges.len(),
        links_initial,
        killed,
        alive: &net.alive,
        addrs: &net.addrs,
        sent: &sent,
        tracker: &lock(&tracker).deliveries,
        wire: &wire_after,
        duplicates: &dups,
        setup_secs,
        send_secs,
        wall_secs: started.elapsed().as_secs_f64(),
    });
    for l in net.edges.values() {
        l.close();
    }
    for node in &net.nodes {
        node.shutdown();
    }
    Ok(report)
}

/// `(sent, duplicates)` summed over the nodes.
fn sum_stats(nodes: &[Pss]) -> (u64, u64) {
    nodes.iter().fold((0, 0), |(s, d), n| {
        let st = n.stats();
        (s + st.sent, d + st.duplicates)
    })
}

/// The hint and the intended recipients of a message from `from`.
fn pick_target(net: &mut Net, target: Target, from: usize) -> (Vec<u8>, Vec<usize>) {
    let reach = net.reachable(from);
    let n = net.nodes.len();
    let (hint, want): (Vec<u8>, Box<dyn Fn(usize) -> bool>) = match target {
        Target::Full => {
            let to = net.random_live(Some(from));
            (net.addrs[to].0.to_vec(), Box::new(move |i| i == to))
        }
        Target::Partial(len) => {
            let to = net.random_live(Some(from));
            let len = usize::from(len).min(crate::ADDRESS_LEN);
            let hint = net.addrs[to].0[..len].to_vec();
            let addrs = net.addrs.clone();
            let h = hint.clone();
            (hint, Box::new(move |i| addrs[i].matches(&h)))
        }
        Target::Flood => (Vec::new(), Box::new(|_| true)),
    };
    let intended = (0..n)
        .filter(|&i| i != from && net.alive[i] && reach[i] && want(i))
        .collect();
    (hint, intended)
}

/// Waits until every intended recipient of the messages sent so far got its message, or the
/// deliveries stop growing for `idle`.
async fn settle(tracker: &Mutex<Tracker>, sent: &[Sent], net: &Net, idle: Duration) {
    let mut last = u64::MAX;
    let mut last_change = Instant::now();
    loop {
        let (total, complete) = {
            let t = lock(tracker);
            let complete = sent.iter().enumerate().all(|(g, s)| {
                let got: HashSet<u32> = t
                    .deliveries
                    .get(g)
                    .into_iter()
                    .flatten()
                    .map(|d| d.0)
                    .collect();
                s.intended
                    .iter()
                    .all(|&i| !net.alive[i] || got.contains(&(i as u32)))
            });
            (t.total, complete)
        };
        if complete {
            return;
        }
        if total != last {
            last = total;
            last_change = Instant::now();
        } else if last_change.elapsed() >= idle {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
