//! `cargo xtask bench discovery`: a loopback network of 64 peerwire discovery nodes bootstrapped from the geth
//! discovery network of `cargo xtask peers` (`PEERWIRE_GETH_DISC_*`, three geth nodes), once over discv4 and once
//! over discv5.
//!
//! Every peerwire node runs random lookups in a loop (as `peerwire crawl` does) and collects the ids it has seen
//! (lookup results and its table). Reported per protocol: the time until every peerwire node has seen at least
//! 90 % of the other nodes (63 peerwire + 3 geth), the median and slowest node, and the packets sent per node
//! (discv4) or lookups per node (discv5) by then. A Kademlia table with 16-node buckets cannot hold 90 % of 66
//! nodes, so "seen" is the measure, not the table size.
//!
//! Environment: `PEERWIRE_BENCH_DISC_NODES` (default 64), `PEERWIRE_BENCH_DISC_LIMIT_S` (default 120).

#![allow(clippy::print_stdout, missing_docs, unreachable_pub)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use p2p_discovery::Enr;
use p2p_discovery::v5::{Discv5, Discv5Config};
use p2p_discv4::{Discv4, Discv4Config};
use p2p_msg::NodeId;
use p2p_rlpx::{Enode, NodeKey};

fn env(var: &str) -> anyhow::Result<String> {
    std::env::var(var).with_context(|| {
        format!(
            "{var} is not set: run `cargo xtask bench discovery` (it starts the reference peers)"
        )
    })
}

