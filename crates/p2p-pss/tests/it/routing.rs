//! The forwarding table (TestForwardBasic), address matching and prox handlers
//! (TestAddressMatch, TestAddressMatchProx), keys (TestKeys), the capability mismatch
//! (TestPeerCapabilityMismatch), raw allow (TestRawAllow) and sending between two linked nodes
//! (TestSendRaw, TestSendSym, TestSendAsym).

use std::time::Duration;

use bytes::Bytes;
use p2p_msg::{Cap, LocalHello, Peer, Protocol, pipe_transport};
use p2p_pss::sim::link;
use p2p_pss::{
    Error, HandlerCaps, Kademlia, Mode, OverlayAddr, PROTOCOL_NAME, PROTOCOL_VERSION, PeerKey,
    PssConfig, Route, SymKey, Topic, Transport, proximity,
};
use p2p_rlpx::NodeKey;

use crate::util::{next, node, node_with, nothing_within, until};

const RAW: HandlerCaps = HandlerCaps {
    raw: true,
    prox: false,
};

/// An address with proximity order `po` to the all-zero base: zero bits, bit `po` set, and
/// `tail` in the last byte to tell addresses of one bin apart.
fn addr_at(po: u32, tail: u8) -> OverlayAddr {
    let mut a = [0u8; 32];
    a[(po / 8) as usize] |= 0x80 >> (po % 8);
    a[31] ^= tail;
    OverlayAddr(a)
}

