//! [`Peer`]: runs one connection's base protocol and multiplexes its subprotocols.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use futures::future::{BoxFuture, Either, poll_fn, select};
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::{debug, trace};

use super::hello::RawHello;
use super::protocol::{Conn, ProtoShared, Stop, StopCell};
use super::{
    BASE_PROTOCOL_LENGTH, BASE_PROTOCOL_VERSION, DISCONNECT_CODE, DisconnectReason, FrameTransport,
    HELLO_CODE, Hello, MAX_HELLO_SIZE, NodeId, PING_CODE, PONG_CODE, PeerHandle, PeerInfo, ProtoRw,
    Protocol, SNAPPY_PROTOCOL_VERSION, match_protocols,
};
use crate::chan::Rendezvous;
use crate::{Error, Msg, MsgEvents};

/// Deadline for the whole Hello exchange (geth `handshakeTimeout`).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Interval between our Pings (geth `pingInterval`).
pub const PING_INTERVAL: Duration = Duration::from_secs(15);
/// A peer that sends nothing (not even a Pong or Ping) for this long is dropped with
/// [`DisconnectReason::NetworkError`] (geth `frameReadTimeout`).
pub const FRAME_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for each frame write (geth `frameWriteTimeout`); enforced by a watchdog that ends
/// a stuck write between one and two of these after it started.
pub const FRAME_WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline for the final Disconnect write (geth `discWriteTimeout`).
pub const DISCONNECT_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pings received but not yet answered before the read side waits (geth's `pingRecv` buffer).
const PONG_QUEUE: usize = 16;

/// Our side of the Hello: everything except the caps, which come from the protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHello {
    /// The base protocol version to announce ([`BASE_PROTOCOL_VERSION`] by default).
    pub version: u64,
    /// Our client name.
    pub client_id: String,
    /// Our listening port (0 if none).
    pub listen_port: u64,
    /// Our node id.
    pub id: NodeId,
}

impl LocalHello {
    /// Version [`BASE_PROTOCOL_VERSION`], listen port 0.
    pub fn new(client_id: impl Into<String>, id: NodeId) -> Self {
        Self {
            version: BASE_PROTOCOL_VERSION,
            client_id: client_id.into(),
            listen_port: 0,
            id,
        }
    }

    /// The Hello we send for these protocols (caps in canonical order, duplicates removed).
    pub fn hello(&self, protocols: &[Protocol]) -> Hello {
        let mut caps: Vec<_> = protocols.iter().map(Protocol::cap).collect();
        caps.sort();
        caps.dedup();
        Hello {
            version: self.version,
            client_id: self.client_id.clone(),
            caps,
            listen_port: self.listen_port,
            id: self.id,
        }
    }
}

/// Why and how a [`Peer`] ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct PeerExit {
    /// The disconnect reason.
    pub reason: DisconnectReason,
    /// Whether the remote asked for the disconnect (sent us a Disconnect).
    pub remote_requested: bool,
    /// Whether we wrote a Disconnect with `reason` to the remote.
    pub disconnect_sent: bool,
    /// The error that ended the connection; `None` when a protocol returned `Ok(())` or the
    /// disconnect was requested locally through a [`PeerHandle`] or [`PeerInfo`].
    pub error: Option<Error>,
    /// The remote Hello, if the exchange completed.
    pub remote: Option<Hello>,
}

/// One connection: the Hello exchange, capability matching, Ping/Pong, inbound dispatch, and the
/// negotiated protocols' futures, all driven by [`Peer::run`].
///
/// Build it with the transport (after the transport handshake), our Hello fields, and the local
/// protocols; then await [`run`](Self::run), which returns when the connection is over.
/// [`handle`](Self::handle) gives a [`PeerHandle`] to disconnect from elsewhere.
#[derive(Debug)]
pub struct Peer<T: FrameTransport> {
    transport: Arc<T>,
    local: LocalHello,
    protocols: Vec<Protocol>,
    stop: Arc<StopCell>,
    events: Option<MsgEvents>,
}

impl<T: FrameTransport> Peer<T> {
    /// Creates a peer over a connected transport.
    pub fn new(transport: T, local: LocalHello, protocols: Vec<Protocol>) -> Self {
        Self {
            transport: Arc::new(transport),
            local,
            protocols,
            stop: Arc::new(StopCell::default()),
            events: None,
        }
    }

