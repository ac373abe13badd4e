//! `peerwire subscribe <WS_URL> <KIND> [PARAMS] [--count N]`: `eth_subscribe` with
//! `[KIND, ...PARAMS]`; each notification's result is printed as one line of JSON.

use std::io::ErrorKind;

use anyhow::{Context, bail};
use futures::StreamExt;
use rpc_client::{RawValue, SubscriptionOptions};

use crate::{cli_json, endpoint};

/// Arguments of `peerwire subscribe`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The endpoint: ws:// or wss:// (HTTP cannot carry notifications).
    url: String,
    /// The subscription kind, for example newHeads, logs or newPendingTransactions.
    kind: String,
    /// Further params: a JSON array (spread after KIND) or object (appended, e.g. a logs filter).
    params: Option<String>,
    /// Stop (and unsubscribe) after this many notifications; without it, run until Ctrl-C.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    #[command(flatten)]
    connect: endpoint::ConnectArgs,
}

/// Subscribes and prints notifications until `--count` is reached, Ctrl-C, or an error.
///
/// # Errors
///
/// Bad arguments, a non-WebSocket URL, connection failures, timeouts, the server's JSON-RPC
/// error, and the end of the subscription by the server or the connection.
///
/// # Cancel safety
///
/// Dropping the future drops the subscription (an unsubscribe is queued).
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let endpoint = endpoint::Endpoint::parse(&args.url)?;
    let params = cli_json::parse_params(args.params.as_deref())?;
    if endpoint.scheme() != endpoint::Scheme::Ws {
        bail!(
            "subscriptions need a ws:// or wss:// URL, got {}",
            endpoint.display()
        );
    }
    let client = endpoint.connect(&args.connect).await?;
    let result = stream(&client, &endpoint, &args, params).await;
    client.close().await;
    result
}

async fn stream(
    client: &rpc_client::Client,
    endpoint: &endpoint::Endpoint,
    args: &Args,
    params: serde_json::Value,
) -> anyhow::Result<()> {
    let all = cli_json::subscribe_params(&args.kind, params);
    let mut sub = client
        .subscribe_with::<Box<RawValue>, _>(
            "eth",
            all,
            SubscriptionOptions::new().timeout(args.connect.timeout),
        )
        .await
        .with_context(|| format!("eth_subscribe {} at {}", args.kind, endpoint.display()))?;
    let mut seen = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while args.count.is_none_or(|n| seen < n) {
        let item = tokio::select! {
            item = sub.next() => item,
            _ = &mut ctrl_c => break,
        };
        match item {
            Some(Ok(raw)) => {
                seen += 1;
                match crate::output::line(&cli_json::compact(&raw)) {
                    Ok(()) => {}
                    // The reader went away (`| head -n1`): stop quietly.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
                    Err(e) => return Err(e).context("cannot write to stdout"),
                }
            }
            // Lagged or Reconnected: notifications may be missing; say so and go on.
            Some(Err(e)) if e.is_marker() => tracing::warn!("subscription: {e}"),
            Some(Err(e)) => {
                return Err(e).with_context(|| format!("subscription {} ended", args.kind));
            }
            None => bail!("subscription {} ended", args.kind),
        }
    }
    if let Err(e) = sub.unsubscribe().await {
        tracing::debug!("unsubscribe failed: {e}");
    }
    Ok(())
}
