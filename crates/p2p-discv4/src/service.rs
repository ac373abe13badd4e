//! The service task: it owns the socket, the table, the pending replies and the flood
//! limits, and serves the handles' commands. Packet handling lives in `handlers`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use p2p_msg::NodeId;
use p2p_rlpx::Enode;
use secp256k1::SecretKey;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, trace};

use crate::config::{Counters, Discv4Config, Discv4Event};
use crate::limits::{RateLimiter, ReplayFilter};
use crate::node::{Enr, NodeRecord};
use crate::packet::{self, Endpoint, Message, Neighbor, Ping};
use crate::table::{Inserted, Table};
use crate::{Discv4, Error};

/// What the handles and the service share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) local_enode: Enode,
    pub(crate) local_addr: SocketAddr,
    pub(crate) enr: RwLock<Enr>,
    pub(crate) counters: Counters,
    pub(crate) events: broadcast::Sender<Discv4Event>,
    pub(crate) config: Discv4Config,
}

impl Shared {
    pub(crate) fn enr(&self) -> Enr {
        match self.enr.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A request from a handle.
#[derive(Debug)]
pub(crate) enum Command {
    Ping(Enode, oneshot::Sender<Result<Option<u64>, Error>>),
    FindNode(Enode, NodeId, oneshot::Sender<Result<Vec<Neighbor>, Error>>),
    RequestEnr(Enode, oneshot::Sender<Result<Enr, Error>>),
    PingedUsRecently(Enode, oneshot::Sender<bool>),
    AddNode(Enode),
    SetEnrEntry(String, Vec<u8>, oneshot::Sender<Result<(), Error>>),
    TableNodes(oneshot::Sender<Vec<NodeRecord>>),
    KnownNodes(oneshot::Sender<Vec<NodeRecord>>),
    Closest(NodeId, usize, oneshot::Sender<Vec<NodeRecord>>),
    Shutdown,
}

/// What to do when a Pong arrives.
#[derive(Debug)]
pub(crate) enum AfterPong {
    Reply(oneshot::Sender<Result<Option<u64>, Error>>),
    Insert,
    Revalidate,
}

/// What a pending request waits for.
#[derive(Debug)]
pub(crate) enum Expect {
    Pong {
        ping_hash: [u8; 32],
        then: AfterPong,
    },
    Neighbors {
        received: Vec<Neighbor>,
        reply: oneshot::Sender<Result<Vec<Neighbor>, Error>>,
    },
    Enr {
        request_hash: [u8; 32],
        reply: Option<oneshot::Sender<Result<Enr, Error>>>,
    },
}

/// A request waiting for its reply from `node` (matched by id and IP, like geth).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) node: Enode,
    pub(crate) deadline: Instant,
    pub(crate) expect: Expect,
}

/// Endpoint-proof times for one (node id, IP).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bond {
    /// When the node last answered our Ping (it proved its endpoint to us).
    pub(crate) pong_received: Option<Instant>,
    /// When the node last pinged us (we proved ours to it with our Pong).
    pub(crate) ping_received: Option<Instant>,
}

pub(crate) struct Service {
    pub(crate) socket: UdpSocket,
    pub(crate) key: SecretKey,
    pub(crate) local_id: NodeId,
    pub(crate) shared: Arc<Shared>,
    pub(crate) table: Table,
    pub(crate) pending: Vec<Pending>,
    pub(crate) bonds: HashMap<(NodeId, IpAddr), Bond>,
    pub(crate) rate: RateLimiter,
    pub(crate) replay: ReplayFilter,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) weak: mpsc::WeakSender<Command>,
    pub(crate) revalidation_round: usize,
}

impl Service {
    pub(crate) fn config(&self) -> &Discv4Config {
        &self.shared.config
    }

