//! `peerwire crawl`: walks the discovery DHT (random lookups in a loop on discv4 and/or discv5, plus the DNS
//! lists), prints one JSON line per node found, dials the compatible ones through the peer pool (bounded
//! concurrency and timeouts) to learn their client name and eth versions, and prints a JSON summary at the end.
//!
//! A node's line is printed once its dial finished (or at once when it is not dialed), so each node has exactly
//! one line; nodes whose dial is still running at the end are printed without dial results.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use chain_types::ForkFilter;
use eth_wire::EthNode;
use indicatif::{ProgressBar, ProgressStyle};
use p2p_discovery::Candidate;
use p2p_discovery::pool::{DialReport, Pool, PoolConfig, PoolParts};
use p2p_msg::{DisconnectReason, NodeId};
use p2p_rlpx::{HostConfig, NodeKey};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::datadir;
use crate::discover::{DiscoveryArgs, Sources};
use crate::node;
use crate::output;

/// The most nodes remembered by one crawl.
const MAX_NODES: usize = 100_000;

/// Options of `peerwire crawl`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The network: `mainnet`, `sepolia`, `hoodi` or the path of a geth `genesis.json`.
    #[arg(long)]
    chain: String,
    /// How to find nodes.
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// How long to crawl, in seconds.
    #[arg(long, default_value_t = 30, value_name = "S")]
    duration: u64,
    /// Dial each compatible node (RLPx, Hello, Status) to learn its client and eth versions.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    dial: bool,
    /// The most dials at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    dial_concurrency: u16,
    /// How long one dial may take, in seconds.
    #[arg(long, default_value_t = 10, value_name = "S")]
    dial_timeout: u64,
}

/// What the crawl knows of one node.
#[derive(Debug)]
struct Seen {
    candidate: Candidate,
    fork: Option<Value>,
    compatible: Option<bool>,
    printed: bool,
}

/// Counters for the summary.
#[derive(Debug, Default)]
struct Tally {
    by_source: BTreeMap<String, u64>,
    compatible: u64,
    incompatible: u64,
    no_fork_id: u64,
    dialed_ok: u64,
    dial_failures: BTreeMap<String, u64>,
    clients: BTreeMap<String, u64>,
}

/// Runs `peerwire crawl`.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let spec = datadir::load_spec(&args.chain)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // A crawler has no head: judge fork ids as a node at the chain's newest fork would.
    let filter: ForkFilter = spec.fork_filter_at(1 << 40, now);
    let key = NodeKey::generate();
    let mut host = HostConfig::new(key.clone());
    host.client_id = node::client_id();
    let concurrency = usize::from(args.dial_concurrency);
    let config = PoolConfig {
        max_outbound: concurrency,
        max_concurrent_dials: concurrency,
        max_per_ip: concurrency,
        accept_inbound: false,
        redial: false,
        dial_timeout: Duration::from_secs(args.dial_timeout),
        max_queued: 4096,
        ..PoolConfig::default()
    };
    let PoolParts {
        handle,
        driver,
        mut sessions,
        ..
    } = Pool::bind(config, host, EthNode::for_spec(&spec), Some(filter.clone()))
        .await
        .context("cannot start the dialer")?;
    let (reports_tx, mut reports) = mpsc::channel(1024);
    let driver = tokio::spawn(driver.with_reports(reports_tx).run());
    let (found_tx, mut found) = mpsc::channel(1024);
    let entry = p2p_discovery::eth_entry::EthEntry::new(filter.current());
    let sources = Sources::start(
        Some(&spec),
        &args.discovery,
        &key,
        handle.local_enode().tcp_port,
        Some(entry),
        found_tx,
        false,
    )
    .await?;

    let progress = progress_bar();
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(args.duration));
    tokio::pin!(deadline);
    let mut nodes: HashMap<NodeId, Seen> = HashMap::new();
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            Some(candidate) = found.recv() => {
                let id = candidate.enode.id;
                if nodes.contains_key(&id) || nodes.len() >= MAX_NODES {
                    continue;
                }
                let seen = judge(candidate, &filter, &mut tally);
                let dial = args.dial && seen.compatible != Some(false);
                let mut seen = seen;
                if !(dial && handle.add(seen.candidate.clone())) {
                    print_node(&mut seen, None)?;
                }
                nodes.insert(id, seen);
            }
            Some(session) = sessions.recv() => {
                // The Hello and Status are all a crawl wants; the report carries them.
                handle.disconnect(&session.id, DisconnectReason::Requested);
            }
            Some(report) = reports.recv() => {
                on_report(&report, &mut nodes, &mut tally)?;
            }
            () = &mut deadline => break,
        }
        if let Some(bar) = &progress {
            bar.set_message(format!(
                "{} nodes, {} dialed ok, {} dials failed",
                nodes.len(),
                tally.dialed_ok,
                tally.dial_failures.values().sum::<u64>()
            ));
        }
    }
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    drop(sources);
    for seen in nodes.values_mut().filter(|s| !s.printed) {
        print_node(seen, Some(&json!({ "dial": "unfinished" })))?;
    }
    let stats = handle.stats();
    handle.shutdown();
    driver.abort();
    let summary = json!({
        "summary": true,
        "nodes": nodes.len(),
        "elapsed_s": started.elapsed().as_secs_f64(),
        "by_source": tally.by_source,
        "compatible": tally.compatible,
        "incompatible": tally.incompatible,
        "no_fork_id": tally.no_fork_id,
        "dialed_ok": tally.dialed_ok,
        "dial_failures": tally.dial_failures,
        "clients": tally.clients,
        "dials": stats.dials,
    });
    output::line(&summary.to_string()).context("cannot write to stdout")
}

