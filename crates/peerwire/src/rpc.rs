//! `peerwire rpc <URL> <METHOD> [PARAMS]`: one JSON-RPC call, its result printed as one line of
//! JSON.

use anyhow::Context;

use crate::{cli_json, endpoint};

/// Arguments of `peerwire rpc`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The endpoint: http://, https://, ws:// or wss://.
    url: String,
    /// The method, for example eth_blockNumber.
    method: String,
    /// The params: a JSON array or object (default []).
    params: Option<String>,
    #[command(flatten)]
    connect: endpoint::ConnectArgs,
}

/// Runs the call and prints the result.
///
/// # Errors
///
/// Bad arguments, connection failures, timeouts, and the server's JSON-RPC error.
///
/// # Cancel safety
///
/// Dropping the future abandons the call.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let endpoint = endpoint::Endpoint::parse(&args.url)?;
    let params = cli_json::parse_params(args.params.as_deref())?;
    let client = endpoint.connect(&args.connect).await?;
    let result = client
        .request_raw(&args.method, params)
        .await
        .with_context(|| format!("{} at {}", args.method, endpoint.display()));
    client.close().await;
    crate::output::line(&cli_json::compact(&result?)).context("cannot write to stdout")
}
