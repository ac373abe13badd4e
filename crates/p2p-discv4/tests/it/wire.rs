//! A hand-driven peer on a raw socket: replayed and expired packets, and floods.

use std::net::SocketAddr;
use std::time::Duration;

use p2p_discv4::packet::{self, Endpoint, Message, Ping};
use p2p_discv4::{Discv4, Discv4Config, Limits};
use p2p_rlpx::NodeKey;
use tokio::net::UdpSocket;

use crate::loopback::{config, eventually, within};

fn signed_ping(key: &NodeKey, from: SocketAddr, to: SocketAddr, expiration: u64) -> Vec<u8> {
    let endpoint = |a: SocketAddr| Endpoint {
        ip: a.ip(),
        udp_port: a.port(),
        tcp_port: a.port(),
    };
    let message = Message::Ping(Ping {
        version: 4,
        from: endpoint(from),
        to: endpoint(to),
        expiration,
        enr_seq: None,
    });
    packet::encode(&message, key.secret_key()).0
}

struct RawPeer {
    key: NodeKey,
    socket: UdpSocket,
}

impl RawPeer {
    async fn bind(ip: &str) -> Self {
        Self {
            key: NodeKey::generate(),
            socket: UdpSocket::bind(format!("{ip}:0")).await.unwrap(),
        }
    }

    fn ping(&self, to: SocketAddr, expiration: u64) -> Vec<u8> {
        signed_ping(&self.key, self.socket.local_addr().unwrap(), to, expiration)
    }

    /// The next packet, or `None` after 300 ms of silence.
    async fn recv(&self) -> Option<packet::Packet> {
        let mut buf = [0u8; 1500];
        let read = tokio::time::timeout(Duration::from_millis(300), self.socket.recv(&mut buf));
        let len = read.await.ok()?.ok()?;
        packet::decode(&buf[..len]).ok()
    }

    /// Reads until silence; returns the kinds received.
    async fn drain(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        while let Some(p) = self.recv().await {
            kinds.push(p.message.name());
        }
        kinds
    }
}

#[tokio::test]
async fn replayed_and_expired_packets_are_ignored() {
    within(20, async {
        let node = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let peer = RawPeer::bind("127.0.0.1").await;
        let ping = peer.ping(node.local_addr(), packet::expiration_from_now());
        peer.socket.send_to(&ping, node.local_addr()).await.unwrap();
        let mut kinds = peer.drain().await;
        kinds.sort_unstable();
        assert_eq!(kinds, ["ping", "pong"]);
        // It never answered our Ping, so it stays out of the table.
        assert!(node.table_nodes().await.is_empty());
        // The same bytes again: no Pong.
        peer.socket.send_to(&ping, node.local_addr()).await.unwrap();
        assert_eq!(peer.drain().await, Vec::<&str>::new());
        assert_eq!(node.stats().dropped_replayed, 1);
        // An expired Ping: no Pong.
        let old = peer.ping(node.local_addr(), packet::unix_now() - 1);
        peer.socket.send_to(&old, node.local_addr()).await.unwrap();
        assert_eq!(peer.drain().await, Vec::<&str>::new());
        assert_eq!(node.stats().dropped_expired, 1);
        // A fresh Ping still works.
        let again = peer.ping(node.local_addr(), packet::expiration_from_now());
        peer.socket
            .send_to(&again, node.local_addr())
            .await
            .unwrap();
        // (The peer never answered our Pings back, so it is pinged again.)
        assert!(peer.drain().await.contains(&"pong"));
    })
    .await;
}

