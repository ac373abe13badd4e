//! Faults (TestMessageProcessing and the fixes of the reference): expired, too-far, corrupt,
//! replayed and over-travelled messages are dropped; a full outbox refuses with an error; an
//! unroutable message waits for a route; a flooding peer is rate limited while others are
//! still served.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use p2p_msg::{Cap, Msg, MsgPipe, MsgWriter, new_peer_pipe};
use p2p_pss::sim::link;
use p2p_pss::{
    Error, Flags, HandlerCaps, PROTOCOL_NAME, PROTOCOL_VERSION, Pss, PssConfig, PssMsg, Topic,
    Transport,
};
use p2p_rlpx::NodeKey;

use crate::util::{next, node, node_with, nothing_within, until};

const RAW: HandlerCaps = HandlerCaps {
    raw: true,
    prox: false,
};

fn topic() -> Topic {
    Topic::from_name("faults")
}

fn now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    u32::try_from(secs).unwrap()
}

/// A raw message for `to` expiring in `ttl` seconds (negative: in the past).
fn raw_msg(to: &[u8], ttl: i64, payload: &'static [u8]) -> PssMsg {
    PssMsg {
        to: Bytes::copy_from_slice(to),
        flags: Flags {
            raw: true,
            symmetric: false,
        },
        expire: u32::try_from(i64::from(now()) + ttl).unwrap(),
        topic: topic(),
        hops: 0,
        payload: Bytes::from_static(payload),
    }
}

/// A peer the test drives by hand: the node runs pss/2 on one end of a pipe, the test holds
/// the other.
async fn fake_peer(node: &Pss) -> MsgPipe {
    let (ours, theirs) = MsgPipe::pair();
    let caps = vec![Cap::new(PROTOCOL_NAME, PROTOCOL_VERSION)];
    let key = NodeKey::generate();
    let (info, rw) = new_peer_pipe(key.id(), "fake", caps, ours);
    let before = node.peer_count();
    tokio::spawn(node.protocol().run(info, rw));
    until("the fake peer", || node.peer_count() == before + 1).await;
    theirs
}

async fn write(pipe: &MsgPipe, bytes: Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(5), pipe.write_msg(Msg::new(0, bytes)))
        .await
        .unwrap()
        .unwrap();
}

// TestMessageProcessing: expired, too-far, corrupt and over-travelled messages are dropped;
// a valid one is delivered once, its replay is a duplicate.
#[tokio::test]
async fn bad_and_replayed_messages_are_dropped() {
    let a = node();
    let mut sub = a.subscribe(topic(), RAW);
    let peer = fake_peer(&a).await;
    let to = a.address().0;

    write(&peer, raw_msg(&to, -10, b"expired").encode()).await;
    write(&peer, raw_msg(&to, 100_000, b"too far").encode()).await;
    write(&peer, vec![0xc0, 0x01, 0x02]).await;
    peer.write_msg(Msg::new(3, raw_msg(&to, 60, b"code 3").encode()))
        .await
        .unwrap();
    let mut far = raw_msg(&to, 60, b"far travelled");
    far.hops = 64;
    write(&peer, far.encode()).await;
    until("the drops", || {
        let s = a.stats();
        s.expired == 2 && s.invalid == 2 && s.too_many_hops == 1
    })
    .await;
    assert!(nothing_within(&mut sub, Duration::from_millis(50)).await);

    let good = raw_msg(&to, 60, b"good");
    write(&peer, good.encode()).await;
    assert_eq!(next(&mut sub).await.payload, Bytes::from_static(b"good"));
    // The replay (other hops, same digest) is dropped.
    let mut replay = good.clone();
    replay.hops = 3;
    write(&peer, replay.encode()).await;
    until("the duplicate", || a.stats().duplicates == 1).await;
    assert!(nothing_within(&mut sub, Duration::from_millis(50)).await);
    assert_eq!(a.stats().delivered, 1);
    assert_eq!(a.stats().received, 7);
}

