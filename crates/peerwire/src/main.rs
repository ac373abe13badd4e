//! `peerwire`: the command line of the peerwire toolkit.

mod devnet;
mod node;
mod output;
mod serve;
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
    /// Serves a stored or generated chain over eth; prints the enode URL on the first line.
    Serve(serve::Args),
    /// Syncs a chain from real peers into a data directory.
    Sync(sync::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Devnet(args) => devnet::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Sync(args) => sync::run(args).await,
        }
    });
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
