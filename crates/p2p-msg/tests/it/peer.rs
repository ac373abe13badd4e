//! The multiplexer and the base protocol (reference sections 9-12 and `p2p/peer_test.go`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use p2p_msg::mux::{FRAME_READ_TIMEOUT, PING_INTERVAL};
use p2p_msg::{
    Cap, DisconnectReason, Error, Hello, LocalHello, Msg, MsgEventKind, MsgEvents, MsgPipe,
    MsgReader, MsgWriter, Peer, PeerExit, PeerHandle, PeerInfo, PipeTransport, ProtoRw, Protocol,
    expect_msg, expect_msg_code, new_peer_pipe, pipe_transport, send,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

use crate::{L, bounded, node};

/// The running peer under test and the remote end a test plays by hand.
pub(crate) struct Setup {
    pub(crate) remote: Arc<PipeTransport>,
    pub(crate) local: Arc<PipeTransport>,
    pub(crate) handle: PeerHandle,
    pub(crate) exit: JoinHandle<PeerExit>,
}

/// Spawns a peer (id 1) over an in-memory transport; `remote_id` is what its transport reports.
pub(crate) fn spawn_peer_with(
    protocols: Vec<Protocol>,
    remote_id: Option<p2p_msg::NodeId>,
) -> Setup {
    let (a, b) = MsgPipe::pair();
    let local = Arc::new(PipeTransport::new(a, remote_id));
    let remote = Arc::new(PipeTransport::new(b, None));
    let mut hello = LocalHello::new("peerwire-test", node(1));
    hello.listen_port = 30303;
    let peer = Peer::new(local.clone(), hello, protocols);
    let handle = peer.handle();
    let exit = tokio::spawn(peer.run());
    Setup {
        remote,
        local,
        handle,
        exit,
    }
}

pub(crate) fn spawn_peer(protocols: Vec<Protocol>) -> Setup {
    spawn_peer_with(protocols, None)
}

pub(crate) fn remote_hello(caps: &[(&str, u32)]) -> Hello {
    Hello {
        version: 5,
        client_id: "remote".into(),
        caps: caps.iter().map(|(n, v)| Cap::new(*n, *v)).collect(),
        listen_port: 0,
        id: node(2),
    }
}

/// Plays the remote's Hello exchange; returns the peer's Hello.
pub(crate) async fn handshake(remote: &PipeTransport, hello: &Hello) -> Hello {
    let msg = remote.read_msg().await.unwrap();
    assert_eq!(msg.code, 0, "first message must be Hello");
    let ours = Hello::decode_payload(&msg.payload).unwrap();
    remote
        .write_msg(Msg::new(0, hello.encode_payload()))
        .await
        .unwrap();
    ours
}

/// Reads until the pipe closes; returns the codes seen.
async fn drain(remote: &PipeTransport) -> Vec<Msg> {
    let mut out = Vec::new();
    while let Ok(m) = remote.read_msg().await {
        out.push(m);
    }
    out
}

fn proto<F, Fut>(name: &str, version: u32, length: u64, run: F) -> Protocol
where
    F: Fn(PeerInfo, ProtoRw) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    Protocol::new(name, version, length, run)
}

/// A protocol that waits until the peer shuts down.
pub(crate) fn idle_protocol(name: &str, version: u32, length: u64) -> Protocol {
    idle(name, version, length)
}

fn idle(name: &str, version: u32, length: u64) -> Protocol {
    proto(name, version, length, |_, rw| async move {
        let _ = rw.read_msg().await;
        Ok(())
    })
}

