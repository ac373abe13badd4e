//! [`Protocol`], capability matching ([`match_protocols`]), and what a running protocol sees of
//! its connection: [`PeerInfo`] and [`ProtoRw`].

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::transport::DynFrameWrite;
use super::{BASE_PROTOCOL_LENGTH, Cap, DisconnectReason, Hello, NodeId};
use crate::chan::Rendezvous;
use crate::events::{MsgEventKind, MsgEvents};
use crate::{BoxMsgReadWriter, Error, Msg, MsgEvent, MsgPipe, MsgReader, MsgWriter};

type RunFn = dyn Fn(PeerInfo, ProtoRw) -> BoxFuture<'static, Result<(), Error>> + Send + Sync;

/// A devp2p subprotocol: name, version, number of message codes, and the function run for each
/// connection on which it was negotiated.
///
/// The run function's future is driven by [`Peer::run`](super::Peer::run) (never spawned).
/// When it completes, the connection ends: `Ok(())` gives
/// [`DisconnectReason::Quitting`], an error gives
/// [`Error::protocol_disconnect_reason`].
#[derive(Clone)]
pub struct Protocol {
    /// The protocol name, for example `eth`.
    pub name: String,
    /// The protocol version.
    pub version: u32,
    /// The number of message codes the protocol uses (relative codes `0..length`).
    pub length: u64,
    run: Arc<RunFn>,
}

impl Protocol {
    /// Creates a protocol.
    pub fn new<F, Fut>(name: impl Into<String>, version: u32, length: u64, run: F) -> Self
    where
        F: Fn(PeerInfo, ProtoRw) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self {
            name: name.into(),
            version,
            length,
            run: Arc::new(move |info, rw| Box::pin(run(info, rw))),
        }
    }

    /// The protocol's capability.
    pub fn cap(&self) -> Cap {
        Cap::new(self.name.clone(), self.version)
    }

    /// Starts the run function for one connection (used by the peer, and by tests that run a
    /// protocol over [`new_peer_pipe`]).
    pub fn run(&self, info: PeerInfo, rw: ProtoRw) -> BoxFuture<'static, Result<(), Error>> {
        (self.run)(info, rw)
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protocol")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// A negotiated protocol: which local protocol, at which absolute code offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCap {
    /// The shared capability (the highest version both sides support).
    pub cap: Cap,
    /// The first absolute message code of the protocol.
    pub offset: u64,
    /// The number of codes.
    pub length: u64,
    /// Index of the matched protocol in the local list.
    pub index: usize,
}

/// Matches local protocols against the remote's capabilities.
///
/// Remote caps are taken in canonical order (name, then version ascending); for each one a local
/// protocol with equal name **and** version is looked up.
/// A later (higher) version of an already matched name replaces it, and the replaced version's
/// length is given back, so the highest shared version wins and lengths of lower versions are
/// not counted.
/// Offsets start at [`BASE_PROTOCOL_LENGTH`] (0x10) and follow the names' byte-wise order.
/// The result is sorted by offset.
pub fn match_protocols(local: &[Protocol], remote: &[Cap]) -> Vec<SharedCap> {
    let mut caps: Vec<&Cap> = remote.iter().collect();
    caps.sort();
    let mut result: Vec<SharedCap> = Vec::new();
    let mut offset = BASE_PROTOCOL_LENGTH;
    for cap in caps {
        let Some((index, proto)) = local
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == cap.name && p.version == cap.version)
        else {
            continue;
        };
        if let Some(pos) = result.iter().position(|s| s.cap.name == cap.name) {
            let old = result.remove(pos);
            offset = offset.saturating_sub(old.length);
        }
        let Some(next) = offset.checked_add(proto.length) else {
            continue;
        };
        result.push(SharedCap {
            cap: cap.clone(),
            offset,
            length: proto.length,
            index,
        });
        offset = next;
    }
    result
}