// A node's own message coming back is an echo: dropped, not delivered to itself.
#[tokio::test]
async fn own_messages_coming_back_are_dropped() {
    let a = node();
    let mut sub = a.subscribe(topic(), RAW);
    let peer = fake_peer(&a).await;
    a.send_raw(&[], topic(), Bytes::from_static(b"mine"))
        .unwrap();
    let copy = tokio::time::timeout(Duration::from_secs(5), p2p_msg::MsgReader::read_msg(&peer))
        .await
        .unwrap()
        .unwrap();
    write(&peer, copy.payload.to_vec()).await;
    until("the echo", || a.stats().duplicates == 1).await;
    assert!(nothing_within(&mut sub, Duration::from_millis(50)).await);
}

// The outbox is bounded in messages and bytes: beyond that, sending fails with OutboxFull.
#[tokio::test]
async fn a_full_outbox_refuses_with_an_error() {
    let mut config = PssConfig::default();
    config.outbox_messages = 2;
    let a = node_with(config);
    // No peers: nothing leaves the outbox.
    a.send_raw(&[1], topic(), Bytes::from_static(b"1")).unwrap();
    a.send_raw(&[1], topic(), Bytes::from_static(b"2")).unwrap();
    let err = a
        .send_raw(&[1], topic(), Bytes::from_static(b"3"))
        .unwrap_err();
    assert!(
        matches!(err, Error::OutboxFull { messages: 2, .. }),
        "{err:?}"
    );
    assert_eq!(a.stats().outbox_full, 1);
    assert_eq!(a.outbox_len().0, 2);

    let mut config = PssConfig::default();
    config.outbox_bytes = 100;
    let b = node_with(config);
    let err = b
        .send_raw(&[], topic(), Bytes::from(vec![0u8; 200]))
        .unwrap_err();
    assert!(matches!(err, Error::OutboxFull { .. }), "{err:?}");
}

// No route yet: the outbox retries until a peer appears.
#[tokio::test]
async fn an_unroutable_message_waits_for_a_route() {
    let mut config = PssConfig::default();
    config.retry_backoff = Duration::from_millis(10);
    let a = node_with(config);
    let b = node();
    let mut sub = b.subscribe(topic(), RAW);
    a.send_raw(&b.address().0, topic(), Bytes::from_static(b"later"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(a.outbox_len().0, 1, "still queued");
    let _l = link(&a, &b);
    assert_eq!(next(&mut sub).await.payload, Bytes::from_static(b"later"));
    until("the outbox to drain", || a.outbox_len() == (0, 0)).await;
}

// A flooding peer is limited by its token bucket (and counted); other peers are still served.
#[tokio::test]
async fn a_flooding_peer_is_rate_limited_and_others_still_served() {
    let mut config = PssConfig::default();
    config.peer_rate = 10;
    config.peer_burst = 5;
    let a = node_with(config);
    let mut sub = a.subscribe(topic(), RAW);
    let flooder = fake_peer(&a).await;
    let honest = fake_peer(&a).await;
    let to = a.address().0;
    for i in 0..100u32 {
        let mut m = raw_msg(&to, 60, b"");
        m.payload = Bytes::from(i.to_be_bytes().to_vec());
        write(&flooder, m.encode()).await;
    }
    let limited = a.stats().rate_limited;
    // Burst 5 plus 10 per second of the loop's run time (well under a second).
    assert!(limited >= 80, "{limited} of 100 limited");
    let burst = a.stats().delivered;
    assert!((5..=20).contains(&burst), "{burst} delivered");
    write(&honest, raw_msg(&to, 60, b"honest").encode()).await;
    loop {
        let d = next(&mut sub).await;
        if d.payload == Bytes::from_static(b"honest") {
            break;
        }
    }
}

// Shutdown ends the links and the subscriptions; sending fails afterwards.
#[tokio::test]
async fn shutdown_ends_links_and_subscriptions() {
    let (a, b) = (node(), node());
    let _l = link(&a, &b);
    until("the link", || b.peer_count() == 1).await;
    let mut sub = a.subscribe(topic(), RAW);
    a.shutdown();
    until("b to see a go", || b.peer_count() == 0).await;
    assert!(sub.recv().await.is_none());
    assert!(matches!(
        a.send_raw(&[], topic(), Bytes::new()),
        Err(Error::Shutdown)
    ));
}
