//! The `pss/2` protocol run of one connection.
//!
//! The run enters the peer into the routing table (keyed by the overlay address of its node
//! id), then does two things at once until either fails or the node shuts down: it writes the
//! link's queue to the peer (each write bounded by `write_timeout`) and it reads the peer's
//! messages, each through the peer's token bucket, into [`Inner::on_wire`]. When the run ends,
//! the peer leaves the table. Peers without the `pss/2` capability never reach this code (the
//! devp2p multiplexer runs only shared protocols), so they never enter the table.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use p2p_msg::{DisconnectReason, Msg, MsgReader, MsgWriter, PeerInfo, ProtoRw};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Inner, lock};
use crate::OverlayAddr;

/// A token bucket: `rate` messages per second, at most `burst` at once.
#[derive(Debug)]
pub(super) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(super) fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token; `false` if none is left.
    pub(super) fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Runs `pss/2` with one peer until the connection or the node ends.
pub(super) async fn run(
    inner: Arc<Inner>,
    info: PeerInfo,
    rw: ProtoRw,
) -> Result<(), p2p_msg::Error> {
    let remote = info.id();
    if remote == inner.key.id() {
        info.disconnect(DisconnectReason::ConnectedToSelf);
        return Ok(());
    }
    let mut shutdown = inner.shutdown.subscribe();
    if *shutdown.borrow() {
        return Ok(());
    }
    let addr = OverlayAddr::from_node_id(&remote);
    let (tx, rx) = mpsc::channel::<Bytes>(inner.config.link_queue.max(1));
    let link = inner
        .next_link
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let mut router = lock(&inner.router);
        router.table.add(link, addr);
        router.links.insert(link, tx);
    }
    tracing::debug!(peer = %addr, "pss: peer linked");

    let result = tokio::select! {
        r = write_loop(&rw, rx, inner.config.write_timeout) => r,
        r = read_loop(&inner, &rw, link) => r,
        _ = shutdown.wait_for(|stopped| *stopped) => Ok(()),
    };

    {
        let mut router = lock(&inner.router);
        router.table.remove(link);
        router.links.remove(&link);
    }
    tracing::debug!(peer = %addr, ?result, "pss: peer unlinked");
    match result {
        Err(e) if e.is_pipe_closed() || e.is_shutting_down() => Ok(()),
        Err(e) => {
            info.disconnect(e.protocol_disconnect_reason());
            Err(e)
        }
        Ok(()) => {
            info.disconnect(DisconnectReason::Quitting);
            Ok(())
        }
    }
}

async fn write_loop(
    rw: &ProtoRw,
    mut rx: mpsc::Receiver<Bytes>,
    timeout: Duration,
) -> Result<(), p2p_msg::Error> {
    while let Some(bytes) = rx.recv().await {
        tokio::time::timeout(timeout, rw.write_msg(Msg::new(0, bytes)))
            .await
            .map_err(|_| p2p_msg::Error::Timeout("pss write"))??;
    }
    Ok(())
}

async fn read_loop(inner: &Inner, rw: &ProtoRw, link: u64) -> Result<(), p2p_msg::Error> {
    let mut bucket = TokenBucket::new(inner.config.peer_rate, inner.config.peer_burst);
    loop {
        let msg = rw.read_msg().await?;
        inner.on_wire(link, msg, &mut bucket);
    }
}