/// `TestPeerProtoReadMsg`: codes 16+2..16+4 arrive as 2..4; a returning protocol gives
/// Quitting, sent to the remote.
#[tokio::test(start_paused = true)]
async fn proto_read_msg() {
    let p = proto("a", 1, 5, |_, rw| async move {
        expect_msg(&rw, 2, &L(&[1])).await?;
        expect_msg(&rw, 3, &L(&[2])).await?;
        expect_msg(&rw, 4, &L(&[3])).await?;
        Ok(())
    });
    let s = spawn_peer(vec![p]);
    bounded(async {
        let ours = handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        assert_eq!(ours.caps, vec![Cap::new("a", 1)]);
        send(&*s.remote, 18, &L(&[1])).await.unwrap();
        send(&*s.remote, 19, &L(&[2])).await.unwrap();
        send(&*s.remote, 20, &L(&[3])).await.unwrap();
        expect_msg(&*s.remote, 1, &L(&[8])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Quitting);
    assert!(exit.error.is_none(), "{:?}", exit.error);
    assert!(!exit.remote_requested);
    assert!(exit.disconnect_sent);
    assert_eq!(exit.remote.unwrap().client_id, "remote");
}

/// `TestPeerProtoEncodeMsg`: writing a code >= length fails; code 1 of "a" goes out as 17.
#[tokio::test(start_paused = true)]
async fn proto_encode_msg() {
    let p = proto("a", 1, 2, |_, rw| async move {
        let e = rw.write_msg(Msg::new(2, vec![0xc0])).await.unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidMessageCode { code: 2, length: 2 }
        ));
        assert_eq!(
            e.protocol_disconnect_reason(),
            DisconnectReason::ProtocolError
        );
        send(&rw, 1, &L(&[7])).await?;
        let _ = rw.read_msg().await;
        Ok(())
    });
    let s = spawn_peer(vec![p]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        expect_msg(&*s.remote, 17, &L(&[7])).await.unwrap();
        s.handle.disconnect(DisconnectReason::Requested);
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Requested);
}

/// `TestPeerPing`: a Ping is answered with a Pong.
#[tokio::test(start_paused = true)]
async fn ping_is_answered() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        send(&*s.remote, 2, &L(&[])).await.unwrap();
        let pong = s.remote.read_msg().await.unwrap();
        assert_eq!(pong.code, 3);
        assert_eq!(&pong.payload[..], &[0xc0]);
    })
    .await;
    s.handle.disconnect(DisconnectReason::Quitting);
    bounded(s.exit).await.unwrap();
}

/// `TestPeerDisconnect`: a remote Disconnect ends the peer with its reason; the reason is
/// echoed back.
#[tokio::test(start_paused = true)]
async fn remote_disconnect() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        s.remote
            .write_msg(Msg::new(1, vec![0xc1, 0x08]))
            .await
            .unwrap();
        expect_msg(&*s.remote, 1, &L(&[8])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Quitting);
    assert!(exit.remote_requested);
    assert!(matches!(
        exit.error,
        Some(Error::Disconnected(DisconnectReason::Quitting))
    ));
}

/// Every reason round-trips through a remote Disconnect, in list and in bare form.
#[tokio::test(start_paused = true)]
async fn remote_disconnect_every_reason() {
    for reason in DisconnectReason::ALL {
        for payload in [
            reason.encode_payload(),
            rlp::encode(&reason.code()).to_vec(),
        ] {
            let s = spawn_peer(vec![idle("a", 1, 1)]);
            bounded(async {
                handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
                s.remote.write_msg(Msg::new(1, payload)).await.unwrap();
            })
            .await;
            let exit = bounded(s.exit).await.unwrap();
            assert_eq!(exit.reason, reason);
            assert!(exit.remote_requested);
        }
    }
}

/// An undecodable Disconnect still ends the peer, with `Invalid`.
#[tokio::test(start_paused = true)]
async fn remote_disconnect_garbage() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        s.remote
            .write_msg(Msg::new(1, vec![0xc1, 0x0c]))
            .await
            .unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Invalid);
    assert!(exit.remote_requested);
}