/// Why a running peer stopped; the first stop wins.
#[derive(Debug)]
pub(crate) struct Stop {
    pub(crate) reason: DisconnectReason,
    pub(crate) remote_requested: bool,
    pub(crate) error: Option<Error>,
}

/// The shared "stop" cell of a peer: set once, awaited by the run loop.
#[derive(Debug, Default)]
pub(crate) struct StopCell {
    flag: AtomicBool,
    stop: Mutex<Option<Stop>>,
    notify: Notify,
}

impl StopCell {
    /// Records a stop; returns whether it was the first.
    pub(crate) fn stop(&self, stop: Stop) -> bool {
        {
            let mut slot = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                return false;
            }
            *slot = Some(stop);
            self.flag.store(true, Ordering::Release);
        }
        self.notify.notify_waiters();
        true
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    pub(crate) fn take(&self) -> Option<Stop> {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Completes once stopped.
    pub(crate) async fn stopped(&self) {
        loop {
            if self.is_stopped() {
                return;
            }
            let mut n = pin!(self.notify.notified());
            n.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            n.await;
        }
    }
}

/// A cloneable handle that asks a running [`Peer`](super::Peer) to disconnect.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    stop: Arc<StopCell>,
}

impl PeerHandle {
    pub(crate) fn new(stop: Arc<StopCell>) -> Self {
        Self { stop }
    }

    /// Asks the peer to disconnect with `reason`; never blocks. Only the first stop counts
    /// (a peer already ending for another reason keeps that reason).
    pub fn disconnect(&self, reason: DisconnectReason) {
        self.stop.stop(Stop {
            reason,
            remote_requested: false,
            error: None,
        });
    }

    /// Whether the peer is stopping or stopped.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }
}

#[derive(Clone)]
enum Disconnector {
    Peer(PeerHandle),
    Pipe(Arc<MsgPipe>),
    Fn(Arc<DisconnectFn>),
    Noop,
}

type DisconnectFn = dyn Fn(DisconnectReason) + Send + Sync;

impl fmt::Debug for Disconnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Peer(h) => f.debug_tuple("Peer").field(h).finish(),
            Self::Pipe(p) => f.debug_tuple("Pipe").field(p).finish(),
            Self::Fn(_) => f.write_str("Fn"),
            Self::Noop => f.write_str("Noop"),
        }
    }
}

/// What a running protocol knows of its peer: the remote id, the remote Hello, and a handle to
/// disconnect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    hello: Arc<Hello>,
    disconnector: Disconnector,
}

impl PeerInfo {
    pub(crate) fn for_peer(hello: Arc<Hello>, handle: PeerHandle) -> Self {
        Self {
            hello,
            disconnector: Disconnector::Peer(handle),
        }
    }