    /// Reports every protocol message sent and received on `events` (opt-in).
    #[must_use]
    pub fn with_msg_events(mut self, events: MsgEvents) -> Self {
        self.events = Some(events);
        self
    }

    /// A handle that disconnects this peer; usable before and during [`run`](Self::run).
    pub fn handle(&self) -> PeerHandle {
        PeerHandle::new(self.stop.clone())
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Runs the connection to its end.
    ///
    /// 1. Hello exchange ([`HANDSHAKE_TIMEOUT`]): ours is written while theirs is read; the
    ///    read's error wins. Their Hello is checked in the reference's order (size, Disconnect,
    ///    code, RLP, id), then against [`FrameTransport::remote_id`].
    /// 2. Capability matching; if we have protocols and none is shared, disconnect with
    ///    [`DisconnectReason::UselessPeer`].
    /// 3. Compression on iff their version is at least [`SNAPPY_PROTOCOL_VERSION`].
    /// 4. The run loop until the first of: a protocol returning, a remote Disconnect, a read or
    ///    write error, a silent remote ([`FRAME_READ_TIMEOUT`]), a code outside every protocol,
    ///    or a [`PeerHandle::disconnect`].
    /// 5. Shutdown: protocol futures are dropped, their reader-writers fail with
    ///    [`Error::ShuttingDown`], a Disconnect is written (bounded by
    ///    [`DISCONNECT_WRITE_TIMEOUT`]) unless the reason is
    ///    [`DisconnectReason::NetworkError`], and the transport is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connection without a Disconnect and without closing
    /// the transport (dropping the transport usually closes it).
    pub async fn run(self) -> PeerExit {
        let Self {
            transport,
            local,
            protocols,
            stop,
            events,
        } = self;
        let ours = local.hello(&protocols);

        // 1. Hello exchange, abandoned if a local disconnect is requested meanwhile.
        let exchange = timeout(HANDSHAKE_TIMEOUT, hello_exchange(&*transport, &ours));
        let handshake = match select(pin!(exchange), pin!(stop.stopped())).await {
            Either::Left((Ok(r), _)) => r,
            Either::Left((Err(_), _)) => Err(Error::Timeout("hello exchange")),
            Either::Right(_) => {
                let s = stop
                    .take()
                    .map_or(DisconnectReason::Requested, |s| s.reason);
                Err(Error::Disconnect(s))
            }
        };
        let remote = match handshake {
            Ok(h) => h,
            Err(e) => return fail_handshake(&*transport, e, None).await,
        };
        debug!(peer = %remote.id, client = %remote.client_id, version = remote.version, "hello exchanged");

        // 2. Capability matching.
        let shared = match_protocols(&protocols, &remote.caps);
        if !protocols.is_empty() && shared.is_empty() {
            let e = Error::Disconnect(DisconnectReason::UselessPeer);
            return fail_handshake(&*transport, e, Some(remote)).await;
        }

        // 3. Compression.
        if remote.version >= SNAPPY_PROTOCOL_VERSION {
            transport.enable_compression();
        }

        // 4. Run loop.
        let remote = Arc::new(remote);
        let conn = Arc::new(Conn::new(transport.clone(), stop.clone()));
        let info = PeerInfo::for_peer(remote.clone(), PeerHandle::new(stop.clone()));
        let mut routes = Vec::with_capacity(shared.len());
        // Every part of the connection is one future in one `FuturesUnordered`, so a wake-up
        // polls only the part that was woken. Each yields the stop it caused, or `None` for the
        // "stopped" signal.
        let (pong_tx, pong_rx) = mpsc::channel(PONG_QUEUE);
        let mut parts: FuturesUnordered<BoxFuture<'_, Option<Stop>>> = FuturesUnordered::new();
        for s in &shared {
            let Some(proto) = protocols.get(s.index) else {
                continue;
            };
            let inbound = Arc::new(Rendezvous::default());
            routes.push(Route {
                offset: s.offset,
                length: s.length,
                inbound: inbound.clone(),
            });
            let rw = ProtoRw::for_peer(ProtoShared {
                conn: conn.clone(),
                inbound,
                offset: s.offset,
                length: s.length,
                name: Arc::from(proto.name.as_str()),
                peer: remote.id,
                events: events.clone(),
            });
            let run = proto.run(info.clone(), rw);
            parts.push(Box::pin(async move {
                let (reason, error) = match run.await {
                    Ok(()) => (DisconnectReason::Quitting, None),
                    Err(e) => (e.protocol_disconnect_reason(), Some(e)),
                };
                Some(Stop {
                    reason,
                    remote_requested: false,
                    error,
                })
            }));
        }
        drop(info);
        let routes = &routes;
        let transport_ref = &*transport;
        parts.push(Box::pin(async move {
            Some(read_loop(transport_ref, routes, pong_tx).await)
        }));
        parts.push(Box::pin(async {
            Some(network_error(ping_loop(&conn, pong_rx).await))
        }));
        parts.push(Box::pin(async {
            Some(network_error(write_watchdog(&conn).await))
        }));
        parts.push(Box::pin(async {
            stop.stopped().await;
            None
        }));
        while let Some(ended) = parts.next().await {
            if let Some(s) = ended {
                stop.stop(s);
            }
            if stop.is_stopped() {
                break;
            }
        }

        // 5. Shutdown.
        for r in routes {
            r.inbound.close();
        }
        drop(parts);
        let Stop {
            reason,
            remote_requested,
            error,
        } = stop.take().unwrap_or(Stop {
            reason: DisconnectReason::Requested,
            remote_requested: false,
            error: None,
        });
        debug!(peer = %remote.id, %reason, remote_requested, error = ?error, "peer ended");
        let disconnect_sent = finish(&*transport, Some(&conn), reason).await;
        PeerExit {
            reason,
            remote_requested,
            disconnect_sent,
            error,
            remote: Some(Arc::unwrap_or_clone(remote)),
        }
    }
}

fn network_error(e: Error) -> Stop {
    Stop {
        reason: DisconnectReason::NetworkError,
        remote_requested: false,
        error: Some(e),
    }
}

/// Writes a Disconnect (unless the reason is a network error) and closes the transport.
async fn finish<T: FrameTransport>(
    transport: &T,
    conn: Option<&Conn>,
    reason: DisconnectReason,
) -> bool {
    let mut sent = false;
    if reason != DisconnectReason::NetworkError {
        let msg = Msg::new(DISCONNECT_CODE, reason.encode_payload());
        let write = async {
            let _guard = match conn {
                Some(c) => Some(c.lock.lock().await),
                None => None,
            };
            transport.write_frame(msg).await
        };
        sent = matches!(timeout(DISCONNECT_WRITE_TIMEOUT, write).await, Ok(Ok(())));
    }
    let _ = timeout(DISCONNECT_WRITE_TIMEOUT, transport.close()).await;
    sent
}

/// Ends a connection whose handshake failed.
///
/// A Disconnect is written only for reasons we chose ([`Error::Disconnect`]); malformed Hellos
/// and transport errors end the connection silently, as in the reference.
async fn fail_handshake<T: FrameTransport>(
    transport: &T,
    error: Error,
    remote: Option<Hello>,
) -> PeerExit {
    let (reason, remote_requested, send) = match &error {
        Error::Disconnected(r) => (*r, true, false),
        Error::Disconnect(r) => (*r, false, true),
        Error::MessageTooBig { .. }
        | Error::ExpectedHandshake { .. }
        | Error::InvalidMessage { .. } => (DisconnectReason::ProtocolError, false, false),
        _ => (DisconnectReason::NetworkError, false, false),
    };
    debug!(%reason, %error, "handshake failed");
    let disconnect_sent = if send {
        finish(transport, None, reason).await
    } else {
        finish(transport, None, DisconnectReason::NetworkError).await;
        false
    };
    let error = match error {
        Error::Disconnect(_) => None,
        e => Some(e),
    };
    PeerExit {
        reason,
        remote_requested,
        disconnect_sent,
        error,
        remote,
    }
}

/// Writes our Hello while reading theirs; the read's error wins.
async fn hello_exchange<T: FrameTransport>(t: &T, ours: &Hello) -> Result<Hello, Error> {
    let mut write = pin!(t.write_frame(Msg::new(HELLO_CODE, ours.encode_payload())));
    let mut read = pin!(read_hello(t));
    let mut written: Option<Result<(), Error>> = None;
    let mut received: Option<Hello> = None;
    poll_fn(|cx| {
        if received.is_none() {
            match read.as_mut().poll(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(h)) => received = Some(h),
                Poll::Pending => {}
            }
        }
        if written.is_none()
            && let Poll::Ready(r) = write.as_mut().poll(cx)
        {
            written = Some(r);
        }
        if received.is_some() && written.is_some() {
            if let Some(Err(e)) = written.take() {
                return Poll::Ready(Err(e));
            }
            if let Some(h) = received.take() {
                return Poll::Ready(Ok(h));
            }
        }
        Poll::Pending
    })
    .await
}