/// `TestPeerDisconnectRace`: protocol exit, local Disconnect, remote Disconnect and connection
/// close all at once, 1000 times; every run ends, quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_race() {
    let started = std::time::Instant::now();
    for i in 0..1000u32 {
        let (tx, rx) = mpsc::channel::<()>(1);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let p = proto("test", 1, 1, move |_, _| {
            let rx = rx.clone();
            async move {
                let _ = rx.lock().await.recv().await;
                Err(Error::Timeout("protocol exit"))
            }
        });
        let s = spawn_peer(vec![p]);
        bounded(handshake(&s.remote, &remote_hello(&[("test", 1)]))).await;
        let remote = s.remote.clone();
        let handle = s.handle.clone();
        let actions = [
            tokio::spawn(async move {
                let _ = tx.send(()).await;
            }),
            tokio::spawn(async move { handle.disconnect(DisconnectReason::UselessPeer) }),
            tokio::spawn({
                let remote = remote.clone();
                async move {
                    let _ = remote.write_msg(Msg::new(1, vec![0xc1, 0x08])).await;
                }
            }),
            tokio::spawn({
                let remote = remote.clone();
                async move {
                    if i % 2 == 0 {
                        tokio::task::yield_now().await;
                    }
                    remote.pipe().close();
                }
            }),
        ];
        let exit = bounded(s.exit).await.unwrap();
        assert!(
            matches!(
                exit.reason,
                DisconnectReason::SubprotocolError
                    | DisconnectReason::UselessPeer
                    | DisconnectReason::Quitting
                    | DisconnectReason::NetworkError
            ),
            "{exit:?}"
        );
        for a in actions {
            bounded(a).await.unwrap();
        }
    }
    let took = started.elapsed();
    eprintln!("disconnect race: 1000 iterations in {took:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// `TestNewPeer`: the fake peer's `disconnect` never blocks; the pipe peer's closes the pipe.
#[tokio::test(start_paused = true)]
async fn new_peer_and_new_peer_pipe() {
    let caps = vec![Cap::new("a", 1), Cap::new("b", 2)];
    let info = PeerInfo::new_test(node(3), "name", caps.clone());
    assert_eq!(info.id(), node(3));
    assert_eq!(info.client_id(), "name");
    assert_eq!(info.caps(), caps.as_slice());
    info.disconnect(DisconnectReason::UselessPeer);
    info.disconnect(DisconnectReason::UselessPeer);

    // Run a protocol function directly over a pipe.
    let (a, b) = MsgPipe::pair();
    let (info, rw) = new_peer_pipe(node(4), "name", caps, a);
    let p = proto("a", 1, 5, |peer, rw| async move {
        let m = rw.read_msg().await?;
        send(&rw, m.code + 1, &L(&[peer.hello().listen_port])).await?;
        peer.disconnect(DisconnectReason::Requested);
        Ok(())
    });
    let run = tokio::spawn(p.run(info, rw));
    bounded(async {
        send(&b, 2, &L(&[])).await.unwrap();
        expect_msg(&b, 3, &L(&[0])).await.unwrap();
        assert!(b.read_msg().await.unwrap_err().is_pipe_closed());
    })
    .await;
    bounded(run).await.unwrap().unwrap();
}

/// Pings go out every 15 s; a remote silent for 30 s ends the peer with a network error and
/// no Disconnect is sent.
#[tokio::test(start_paused = true)]
async fn pings_and_silent_remote_times_out() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    let start = bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        Instant::now()
    })
    .await;
    let first = bounded(s.remote.read_msg()).await.unwrap();
    assert_eq!(first.code, 2);
    assert_eq!(&first.payload[..], &[0xc0]);
    assert_eq!(start.elapsed(), PING_INTERVAL);
    let rest = bounded(drain(&s.remote)).await;
    assert!(rest.iter().all(|m| m.code == 2), "{rest:?}");
    assert_eq!(start.elapsed(), FRAME_READ_TIMEOUT);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::NetworkError);
    assert!(!exit.disconnect_sent);
    assert!(exit.error.unwrap().is_timeout());
}

/// A remote that keeps sending (here, Pings every 10 s) stays connected; each of its Pings is
/// answered and our own Pings keep coming every 15 s.
#[tokio::test(start_paused = true)]
async fn active_remote_stays_connected() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    let start = bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        Instant::now()
    })
    .await;
    let remote = s.remote.clone();
    let pinger = tokio::spawn(async move {
        for _ in 0..12 {
            sleep(Duration::from_secs(10)).await;
            send(&*remote, 2, &L(&[])).await.unwrap();
        }
    });
    let mut pings = 0;
    let mut pongs = 0;
    while pongs < 12 {
        let m = bounded(s.remote.read_msg()).await.unwrap();
        match m.code {
            2 => pings += 1,
            3 => pongs += 1,
            c => panic!("unexpected code {c}"),
        }
    }
    bounded(pinger).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    assert!(pings >= 7, "pings {pings}");
    assert!(!s.exit.is_finished());
    s.handle.disconnect(DisconnectReason::Quitting);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Quitting);
}