/// The node's fork id and whether it is compatible, counted.
fn judge(candidate: Candidate, filter: &ForkFilter, tally: &mut Tally) -> Seen {
    *tally
        .by_source
        .entry(candidate.source.to_string())
        .or_insert(0) += 1;
    let (fork, compatible) = match candidate.eth_entry() {
        Ok(Some(entry)) => {
            let ok = entry.is_compatible(filter);
            if ok {
                tally.compatible += 1;
            } else {
                tally.incompatible += 1;
            }
            let fork = json!({
                "hash": format!("0x{}", hex::encode(entry.fork_id.hash.0)),
                "next": entry.fork_id.next,
            });
            (Some(fork), Some(ok))
        }
        Ok(None) | Err(_) => {
            tally.no_fork_id += 1;
            (None, None)
        }
    };
    Seen {
        candidate,
        fork,
        compatible,
        printed: false,
    }
}

/// Merges a dial's outcome into its node and prints the node's line.
fn on_report(
    report: &DialReport,
    nodes: &mut HashMap<NodeId, Seen>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let Some(seen) = nodes.get_mut(&report.enode.id) else {
        return Ok(());
    };
    if seen.printed {
        return Ok(());
    }
    let dial = match &report.outcome {
        Ok((client, eth)) => {
            tally.dialed_ok += 1;
            let name = client.split('/').next().unwrap_or(client).to_owned();
            *tally.clients.entry(name).or_insert(0) += 1;
            json!({ "dial": "ok", "client": client, "eth": eth })
        }
        Err(reason) => {
            *tally.dial_failures.entry(reason.to_string()).or_insert(0) += 1;
            json!({ "dial": "failed", "reason": reason.as_str() })
        }
    };
    print_node(seen, Some(&dial))
}

/// Prints one node's line (with the dial's fields when given).
fn print_node(seen: &mut Seen, dial: Option<&Value>) -> anyhow::Result<()> {
    let enode = &seen.candidate.enode;
    let mut line = json!({
        "id": enode.id.to_string(),
        "ip": enode.ip.to_string(),
        "tcp": enode.tcp_port,
        "udp": enode.udp_port,
        "source": seen.candidate.source.to_string(),
        "fork_id": seen.fork,
        "compatible": seen.compatible,
    });
    match (dial, line.as_object_mut()) {
        (Some(Value::Object(fields)), Some(out)) => {
            out.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        (None, Some(out)) => {
            out.insert("dial".into(), json!("skipped"));
        }
        _ => {}
    }
    seen.printed = true;
    output::line(&line.to_string()).context("cannot write to stdout")
}

/// A spinner with counts on stderr when it is a terminal.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} crawl {elapsed}: {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
