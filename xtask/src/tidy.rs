//! `cargo xtask tidy`: project rules that the compiler does not check.
//!
//! - Layering: each workspace crate depends only on the workspace crates of its row in the
//!   table below (the table of `docs/architecture.md`), read from `cargo metadata`.
//! - Docs: every Rust file under a crate's `src/` starts with `//!` module docs.
//! - Metadata: every publishable crate has a description, license, repository, readme file,
//!   keywords and categories, and uses the workspace lints.
//! - Markers: no unfinished-code macros anywhere in the tree, and no ignored test except the ones that need the
//!   reference peers, marked exactly with the attribute in [`PEER_IGNORE`] (the gate runs them with
//!   `--include-ignored`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{Result, cargo, show, step};

/// Which workspace crates each crate may depend on. `None` means any.
const LAYERS: &[(&str, Option<&[&str]>)] = &[
    ("p2p-msg", Some(&[])),
    ("p2p-rlpx", Some(&["p2p-msg"])),
    ("chain-types", Some(&[])),
    ("eth-wire", Some(&["p2p-msg", "chain-types"])),
    ("chain-downloader", Some(&["chain-types"])),
    ("p2p-pss", Some(&["p2p-msg", "p2p-rlpx"])),
    ("p2p-discv4", Some(&["p2p-msg", "p2p-rlpx"])),
    // A p2p leaf with no workspace dependency (chain-types for its tests: see DEV_ONLY).
    ("p2p-dnsdisc", Some(&[])),
    // Candidates, the ENR `eth` entry, discv5 and the peer pool (which runs RLPx and eth sessions).
    (
        "p2p-discovery",
        Some(&["p2p-msg", "p2p-rlpx", "eth-wire", "chain-types"]),
    ),
    ("rpc-client", Some(&[])),
    ("rpc-ws", Some(&["rpc-client"])),
    ("rpc-http", Some(&["rpc-client"])),
    ("peerwire", None),
    ("peerwire-tests", None),
    // Test support; other crates may take it as a dev-dependency only.
    ("peerwire-testkit", Some(&[])),
    ("xtask", Some(&[])),
];

/// Workspace crates a crate may take as dev-dependencies only, beyond its layer: tests that show
/// a crate working with a higher one (eth over pss, the built-in DNS trees of the chain specs).
const DEV_ONLY: &[(&str, &[&str])] = &[
    ("p2p-pss", &["eth-wire", "chain-types"]),
    ("p2p-dnsdisc", &["chain-types"]),
];

/// The test-support crate, allowed as a dev-dependency of any crate (and as nothing else).
const TESTKIT: &str = "peerwire-testkit";

/// Crates that are never published.
const UNPUBLISHED: &[&str] = &["peerwire-tests", "peerwire-testkit", "xtask"];

/// Runs every tidy check and reports all problems at once.
pub(crate) fn run(root: &Path) -> Result {
    let mut command = cargo(root);
    command.args(["metadata", "--format-version", "1", "--no-deps"]);
    step(&show(&command));
    let metadata = metadata(command)?;
    let mut problems = Vec::new();
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no packages")?;
    let members: BTreeMap<&str, &Value> = packages
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p)))
        .collect();

    for (name, package) in &members {
        check_layering(name, package, &members, &mut problems);
        check_metadata(name, package, &mut problems);
        if let Some(dir) = manifest_dir(package) {
            check_module_docs(&dir.join("src"), &mut problems);
        }
    }
    check_markers(root, &mut problems);

    if problems.is_empty() {
        eprintln!("tidy: {} crates checked, no problems", members.len());
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("tidy: {problem}");
        }
        Err(format!("tidy found {} problem(s)", problems.len()))
    }
}

fn metadata(mut command: Command) -> Result<Value> {
    let output = command
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: bad JSON: {e}"))
}

fn manifest_dir(package: &Value) -> Option<PathBuf> {
    Path::new(package["manifest_path"].as_str()?)
        .parent()
        .map(Path::to_path_buf)
}

