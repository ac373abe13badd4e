//! `cargo xtask bench [NAME]`: runs the criterion benches of one area or of all of them.
//!
//! The `geth` area (`tests/benches/geth.rs`) needs the reference peers and the release `peerwire`
//! program: it builds `peerwire` with `--release`, starts the peers through [`crate::peers::Peers`]
//! (as `cargo xtask test` does), runs the bench with their environment and stops them afterwards. The
//! `discovery` area (`tests/benches/discovery.rs`) starts the reference peers the same way (it needs the geth
//! discovery network). The `pss` area runs every bench of `p2p-pss`: `crypto` (envelope crypto beside
//! AES-GCM and ECIES), `path` (a 5-hop pss path beside a direct `MsgPipe`), `send` (sealed sends beside
//! their crypto floors) and `sim` (128- and 1000-node simulations).

use crate::{Result, cargo, project_root};

/// The bench areas: the name given on the command line, the package and, where the package
/// holds benches of several areas, the bench targets (comma-separated).
const AREAS: &[(&str, &str, Option<&str>)] = &[
    ("p2p-msg", "p2p-msg", None),
    ("rpc", "peerwire-tests", Some("rpc")),
    ("downloader", "chain-downloader", None),
    ("rlpx", "p2p-rlpx", None),
    ("dns", "p2p-dnsdisc", None),
    ("discv4", "p2p-discv4", None),
    ("discv5", "p2p-discovery", Some("discv5")),
    ("devnet", "peerwire", Some("devnet")),
    ("geth", "peerwire-tests", Some("geth")),
    ("discovery", "peerwire-tests", Some("discovery")),
    ("pss", "p2p-pss", Some("crypto,path,send,sim")),
];

/// Runs the benches of `name`, or of every area when `name` is `None`; `extra` goes to
/// criterion (a filter, `--quick`, …).
pub(crate) fn run(name: Option<&str>, extra: &[String]) -> Result {
    let root = project_root();
    let selected: Vec<_> = match name {
        None => AREAS.iter().collect(),
        Some(name) => {
            let found: Vec<_> = AREAS.iter().filter(|(area, ..)| *area == name).collect();
            if found.is_empty() {
                let names: Vec<_> = AREAS.iter().map(|(area, ..)| *area).collect();
                return Err(format!(
                    "unknown bench `{name}`; expected one of: {}",
                    names.join(", ")
                ));
            }
            found
        }
    };
    for (area, package, target) in selected {
        let mut command = cargo(&root);
        command.args(["bench", "--package", package]);
        for target in target.iter().flat_map(|t| t.split(',')) {
            command.args(["--bench", target]);
        }
        if !extra.is_empty() {
            command.arg("--").args(extra);
        }
        if *area == "discovery" {
            crate::run(cargo(&root).args([
                "bench",
                "--package",
                package,
                "--bench",
                "discovery",
                "--no-run",
            ]))?;
            let peers = crate::peers::Peers::start(&root)?;
            peers.apply_env(&mut command);
            let result = crate::run(&mut command);
            drop(peers);
            result?;
        } else if *area == "geth" {
            // The bench runs `target/release/peerwire`; build it and the bench before the peers start, so that
            // a slow build does not run into the peers' own timers.
            crate::run(cargo(&root).args(["build", "--release", "--package", "peerwire"]))?;
            crate::run(cargo(&root).args([
                "bench",
                "--package",
                package,
                "--bench",
                "geth",
                "--no-run",
            ]))?;
            let peers = crate::peers::Peers::start(&root)?;
            peers.apply_env(&mut command);
            let result = crate::run(&mut command);
            drop(peers);
            result?;
        } else {
            crate::run(&mut command)?;
        }
    }
    Ok(())
}
