//! `peerwire pss sim`: runs [`p2p_pss::sim::run`] and reports it with the wall time and the
//! process's peak resident memory.

use std::time::Instant;

use anyhow::Context as _;
use p2p_pss::sim::SimConfig;
use serde_json::Value;

/// The most nodes a simulation may have (each node costs tasks and memory).
const MAX_NODES: u64 = 100_000;

/// Options of `peerwire pss sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Nodes in the network (2 to 100000).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(2..=MAX_NODES))]
    nodes: u64,
    /// Peers each node picks in each proximity bin (default: the simulation's, 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    peers_per_bin: Option<u64>,
    /// Messages sent per kind of target (full address, partial address, flood; default: the
    /// simulation's, 100).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    messages: Option<u64>,
    /// Share of the nodes killed halfway through, 0 to 1.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = parse_fraction)]
    kill: f64,
    /// Seed of the topology, keys and traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object (the report, `wall_secs`, `peak_rss_bytes`) instead of the table.
    #[arg(long)]
    json: bool,
}

/// Parses a share from 0 to 1.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

/// Runs the simulation and prints its report.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = SimConfig::default();
    config.nodes = usize::try_from(args.nodes).context("--nodes is too large")?;
    if let Some(k) = args.peers_per_bin {
        config.peers_per_bin = usize::try_from(k).context("--peers-per-bin is too large")?;
    }
    if let Some(m) = args.messages {
        config.messages = usize::try_from(m).context("--messages is too large")?;
    }
    config.kill_fraction = args.kill;
    config.seed = args.seed;

    let start = Instant::now();
    let report = p2p_pss::sim::run(config)
        .await
        .context("the simulation failed")?;
    let wall = start.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();

    if args.json {
        let mut value = serde_json::to_value(&report).context("cannot encode the report")?;
        let extra = [
            ("wall_secs", Value::from(wall)),
            ("peak_rss_bytes", peak.map_or(Value::Null, Value::from)),
        ];
        match &mut value {
            Value::Object(map) => {
                // The report's own figure of a name (its `wall_secs`) is kept.
                for (name, v) in extra {
                    map.entry(name).or_insert(v);
                }
            }
            other => {
                let mut map = serde_json::Map::new();
                map.insert("report".to_owned(), other.take());
                for (name, v) in extra {
                    map.insert(name.to_owned(), v);
                }
                value = Value::Object(map);
            }
        }
        crate::output::line(&value.to_string()).context("cannot write to stdout")?;
    } else {
        let peak = peak.map_or_else(
            || "unknown".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        );
        let table = report.to_string();
        let text = format!(
            "{}\nwall time {wall:.2} s, peak RSS {peak}",
            table.trim_end()
        );
        for line in text.lines() {
            crate::output::line(line).context("cannot write to stdout")?;
        }
    }
    Ok(())
}

/// The process's peak resident set size (`VmHWM` of `/proc/self/status`), if the system
/// reports it.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line.split_whitespace().skip(1);
    let number: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => number.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\tpeerwire\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234 * 1024));
        assert_eq!(parse_vm_hwm("VmRSS:\t 1000 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 MB\n"), None);
        assert!(peak_rss_bytes().is_some_and(|b| b > 0));
    }

    #[test]
    fn fractions_are_between_zero_and_one() {
        assert_eq!(parse_fraction("0.1"), Ok(0.1));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("NaN").is_err());
        assert!(parse_fraction("x").is_err());
    }
}