    /// A peer for another protocol runner (for example one that carries protocols over routed
    /// messages): `disconnect` calls `on_disconnect`, which must not block.
    pub fn new(
        hello: Hello,
        on_disconnect: impl Fn(DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        Self {
            hello: Arc::new(hello),
            disconnector: Disconnector::Fn(Arc::new(on_disconnect)),
        }
    }

    /// A fake peer for tests (geth's `NewPeer`): `disconnect` does nothing and never blocks.
    pub fn new_test(id: NodeId, client_id: impl Into<String>, caps: Vec<Cap>) -> Self {
        Self {
            hello: Arc::new(test_hello(id, client_id.into(), caps)),
            disconnector: Disconnector::Noop,
        }
    }

    /// The remote node id.
    pub fn id(&self) -> NodeId {
        self.hello.id
    }

    /// The remote Hello.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The remote client name.
    pub fn client_id(&self) -> &str {
        &self.hello.client_id
    }

    /// The remote capabilities.
    pub fn caps(&self) -> &[Cap] {
        &self.hello.caps
    }

    /// Asks the connection to end with `reason`; never blocks.
    ///
    /// For a pipe peer ([`new_peer_pipe`]) this closes the pipe.
    pub fn disconnect(&self, reason: DisconnectReason) {
        match &self.disconnector {
            Disconnector::Peer(h) => h.disconnect(reason),
            Disconnector::Pipe(p) => p.close(),
            Disconnector::Fn(f) => f(reason),
            Disconnector::Noop => {}
        }
    }
}

fn test_hello(id: NodeId, client_id: String, caps: Vec<Cap>) -> Hello {
    Hello {
        version: super::BASE_PROTOCOL_VERSION,
        client_id,
        caps,
        listen_port: 0,
        id,
    }
}

/// A peer and a reader-writer over a message pipe, for running a protocol's function in tests
/// (geth's `NewPeerPipe`).
///
/// Codes are not offset and not range-checked: the pipe carries the protocol's relative codes.
/// [`PeerInfo::disconnect`] closes the pipe.
pub fn new_peer_pipe(
    id: NodeId,
    client_id: impl Into<String>,
    caps: Vec<Cap>,
    pipe: MsgPipe,
) -> (PeerInfo, ProtoRw) {
    let pipe = Arc::new(pipe);
    let info = PeerInfo {
        hello: Arc::new(test_hello(id, client_id.into(), caps)),
        disconnector: Disconnector::Pipe(pipe.clone()),
    };
    (
        info,
        ProtoRw {
            inner: RwInner::Pipe(pipe),
        },
    )
}

/// The peer's write token: one write at a time.
///
/// An atomic flag with a [`Notify`] for waiters (cheaper than an async mutex on the uncontended
/// path, not FIFO-fair). Every acquisition bumps a sequence number, which the peer's write
/// watchdog reads to detect a write that stays in progress.
#[derive(Debug, Default)]
pub(crate) struct WriteLock {
    locked: AtomicBool,
    seq: AtomicU64,
    released: Notify,
}

impl WriteLock {
    fn try_lock(&self) -> bool {
        let ok = self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.seq.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Waits for the token.
    pub(crate) async fn lock(&self) -> WriteGuard<'_> {
        loop {
            if self.try_lock() {
                return WriteGuard(self);
            }
            let mut n = pin!(self.released.notified());
            n.as_mut().enable();
            if self.try_lock() {
                return WriteGuard(self);
            }
            n.await;
        }
    }

    /// The acquisition in progress, if the token is held: its sequence number.
    pub(crate) fn in_progress(&self) -> Option<u64> {
        self.locked
            .load(Ordering::Acquire)
            .then(|| self.seq.load(Ordering::Relaxed))
    }
}

/// Releases the [`WriteLock`] on drop.
#[derive(Debug)]
pub(crate) struct WriteGuard<'a>(&'a WriteLock);

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
        self.0.released.notify_one();
    }
}

/// The connection state a peer shares with its protocols' reader-writers.
pub(crate) struct Conn {
    pub(crate) writer: Arc<dyn DynFrameWrite>,
    pub(crate) lock: WriteLock,
    pub(crate) stop: Arc<StopCell>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(writer: Arc<dyn DynFrameWrite>, stop: Arc<StopCell>) -> Self {
        Self {
            writer,
            lock: WriteLock::default(),
            stop,
        }
    }

    /// Writes one frame, one write at a time, failing with [`Error::ShuttingDown`] once the peer
    /// stops.
    ///
    /// The write is bounded by the peer's write watchdog
    /// ([`FRAME_WRITE_TIMEOUT`](super::FRAME_WRITE_TIMEOUT)), which ends the peer (and so drops
    /// or fails this write) instead of a timer per write.
    pub(crate) async fn write(&self, msg: Msg) -> Result<(), Error> {
        if self.stop.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        let _guard = self.lock.lock().await;
        if self.stop.is_stopped() {
            return Err(Error::ShuttingDown);
        }
        self.writer.write_boxed(msg).await
    }
}

