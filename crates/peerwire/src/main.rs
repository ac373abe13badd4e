//! `peerwire`: the command line of the peerwire toolkit.
//!
//! Each subcommand lives in its own module; `main` only parses the command line, sets up
//! logging (`RUST_LOG`, to stderr) and the runtime, and turns a failure into an exit code:
//!
//! - `0`: success;
//! - `1`: the server answered with a JSON-RPC error (`error: rpc error <code>: <message>`);
//! - `2`: any other failure (bad arguments, bad URL, unreachable endpoint, timeout, ...), as
//!   one line on stderr.

mod cli_json;
mod crawl;
mod datadir;
mod devnet;
mod discover;
mod endpoint;
mod export;
mod finding;
mod import;
mod node;
mod output;
mod pss;
mod rpc;
mod serve;
mod subscribe;
mod sync;
mod syncing;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The peerwire command line.
#[derive(Debug, Parser)]
#[command(name = "peerwire", version, about = "Ethereum peer networking toolkit")]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Generates a chain, serves it from local RLPx nodes, syncs and verifies it (the main job).
    Devnet(devnet::Args),
    /// Serves a stored, imported or generated chain over eth; prints its enode URL on the first line.
    Serve(serve::Args),
    /// Writes a data directory's blocks to a file in the format of `geth export`.
    Export(export::Args),
    /// Syncs a chain from real peers into a data directory, resuming from the stored head.
    Sync(sync::Args),
    /// Walks the discovery DHT and prints one JSON line per node found, then a summary.
    Crawl(crawl::Args),
    /// Calls one JSON-RPC method and prints its result as one line of JSON.
    Rpc(rpc::Args),
    /// Subscribes with `eth_subscribe` and prints each notification's result as one JSON line.
    Subscribe(subscribe::Args),
    /// Routed, encrypted pss messages: a simulation, or a node that sends and prints messages.
    Pss(pss::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Devnet(args) => devnet::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Sync(args) => sync::run(args).await,
            Command::Crawl(args) => crawl::run(args).await,
            Command::Rpc(args) => rpc::run(args).await,
            Command::Subscribe(args) => subscribe::run(args).await,
            Command::Pss(args) => pss::run(args).await,
        }
    });
    // Do not wait for background tasks (a driver blocked on a dead peer) at exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Logs to stderr, filtered by `RUST_LOG`; silent when `RUST_LOG` is unset.
fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty()) {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
}

/// Help and version go to stdout (exit 0); a usage error becomes one line on stderr (exit 2),
/// like every other failure.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() {
            ExitCode::from(endpoint::EXIT_FAILURE)
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's message without its usage and hint paragraphs, on one line.
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {message} (see --help)");
    ExitCode::from(endpoint::EXIT_FAILURE)
}

/// Prints `e` as one line on stderr and picks the exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    let (line, code) = endpoint::describe_failure(e);
    eprintln!("error: {line}");
    ExitCode::from(code)
}