    pub(crate) async fn run(mut self) {
        let timeouts = self.config().timeouts;
        let mut buf = vec![0u8; packet::MAX_PACKET_SIZE + 1];
        let mut expiry = tokio::time::interval(Duration::from_millis(50));
        let mut revalidate = tokio::time::interval(timeouts.revalidate_interval);
        let first_refresh = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut refresh = tokio::time::interval_at(first_refresh, timeouts.refresh_interval);
        let mut self_lookup_done = false;
        for boot in self.config().bootnodes.clone() {
            self.send_ping(boot, AfterPong::Insert).await;
        }
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.command(command).await,
                },
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        let datagram = buf.get(..len).unwrap_or_default().to_vec();
                        self.datagram(&datagram, from).await;
                    }
                    Err(e) => trace!(error = %e, "discv4 recv error"),
                },
                _ = expiry.tick() => self.expire(Instant::now()),
                _ = revalidate.tick() => self.revalidate().await,
                _ = refresh.tick() => {
                    let target = if self_lookup_done {
                        crate::lookup::random_id()
                    } else {
                        self_lookup_done = true;
                        self.local_id
                    };
                    self.spawn_lookup(target);
                }
            }
            self.publish_sizes();
        }
        debug!("discv4 service stopped");
    }

    fn spawn_lookup(&self, target: NodeId) {
        if let Some(tx) = self.weak.upgrade() {
            let handle = Discv4 {
                tx,
                shared: Arc::clone(&self.shared),
            };
            tokio::spawn(async move {
                let _ = handle.lookup(target).await;
            });
        }
    }

    fn publish_sizes(&self) {
        let c = &self.shared.counters;
        Counters::set(&c.table_nodes, self.table.len());
        Counters::set(&c.pending, self.pending.len());
        Counters::set(&c.sources, self.rate.len());
        Counters::set(&c.hashes, self.replay.len());
        Counters::set(&c.bonds, self.bonds.len());
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Ping(enode, reply) => self.send_ping(enode, AfterPong::Reply(reply)).await,
            Command::FindNode(enode, target, reply) => {
                self.send_find_node(enode, target, reply).await;
            }
            Command::RequestEnr(enode, reply) => self.send_enr_request(enode, Some(reply)).await,
            Command::PingedUsRecently(enode, reply) => {
                let _ = reply.send(self.pinged_us_recently(&enode.id, enode.ip));
            }
            Command::AddNode(enode) => self.send_ping(enode, AfterPong::Insert).await,
            Command::SetEnrEntry(key, value, reply) => {
                let _ = reply.send(self.set_enr_entry(&key, value));
            }
            Command::TableNodes(reply) => {
                let _ = reply.send(self.table.nodes());
            }
            Command::KnownNodes(reply) => {
                let _ = reply.send(self.table.known());
            }
            Command::Closest(target, n, reply) => {
                let key = crate::node::Key::of(&target);
                let _ = reply.send(self.table.closest(&key, n));
            }
            Command::Shutdown => {}
        }
    }

    fn set_enr_entry(&self, key: &str, value: Vec<u8>) -> Result<(), Error> {
        let mut guard = match self.shared.enr.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.get_raw_rlp(key.as_bytes()) == Some(value.as_slice()) {
            return Ok(());
        }
        guard.insert_raw_rlp(key.as_bytes(), value.into(), &self.key)?;
        Ok(())
    }

    pub(crate) fn local_seq(&self) -> u64 {
        self.shared.enr().seq()
    }

    pub(crate) fn local_endpoint(&self) -> Endpoint {
        let e = &self.shared.local_enode;
        Endpoint {
            ip: e.ip,
            udp_port: e.udp_port,
            tcp_port: e.tcp_port,
        }
    }

    pub(crate) fn has_bond(&self, id: &NodeId, ip: IpAddr) -> bool {
        let limit = self.config().timeouts.bond_expiration;
        self.bonds
            .get(&(*id, ip))
            .and_then(|b| b.pong_received)
            .is_some_and(|t| t.elapsed() < limit)
    }

    pub(crate) fn pinged_us_recently(&self, id: &NodeId, ip: IpAddr) -> bool {
        let limit = self.config().timeouts.bond_expiration;
        self.bonds
            .get(&(*id, ip))
            .and_then(|b| b.ping_received)
            .is_some_and(|t| t.elapsed() < limit)
    }

    /// The bond record of a node, making room in the bounded map first.
    pub(crate) fn bond_mut(&mut self, id: NodeId, ip: IpAddr) -> &mut Bond {
        let cap = self.config().limits.max_tracked_sources.max(16) * 2;
        if self.bonds.len() >= cap && !self.bonds.contains_key(&(id, ip)) {
            // Keep the most recently active half.
            let mut times: Vec<Instant> = self
                .bonds
                .values()
                .map(|b| {
                    b.pong_received
                        .max(b.ping_received)
                        .unwrap_or_else(Instant::now)
                })
                .collect();
            times.sort_unstable();
            if let Some(cut) = times.get(times.len() / 2).copied() {
                self.bonds.retain(|_, b| {
                    b.pong_received
                        .max(b.ping_received)
                        .is_some_and(|t| t > cut)
                });
            }
        }
        self.bonds.entry((id, ip)).or_default()
    }

    pub(crate) async fn send(&self, message: &Message, to: SocketAddr) -> [u8; 32] {
        let (datagram, hash) = packet::encode(message, &self.key);
        match self.socket.send_to(&datagram, to).await {
            Ok(_) => Counters::bump(&self.shared.counters.packets_out),
            Err(e) => trace!(%to, error = %e, "discv4 send failed"),
        }
        hash
    }

    fn room_for_pending(&self) -> bool {
        if self.pending.len() >= self.config().limits.max_pending {
            Counters::bump(&self.shared.counters.busy);
            return false;
        }
        true
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.config().timeouts.response
    }

    pub(crate) async fn send_ping(&mut self, node: Enode, then: AfterPong) {
        if node.id == self.local_id {
            if let AfterPong::Reply(tx) = then {
                let _ = tx.send(Err(Error::InvalidNodeId));
            }
            return;
        }
        if !self.room_for_pending() {
            if let AfterPong::Reply(tx) = then {
                let _ = tx.send(Err(Error::Busy));
            }
            return;
        }
        let ping = Message::Ping(Ping {
            version: packet::PING_VERSION,
            from: self.local_endpoint(),
            to: Endpoint {
                ip: node.ip,
                udp_port: node.udp_port,
                tcp_port: node.tcp_port,
            },
            expiration: packet::expiration_from_now(),
            enr_seq: Some(self.local_seq()),
        });
        let ping_hash = self.send(&ping, udp_addr(&node)).await;
        let deadline = self.deadline();
        self.pending.push(Pending {
            node,
            deadline,
            expect: Expect::Pong { ping_hash, then },
        });
    }

    async fn send_find_node(
        &mut self,
        node: Enode,
        target: NodeId,
        reply: oneshot::Sender<Result<Vec<Neighbor>, Error>>,
    ) {
        if !self.room_for_pending() {
            let _ = reply.send(Err(Error::Busy));
            return;
        }
        let message = Message::FindNode(packet::FindNode {
            target,
            expiration: packet::expiration_from_now(),
        });
        self.send(&message, udp_addr(&node)).await;
        let deadline = self.deadline();
        self.pending.push(Pending {
            node,
            deadline,
            expect: Expect::Neighbors {
                received: Vec::new(),
                reply,
            },
        });
    }

    pub(crate) async fn send_enr_request(
        &mut self,
        node: Enode,
        reply: Option<oneshot::Sender<Result<Enr, Error>>>,
    ) {
        if !self.room_for_pending() {
            if let Some(tx) = reply {
                let _ = tx.send(Err(Error::Busy));
            }
            return;
        }
        let message = Message::EnrRequest(packet::EnrRequest {
            expiration: packet::expiration_from_now(),
        });
        let request_hash = self.send(&message, udp_addr(&node)).await;
        let deadline = self.deadline();
        self.pending.push(Pending {
            node,
            deadline,
            expect: Expect::Enr {
                request_hash,
                reply,
            },
        });
    }

    /// Inserts a node that just proved its endpoint; publishes the event.
    pub(crate) fn insert(&mut self, record: NodeRecord) {
        let id = record.enode.id;
        if self.table.insert(record) == Inserted::Added
            && let Some(added) = self.table.get(&id)
        {
            let _ = self
                .shared
                .events
                .send(Discv4Event::NodeAdded(added.clone()));
        }
    }

    pub(crate) fn remove(&mut self, id: &NodeId) {
        let (removed, promoted) = self.table.remove(id);
        if removed.is_some() {
            let _ = self.shared.events.send(Discv4Event::NodeRemoved(*id));
        }
        if let Some(p) = promoted {
            let _ = self.shared.events.send(Discv4Event::NodeAdded(p));
        }
    }

    fn expire(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending.get(i).is_some_and(|p| p.deadline <= now) {
                let p = self.pending.swap_remove(i);
                match p.expect {
                    Expect::Pong { then, .. } => match then {
                        AfterPong::Reply(tx) => {
                            let _ = tx.send(Err(Error::Timeout));
                        }
                        AfterPong::Insert => {}
                        AfterPong::Revalidate => self.remove(&p.node.id),
                    },
                    Expect::Neighbors { received, reply } => {
                        let _ = reply.send(if received.is_empty() {
                            Err(Error::Timeout)
                        } else {
                            Ok(received)
                        });
                    }
                    Expect::Enr { reply, .. } => {
                        if let Some(tx) = reply {
                            let _ = tx.send(Err(Error::Timeout));
                        }
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    async fn revalidate(&mut self) {
        self.revalidation_round = self
            .revalidation_round
            .wrapping_add(rand::random::<u16>() as usize);
        let Some(node) = self.table.revalidation_target(self.revalidation_round) else {
            return;
        };
        let already = self
            .pending
            .iter()
            .any(|p| p.node.id == node.enode.id && matches!(p.expect, Expect::Pong { .. }));
        if !already {
            self.send_ping(node.enode, AfterPong::Revalidate).await;
        }
    }
}

/// The UDP address of an enode.
pub(crate) const fn udp_addr(e: &Enode) -> SocketAddr {
    SocketAddr::new(e.ip, e.udp_port)
}
