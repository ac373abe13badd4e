//! Networks of nodes over in-memory links: `sim::run` (TestNetwork) and the ring
//! deduplication (TestDeduplication).

use std::time::Duration;

use bytes::Bytes;
use p2p_pss::sim::{self, SimConfig, Target};
use p2p_pss::{HandlerCaps, Topic, Transport};

use crate::util::{next, node, nothing_within, until};

fn config(nodes: usize, messages: usize) -> SimConfig {
    let mut c = SimConfig::default();
    c.nodes = nodes;
    c.messages = messages;
    c.targets = vec![Target::Full, Target::Partial(1), Target::Flood];
    c
}

// TestNetwork (16 nodes): every target kind reaches all intended nodes and nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_nodes_reach_every_intended_node_and_nobody_else() {
    let report = sim::run(config(16, 50)).await.unwrap();
    eprintln!("{report}");
    assert_eq!(report.nodes, 16);
    assert_eq!(report.rows.len(), 3);
    for row in &report.rows {
        assert!(row.intended > 0, "{row:?}");
        assert_eq!(row.reached, row.intended, "{row:?}");
        assert_eq!(row.outside, 0, "{row:?}");
        assert_eq!(row.delivered_twice, 0, "{row:?}");
    }
    let flood = report.row(Target::Flood).unwrap();
    assert_eq!(
        flood.intended,
        50 * 15,
        "a flood is for every node but the sender"
    );
}

// 10 % of the nodes killed halfway: every live node a path leads to is still reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_killed_still_reaches_every_reachable_node() {
    let mut c = config(40, 40);
    c.kill_fraction = 0.1;
    c.seed = 7;
    let report = sim::run(c).await.unwrap();
    eprintln!("{report}");
    assert_eq!(report.killed, 4);
    for row in &report.rows {
        assert!(row.intended > 0, "{row:?}");
        assert_eq!(row.reached, row.intended, "{row:?}");
        assert_eq!(row.outside, 0, "{row:?}");
    }
}

// TestDeduplication: ring a-b-c-a; a flood from b reaches a over a-b and over c-a, and a
// delivers it once.
#[tokio::test]
async fn ring_delivers_a_message_once() {
    let (a, b, c) = (node(), node(), node());
    let _links = [sim::link(&a, &b), sim::link(&b, &c), sim::link(&c, &a)];
    until("the ring", || {
        a.peer_count() == 2 && b.peer_count() == 2 && c.peer_count() == 2
    })
    .await;
    let topic = Topic::from_name("ring");
    let raw = HandlerCaps {
        raw: true,
        prox: false,
    };
    let mut sub_a = a.subscribe(topic, raw);
    let mut sub_c = c.subscribe(topic, raw);
    b.send_raw(&[], topic, Bytes::from_static(b"once")).unwrap();
    assert_eq!(next(&mut sub_a).await.payload, Bytes::from_static(b"once"));
    assert_eq!(next(&mut sub_c).await.payload, Bytes::from_static(b"once"));
    until("the second copy at a", || a.stats().duplicates >= 1).await;
    assert!(nothing_within(&mut sub_a, Duration::from_millis(200)).await);
    assert_eq!(a.stats().delivered, 1);
    assert_eq!(
        b.stats().delivered,
        0,
        "the sender does not deliver its own message"
    );
}
