//! The adapter scenarios over real [`Pss`] nodes: a line A - B - C of `pss/2` links over
//! `MsgPipe`s, where A and C are not directly connected and every message crosses B.

use std::time::Duration;

use p2p_msg::NodeId;
use p2p_pss::sim::{self, Link};
use p2p_pss::{
    PeerKey, Ping, ProtocolParams, Pss, PssConfig, PssProtocol, SymKey, Topic, Transport,
};
use p2p_rlpx::NodeKey;

use crate::adapter::{bounded, hint_of, protocol_scenario, wait_until};
use crate::eth_over_pss::eth_headers_over;

/// Three nodes linked A - B - C; the links stay up while the returned value lives.
struct Line {
    a: Pss,
    b: Pss,
    c: Pss,
    _links: [Link; 2],
}

fn line() -> Line {
    let [a, b, c] = [(); 3].map(|()| Pss::new(&NodeKey::generate(), PssConfig::default()));
    let links = [sim::link(&a, &b), sim::link(&b, &c)];
    Line {
        a,
        b,
        c,
        _links: links,
    }
}

async fn protocol_over_line(hint_len: usize) {
    let line = line();
    let (a_key, c_key) = (line.a.public_key(), line.c.public_key());
    let c_ad = protocol_scenario(line.a.clone(), a_key, line.c.clone(), c_key, hint_len).await;
    assert_eq!(c_ad.stats().unknown_sender, 0);
    crossed_b(&line, 4);
}

/// B, which has no handler, received at least `messages` and delivered none: what A and C
/// exchanged crossed B.
fn crossed_b(line: &Line, messages: u64) {
    let stats = line.b.stats();
    assert!(stats.received >= messages, "{stats:?}");
    assert_eq!(stats.delivered, 0, "{stats:?}");
}

#[tokio::test]
async fn protocol_hint_32_over_two_hops() {
    bounded(protocol_over_line(32)).await;
}

#[tokio::test]
async fn protocol_hint_8_over_two_hops() {
    bounded(protocol_over_line(8)).await;
}

#[tokio::test]
async fn protocol_hint_0_over_two_hops() {
    bounded(protocol_over_line(0)).await;
}

#[tokio::test]
async fn eth_headers_over_two_pss_hops() {
    bounded(async {
        let line = line();
        let server_key = line.c.public_key();
        eth_headers_over(line.a.clone(), line.c.clone(), server_key).await;
        crossed_b(&line, 4);
    })
    .await;
}

#[tokio::test]
async fn symmetric_ping_over_two_hops() {
    bounded(async {
        let line = line();
        let topic = Topic::for_protocol("ping", 1);
        let key = SymKey::generate();
        let a_hint = hint_of(&line.a.public_key(), 32);
        let c_hint = hint_of(&line.c.public_key(), 32);
        let id = line
            .a
            .set_symmetric_key(key.clone(), topic, &c_hint, true)
            .unwrap();
        assert_eq!(
            line.c.set_symmetric_key(key, topic, &a_hint, true).unwrap(),
            id
        );
        let (a_ping, a_proto) = Ping::new();
        let (c_ping, c_proto) = Ping::new();
        let params = ProtocolParams::new(false, true);
        let a_ad = PssProtocol::register(line.a.clone(), a_proto, params).unwrap();
        let c_ad = PssProtocol::register(line.c.clone(), c_proto, params).unwrap();
        let peer = PeerKey::Symmetric(id);
        assert!(line.a.has_key(&peer, topic));
        let _rw = a_ad.add_peer(peer).unwrap();
        wait_until("A runs ping", || !a_ping.peers().is_empty()).await;
        let mut c_events = c_ping.events();
        for round in 0..2 {
            a_ping
                .ping(NodeId::ZERO, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("ping {round}: {e}"));
            let seen = c_events.recv().await.unwrap();
            assert!(!seen.msg.pong, "C sees the ping, round {round}");
        }
        assert_eq!(c_ad.peers(), vec![peer]);
        crossed_b(&line, 4);
    })
    .await;
}