/// A code that belongs to no protocol ends the peer with a network error; nothing is sent.
#[tokio::test(start_paused = true)]
async fn code_out_of_range() {
    let s = spawn_peer(vec![idle("a", 1, 2)]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        send(&*s.remote, 18, &L(&[])).await.unwrap();
        assert!(drain(&s.remote).await.is_empty());
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::NetworkError);
    assert!(!exit.disconnect_sent);
    assert!(matches!(exit.error, Some(Error::CodeOutOfRange(18))));
}

/// Reserved codes, Pongs and a second Hello are discarded; the connection goes on.
#[tokio::test(start_paused = true)]
async fn reserved_codes_are_discarded() {
    let p = proto("a", 1, 1, |_, rw| async move {
        expect_msg(&rw, 0, &L(&[42])).await?;
        Ok(())
    });
    let s = spawn_peer(vec![p]);
    bounded(async {
        let hello = remote_hello(&[("a", 1)]);
        handshake(&s.remote, &hello).await;
        for code in [0x00, 0x03, 0x04, 0x0f] {
            let payload = if code == 0 {
                hello.encode_payload()
            } else {
                vec![0xc0]
            };
            s.remote.write_msg(Msg::new(code, payload)).await.unwrap();
        }
        send(&*s.remote, 16, &L(&[42])).await.unwrap();
        expect_msg(&*s.remote, 1, &L(&[8])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::Quitting);
}

/// How a protocol's result maps to the disconnect reason (geth `discReasonForError`).
#[tokio::test(start_paused = true)]
async fn protocol_results_map_to_reasons() {
    type Case = (fn() -> Result<(), Error>, DisconnectReason);
    let cases: [Case; 5] = [
        (|| Ok(()), DisconnectReason::Quitting),
        (
            || Msg::new(16, vec![0x01]).decode::<Hello>().map(|_| ()),
            DisconnectReason::ProtocolError,
        ),
        (
            || Err(Error::InvalidMessageCode { code: 9, length: 1 }),
            DisconnectReason::ProtocolError,
        ),
        (
            || Err(Error::Timeout("custom")),
            DisconnectReason::SubprotocolError,
        ),
        (
            || Err(Error::Disconnect(DisconnectReason::TooManyPeers)),
            DisconnectReason::TooManyPeers,
        ),
    ];
    for (result, want) in cases {
        let p = proto("a", 1, 1, move |_, _| async move { result() });
        let s = spawn_peer(vec![p]);
        bounded(async {
            handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
            expect_msg(&*s.remote, 1, &L(&[u64::from(want.code())]))
                .await
                .unwrap();
        })
        .await;
        let exit = bounded(s.exit).await.unwrap();
        assert_eq!(exit.reason, want);
        assert!(exit.disconnect_sent);
        assert!(!exit.remote_requested);
    }
}

/// The final Disconnect write is bounded by 1 s when the remote does not read.
#[tokio::test(start_paused = true)]
async fn final_disconnect_write_is_bounded() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    bounded(handshake(&s.remote, &remote_hello(&[("a", 1)]))).await;
    let t0 = Instant::now();
    s.handle.disconnect(DisconnectReason::TooManyPeers);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    assert_eq!(exit.reason, DisconnectReason::TooManyPeers);
    assert!(!exit.disconnect_sent);
    assert!(s.remote.read_msg().await.unwrap_err().is_pipe_closed());
}

/// No shared capability: UselessPeer is sent.
#[tokio::test(start_paused = true)]
async fn useless_peer() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("b", 1), ("a", 2)])).await;
        expect_msg(&*s.remote, 1, &L(&[3])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::UselessPeer);
    assert!(exit.disconnect_sent);
}