/// The synthetic table of TestForwardBasic: two peers per proximity order 0 to 10, and one at
/// 12. Peer `2 * po + i` has address `addr_at(po, i + 1)`; peer 100 is the deep one.
fn table() -> Kademlia<u32> {
    let mut k = Kademlia::new(OverlayAddr([0; 32]));
    for po in 0..=10u32 {
        for i in 0..2 {
            assert!(k.add(2 * po + i, addr_at(po, i as u8 + 1)));
        }
    }
    assert!(k.add(100, addr_at(12, 1)));
    k
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

#[test]
fn depth_is_the_shallowest_bin_holding_the_nearest_two() {
    let mut k = table();
    assert_eq!(k.depth(), 10);
    assert_eq!(k.bin_size(10), 2);
    assert!(!k.add(100, addr_at(12, 1)), "a peer is in the table once");
    // An empty bin 3 caps the depth there.
    assert!(k.remove(6) && k.remove(7));
    assert_eq!(k.depth(), 3);
    assert!(!k.remove(6));
}

#[test]
fn a_full_address_of_a_peer_goes_to_that_peer_only() {
    let k = table();
    for (peer, a) in k.peers().collect::<Vec<_>>() {
        assert_eq!(k.route(&a.0, None), Route::Broadcast(vec![peer]));
    }
}

#[test]
fn per_proximity_order_the_closest_peer_comes_first() {
    let k = table();
    for po in 0..10u32 {
        let to = addr_at(po, 0x77);
        let route = k.route(&to.0, None);
        let Route::Closest(peers) = &route else {
            panic!("po {po}: {route:?}");
        };
        assert_eq!(peers.len(), k.len(), "every peer is a fallback");
        let first: Vec<u32> = sorted(peers[..2].to_vec());
        assert_eq!(
            first,
            vec![2 * po, 2 * po + 1],
            "po {po}: the bin's two first"
        );
        // The fallbacks are ordered by distance.
        let addrs: std::collections::HashMap<u32, OverlayAddr> = k.peers().collect();
        let dist: Vec<[u8; 32]> = peers
            .iter()
            .map(|p| {
                let mut d = addrs[p].0;
                d.iter_mut().zip(&to.0).for_each(|(x, y)| *x ^= y);
                d
            })
            .collect();
        assert!(dist.windows(2).all(|w| w[0] <= w[1]), "po {po}: ordered");
    }
}

#[test]
fn within_the_depth_the_whole_neighbourhood_gets_it() {
    let k = table();
    let to = addr_at(11, 0x77);
    assert!(proximity(&[0; 32], &to.0) >= k.depth());
    assert_eq!(k.route(&to.0, None), Route::Broadcast(vec![20, 21, 100]));
}

#[test]
fn partial_hints_go_to_every_peer_with_the_prefix() {
    let k = table();
    // 0x20: bin 2 (first byte 0010_0000).
    let Route::Broadcast(peers) = k.route(&[0x20], None) else {
        panic!("a broadcast");
    };
    assert_eq!(sorted(peers), vec![4, 5]);
    // A prefix no peer has, outside the depth: towards the closest (bin 0 has 0x80).
    let Route::Closest(peers) = k.route(&[0xc0], None) else {
        panic!("towards the closest");
    };
    assert_eq!(sorted(peers[..2].to_vec()), vec![0, 1]);
    // The base has the prefix 0x00 and so do bins 8 and deeper: only those peers.
    let Route::Broadcast(peers) = k.route(&[0x00], None) else {
        panic!("a broadcast");
    };
    assert_eq!(sorted(peers), vec![16, 17, 18, 19, 20, 21, 100]);
}

#[test]
fn an_empty_hint_floods_all_but_the_sender() {
    let k = table();
    let Route::Broadcast(peers) = k.route(&[], Some(3)) else {
        panic!("a flood");
    };
    assert_eq!(peers.len(), k.len() - 1);
    assert!(!peers.contains(&3));
}

#[test]
fn never_back_to_the_peer_it_came_from() {
    let k = table();
    for (peer, a) in k.peers().collect::<Vec<_>>() {
        let route = k.route(&a.0, Some(peer));
        assert!(!route.peers().contains(&peer), "{peer}: {route:?}");
        assert!(!route.is_empty(), "{peer}: a fallback exists");
    }
    let mut lonely = Kademlia::new(OverlayAddr([0; 32]));
    lonely.add(1u32, addr_at(0, 1));
    assert!(lonely.route(&addr_at(5, 9).0, Some(1)).is_empty());
}

// TestAddressMatch / TestAddressMatchProx: a hint that is not a prefix of the node's address
// reaches only a prox handler (and only within the depth: with one peer, depth 0).
#[tokio::test]
async fn prox_handlers_take_messages_for_the_neighbourhood() {
    let (a, b) = (node(), node());
    let _l = link(&a, &b);
    until("the link", || a.peer_count() == 1 && b.peer_count() == 1).await;
    let topic = Topic::from_name("prox");
    let mut exact = b.subscribe(topic, RAW);
    let mut prox = b.subscribe(
        topic,
        HandlerCaps {
            raw: true,
            prox: true,
        },
    );
    let mut other = b.address().0;
    other[31] ^= 1;
    a.send_raw(&other, topic, Bytes::from_static(b"near"))
        .unwrap();
    let d = next(&mut prox).await;
    assert_eq!(d.payload, Bytes::from_static(b"near"));
    assert_eq!(d.hops, 1);
    assert!(nothing_within(&mut exact, Duration::from_millis(100)).await);
    // The exact address reaches both.
    a.send_raw(&b.address().0, topic, Bytes::from_static(b"exact"))
        .unwrap();
    assert_eq!(next(&mut exact).await.payload, Bytes::from_static(b"exact"));
    assert_eq!(next(&mut prox).await.payload, Bytes::from_static(b"exact"));
    // A partial prefix of b's address reaches the exact handler too.
    a.send_raw(&b.address().0[..4], topic, Bytes::from_static(b"partial"))
        .unwrap();
    assert_eq!(
        next(&mut exact).await.payload,
        Bytes::from_static(b"partial")
    );
}

// TestKeys: stored keys, hints, unknown keys, full stores.
#[tokio::test]
async fn keys_are_stored_checked_and_bounded() {
    let mut config = PssConfig::default();
    config.public_keys = 1;
    config.symmetric_keys = 1;
    let a = node_with(config);
    let topic = Topic::from_name("keys");
    let peer = *NodeKey::generate().public_key();
    assert!(matches!(
        a.set_peer_public_key(peer, topic, &[0; 33]),
        Err(Error::HintTooLong(33))
    ));
    assert!(!a.has_key(&PeerKey::Asymmetric(peer), topic));
    a.set_peer_public_key(peer, topic, &[1, 2]).unwrap();
    assert!(a.has_key(&PeerKey::Asymmetric(peer), topic));
    assert!(!a.has_key(&PeerKey::Asymmetric(peer), Topic::from_name("other")));
    assert!(matches!(
        a.set_peer_public_key(*NodeKey::generate().public_key(), topic, &[]),
        Err(Error::KeyStoreFull {
            kind: "public",
            limit: 1
        })
    ));
    let key = SymKey::generate();
    let id = a.set_symmetric_key(key.clone(), topic, &[], true).unwrap();
    assert_eq!(id, key.id());
    assert!(a.has_key(&PeerKey::Symmetric(id), topic));
    assert!(matches!(
        a.set_symmetric_key(SymKey::generate(), topic, &[], false),
        Err(Error::KeyStoreFull {
            kind: "symmetric",
            ..
        })
    ));
    let unknown = PeerKey::Symmetric(SymKey::generate().id());
    assert!(matches!(
        a.send(&unknown, topic, Bytes::new()),
        Err(Error::UnknownKey { .. })
    ));
}

// TestPeerCapabilityMismatch: a peer without pss/2 never enters the table.
#[tokio::test]
async fn peers_without_the_capability_never_enter_the_table() {
    let a = node();
    let other = Protocol::new("other", 1, 1, |_peer, rw| async move {
        let _ = p2p_msg::MsgReader::read_msg(&rw).await;
        Ok(())
    });
    let (ta, tb) = pipe_transport();
    let key_b = NodeKey::generate();
    let pa = Peer::new(
        ta,
        LocalHello::new("a", a.node_id()),
        vec![a.protocol(), other.clone()],
    );
    let pb = Peer::new(tb, LocalHello::new("b", key_b.id()), vec![other]);
    let ra = tokio::spawn(pa.run());
    let _rb = tokio::spawn(pb.run());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a.peer_count(), 0);
    ra.abort();

    // The same over a connection that shares pss/2: the peer enters the table.
    let b = node();
    let (ta, tb) = pipe_transport();
    let pa = Peer::new(ta, LocalHello::new("a", a.node_id()), vec![a.protocol()]);
    let pb = Peer::new(tb, LocalHello::new("b", b.node_id()), vec![b.protocol()]);
    let _ra = tokio::spawn(pa.run());
    let _rb = tokio::spawn(pb.run());
    until("the pss peer", || a.peer_count() == 1).await;
    assert_eq!(a.peers(), vec![b.address()]);
    assert_eq!(
        a.protocol().cap(),
        Cap::new(PROTOCOL_NAME, PROTOCOL_VERSION)
    );
}