fn check_layering(
    name: &str,
    package: &Value,
    members: &BTreeMap<&str, &Value>,
    problems: &mut Vec<String>,
) {
    let Some((_, allowed)) = LAYERS.iter().find(|(crate_name, _)| *crate_name == name) else {
        problems.push(format!(
            "crate `{name}` is not in the layering table (xtask/src/tidy.rs and docs/architecture.md)"
        ));
        return;
    };
    let deps = package["dependencies"].as_array().into_iter().flatten();
    for dep in deps {
        let Some(dep_name) = dep["name"].as_str() else {
            continue;
        };
        if !members.contains_key(dep_name) || dep_name == name {
            continue;
        }
        let kind = dep["kind"].as_str().unwrap_or("normal");
        if dep_name == TESTKIT {
            if kind != "dev" {
                problems.push(format!(
                    "`{name}` depends on `{TESTKIT}` ({kind}); it is a dev-dependency only"
                ));
            }
            continue;
        }
        if ["peerwire", "peerwire-tests", "xtask"].contains(&dep_name) {
            problems.push(format!(
                "`{name}` depends on `{dep_name}`, which nothing may depend on"
            ));
            continue;
        }
        let dev_only = DEV_ONLY
            .iter()
            .any(|(crate_name, deps)| *crate_name == name && deps.contains(&dep_name));
        if dev_only && kind == "dev" {
            continue;
        }
        if let Some(allowed) = allowed
            && !allowed.contains(&dep_name)
        {
            let allowed = if allowed.is_empty() {
                "no workspace crate".to_owned()
            } else {
                allowed.join(", ")
            };
            problems.push(format!(
                "`{name}` depends on `{dep_name}` ({kind}), outside its layer (allowed: {allowed})"
            ));
        }
    }
}

fn check_metadata(name: &str, package: &Value, problems: &mut Vec<String>) {
    if UNPUBLISHED.contains(&name) {
        return;
    }
    if package["publish"].as_array().is_some_and(Vec::is_empty) {
        problems.push(format!(
            "`{name}` has publish = false but is meant to be published"
        ));
    }
    for field in ["description", "license", "repository", "readme"] {
        if package[field].as_str().is_none_or(str::is_empty) {
            problems.push(format!("`{name}` has no `{field}` in its manifest"));
        }
    }
    for field in ["keywords", "categories"] {
        if package[field].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("`{name}` has no `{field}` in its manifest"));
        }
    }
    if let Some(dir) = manifest_dir(package) {
        if let Some(readme) = package["readme"].as_str()
            && !dir.join(readme).is_file()
        {
            problems.push(format!("`{name}`: readme `{readme}` does not exist"));
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("[lints]\nworkspace = true") {
            problems.push(format!(
                "`{name}` does not use the workspace lints ([lints] workspace = true)"
            ));
        }
    }
}

fn check_module_docs(src: &Path, problems: &mut Vec<String>) {
    for file in rust_files(src) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let first = text.lines().find(|line| !line.trim().is_empty());
        if !first.is_some_and(|line| line.starts_with("//!")) {
            problems.push(format!(
                "{}: does not start with `//!` module docs",
                file.display()
            ));
        }
    }
}

/// The one allowed ignore attribute: tests that need the reference peers.
const PEER_IGNORE: &str = concat!(
    "#[",
    "ignore = \"needs reference peers: run cargo xtask test\"]"
);

fn check_markers(root: &Path, problems: &mut Vec<String>) {
    // Built from pieces so that this file does not match itself.
    let markers = [
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
        ["#[", "ignore"].concat(),
    ];
    for dir in ["crates", "tests", "xtask"] {
        for file in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                if line.trim() == PEER_IGNORE {
                    continue;
                }
                if let Some(marker) = markers.iter().find(|m| line.contains(m.as_str())) {
                    problems.push(format!(
                        "{}:{}: contains `{marker}`",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
}

/// Every `.rs` file under `dir`, skipping build output and installed packages.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target"
                    && name != "node_modules"
                    && !name.to_string_lossy().starts_with('.')
                {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
