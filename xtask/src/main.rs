//! `cargo xtask`: peerwire's task runner.
//!
//! Subcommands:
//!
//! - `test`: `cargo fmt --check`, clippy with `-D warnings` on all targets, `tidy`, then the
//!   reference peers (`peers`) and every test of the workspace, doc tests included, with the
//!   peers' addresses in the environment and `--include-ignored` (the tests that need the peers
//!   are ignored under plain `cargo test`).
//! - `tidy`: the layering table of `docs/architecture.md`, crate and module docs, publishable
//!   metadata and forbidden markers.
//! - `bench [NAME]`: the criterion benches of one area or of all of them (`geth` starts the reference
//!   peers first).
//! - `peers`: install the pinned reference peers, start them on loopback, print their
//!   environment and keep them running until interrupted.
//!
//! The runner depends on no workspace crate and prints every command before it runs it.

mod bench;
mod geth;
mod peers;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The result type of every task: a one-line message on failure.
type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test            fmt check, clippy -D warnings, tidy, reference peers, all tests and doc tests
  tidy            layering, crate and module docs, publishable metadata, forbidden markers
  bench [NAME]    criterion benches; NAME is one of: p2p-msg, rpc, downloader, rlpx, dns, discv4, devnet, geth, discovery, pss
  peers           install and start the reference peers, print their environment, wait";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("tidy") => tidy::run(&project_root()),
        Some("bench") => bench::run(args.get(1).map(String::as_str), &args[args.len().min(2)..]),
        Some("peers") => peers::serve_forever(),
        Some("help" | "-h" | "--help") => {
            eprintln!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The full gate: what CI runs.
fn test() -> Result {
    let root = project_root();
    let started = std::time::Instant::now();
    run(cargo(&root).args(["fmt", "--all", "--check"]))?;
    run(cargo(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    tidy::run(&root)?;
    // Build every test binary before the peers start, so that a slow build does not run into
    // the peers' own timers.
    run(cargo(&root).args(["test", "--workspace", "--all-features", "--no-run"]))?;
    let peers = peers::Peers::start(&root)?;
    let mut tests = cargo(&root);
    // Tests that need the reference peers are ignored under plain `cargo test`; here they run.
    tests.args([
        "test",
        "--workspace",
        "--all-features",
        "--",
        "--include-ignored",
    ]);
    peers.apply_env(&mut tests);
    let result = run(&mut tests);
    drop(peers);
    result?;
    step(&format!("all checks passed in {:.0?}", started.elapsed()));
    Ok(())
}

/// The workspace root, from this crate's manifest directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A `cargo` command (the one that runs xtask) in the workspace root, without the package variables that `cargo
/// run` gave this process (`CARGO_PKG_NAME=xtask`, `CARGO_MANIFEST_DIR`, …). Build scripts that watch them (ring's
/// does) would otherwise rerun, and rebuild their dependents, whenever a nested build and a plain one alternate.
/// Every nested cargo goes through here, so all of them see the same environment.
fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*key,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            command.env_remove(&*key);
        }
    }
    command
}

/// Prints a step heading on stderr.
fn step(message: &str) {
    eprintln!("\n==> {message}");
}

/// Prints and runs a command, failing with its exit status.
fn run(command: &mut Command) -> Result {
    let shown = show(command);
    step(&shown);
    let status = command
        .status()
        .map_err(|error| format!("could not start `{shown}`: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// The command line of `command` as text.
fn show(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    if text.ends_with("cargo") {
        text = "cargo".to_owned();
    }
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