/// Two protocols: inbound dispatch by offset, outbound offsets added, our Hello's caps sorted.
#[tokio::test(start_paused = true)]
async fn two_protocols_dispatch_by_offset() {
    let (tx, mut rx) = mpsc::channel::<(&'static str, u64)>(8);
    let mk = |name: &'static str, length: u64, tx: mpsc::Sender<(&'static str, u64)>| {
        proto(name, 1, length, move |_, rw| {
            let tx = tx.clone();
            async move {
                loop {
                    let m = rw.read_msg().await?;
                    let _ = tx.send((name, m.code)).await;
                    if m.code + 1 < length {
                        send(&rw, m.code + 1, &L(&[])).await?;
                    }
                }
            }
        })
    };
    let s = spawn_peer(vec![mk("b", 3, tx.clone()), mk("a", 2, tx)]);
    bounded(async {
        let ours = handshake(&s.remote, &remote_hello(&[("b", 1), ("a", 1)])).await;
        assert_eq!(ours.caps, vec![Cap::new("a", 1), Cap::new("b", 1)]);
        assert_eq!(ours.version, 5);
        assert_eq!(ours.listen_port, 30303);
        assert_eq!(ours.id, node(1));
        send(&*s.remote, 16, &L(&[])).await.unwrap();
        assert_eq!(rx.recv().await, Some(("a", 0)));
        expect_msg_code(&*s.remote, 17).await.unwrap();
        send(&*s.remote, 18, &L(&[])).await.unwrap();
        assert_eq!(rx.recv().await, Some(("b", 0)));
        expect_msg_code(&*s.remote, 19).await.unwrap();
        send(&*s.remote, 20, &L(&[])).await.unwrap();
        assert_eq!(rx.recv().await, Some(("b", 2)));
        send(&*s.remote, 21, &L(&[])).await.unwrap();
        assert!(drain(&s.remote).await.is_empty());
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert!(matches!(exit.error, Some(Error::CodeOutOfRange(21))));
}

/// A disconnect requested during the Hello exchange ends the peer at once.
#[tokio::test(start_paused = true)]
async fn disconnect_during_handshake() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    sleep(Duration::from_millis(10)).await;
    s.handle.disconnect(DisconnectReason::TooManyPeers);
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::TooManyPeers);
    assert!(exit.remote.is_none());
}

/// A silent remote during the Hello exchange: the exchange times out after 5 s.
#[tokio::test(start_paused = true)]
async fn hello_timeout() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    let t0 = Instant::now();
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert_eq!(exit.reason, DisconnectReason::NetworkError);
    assert!(exit.error.unwrap().is_timeout());
}

/// A protocol write failing on the transport ends the peer with a network error; the protocol
/// sees `ShuttingDown`, and so do reader-writers kept after the end.
#[tokio::test(start_paused = true)]
async fn write_failure_is_a_network_error() {
    let (tx, mut rx) = mpsc::channel::<ProtoRw>(1);
    let p = proto("a", 1, 1, move |_, rw| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(rw.clone()).await;
            let _ = rw.read_msg().await;
            let e = send(&rw, 0, &L(&[])).await.unwrap_err();
            Err(e)
        }
    });
    let s = spawn_peer(vec![p]);
    let kept = bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        let kept = rx.recv().await.unwrap();
        send(&*s.remote, 16, &L(&[])).await.unwrap();
        // Do not read: close so the protocol's write fails on the transport.
        sleep(Duration::from_millis(1)).await;
        s.remote.pipe().close();
        kept
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::NetworkError);
    assert!(!exit.disconnect_sent);
    assert!(kept.read_msg().await.unwrap_err().is_shutting_down());
    assert!(
        kept.write_msg(Msg::new(0, vec![0xc0]))
            .await
            .unwrap_err()
            .is_shutting_down()
    );
}