// TestRawAllow: raw messages reach only handlers that allow raw.
#[tokio::test]
async fn raw_messages_only_for_raw_handlers() {
    let (a, b) = (node(), node());
    let _l = link(&a, &b);
    until("the link", || b.peer_count() == 1).await;
    let topic = Topic::from_name("raw");
    let mut sealed_only = b.subscribe(topic, HandlerCaps::default());
    a.send_raw(&b.address().0, topic, Bytes::from_static(b"raw"))
        .unwrap();
    until("the refusal", || b.stats().raw_refused == 1).await;
    assert!(nothing_within(&mut sealed_only, Duration::from_millis(50)).await);
    let mut raw = b.subscribe(topic, RAW);
    a.send_raw(&b.address().0, topic, Bytes::from_static(b"raw 2"))
        .unwrap();
    let d = next(&mut raw).await;
    assert_eq!(
        (d.mode, d.payload),
        (Mode::Raw, Bytes::from_static(b"raw 2"))
    );
    assert!(nothing_within(&mut sealed_only, Duration::from_millis(50)).await);
}

// TestSendRaw / TestSendSym / TestSendAsym between two directly linked nodes.
#[tokio::test]
async fn send_raw_sym_and_asym_between_linked_nodes() {
    let (a, b) = (node(), node());
    let _l = link(&a, &b);
    until("the link", || a.peer_count() == 1 && b.peer_count() == 1).await;
    let topic = Topic::from_name("send");
    let mut sub = b.subscribe(topic, RAW);

    a.send_raw(&b.address().0[..8], topic, Bytes::from_static(b"raw"))
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!((d.mode, &d.payload[..]), (Mode::Raw, &b"raw"[..]));
    assert_eq!(&d.to[..], &b.address().0[..8]);

    let key = SymKey::generate();
    let id = a
        .set_symmetric_key(key.clone(), topic, &b.address().0, false)
        .unwrap();
    b.set_symmetric_key(key, topic, &[], true).unwrap();
    a.send_sym(id, topic, Bytes::from_static(b"sym")).unwrap();
    let d = next(&mut sub).await;
    assert_eq!((d.mode, &d.payload[..]), (Mode::Symmetric(id), &b"sym"[..]));

    a.set_peer_public_key(b.public_key(), topic, &[]).unwrap();
    a.send_asym(b.public_key(), topic, Bytes::from_static(b"asym"))
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!(
        (d.mode, &d.payload[..]),
        (Mode::Asymmetric(a.public_key()), &b"asym"[..])
    );
    assert_eq!(d.hops, 1);
    // An asymmetric message for someone else does not open at b: nothing is delivered.
    let stranger = *NodeKey::generate().public_key();
    a.set_peer_public_key(stranger, topic, &[]).unwrap();
    a.send_asym(stranger, topic, Bytes::from_static(b"not for b"))
        .unwrap();
    until("the stranger's message at b", || b.stats().received == 4).await;
    assert_eq!(b.stats().delivered, 3);
    assert!(nothing_within(&mut sub, Duration::from_millis(50)).await);
    assert_eq!(a.stats().delivered, 0);
}
