//! `peerwire pss node --ping`: round trips of the `ping/1` protocol over pss to one key.

use std::time::Duration;

use anyhow::{Context as _, bail};
use p2p_pss::ping::{PING_PROTOCOL_NAME, PING_PROTOCOL_VERSION};
use p2p_pss::{Error, OverlayAddr, PeerKey, Ping, Pss, PssProtocol, Topic};
use secp256k1::PublicKey;
use serde_json::json;
use tokio::sync::watch;

use super::keys::public_key_hex;
use super::node::print_event;

/// How long the adapter may take to start the ping run of a new virtual peer.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(5);

/// What pinging needs of the node.
pub(crate) struct Pinger<'a> {
    /// The node.
    pub(crate) pss: &'a Pss,
    /// `ping/1` over pss on the node.
    pub(crate) adapter: &'a PssProtocol<Pss>,
    /// The handle of that ping protocol.
    pub(crate) ping: &'a Ping,
    /// How long to wait for the first link, and for each pong.
    pub(crate) timeout: Duration,
}

impl Pinger<'_> {
    /// Waits for a pss link, makes `target` a virtual peer of the ping protocol and pings it
    /// `count` times, printing each round trip as a `pong` line.
    ///
    /// # Errors
    ///
    /// No link within the timeout, a ping without a pong within the timeout, or a failure to
    /// send.
    pub(crate) async fn run(
        &self,
        mut links: watch::Receiver<usize>,
        target: PublicKey,
        count: u32,
    ) -> anyhow::Result<()> {
        if target == self.pss.public_key() {
            bail!("--ping: that is this node's own key");
        }
        match tokio::time::timeout(self.timeout, links.wait_for(|n| *n > 0)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => bail!("--ping: the node stopped before any pss link came up"),
            Err(_) => bail!(
                "--ping: no pss link within {} s (give a reachable --peer)",
                self.timeout.as_secs()
            ),
        }

        let topic = Topic::for_protocol(PING_PROTOCOL_NAME, PING_PROTOCOL_VERSION);
        let address = OverlayAddr::from_public_key(&target);
        self.pss
            .set_peer_public_key(target, topic, &address.0)
            .context("cannot store the --ping key")?;
        match self.adapter.add_peer(PeerKey::Asymmetric(target)) {
            // The target pinged us first: its virtual peer runs already.
            Ok(_) | Err(Error::PeerExists(_)) => {}
            Err(e) => return Err(e).context("cannot add the --ping peer"),
        }
        let id = p2p_rlpx::node_id(&target);
        let started = tokio::time::timeout(PEER_START_TIMEOUT, async {
            while !self.ping.peers().contains(&id) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if started.is_err() {
            bail!("--ping: the ping protocol did not start for the peer");
        }

        let peer = public_key_hex(&target);
        for seq in 1..=count {
            let rtt = self.ping.ping(id, self.timeout).await.with_context(|| {
                format!(
                    "ping {seq} of {count} to {}…",
                    peer.get(..18).unwrap_or(&peer)
                )
            })?;
            print_event(&json!({
                "event": "pong",
                "seq": seq,
                "rtt_ms": rtt.as_secs_f64() * 1e3,
                "peer": peer,
            }));
        }
        Ok(())
    }
}
