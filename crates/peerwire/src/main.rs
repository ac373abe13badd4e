//! `peerwire`: the command line of the peerwire toolkit.
//!
//! Subcommands are added as the library crates they drive land.

use clap::Parser;

/// The peerwire command line.
#[derive(Debug, Parser)]
#[command(name = "peerwire", version, about = "Ethereum peer networking toolkit")]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