/// `PeerInfo::disconnect` from inside a protocol.
#[tokio::test(start_paused = true)]
async fn protocol_disconnects_its_peer() {
    let p = proto("a", 1, 1, |peer, rw| async move {
        assert_eq!(peer.id(), node(2));
        assert_eq!(peer.hello().client_id, "remote");
        peer.disconnect(DisconnectReason::AlreadyConnected);
        let _ = rw.read_msg().await;
        Ok(())
    });
    let s = spawn_peer(vec![p]);
    bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        expect_msg(&*s.remote, 1, &L(&[5])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(exit.reason, DisconnectReason::AlreadyConnected);
    assert!(exit.error.is_none());
}

/// Compression is enabled iff the remote Hello version is 5 or more (any version accepted).
#[tokio::test(start_paused = true)]
async fn compression_iff_remote_version_at_least_5() {
    for (version, want) in [(4u64, false), (5, true), (55, true), (0, false)] {
        let s = spawn_peer(vec![idle("a", 1, 1)]);
        let mut hello = remote_hello(&[("a", 1)]);
        hello.version = version;
        bounded(handshake(&s.remote, &hello)).await;
        // The peer is running once it answers a Ping.
        bounded(async {
            send(&*s.remote, 2, &L(&[])).await.unwrap();
            expect_msg_code(&*s.remote, 3).await.unwrap();
        })
        .await;
        assert_eq!(s.local.compression_enabled(), want, "version {version}");
        s.handle.disconnect(DisconnectReason::Requested);
        let _ = bounded(drain(&s.remote)).await;
        bounded(s.exit).await.unwrap();
    }
}

/// Message events from a running peer: relative codes, after the fact, never blocking.
#[tokio::test(start_paused = true)]
async fn peer_msg_events() {
    let events = MsgEvents::new(8);
    let mut sub = events.subscribe();
    let p = proto("a", 1, 4, |_, rw| async move {
        let m = rw.read_msg().await?;
        send(&rw, m.code + 1, &L(&[])).await?;
        Ok(())
    });
    let (a, b) = pipe_transport();
    let peer = Peer::new(a, LocalHello::new("x", node(1)), vec![p]).with_msg_events(events);
    let exit = tokio::spawn(peer.run());
    bounded(async {
        handshake(&b, &remote_hello(&[("a", 1)])).await;
        b.write_msg(Msg::new(17, Bytes::from_static(&[0xc1, 0x01])))
            .await
            .unwrap();
        expect_msg_code(&b, 18).await.unwrap();
        expect_msg(&b, 1, &L(&[8])).await.unwrap();
    })
    .await;
    bounded(exit).await.unwrap();
    let recv = sub.recv().await.unwrap();
    assert_eq!(
        (recv.kind, recv.code, recv.size, &*recv.protocol, recv.peer),
        (MsgEventKind::Recv, 1, 2, "a", node(2))
    );
    let sent = sub.recv().await.unwrap();
    assert_eq!(
        (sent.kind, sent.code, sent.size),
        (MsgEventKind::Send, 2, 1)
    );
}

/// Two real peers over the in-memory transport: both Hellos, a request and a reply.
#[tokio::test(start_paused = true)]
async fn two_peers() {
    let client = proto("echo", 1, 2, |_, rw| async move {
        send(&rw, 0, &L(&[1, 2, 3])).await?;
        expect_msg(&rw, 1, &L(&[1, 2, 3])).await?;
        Ok(())
    });
    let server = proto("echo", 1, 2, |_, rw| async move {
        loop {
            let m = rw.read_msg().await?;
            rw.write_msg(Msg::new(1, m.payload)).await?;
        }
    });
    let (a, b) = pipe_transport();
    let a = Peer::new(a, LocalHello::new("client", node(1)), vec![client]);
    let b = Peer::new(b, LocalHello::new("server", node(2)), vec![server]);
    let (a, b) = bounded(async { tokio::join!(a.run(), b.run()) }).await;
    assert_eq!(a.reason, DisconnectReason::Quitting);
    assert!(a.error.is_none(), "{:?}", a.error);
    assert_eq!(b.reason, DisconnectReason::Quitting);
    assert!(b.remote_requested);
    assert_eq!(a.remote.unwrap().client_id, "server");
}

/// A write the remote never takes ends the peer with a network error, 20 to 40 s after it
/// started (the write watchdog looks every 20 s).
#[tokio::test(start_paused = true)]
async fn stuck_write_times_out() {
    let s = spawn_peer(vec![idle("a", 1, 1)]);
    let t0 = bounded(async {
        handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
        Instant::now()
    })
    .await;
    // The remote keeps sending Pings, so the read side stays alive, but never reads: the Pong
    // for the first Ping (at 5 s) is stuck.
    let remote = s.remote.clone();
    let pinger = tokio::spawn(async move {
        loop {
            sleep(Duration::from_secs(5)).await;
            if remote.write_msg(Msg::new(2, vec![0xc0])).await.is_err() {
                break;
            }
        }
    });
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(40));
    assert_eq!(exit.reason, DisconnectReason::NetworkError);
    assert!(matches!(exit.error, Some(Error::Timeout("frame write"))));
    bounded(pinger).await.unwrap();
}