fn env_or(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Seen = Arc<Mutex<HashSet<NodeId>>>;

/// How a run went.
struct Outcome {
    converged: Option<Duration>,
    median: Option<Duration>,
    per_node_work: f64,
    min_fraction: f64,
}

fn fraction(seen: &Seen, all: &HashSet<NodeId>, own: &NodeId) -> f64 {
    let seen = seen.lock().map(|s| s.len()).unwrap_or(0);
    let _ = own;
    seen as f64 / (all.len() - 1) as f64
}

/// Polls until every node has seen 90 % of the others (or the limit); returns the times each crossed it.
async fn watch(
    seen: &[Seen],
    ids: &[NodeId],
    all: &HashSet<NodeId>,
    limit: Duration,
) -> (Vec<Option<Duration>>, f64) {
    let start = Instant::now();
    let mut crossed: Vec<Option<Duration>> = vec![None; seen.len()];
    loop {
        let mut min = f64::MAX;
        for (i, s) in seen.iter().enumerate() {
            let f = fraction(s, all, &ids[i]);
            min = min.min(f);
            if crossed[i].is_none() && f >= 0.9 {
                crossed[i] = Some(start.elapsed());
            }
        }
        if crossed.iter().all(Option::is_some) || start.elapsed() > limit {
            return (crossed, min);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn summarize(crossed: &[Option<Duration>]) -> (Option<Duration>, Option<Duration>) {
    if crossed.iter().any(Option::is_none) {
        return (None, None);
    }
    let mut times: Vec<Duration> = crossed.iter().flatten().copied().collect();
    times.sort();
    (times.last().copied(), times.get(times.len() / 2).copied())
}

async fn run_v4(n: usize, geth: &[Enode], limit: Duration) -> anyhow::Result<Outcome> {
    let mut nodes = Vec::new();
    let mut first: Option<Enode> = None;
    for _ in 0..n {
        let key = NodeKey::generate();
        let mut config = Discv4Config {
            listen_addr: "127.0.0.1:0".parse()?,
            ..Discv4Config::default()
        };
        config.bootnodes.extend(geth.first().copied());
        config.bootnodes.extend(first);
        let node = Discv4::bind(&key, config).await?;
        first.get_or_insert(node.local_enode());
        nodes.push(node);
    }
    let ids: Vec<NodeId> = nodes.iter().map(|d| d.local_enode().id).collect();
    let all: HashSet<NodeId> = ids
        .iter()
        .copied()
        .chain(geth.iter().map(|e| e.id))
        .collect();
    let seen: Vec<Seen> = (0..n).map(|_| Seen::default()).collect();
    let mut tasks = Vec::new();
    for (node, seen) in nodes.iter().zip(&seen) {
        let (node, seen, all) = (node.clone(), seen.clone(), all.clone());
        let own = node.local_enode().id;
        tasks.push(tokio::spawn(async move {
            loop {
                let found = node.lookup_random().await.unwrap_or_default();
                let table = node.table_nodes();
                if let Ok(mut s) = seen.lock() {
                    s.extend(
                        found
                            .iter()
                            .chain(&table)
                            .map(|r| r.enode.id)
                            .filter(|id| *id != own && all.contains(id)),
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let (crossed, min) = watch(&seen, &ids, &all, limit).await;
    let packets: u64 = nodes.iter().map(|d| d.stats().packets_out).sum();
    for task in &tasks {
        task.abort();
    }
    for node in &nodes {
        node.shutdown().await;
    }
    let (converged, median) = summarize(&crossed);
    Ok(Outcome {
        converged,
        median,
        per_node_work: packets as f64 / n as f64,
        min_fraction: min,
    })
}

async fn run_v5(
    n: usize,
    geth: &[Enr],
    geth_ids: &[NodeId],
    limit: Duration,
) -> anyhow::Result<Outcome> {
    let mut nodes = Vec::new();
    let mut first: Option<Enr> = None;
    for _ in 0..n {
        let key = NodeKey::generate();
        let mut config = Discv5Config::new("127.0.0.1:0".parse()?).tcp_port(1);
        for boot in geth.iter().take(1).chain(first.iter()) {
            config = config.bootnode(boot.clone());
        }
        let node = Discv5::bind(&key, config).await?;
        if first.is_none() {
            first = node.local_enr().ok();
        }
        nodes.push((node, key.id()));
    }
    let ids: Vec<NodeId> = nodes.iter().map(|(_, id)| *id).collect();
    let all: HashSet<NodeId> = ids.iter().chain(geth_ids).copied().collect();
    let seen: Vec<Seen> = (0..n).map(|_| Seen::default()).collect();
    let mut tasks = Vec::new();
    for ((node, own), seen) in nodes.iter().zip(&seen) {
        let (node, seen, all, own) = (node.clone(), seen.clone(), all.clone(), *own);
        tasks.push(tokio::spawn(async move {
            loop {
                let found = node.lookup_random().await.unwrap_or_default();
                let table = node.table_entries();
                let table_ids = table
                    .iter()
                    .filter_map(|e| p2p_discovery::enode_of(e).ok().map(|x| x.id));
                if let Ok(mut s) = seen.lock() {
                    s.extend(
                        found
                            .iter()
                            .map(|c| c.enode.id)
                            .chain(table_ids)
                            .filter(|id| *id != own && all.contains(id)),
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let (crossed, min) = watch(&seen, &ids, &all, limit).await;
    let lookups: u64 = nodes.iter().map(|(d, _)| d.stats().lookups).sum();
    for task in &tasks {
        task.abort();
    }
    for (node, _) in &nodes {
        node.shutdown();
    }
    let (converged, median) = summarize(&crossed);
    Ok(Outcome {
        converged,
        median,
        per_node_work: lookups as f64 / n as f64,
        min_fraction: min,
    })
}

fn show(name: &str, work: &str, outcome: &Outcome) {
    let time = |d: Option<Duration>| {
        d.map_or("not reached".to_owned(), |d| {
            format!("{:.2} s", d.as_secs_f64())
        })
    };
    println!(
        "{name}: every node saw >= 90 % of the others after {} (median node {}); {:.0} {work} per node; least-informed node saw {:.0} %",
        time(outcome.converged),
        time(outcome.median),
        outcome.per_node_work,
        outcome.min_fraction * 100.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = usize::try_from(env_or("PEERWIRE_BENCH_DISC_NODES", 64))?;
    let limit = Duration::from_secs(env_or("PEERWIRE_BENCH_DISC_LIMIT_S", 120));
    let geth: Vec<Enode> = env("PEERWIRE_GETH_DISC_ENODES")?
        .split(',')
        .map(|e| e.parse::<Enode>().context("PEERWIRE_GETH_DISC_ENODES"))
        .collect::<anyhow::Result<_>>()?;
    let geth_enrs: Vec<Enr> = env("PEERWIRE_GETH_DISC_ENRS")?
        .split(',')
        .map(|e| {
            e.parse::<Enr>()
                .map_err(|e| anyhow::anyhow!("PEERWIRE_GETH_DISC_ENRS: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let geth_ids: Vec<NodeId> = geth.iter().map(|e| e.id).collect();
    println!(
        "discovery network: {n} peerwire nodes + {} geth nodes on loopback",
        geth.len()
    );
    let v4 = run_v4(n, &geth, limit).await?;
    show("discv4", "packets sent", &v4);
    let v5 = run_v5(n, &geth_enrs, &geth_ids, limit).await?;
    show("discv5", "lookups", &v5);
    Ok(())
}
