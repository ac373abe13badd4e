//! A ping protocol for tests, demos and the command line (the reference's `PingProtocol`):
//! `ping/1`, one message code, every ping answered with a pong.
//!
//! Run it over pss with [`PssProtocol`](crate::PssProtocol) (or over any devp2p connection);
//! [`Ping::ping`] measures a round trip to a running peer, [`Ping::events`] reports every ping
//! and pong received.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p2p_msg::{MsgReader as _, NodeId, PeerInfo, ProtoRw, Protocol};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use tokio::sync::{broadcast, oneshot};

use crate::Error;
use crate::adapter::is_peer_removed;
use crate::lock;

/// The protocol name.
pub const PING_PROTOCOL_NAME: &str = "ping";
/// The protocol version.
pub const PING_PROTOCOL_VERSION: u32 = 1;
/// The message code of [`PingMsg`] (the only one).
pub const PING_MSG_CODE: u64 = 0;
/// The capacity of the [`Ping::events`] broadcast (slow receivers lag and lose events).
pub const PING_EVENT_CAPACITY: usize = 256;

/// The message: `[created, pong]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingMsg {
    /// When the ping was sent, Unix nanoseconds (a pong echoes its ping's value).
    pub created: u64,
    /// A pong (else a ping).
    pub pong: bool,
}

impl Encodable for PingMsg {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2).append(&self.created).append(&self.pong);
    }
}

impl Decodable for PingMsg {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.item_count()? != 2 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            created: rlp.val_at(0)?,
            pong: rlp.val_at(1)?,
        })
    }
}

/// A ping or pong received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingEvent {
    /// The node id of the peer it came from (zero for symmetric pss peers).
    pub peer: NodeId,
    /// The message.
    pub msg: PingMsg,
}

/// The handle of the ping protocol: cheap to clone; every clone sees the same peers.
#[derive(Debug, Clone)]
pub struct Ping {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Running peers by node id, with the serial of the run that registered them.
    peers: Mutex<HashMap<NodeId, (u64, ProtoRw)>>,
    /// Pings waiting for their pong, by `created`.
    pending: Mutex<HashMap<u64, (NodeId, oneshot::Sender<()>)>>,
    events: broadcast::Sender<PingEvent>,
    next_serial: AtomicU64,
    last_created: AtomicU64,
}

impl Ping {
    /// The handle and the protocol (`ping/1`) to run on connections.
    #[must_use]
    pub fn new() -> (Self, Protocol) {
        let shared = Arc::new(Shared {
            peers: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            events: broadcast::channel(PING_EVENT_CAPACITY).0,
            next_serial: AtomicU64::new(0),
            last_created: AtomicU64::new(0),
        });
        let for_run = shared.clone();
        let protocol = Protocol::new(
            PING_PROTOCOL_NAME,
            PING_PROTOCOL_VERSION,
            1,
            move |info, rw| run(for_run.clone(), info, rw),
        );
        (Self { shared }, protocol)
    }

    /// Every ping and pong received from now on.
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<PingEvent> {
        self.shared.events.subscribe()
    }

    /// The node ids of the peers the protocol is running with.
    #[must_use]
    pub fn peers(&self) -> Vec<NodeId> {
        lock(&self.shared.peers).keys().copied().collect()
    }

    /// Sends a ping to the running peer with node id `peer` and waits for its pong; returns the
    /// round-trip time.
    ///
    /// Symmetric pss peers all have the zero id: with several, the most recent one is pinged.
    ///
    /// # Errors
    ///
    /// [`Error::NoRunningPeer`] if the protocol runs with no such peer, the writer's error
    /// ([`Error::Msg`]), or [`p2p_msg::Error::Timeout`] (as [`Error::Msg`]) when no pong came
    /// within `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped call forgets its ping (a late pong is ignored).
    pub async fn ping(&self, peer: NodeId, timeout: Duration) -> Result<Duration, Error> {
        let rw = lock(&self.shared.peers)
            .get(&peer)
            .map(|(_, rw)| rw.clone())
            .ok_or(Error::NoRunningPeer(peer))?;
        let created = self.shared.next_created();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(created, (peer, tx));
        let _forget = Forget(&self.shared, created);
        let start = tokio::time::Instant::now();
        let exchange = async {
            let ping = PingMsg {
                created,
                pong: false,
            };
            p2p_msg::send(&rw, PING_MSG_CODE, &ping).await?;
            rx.await.map_err(|_| p2p_msg::Error::ShuttingDown)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(())) => Ok(start.elapsed()),
            Ok(Err(e)) => Err(Error::Msg(e)),
            Err(_) => Err(Error::Msg(p2p_msg::Error::Timeout("pss ping: no pong"))),
        }
    }
}