/// Reads and checks the remote Hello (checks in the reference's order).
async fn read_hello<T: FrameTransport>(t: &T) -> Result<Hello, Error> {
    let msg = t.read_frame().await?;
    check_hello(&msg, t.remote_id())
}

/// Checks a received first message; see [`Peer::run`].
pub(crate) fn check_hello(msg: &Msg, expected_id: Option<NodeId>) -> Result<Hello, Error> {
    let len = u32::try_from(msg.payload.len()).unwrap_or(u32::MAX);
    if msg.size > MAX_HELLO_SIZE || len > MAX_HELLO_SIZE {
        return Err(Error::MessageTooBig {
            size: msg.size.max(len),
            limit: MAX_HELLO_SIZE,
        });
    }
    if msg.code == DISCONNECT_CODE {
        let reason =
            DisconnectReason::decode_payload(msg.data()).unwrap_or(DisconnectReason::Invalid);
        return Err(Error::Disconnected(reason));
    }
    if msg.code != HELLO_CODE {
        return Err(Error::ExpectedHandshake { code: msg.code });
    }
    let raw: RawHello = msg.decode()?;
    let Some(id) = NodeId::from_slice(&raw.id).filter(|id| !id.is_zero()) else {
        return Err(Error::Disconnect(DisconnectReason::InvalidIdentity));
    };
    if let Some(expected) = expected_id
        && expected != id
    {
        return Err(Error::Disconnect(DisconnectReason::UnexpectedIdentity));
    }
    Ok(raw.with_id(id))
}