#[derive(Debug)]
pub(crate) struct ProtoShared {
    pub(crate) conn: Arc<Conn>,
    pub(crate) inbound: Arc<Rendezvous>,
    pub(crate) offset: u64,
    pub(crate) length: u64,
    pub(crate) name: Arc<str>,
    pub(crate) peer: NodeId,
    pub(crate) events: Option<MsgEvents>,
}

#[derive(Debug, Clone)]
enum RwInner {
    Peer(Arc<ProtoShared>),
    Pipe(Arc<MsgPipe>),
    Boxed(BoxMsgReadWriter),
}

/// A protocol's view of its connection: codes are relative to the protocol's offset.
///
/// Cheap to clone; reads and writes may run concurrently from several tasks.
/// Inbound messages wait in a one-message slot per protocol: a protocol that stops reading holds
/// up the whole connection's read side once its slot is full (the reference's back-pressure,
/// with one message of slack), Pings included.
/// Writes are serialised with the other protocols' and the base protocol's writes.
#[derive(Debug, Clone)]
pub struct ProtoRw {
    inner: RwInner,
}

impl ProtoRw {
    pub(crate) fn for_peer(shared: ProtoShared) -> Self {
        Self {
            inner: RwInner::Peer(Arc::new(shared)),
        }
    }

    /// A reader-writer over any [`MsgReadWriter`](crate::MsgReadWriter), without offsets or
    /// checks, for runners other than [`Peer`](super::Peer) (codes pass through unchanged).
    pub fn new(rw: impl crate::MsgReadWriter + 'static) -> Self {
        Self {
            inner: RwInner::Boxed(BoxMsgReadWriter::new(rw)),
        }
    }

    /// A reader-writer over a pipe end, without offsets or checks (see [`new_peer_pipe`]).
    pub fn from_pipe(pipe: MsgPipe) -> Self {
        Self {
            inner: RwInner::Pipe(Arc::new(pipe)),
        }
    }

    fn emit(p: &ProtoShared, kind: MsgEventKind, code: u64, size: u32) {
        if let Some(ev) = &p.events {
            ev.emit(MsgEvent {
                kind,
                peer: p.peer,
                protocol: p.name.clone(),
                code,
                size,
            });
        }
    }
}

impl MsgReader for ProtoRw {
    /// Reads the protocol's next message (relative code).
    ///
    /// # Errors
    ///
    /// [`Error::ShuttingDown`] once the peer stops ([`Error::PipeClosed`] for pipe peers).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    async fn read_msg(&self) -> Result<Msg, Error> {
        match &self.inner {
            RwInner::Pipe(p) => p.read_msg().await,
            RwInner::Boxed(rw) => rw.read_msg().await,
            RwInner::Peer(p) => {
                let msg = p.inbound.recv().await.map_err(|_| Error::ShuttingDown)?;
                Self::emit(p, MsgEventKind::Recv, msg.code, msg.size);
                Ok(msg)
            }
        }
    }
}