/// Drops a pending ping.
struct Forget<'a>(&'a Shared, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.0.pending).remove(&self.1);
    }
}

/// Unregisters a run's peer when the run ends.
struct Unregister(Arc<Shared>, NodeId, u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        let mut peers = lock(&self.0.peers);
        if peers
            .get(&self.1)
            .is_some_and(|(serial, _)| *serial == self.2)
        {
            peers.remove(&self.1);
        }
    }
}

impl Shared {
    /// Now in Unix nanoseconds, made unique (strictly increasing) per handle.
    fn next_created(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut last = self.last_created.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self.last_created.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// The run function: answers pings, completes pending pings on pongs, until the connection
/// ends (a removed pss peer ends it with `Ok`).
async fn run(shared: Arc<Shared>, info: PeerInfo, rw: ProtoRw) -> Result<(), p2p_msg::Error> {
    let peer = info.id();
    let serial = shared.next_serial.fetch_add(1, Ordering::Relaxed);
    lock(&shared.peers).insert(peer, (serial, rw.clone()));
    let _unregister = Unregister(shared.clone(), peer, serial);
    loop {
        let msg = match rw.read_msg().await {
            Ok(msg) => msg,
            Err(e) if is_peer_removed(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if msg.code != PING_MSG_CODE {
            return Err(p2p_msg::Error::InvalidMessageCode {
                code: msg.code,
                length: 1,
            });
        }
        let ping: PingMsg = msg.decode()?;
        tracing::debug!(%peer, created = ping.created, pong = ping.pong, "ping message");
        let _ = shared.events.send(PingEvent { peer, msg: ping });
        if ping.pong {
            let waiter = {
                let mut pending = lock(&shared.pending);
                match pending.get(&ping.created) {
                    Some((from, _)) if *from == peer => pending.remove(&ping.created),
                    _ => None,
                }
            };
            if let Some((_, tx)) = waiter {
                let _ = tx.send(());
            }
        } else {
            let pong = PingMsg {
                created: ping.created,
                pong: true,
            };
            p2p_msg::send(&rw, PING_MSG_CODE, &pong).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // [created = 0x0102, pong = true]: 82 01 02, 01 -> list of 4 bytes: c4 82 01 02 01.
    // A ping with created 0: 80 (zero), 80 (false) -> c2 80 80.
    #[test]
    fn ping_msg_known_answers() {
        let pong = PingMsg {
            created: 0x0102,
            pong: true,
        };
        assert_eq!(hex::encode(rlp::encode(&pong)), "c482010201");
        assert_eq!(
            rlp::decode::<PingMsg>(&hex::decode("c482010201").unwrap()).unwrap(),
            pong
        );
        let ping = PingMsg {
            created: 0,
            pong: false,
        };
        assert_eq!(hex::encode(rlp::encode(&ping)), "c28080");
        assert!(rlp::decode::<PingMsg>(&hex::decode("c3808080").unwrap()).is_err());
        assert!(rlp::decode::<PingMsg>(&hex::decode("c28002").unwrap()).is_err());
    }

    #[test]
    fn created_values_are_unique_and_increasing() {
        let (ping, _) = Ping::new();
        let a = ping.shared.next_created();
        let b = ping.shared.next_created();
        assert!(b > a);
    }

    #[tokio::test]
    async fn ping_of_an_unknown_peer_fails() {
        let (ping, _) = Ping::new();
        let err = ping
            .ping(NodeId([7; 64]), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NoRunningPeer(id) if id == NodeId([7; 64])));
    }

    #[tokio::test]
    async fn two_pings_over_a_pipe() {
        let (a, protocol_a) = Ping::new();
        let (_b, protocol_b) = Ping::new();
        let (pa, pb) = p2p_msg::MsgPipe::pair();
        let (info_a, rw_a) = p2p_msg::new_peer_pipe(NodeId([2; 64]), "b", vec![], pa);
        let (info_b, rw_b) = p2p_msg::new_peer_pipe(NodeId([1; 64]), "a", vec![], pb);
        let run_a = tokio::spawn(protocol_a.run(info_a, rw_a));
        let run_b = tokio::spawn(protocol_b.run(info_b, rw_b));
        let mut events = a.events();
        tokio::time::timeout(Duration::from_secs(5), async {
            while a.peers().is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        for _ in 0..2 {
            a.ping(NodeId([2; 64]), Duration::from_secs(5))
                .await
                .unwrap();
            let ev = events.recv().await.unwrap();
            assert!(ev.msg.pong);
            assert_eq!(ev.peer, NodeId([2; 64]));
        }
        run_a.abort();
        run_b.abort();
    }
}
