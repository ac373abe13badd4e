//! `cargo xtask bench [NAME]`: runs the criterion benches of one area or of all of them.

use crate::{Result, cargo, project_root};

/// The bench areas: the name given on the command line, the package and, where the package
/// holds benches of several areas, the bench target.
const AREAS: &[(&str, &str, Option<&str>)] = &[
    ("p2p-msg", "p2p-msg", None),
    ("rpc", "peerwire-tests", Some("rpc")),
    ("downloader", "chain-downloader", None),
    ("rlpx", "p2p-rlpx", None),
    ("devnet", "peerwire", Some("devnet")),
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
    for (_, package, target) in selected {
        let mut command = cargo(&root);
        command.args(["bench", "--package", package]);
        if let Some(target) = target {
            command.args(["--bench", target]);
        }
        if !extra.is_empty() {
            command.arg("--").args(extra);
        }
        crate::run(&mut command)?;
    }
    Ok(())
}