impl MsgWriter for ProtoRw {
    /// Writes a message with a relative code.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMessageCode`] if `code >= length`; [`Error::ShuttingDown`] once the peer
    /// stops, including when this very write failed on the transport (the peer then ends with
    /// [`DisconnectReason::NetworkError`] and reports the transport error in its
    /// [`PeerExit`](super::PeerExit)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the write while it waits for its turn is safe; dropping it during the
    /// transport write leaves the transport in the state its own cancel-safety allows.
    async fn write_msg(&self, msg: Msg) -> Result<(), Error> {
        match &self.inner {
            RwInner::Pipe(p) => p.write_msg(msg).await,
            RwInner::Boxed(rw) => rw.write_msg(msg).await,
            RwInner::Peer(p) => {
                if msg.code >= p.length {
                    return Err(Error::InvalidMessageCode {
                        code: msg.code,
                        length: p.length,
                    });
                }
                let (code, size) = (msg.code, msg.size);
                let mut msg = msg;
                msg.code += p.offset;
                match p.conn.write(msg).await {
                    Ok(()) => {
                        Self::emit(p, MsgEventKind::Send, code, size);
                        Ok(())
                    }
                    Err(Error::ShuttingDown) => Err(Error::ShuttingDown),
                    Err(e) => {
                        p.conn.stop.stop(Stop {
                            reason: DisconnectReason::NetworkError,
                            remote_requested: false,
                            error: Some(e),
                        });
                        Err(Error::ShuttingDown)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(name: &str, version: u32, length: u64) -> Protocol {
        Protocol::new(name, version, length, |_, _| async { Ok(()) })
    }

    fn caps(list: &[(&str, u32)]) -> Vec<Cap> {
        list.iter().map(|(n, v)| Cap::new(*n, *v)).collect()
    }

    /// Checks the match result as `(name, version, offset)` triples.
    fn check(local: &[Protocol], remote: &[(&str, u32)], want: &[(&str, u32, u64)]) {
        let got: Vec<(String, u32, u64)> = match_protocols(local, &caps(remote))
            .into_iter()
            .map(|s| (s.cap.name, s.cap.version, s.offset))
            .collect();
        let want: Vec<(String, u32, u64)> = want
            .iter()
            .map(|(n, v, o)| ((*n).to_owned(), *v, *o))
            .collect();
        assert_eq!(got, want, "remote {remote:?}");
    }

    #[test]
    fn match_protocols_table() {
        // No remote caps.
        check(&[proto("a", 1, 1)], &[], &[]);
        // No local protocols.
        check(&[], &[("a", 1)], &[]);
        // No mutual protocols.
        check(&[proto("a", 1, 1)], &[("b", 1)], &[]);
        // Partial overlap.
        check(
            &[proto("a", 1, 1), proto("b", 1, 1)],
            &[("b", 1), ("c", 1)],
            &[("b", 1, 16)],
        );
        // Alphabetical ordering.
        check(
            &[
                proto("bb", 1, 4),
                proto("aa", 1, 1),
                proto("ba", 1, 3),
                proto("ab", 1, 2),
            ],
            &[("ba", 1), ("bb", 1), ("ab", 1), ("aa", 1)],
            &[("aa", 1, 16), ("ab", 1, 17), ("ba", 1, 19), ("bb", 1, 22)],
        );
        // No mutual versions.
        check(&[proto("a", 1, 1)], &[("a", 2)], &[]);
        // One common version.
        check(
            &[proto("a", 1, 1), proto("a", 2, 2)],
            &[("a", 2), ("a", 3)],
            &[("a", 2, 16)],
        );
        // Several common versions: the highest wins.
        check(
            &[proto("a", 1, 1), proto("a", 2, 2), proto("a", 3, 3)],
            &[("a", 1), ("a", 2), ("a", 3)],
            &[("a", 3, 16)],
        );
        // Shuffled version orders.
        check(
            &[proto("a", 3, 3), proto("a", 1, 1), proto("a", 2, 2)],
            &[("a", 2), ("a", 3), ("a", 1)],
            &[("a", 3, 16)],
        );
        // Versions overriding lengths: "" gets v3 and "a" sits right after its 3 codes.
        check(
            &[
                proto("", 1, 1),
                proto("", 2, 2),
                proto("", 3, 3),
                proto("a", 1, 1),
            ],
            &[("", 1), ("", 2), ("", 3), ("a", 1)],
            &[("", 3, 16), ("a", 1, 19)],
        );
        // Names are case-sensitive.
        check(&[proto("A", 1, 1)], &[("a", 1)], &[]);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_cell_first_wins() {
        let cell = Arc::new(StopCell::default());
        let h = PeerHandle::new(cell.clone());
        h.disconnect(DisconnectReason::TooManyPeers);
        h.disconnect(DisconnectReason::Quitting);
        cell.stopped().await;
        assert!(h.is_stopped());
        assert_eq!(
            cell.take().map(|s| s.reason),
            Some(DisconnectReason::TooManyPeers)
        );
    }
}