/// A local disconnect sends `[reason]` for every reason except NetworkError, which is never
/// sent.
#[tokio::test(start_paused = true)]
async fn local_disconnect_every_reason() {
    for reason in DisconnectReason::ALL {
        let s = spawn_peer(vec![idle("a", 1, 1)]);
        bounded(handshake(&s.remote, &remote_hello(&[("a", 1)]))).await;
        s.handle.disconnect(reason);
        let got = bounded(drain(&s.remote)).await;
        let exit = bounded(s.exit).await.unwrap();
        assert_eq!(exit.reason, reason);
        assert!(!exit.remote_requested);
        if reason == DisconnectReason::NetworkError {
            assert!(got.is_empty());
            assert!(!exit.disconnect_sent);
        } else {
            assert_eq!(got.len(), 1, "{reason:?}");
            assert_eq!(got[0].code, 1);
            assert_eq!(
                DisconnectReason::decode_payload(&got[0].payload),
                Ok(reason)
            );
            assert_eq!(got[0].payload.len(), 2);
            assert!(exit.disconnect_sent);
        }
    }
}

/// An empty Disconnect payload means Requested.
#[tokio::test(start_paused = true)]
async fn remote_disconnect_empty_payload() {
    for payload in [vec![], vec![0xc0]] {
        let s = spawn_peer(vec![idle("a", 1, 1)]);
        bounded(async {
            handshake(&s.remote, &remote_hello(&[("a", 1)])).await;
            s.remote.write_msg(Msg::new(1, payload)).await.unwrap();
        })
        .await;
        let exit = bounded(s.exit).await.unwrap();
        assert_eq!(exit.reason, DisconnectReason::Requested);
        assert!(exit.remote_requested);
    }
}

/// A protocol that does not read for a minute holds up the read side (back-pressure), but the
/// time spent waiting for it does not count against the 30 s read deadline.
#[tokio::test(start_paused = true)]
async fn slow_protocol_is_back_pressure_not_a_timeout() {
    let p = proto("a", 1, 1, |_, rw| async move {
        sleep(Duration::from_secs(60)).await;
        expect_msg(&rw, 0, &L(&[1])).await?;
        expect_msg(&rw, 0, &L(&[2])).await?;
        expect_msg(&rw, 0, &L(&[3])).await?;
        Ok(())
    });
    let s = spawn_peer(vec![p]);
    bounded(handshake(&s.remote, &remote_hello(&[("a", 1)]))).await;
    let reader = tokio::spawn({
        let remote = s.remote.clone();
        async move { drain(&remote).await }
    });
    let t0 = Instant::now();
    bounded(async {
        send(&*s.remote, 16, &L(&[1])).await.unwrap();
        send(&*s.remote, 16, &L(&[2])).await.unwrap();
        // 70 s after the last frame, but only 10 s after the read side could read again.
        sleep(Duration::from_secs(70)).await;
        send(&*s.remote, 16, &L(&[3])).await.unwrap();
    })
    .await;
    let exit = bounded(s.exit).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(70));
    assert_eq!(exit.reason, DisconnectReason::Quitting, "{:?}", exit.error);
    let got = bounded(reader).await.unwrap();
    let codes: Vec<u64> = got.iter().map(|m| m.code).collect();
    // Pings at 15, 30, 45 and 60 s, then the Disconnect.
    assert_eq!(codes, [2, 2, 2, 2, 1]);
}
