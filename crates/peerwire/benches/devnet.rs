//! `cargo xtask bench devnet`: the devnet sync over real RLPx beside the same sync from
//! in-process sources, in the same run.
//!
//! Each case runs the release `peerwire devnet --json` binary as a child process (so each has a
//! fresh heap and its own peak memory), alternating the two sources, and reports the median
//! rate of the repetitions and the ratio. Environment: `DEVNET_BLOCKS` (default 100 000),
//! `DEVNET_REPS` (default 3), `DEVNET_MODE` (default `full`).

#![allow(clippy::print_stdout, missing_docs)]

use std::process::Command;

use serde_json::Value;

fn main() {
    let blocks = env_or("DEVNET_BLOCKS", "100000");
    let reps: usize = env_or("DEVNET_REPS", "3").parse().unwrap_or(3);
    let mode = env_or("DEVNET_MODE", "full");
    // `cargo bench` passes `--bench` (and possibly a filter); nothing to parse.
    println!("devnet sync of {blocks} blocks ({mode} mode) from 4 peers, {reps} repetitions");

    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut rss: [u64; 2] = [0, 0];
    for rep in 0..reps {
        for (i, source) in ["memory", "rlpx"].iter().enumerate() {
            let summary = devnet(&blocks, &mode, source);
            let rate = summary["blocks_per_s"]
                .as_f64()
                .filter(|r| *r > 0.0)
                .or_else(|| summary["headers_per_s"].as_f64())
                .unwrap_or(0.0);
            let peak = summary["peak_rss_bytes"].as_u64().unwrap_or(0);
            println!(
                "  rep {rep}: {source:>6}: {rate:>9.0} blocks/s in {:.2} s, peak RSS {} MiB",
                summary["elapsed_s"].as_f64().unwrap_or(0.0),
                peak >> 20
            );
            rates[i].push(rate);
            rss[i] = rss[i].max(peak);
        }
    }
    let memory = median(&mut rates[0]);
    let rlpx = median(&mut rates[1]);
    println!();
    println!("| source | blocks/s (median) | peak RSS |");
    println!("|---|---|---|");
    println!(
        "| in-process sources (baseline) | {memory:.0} | {} MiB |",
        rss[0] >> 20
    );
    println!(
        "| 4 RLPx peers on loopback | {rlpx:.0} | {} MiB |",
        rss[1] >> 20
    );
    println!();
    println!(
        "ratio rlpx / in-process: {:.2} (target >= 0.50)",
        if memory > 0.0 { rlpx / memory } else { 0.0 }
    );
}

fn devnet(blocks: &str, mode: &str, source: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_peerwire"))
        .args([
            "devnet", "--json", "--blocks", blocks, "--mode", mode, "--source", source,
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run peerwire devnet: {e}"));
    assert!(
        output.status.success(),
        "peerwire devnet --source {source} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bad JSON from devnet ({e}): {stdout}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