/// Sends `packets` from one socket as fast as it can, then checks that a second peer (on
/// another loopback address) still gets a Pong.
/// With `paced`, it pauses 10 ms every 32 packets, so that most reach the node rather than
/// overflow the socket buffer.
async fn flood_then_probe(node: &Discv4, flooder: &RawPeer, packets: &[Vec<u8>], paced: bool) {
    for (i, p) in packets.iter().enumerate() {
        flooder.socket.send_to(p, node.local_addr()).await.unwrap();
        if paced && i % 32 == 31 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        } else if i % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let probe = RawPeer::bind("127.0.0.2").await;
    let ping = probe.ping(node.local_addr(), packet::expiration_from_now());
    // The socket buffer may still hold flood packets; retry until the probe gets through.
    let mut answered = false;
    for _ in 0..20 {
        probe
            .socket
            .send_to(&ping, node.local_addr())
            .await
            .unwrap();
        if probe.drain().await.contains(&"pong") {
            answered = true;
            break;
        }
    }
    assert!(answered, "the node answers another peer after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_rate_limited_with_bounded_memory() {
    within(120, async {
        let limits = Limits {
            packets_per_second: 100.0,
            burst: 200.0,
            max_tracked_sources: 64,
            max_pending: 128,
            max_seen_hashes: 512,
        };
        let node = Discv4::bind(&NodeKey::generate(), Discv4Config { limits, ..config() })
            .await
            .unwrap();
        let flooder = RawPeer::bind("127.0.0.1").await;
        // 100 000 datagrams: 2 000 valid Pings of distinct keys, the rest junk.
        let valid: Vec<Vec<u8>> = (0..2000)
            .map(|_| {
                let from = flooder.socket.local_addr().unwrap();
                signed_ping(
                    &NodeKey::generate(),
                    from,
                    node.local_addr(),
                    packet::expiration_from_now(),
                )
            })
            .collect();
        let packets: Vec<Vec<u8>> = (0..100_000usize)
            .map(|i| {
                if i % 50 == 0 {
                    valid[i / 50].clone()
                } else {
                    vec![(i % 251) as u8; 1 + i % 1300]
                }
            })
            .collect();
        flood_then_probe(&node, &flooder, &packets, true).await;
        let stats = node.stats();
        eprintln!("{stats:?}");
        assert!(
            stats.dropped_rate_limited > stats.packets_in / 2,
            "{stats:?}"
        );
        assert!(stats.tracked_sources <= 64);
        assert!(stats.pending_replies <= 128);
        assert!(stats.seen_hashes <= 512);
        assert!(stats.bonds <= 128);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_rate_limit_the_maps_still_stay_under_their_caps() {
    within(120, async {
        let limits = Limits {
            packets_per_second: 1e9,
            burst: 1e9,
            max_tracked_sources: 16,
            max_pending: 64,
            max_seen_hashes: 256,
        };
        let node = Discv4::bind(&NodeKey::generate(), Discv4Config { limits, ..config() })
            .await
            .unwrap();
        let flooder = RawPeer::bind("127.0.0.1").await;
        let mut packets = Vec::new();
        let from = flooder.socket.local_addr().unwrap();
        for _ in 0..3000 {
            let exp = packet::expiration_from_now();
            packets.push(signed_ping(
                &NodeKey::generate(),
                from,
                node.local_addr(),
                exp,
            ));
        }
        flood_then_probe(&node, &flooder, &packets, true).await;
        let stats = node.stats();
        eprintln!("{stats:?}");
        assert!(stats.packets_in > 1000, "{stats:?}");
        assert!(stats.pending_replies <= 64, "{stats:?}");
        assert!(stats.seen_hashes <= 256, "{stats:?}");
        assert!(stats.bonds <= 32, "{stats:?}");
        assert!(stats.dropped_busy > 0, "{stats:?}");
        // Pending pings to the flooder's fake keys time out and free their slots.
        eventually(|| async { node.stats().pending_replies < 64 }).await;
    })
    .await;
}

#[tokio::test]
async fn find_node_is_answered_only_after_the_endpoint_proof() {
    within(20, async {
        let node = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let other = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        other.ping(&node.local_enode()).await.unwrap();
        let peer = RawPeer::bind("127.0.0.1").await;
        let find_node = |peer: &RawPeer| {
            let message = Message::FindNode(packet::FindNode {
                target: NodeKey::generate().id(),
                expiration: packet::expiration_from_now(),
            });
            packet::encode(&message, peer.key.secret_key()).0
        };
        peer.socket
            .send_to(&find_node(&peer), node.local_addr())
            .await
            .unwrap();
        assert_eq!(peer.drain().await, Vec::<&str>::new());
        assert_eq!(node.stats().dropped_unbonded, 1);
        // Bond: our Ping, its Pong; its Ping back, our Pong.
        let ping = peer.ping(node.local_addr(), packet::expiration_from_now());
        peer.socket.send_to(&ping, node.local_addr()).await.unwrap();
        let mut got_pong = false;
        let mut got_ping = false;
        while let Some(p) = peer.recv().await {
            match p.message {
                Message::Ping(_) => {
                    got_ping = true;
                    let from = peer.socket.local_addr().unwrap();
                    let pong = Message::Pong(packet::Pong {
                        to: Endpoint {
                            ip: from.ip(),
                            udp_port: from.port(),
                            tcp_port: from.port(),
                        },
                        ping_hash: p.hash,
                        expiration: packet::expiration_from_now(),
                        enr_seq: None,
                    });
                    let bytes = packet::encode(&pong, peer.key.secret_key()).0;
                    peer.socket
                        .send_to(&bytes, node.local_addr())
                        .await
                        .unwrap();
                }
                Message::Pong(_) => got_pong = true,
                _ => {}
            }
        }
        assert!(got_ping && got_pong);
        eventually(|| async { node.table_nodes().await.len() == 2 }).await;
        peer.socket
            .send_to(&find_node(&peer), node.local_addr())
            .await
            .unwrap();
        let reply = peer.recv().await.expect("a Neighbors reply");
        let Message::Neighbors(n) = reply.message else {
            panic!("{:?}", reply.message)
        };
        assert!(n.nodes.iter().any(|n| n.id == other.local_enode().id));
    })
    .await;
}