/// Where inbound codes of one protocol go.
#[derive(Debug)]
struct Route {
    offset: u64,
    length: u64,
    inbound: Arc<Rendezvous>,
}

/// Reads frames and dispatches them until something ends the connection.
async fn read_loop<T: FrameTransport>(t: &T, routes: &[Route], pongs: mpsc::Sender<()>) -> Stop {
    // One timer for all reads: it is reset only when it fires, to 30 s after the start of the
    // read in progress, so a frame read costs no timer registration.
    let mut deadline = pin!(sleep(FRAME_READ_TIMEOUT));
    let mut started = Instant::now();
    let mut received;
    loop {
        let mut waited = false;
        let msg = {
            let mut read = pin!(t.read_frame());
            let read = poll_fn(|cx| {
                if let Poll::Ready(r) = read.as_mut().poll(cx) {
                    return Poll::Ready(Some(r));
                }
                while deadline.as_mut().poll(cx).is_ready() {
                    let due = started + FRAME_READ_TIMEOUT;
                    if Instant::now() >= due {
                        return Poll::Ready(None);
                    }
                    deadline.as_mut().reset(due);
                }
                Poll::Pending
            });
            match read.await {
                Some(Ok(mut m)) => {
                    received = Instant::now();
                    m.received_at = received.into_std();
                    m
                }
                Some(Err(e)) => return network_error(e),
                None => return network_error(Error::Timeout("frame read")),
            }
        };
        trace!(code = msg.code, size = msg.size, "frame received");
        match msg.code {
            PING_CODE => match pongs.try_send(()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(())) => {
                    if pongs.send(()).await.is_err() {
                        return network_error(Error::ShuttingDown);
                    }
                    waited = true;
                }
                Err(mpsc::error::TrySendError::Closed(())) => {
                    return network_error(Error::ShuttingDown);
                }
            },
            DISCONNECT_CODE => {
                let reason = DisconnectReason::decode_payload(msg.data())
                    .unwrap_or(DisconnectReason::Invalid);
                return Stop {
                    reason,
                    remote_requested: true,
                    error: Some(Error::Disconnected(reason)),
                };
            }
            code if code < BASE_PROTOCOL_LENGTH => {
                // A second Hello, a Pong, or an unknown reserved code: discarded.
            }
            code => {
                let Some(route) = routes
                    .iter()
                    .find(|r| code >= r.offset && code - r.offset < r.length)
                else {
                    return network_error(Error::CodeOutOfRange(code));
                };
                let mut msg = msg;
                msg.code = code - route.offset;
                match route.inbound.put(msg).await {
                    Ok(w) => waited = w,
                    Err(_) => return network_error(Error::ShuttingDown),
                }
            }
        }
        // The next read starts now; reuse the receive time unless dispatch had to wait.
        started = if waited { Instant::now() } else { received };
    }
}

