//! How fast a loopback network of peerwire discv4 nodes fills its tables, optionally with geth
//! nodes in it.
//!
//! `DISCV4_BENCH_NODES` peerwire nodes (default 64) start from one bootnode; each runs a
//! lookup of a random target every `DISCV4_BENCH_REFRESH_MS` (default 3000), as a crawling
//! peer pool would, and remembers every node its lookups returned or its table added (what
//! the pool would have learned). With `DISCV4_BENCH_GETH=G` and `PEERWIRE_GETH` set, G geth
//! nodes (discovery v4 on, bootstrapped from the same node) join.
//!
//! Every 2 s it samples every peerwire node: the share of the other nodes it has learned
//! (lookup results, table additions, and current table entries and replacement candidates),
//! the share in its table alone, and whether it has learned every geth node. It prints a line every 4 s and a summary with the time until every node knew
//! 90 % of the others (if reached within `DISCV4_BENCH_SECS`, default 90) and the packets sent
//! per node. Note the Kademlia bound: with 16 slots per bucket, a node keeps at most about 16
//! of the roughly N/2 nodes at the farthest distance, so live entries alone cannot reach 90 %
//! of 63 others.
//!
//! Run with `cargo bench -p p2p-discv4 --bench convergence`.

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use p2p_discv4::Discv4Event;

use p2p_discv4::{Discv4, Discv4Config, NodeId, Timeouts};
use p2p_rlpx::{Enode, NodeKey};
use peerwire_testkit::GethNode;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A geth with discovery v4 on loopback, booting from `boot`; the node and its enode.
async fn start_geth(boot: &Enode) -> (GethNode, Enode) {
    let key = NodeKey::generate();
    let geth = GethNode::builder()
        .discv4(true)
        .max_peers(10)
        .nodekey_hex(key.to_hex())
        .bootnode(boot.to_string())
        .start()
        .await;
    let enode = Enode::new(key.id(), ([127, 0, 0, 1], geth.p2p_port()).into());
    (geth, enode)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_num("DISCV4_BENCH_NODES", 64) as usize;
    let g = env_num("DISCV4_BENCH_GETH", 0) as usize;
    let secs = env_num("DISCV4_BENCH_SECS", 90);
    let refresh = Duration::from_millis(env_num("DISCV4_BENCH_REFRESH_MS", 3000));
    let config = Discv4Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        timeouts: Timeouts {
            refresh_interval: Duration::from_secs(3600),
            ..Timeouts::default()
        },
        ..Discv4Config::default()
    };
    let start = Instant::now();
    let boot = Discv4::bind(&NodeKey::generate(), config.clone())
        .await
        .unwrap();
    let mut geths = Vec::new();
    if g > 0 {
        assert!(
            std::env::var_os("PEERWIRE_GETH").is_some(),
            "DISCV4_BENCH_GETH needs PEERWIRE_GETH"
        );
        for _ in 0..g {
            geths.push(start_geth(&boot.local_enode()).await);
        }
    }
    let geth_ids: HashSet<NodeId> = geths.iter().map(|(_, e)| e.id).collect();
    let mut nodes = vec![boot.clone()];
    for _ in 1..n {
        let cfg = Discv4Config {
            bootnodes: vec![boot.local_enode()],
            ..config.clone()
        };
        nodes.push(Discv4::bind(&NodeKey::generate(), cfg).await.unwrap());
    }
    let learned: Vec<Arc<Mutex<HashSet<NodeId>>>> = (0..n)
        .map(|_| Arc::new(Mutex::new(HashSet::new())))
        .collect();
    for (node, set) in nodes.iter().zip(&learned) {
        let (node, set) = (node.clone(), Arc::clone(set));
        let mut events = node.subscribe();
        let events_set = Arc::clone(&set);
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let Discv4Event::NodeAdded(r) = event {
                    events_set.lock().unwrap().insert(r.enode.id);
                }
            }
        });
        tokio::spawn(async move {
            loop {
                if let Ok(found) = node.lookup_random().await {
                    set.lock().unwrap().extend(found.iter().map(|r| r.enode.id));
                }
                tokio::time::sleep(refresh).await;
            }
        });
    }
    let others = (n + g - 1) as f64;
    println!("nodes {n} peerwire + {g} geth, refresh every {refresh:?}");
    let mut reached_90: Option<Duration> = None;
    let mut geth_found: Option<Duration> = None;
    let mut packets_at_90 = 0.0;
    let deadline = start + Duration::from_secs(secs);
    let mut last_print = Instant::now() - Duration::from_secs(2);
    loop {
        let (mut min_known, mut sum_known, mut sum_live, mut min_geth) = (f64::MAX, 0.0, 0.0, g);
        for (node, set) in nodes.iter().zip(&learned) {
            let table = node.known_nodes().await;
            let live = node.table_nodes().len() as f64;
            let known: HashSet<NodeId> = {
                let mut set = set.lock().unwrap();
                set.extend(table.iter().map(|r| r.enode.id));
                set.clone()
            };
            let k = known.len() as f64 / others;
            min_known = min_known.min(k);
            sum_known += k;
            sum_live += live / others;
            let geth_known = known.iter().filter(|id| geth_ids.contains(id)).count();
            min_geth = min_geth.min(geth_known);
        }
        let t = start.elapsed();
        let packets: f64 = nodes
            .iter()
            .map(|d| d.stats().packets_out as f64)
            .sum::<f64>()
            / n as f64;
        if reached_90.is_none() && min_known >= 0.9 {
            reached_90 = Some(t);
            packets_at_90 = packets;
        }
        if g > 0 && geth_found.is_none() && min_geth == g {
            geth_found = Some(t);
        }
        if last_print.elapsed() >= Duration::from_secs(4) {
            last_print = Instant::now();
            println!(
                "t={:5.1}s learned(min/mean)={:.2}/{:.2} in table(mean)={:.2} all geth learned by all={} packets/node={:.0}",
                t.as_secs_f64(),
                min_known,
                sum_known / n as f64,
                sum_live / n as f64,
                min_geth == g,
                packets
            );
        }
        if (reached_90.is_some() && (g == 0 || geth_found.is_some())) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    match reached_90 {
        Some(t) => println!(
            "summary: every node had learned >= 90% of the others after {:.1}s, {:.0} packets sent per node by then",
            t.as_secs_f64(),
            packets_at_90
        ),
        None => println!("summary: 90% not reached within {secs}s"),
    }
    if g > 0 {
        match geth_found {
            Some(t) => println!(
                "summary: every peerwire node had learned all {g} geth nodes after {:.1}s",
                t.as_secs_f64()
            ),
            None => {
                println!("summary: not every peerwire node learned every geth node within {secs}s")
            }
        }
    }
    // Dropping the nodes kills the geths.
    drop(geths);
}
