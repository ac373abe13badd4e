//! What the service does with each datagram: rate limit, decode and verify, drop replays
//! and expired packets, then answer requests and match replies to pending requests.

use std::net::SocketAddr;
use std::time::Instant;

use p2p_msg::NodeId;
use p2p_rlpx::Enode;
use tracing::trace;

use crate::config::{Counters, Discv4Event};
use crate::node::{Key, NodeRecord, relay_ok};
use crate::packet::{
    self, Endpoint, EnrResponse, FindNode, Message, Neighbors, Packet, Ping, Pong,
    neighbors_messages,
};
use crate::service::{AfterPong, Expect, Service};
use crate::table::BUCKET_SIZE;

impl Service {
    pub(crate) async fn datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        let counters = &self.shared.counters;
        Counters::bump(&counters.packets_in);
        if !self.rate.allow(from.ip(), Instant::now()) {
            Counters::bump(&counters.rate_limited);
            return;
        }
        let packet = match packet::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                trace!(%from, error = %e, "discv4 dropped packet");
                Counters::bump(&counters.malformed);
                return;
            }
        };
        if packet.sender == self.local_id {
            return;
        }
        let now_unix = packet::unix_now();
        let expiration = packet.message.expiration();
        if expiration.is_some_and(|e| packet::expired_at(e, now_unix)) {
            Counters::bump(&counters.expired);
            return;
        }
        // ENRResponse carries no expiration; its request hash makes a replay harmless.
        let keep_until = expiration.unwrap_or(now_unix + packet::EXPIRATION.as_secs());
        if !self.replay.insert(packet.hash, keep_until, now_unix) {
            Counters::bump(&counters.replayed);
            return;
        }
        trace!(%from, kind = packet.message.name(), "discv4 packet");
        let Packet {
            hash,
            sender,
            message,
        } = packet;
        match message {
            Message::Ping(ping) => self.on_ping(sender, from, hash, ping).await,
            Message::Pong(pong) => self.on_pong(sender, from, pong).await,
            Message::FindNode(req) => self.on_find_node(sender, from, req).await,
            Message::Neighbors(n) => self.on_neighbors(sender, from, n),
            Message::EnrRequest(_) => self.on_enr_request(sender, from, hash).await,
            Message::EnrResponse(r) => self.on_enr_response(sender, from, r),
        }
    }

    async fn on_ping(&mut self, sender: NodeId, from: SocketAddr, hash: [u8; 32], ping: Ping) {
        // The reply goes to the packet's source; `from` in the body is ignored (geth too).
        let tcp_port = if ping.from.tcp_port == 0 {
            from.port()
        } else {
            ping.from.tcp_port
        };
        let pong = Message::Pong(Pong {
            to: Endpoint {
                ip: from.ip(),
                udp_port: from.port(),
                tcp_port,
            },
            ping_hash: hash,
            expiration: packet::expiration_from_now(),
            enr_seq: Some(self.local_seq()),
        });
        self.send(&pong, from).await;
        let bonded = self.has_bond(&sender, from.ip());
        self.bond_mut(sender, from.ip()).ping_received = Some(Instant::now());
        let enode = Enode {
            id: sender,
            ip: from.ip(),
            tcp_port,
            udp_port: from.port(),
        };
        if bonded {
            self.insert(NodeRecord::new(enode));
            self.maybe_fetch_enr(enode, ping.enr_seq).await;
        } else {
            let already = self.pending.iter().any(|p| {
                p.node.id == sender
                    && p.node.ip == from.ip()
                    && matches!(p.expect, Expect::Pong { .. })
            });
            if !already {
                self.send_ping(enode, AfterPong::Insert).await;
            }
        }
    }

    async fn on_pong(&mut self, sender: NodeId, from: SocketAddr, pong: Pong) {
        let position = self.pending.iter().position(|p| {
            p.node.id == sender
                && p.node.ip == from.ip()
                && matches!(&p.expect, Expect::Pong { ping_hash, .. } if *ping_hash == pong.ping_hash)
        });
        let Some(position) = position else {
            Counters::bump(&self.shared.counters.unsolicited);
            return;
        };
        let pending = self.pending.swap_remove(position);
        self.bond_mut(sender, from.ip()).pong_received = Some(Instant::now());
        let enode = Enode {
            udp_port: from.port(),
            ..pending.node
        };
        self.insert(NodeRecord::new(enode));
        if let Expect::Pong {
            then: AfterPong::Reply(tx),
            ..
        } = pending.expect
        {
            let _ = tx.send(Ok(pong.enr_seq));
        }
        self.maybe_fetch_enr(enode, pong.enr_seq).await;
    }

    /// Requests a node's record when it announces a newer sequence number than we know.
    async fn maybe_fetch_enr(&mut self, node: Enode, seq: Option<u64>) {
        let Some(seq) = seq else { return };
        let Some(known) = self.table.get(&node.id) else {
            return;
        };
        if known.enr.is_some() && known.enr_seq() >= seq {
            return;
        }
        let already = self
            .pending
            .iter()
            .any(|p| p.node.id == node.id && matches!(p.expect, Expect::Enr { .. }));
        // Both proofs are needed: the node answers ENRRequests only once it has our Pong.
        if !already
            && self.has_bond(&node.id, node.ip)
            && self.pinged_us_recently(&node.id, node.ip)
        {
            self.send_enr_request(node, None).await;
        }
    }

    async fn on_find_node(&mut self, sender: NodeId, from: SocketAddr, req: FindNode) {
        if !self.has_bond(&sender, from.ip()) {
            Counters::bump(&self.shared.counters.unbonded);
            return;
        }
        let target = Key::of(&req.target);
        let nodes: Vec<_> = self
            .table
            .closest(&target, BUCKET_SIZE)
            .iter()
            .filter(|n| relay_ok(from.ip(), n.enode.ip))
            .map(NodeRecord::neighbor)
            .collect();
        for message in neighbors_messages(&nodes, packet::expiration_from_now()) {
            self.send(&message, from).await;
        }
    }

    fn on_neighbors(&mut self, sender: NodeId, from: SocketAddr, n: Neighbors) {
        let position = self.pending.iter().position(|p| {
            p.node.id == sender
                && p.node.ip == from.ip()
                && matches!(p.expect, Expect::Neighbors { .. })
        });
        let Some(position) = position else {
            Counters::bump(&self.shared.counters.unsolicited);
            return;
        };
        let last_packet = n.nodes.len() < packet::MAX_NEIGHBORS;
        let done = match self.pending.get_mut(position).map(|p| &mut p.expect) {
            Some(Expect::Neighbors { received, .. }) => {
                let room = BUCKET_SIZE.saturating_sub(received.len());
                received.extend(n.nodes.into_iter().take(room));
                last_packet || received.len() >= BUCKET_SIZE
            }
            _ => false,
        };
        if done {
            let pending = self.pending.swap_remove(position);
            if let Expect::Neighbors { received, reply } = pending.expect {
                let _ = reply.send(Ok(received));
            }
        }
    }

    async fn on_enr_request(&mut self, sender: NodeId, from: SocketAddr, hash: [u8; 32]) {
        if !self.has_bond(&sender, from.ip()) {
            Counters::bump(&self.shared.counters.unbonded);
            return;
        }
        let response = Message::EnrResponse(EnrResponse {
            request_hash: hash,
            enr: self.shared.enr(),
        });
        self.send(&response, from).await;
    }

    fn on_enr_response(&mut self, sender: NodeId, from: SocketAddr, r: EnrResponse) {
        let position = self.pending.iter().position(|p| {
            p.node.id == sender
                && p.node.ip == from.ip()
                && matches!(&p.expect, Expect::Enr { request_hash, .. } if *request_hash == r.request_hash)
        });
        let Some(position) = position else {
            Counters::bump(&self.shared.counters.unsolicited);
            return;
        };
        let pending = self.pending.swap_remove(position);
        let Expect::Enr { reply, .. } = pending.expect else {
            return;
        };
        let matches = p2p_rlpx::node_id(&r.enr.public_key()) == sender;
        if matches
            && self.table.set_enr(&sender, r.enr.clone())
            && let Some(updated) = self.table.get(&sender)
        {
            let _ = self
                .shared
                .events
                .send(Discv4Event::NodeUpdated(updated.clone()));
        }
        if let Some(tx) = reply {
            let _ = tx.send(if matches {
                Ok(r.enr)
            } else {
                Err(crate::Error::RecordMismatch)
            });
        }
    }
}