/// Ends the peer when one write stays in progress too long.
///
/// One timer serves all writes (no timer or clock read per write): every
/// [`FRAME_WRITE_TIMEOUT`] it looks at the write token; if the same acquisition is still in
/// progress as at the previous look, the write is stuck. A stuck write is therefore detected
/// between one and two [`FRAME_WRITE_TIMEOUT`]s (20 to 40 s) after it started.
async fn write_watchdog(conn: &Conn) -> Error {
    let mut check = pin!(sleep(FRAME_WRITE_TIMEOUT));
    let mut seen: Option<u64> = None;
    loop {
        check.as_mut().await;
        let now = conn.lock.in_progress();
        if now.is_some() && now == seen {
            return Error::Timeout("frame write");
        }
        seen = now;
        check.as_mut().reset(Instant::now() + FRAME_WRITE_TIMEOUT);
    }
}

/// Sends a Ping every [`PING_INTERVAL`] and answers Pings; returns the first write error.
async fn ping_loop(conn: &Conn, mut pongs: mpsc::Receiver<()>) -> Error {
    let empty = bytes::Bytes::from_static(&[0xc0]);
    let mut next_ping = Instant::now() + PING_INTERVAL;
    loop {
        let code = {
            let tick = pin!(sleep_until(next_ping));
            let pong = pin!(pongs.recv());
            match select(tick, pong).await {
                Either::Left(_) => {
                    next_ping = Instant::now() + PING_INTERVAL;
                    PING_CODE
                }
                Either::Right((Some(()), _)) => PONG_CODE,
                Either::Right((None, _)) => return Error::ShuttingDown,
            }
        };
        if let Err(e) = conn.write(Msg::new(code, empty.clone())).await {
            return e;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn check_hello_never_panics(code in 0u64..4, payload in prop::collection::vec(any::<u8>(), 0..300), id in any::<bool>()) {
            let expected = id.then_some(NodeId([1; 64]));
            let _ = check_hello(&Msg::new(code, payload), expected);
        }
    }

    fn hello_msg(id: &[u8]) -> Msg {
        let mut s = rlp::RlpStream::new_list(5);
        s.append(&5u64);
        s.append(&"x");
        s.begin_list(0);
        s.append(&0u64);
        s.append(&id);
        Msg::new(HELLO_CODE, s.out().freeze())
    }

    #[test]
    fn hello_checks_in_order() {
        let big = Msg::new(DISCONNECT_CODE, vec![0u8; 2049]);
        assert!(matches!(
            check_hello(&big, None),
            Err(Error::MessageTooBig { .. })
        ));
        let disc = Msg::new(DISCONNECT_CODE, vec![0xc1, 0x08]);
        assert!(matches!(
            check_hello(&disc, None),
            Err(Error::Disconnected(DisconnectReason::Quitting))
        ));
        let other = Msg::new(0x989898, vec![0xc0]);
        assert_eq!(
            check_hello(&other, None).unwrap_err().to_string(),
            "expected handshake, got 989898"
        );
        assert!(matches!(
            check_hello(&hello_msg(&[]), None),
            Err(Error::Disconnect(DisconnectReason::InvalidIdentity))
        ));
        assert!(matches!(
            check_hello(&hello_msg(&[0; 64]), None),
            Err(Error::Disconnect(DisconnectReason::InvalidIdentity))
        ));
        assert!(matches!(
            check_hello(&hello_msg(&[1; 63]), None),
            Err(Error::Disconnect(DisconnectReason::InvalidIdentity))
        ));
        let ok = check_hello(&hello_msg(&[1; 64]), Some(NodeId([1; 64]))).unwrap();
        assert_eq!(ok.id, NodeId([1; 64]));
        assert!(matches!(
            check_hello(&hello_msg(&[1; 64]), Some(NodeId([2; 64]))),
            Err(Error::Disconnect(DisconnectReason::UnexpectedIdentity))
        ));
    }
}
