//! Shared helpers: bounded waits, nodes on loopback, reference-peer paths from the environment.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chain_types::ChainSpec;
use enr::NodeId;
use p2p_discovery::eth_entry::EthEntry;
use p2p_discovery::v5::{Discv5, Discv5Config};
use p2p_rlpx::NodeKey;

/// Runs `f` under a timeout; a test that hangs fails instead.
pub(crate) async fn bounded<T>(secs: u64, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no result within {secs} s"),
    }
}

/// The `eth` entry the test nodes announce (mainnet at genesis).
pub(crate) fn eth_entry() -> EthEntry {
    EthEntry::new(ChainSpec::mainnet().fork_id_at(0, 0))
}

/// Settings for a loopback node announcing `tcp` as its RLPx port and the test `eth` entry.
pub(crate) fn loopback_config(tcp: u16) -> Discv5Config {
    Discv5Config::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .tcp_port(tcp)
        .eth_entry(&eth_entry())
        .request_timeout(Duration::from_millis(500))
        .ping_interval(Duration::from_secs(1))
}

/// Starts `n` loopback nodes; every node after the first has the first as its bootnode.
pub(crate) async fn network(n: usize) -> Vec<Discv5> {
    let boot = Discv5::bind(&NodeKey::generate(), loopback_config(30_303))
        .await
        .unwrap();
    let boot_enr = boot.local_enr().unwrap();
    let mut nodes = vec![boot];
    for i in 1..n {
        let port = 30_303 + u16::try_from(i).unwrap();
        let config = loopback_config(port).bootnode(boot_enr.clone());
        nodes.push(Discv5::bind(&NodeKey::generate(), config).await.unwrap());
    }
    nodes
}

/// Runs lookups on every node until each has every other in its table (or `rounds` run out);
/// returns the number of rounds used.
pub(crate) async fn converge(nodes: &[Discv5], rounds: usize) -> usize {
    let ids: HashSet<NodeId> = nodes.iter().map(Discv5::node_id).collect();
    for round in 1..=rounds {
        for node in nodes {
            // A failed lookup (nobody answered yet) is retried next round.
            let _ = node.lookup_random().await;
        }
        if nodes.iter().all(|node| knows_all(node, &ids)) {
            return round;
        }
    }
    panic!("the network did not converge in {rounds} rounds");
}

fn knows_all(node: &Discv5, ids: &HashSet<NodeId>) -> bool {
    let known: HashSet<NodeId> = node.table_entries().iter().map(enr::Enr::node_id).collect();
    ids.iter()
        .all(|id| *id == node.node_id() || known.contains(id))
}

/// The path in env var `var`; panics with a clear message when unset.
pub(crate) fn env_path(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) => PathBuf::from(v),
        None => {
            panic!("{var} is not set: run `cargo xtask test` (or set it to the reference peer)")
        }
    }
}

/// What a finished reference process printed.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Whether it exited with status 0.
    pub(crate) success: bool,
    /// Its standard output and standard error, interleaved per stream.
    pub(crate) output: String,
}

/// Runs `command` to completion on a blocking thread, killing it after `secs` seconds.
pub(crate) async fn run_bounded(mut command: std::process::Command, secs: u64) -> Finished {
    use std::io::Read as _;
    use std::process::Stdio;
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{command:?} did not finish within {secs} s; output so far:\n{}{}",
                    out.join().unwrap(),
                    err.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Finished {
            success: status.success(),
            output: format!("{}{}", out.join().unwrap(), err.join().unwrap()),
        }
    })
    .await
    .unwrap()
}
