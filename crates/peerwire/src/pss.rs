//! `peerwire pss`: routed, topic-addressed, encrypted messages (`p2p-pss`) from the command line.
//!
//! - `peerwire pss sim`: an in-process network of pss nodes over in-memory links
//!   ([`p2p_pss::sim::run`]); prints its report table (or one JSON object with `--json`), the wall
//!   time and the process's peak memory.
//! - `peerwire pss node`: one pss node over RLPx; prints JSON lines (its identity, links,
//!   arriving messages, ping round trips), sends each line of stdin as a message.

mod keys;
mod node;
mod ping;
mod sim;

/// Options of `peerwire pss`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands of `peerwire pss`.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Simulates a network of pss nodes in this process and prints what share of the intended
    /// recipients each kind of message reached.
    Sim(sim::Args),
    /// Runs one pss node over RLPx: sends stdin's lines on a topic, prints what arrives (JSON
    /// lines), answers and sends pings.
    #[command(after_help = node::AFTER_HELP)]
    Node(Box<node::Args>),
}

/// Runs `peerwire pss`.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Sim(args) => sim::run(args).await,
        Command::Node(args) => node::run(*args).await,
    }
}
