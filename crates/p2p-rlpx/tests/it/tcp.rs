//! End-to-end tests over loopback TCP: two peerwire endpoints doing the RLPx handshake, the
//! Hello exchange and Ping/Pong through `p2p_msg::Peer`, frame tampering on a live connection,
//! and the `Host` (dialing, listening, peer limit, events).

use std::time::Duration;

use p2p_msg::{
    Cap, DisconnectReason, FrameTransport, Hello, LocalHello, Msg, MsgReader, Peer, Protocol, send,
};
use p2p_rlpx::{
    Enode, Error, Host, HostConfig, NodeKey, PeerEvent, RlpxTransport, TransportConfig,
};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(20);

/// A protocol `demo/1` that sends `42` and then waits for the remote to hang up.
fn sender() -> Protocol {
    Protocol::new("demo", 1, 4, |_peer, rw| async move {
        send(&rw, 1, &42u64).await?;
        let _ = rw.read_msg().await;
        Ok(())
    })
}

/// A protocol `demo/1` that reads one message, checks it and returns (ending the connection).
fn receiver() -> Protocol {
    Protocol::new("demo", 1, 4, |_peer, rw| async move {
        let msg = rw.read_msg().await?;
        assert_eq!(msg.code, 1);
        assert_eq!(msg.decode::<u64>()?, 42);
        Ok(())
    })
}

async fn tcp_pair(a: &NodeKey, b: &NodeKey) -> (RlpxTransport, RlpxTransport) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let enode = Enode::new(b.id(), listener.local_addr().unwrap());
    let config = TransportConfig::default();
    let accept = async {
        let (stream, _) = listener.accept().await.unwrap();
        RlpxTransport::accept(stream, b, &config).await.unwrap()
    };
    let dial = async { RlpxTransport::dial(&enode, a, &config).await.unwrap() };
    let (dialed, accepted) = tokio::join!(dial, accept);
    (dialed, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_run_the_multiplexer_over_tcp() {
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let (a, b) = tcp_pair(&a_key, &b_key).await;
        assert_eq!(a.remote_id(), Some(b_key.id()));
        assert_eq!(b.remote_id(), Some(a_key.id()));
        let a = Peer::new(a, LocalHello::new("peer-a", a_key.id()), vec![sender()]);
        let b = Peer::new(b, LocalHello::new("peer-b", b_key.id()), vec![receiver()]);
        let (a_exit, b_exit) = tokio::join!(a.run(), b.run());
        assert_eq!(b_exit.reason, DisconnectReason::Quitting, "{b_exit:?}");
        assert!(b_exit.error.is_none(), "{b_exit:?}");
        assert!(a_exit.remote_requested, "{a_exit:?}");
        assert_eq!(a_exit.remote.as_ref().unwrap().client_id, "peer-b");
        assert_eq!(b_exit.remote.as_ref().unwrap().client_id, "peer-a");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_and_ping_pong_against_a_peer_over_tcp() {
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let (raw, b) = tcp_pair(&a_key, &b_key).await;
        let peer = Peer::new(b, LocalHello::new("peer-b", b_key.id()), vec![receiver()]);
        let handle = peer.handle();
        let running = tokio::spawn(peer.run());

        // The peer's Hello arrives first, uncompressed.
        let hello = raw.read_frame().await.unwrap();
        assert_eq!(hello.code, 0);
        let hello = Hello::decode_payload(&hello.payload).unwrap();
        assert_eq!(hello.id, b_key.id());
        assert_eq!(hello.version, 5);
        assert_eq!(hello.caps, vec![Cap::new("demo", 1)]);

        let ours = Hello {
            version: 5,
            client_id: "raw-a".into(),
            caps: vec![Cap::new("demo", 1)],
            listen_port: 0,
            id: a_key.id(),
        };
        raw.write_frame(Msg::new(0, ours.encode_payload()))
            .await
            .unwrap();
        raw.enable_compression();
        assert!(raw.compression_enabled());

        // Ping (code 2, payload []) must be answered with Pong (code 3), both compressed.
        raw.write_frame(Msg::new(2, vec![0xc0])).await.unwrap();
        let pong = loop {
            let msg = raw.read_frame().await.unwrap();
            if msg.code == 3 {
                break msg;
            }
        };
        assert_eq!(pong.payload.as_ref(), &[0xc0]);

        handle.disconnect(DisconnectReason::Requested);
        let disconnect = loop {
            let msg = raw.read_frame().await.unwrap();
            if msg.code == 1 {
                break msg;
            }
        };
        assert_eq!(disconnect.payload.as_ref(), &[0xc1, 0x80]);
        let exit = running.await.unwrap();
        assert_eq!(exit.reason, DisconnectReason::Requested);
        // The peer closed the connection after its Disconnect.
        let err = raw.read().await.unwrap_err();
        assert!(err.is_closed(), "{err:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_run_concurrently() {
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let (a, b) = tcp_pair(&a_key, &b_key).await;
        // The first frame is limited to the Hello size: exchange small ones first.
        a.write_frame(Msg::new(0, vec![0xc0])).await.unwrap();
        b.write_frame(Msg::new(0, vec![0xc0])).await.unwrap();
        assert_eq!(a.read_frame().await.unwrap().code, 0);
        assert_eq!(b.read_frame().await.unwrap().code, 0);
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        a.enable_compression();
        b.enable_compression();
        // Both sides write 200 messages of 64 KiB while reading the other's: with serialised
        // reads and writes this would deadlock once the socket buffers are full.
        let count = 200u32;
        let payload = vec![0x5au8; 64 * 1024];
        let mut tasks = Vec::new();
        for me in [a.clone(), b.clone()] {
            let payload = payload.clone();
            let writer = me.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..count {
                    writer
                        .write_frame(Msg::new(0x10 + u64::from(i % 3), payload.clone()))
                        .await
                        .unwrap();
                }
            }));
            tasks.push(tokio::spawn(async move {
                for i in 0..count {
                    let msg = me.read_frame().await.unwrap();
                    assert_eq!(msg.code, 0x10 + u64::from(i % 3));
                    assert_eq!(msg.payload.len(), 64 * 1024);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_a_pending_read() {
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let (a, _b) = tcp_pair(&a_key, &b_key).await;
        let a = std::sync::Arc::new(a);
        let reader = {
            let a = a.clone();
            tokio::spawn(async move { a.read().await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        a.close().await;
        let err = reader.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
        assert!(matches!(
            a.write(Msg::new(1, vec![0xc0])).await,
            Err(Error::Closed)
        ));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_frame_on_a_live_connection_is_rejected() {
    use tokio::io::AsyncWriteExt;
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let b_id = b_key.id();
        let accept = async {
            let (stream, _) = listener.accept().await.unwrap();
            RlpxTransport::accept(stream, &b_key, &TransportConfig::default())
                .await
                .unwrap()
        };
        let dial = async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            p2p_rlpx::UnauthedStream::new(stream, a_key.clone())
                .connect(&b_id)
                .await
                .unwrap()
        };
        let (stream, b) = tokio::join!(dial, accept);
        let (mut io, mut codec, _, _) = stream.into_parts();
        let mut buf = bytes::BytesMut::new();
        codec
            .encoder_mut()
            .encode_frame(0x10, b"first", &mut buf)
            .unwrap();
        codec
            .encoder_mut()
            .encode_frame(0x11, b"second", &mut buf)
            .unwrap();
        // Flip one bit of the second frame's body.
        let index = buf.len() - 20;
        buf[index] ^= 1;
        io.write_all(&buf).await.unwrap();
        assert_eq!(b.read().await.unwrap().payload.as_ref(), b"first");
        let err = b.read().await.unwrap_err();
        assert!(matches!(err, Error::FrameMacMismatch), "{err:?}");
    })
    .await
    .unwrap();
}

fn host_config(key: NodeKey, protocols: Vec<Protocol>) -> HostConfig {
    let mut config = HostConfig::new(key);
    config.protocols = protocols;
    config
}

async fn next_event(events: &mut tokio::sync::mpsc::Receiver<PeerEvent>) -> PeerEvent {
    tokio::time::timeout(LIMIT, events.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_dial_listen_and_report_events() {
    tokio::time::timeout(LIMIT, async {
        let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
        let (a, mut a_events) = Host::bind(host_config(a_key.clone(), vec![sender()]))
            .await
            .unwrap();
        let (b, mut b_events) = Host::bind(host_config(b_key.clone(), vec![receiver()]))
            .await
            .unwrap();
        let b_enode = b.enode();
        assert_eq!(b_enode.to_string().parse::<Enode>().unwrap(), b_enode);
        // One task per connection.
        let b_run = b.spawn_run();

        let exit = a.connect(&b_enode).await.unwrap();
        assert!(exit.remote_requested, "{exit:?}");
        assert_eq!(exit.reason, DisconnectReason::Quitting);

        match next_event(&mut a_events).await {
            PeerEvent::Added { id, .. } => assert_eq!(id, b_key.id()),
            other => panic!("{other:?}"),
        }
        match next_event(&mut a_events).await {
            PeerEvent::Dropped {
                id,
                reason,
                remote_requested,
                client_id,
                ..
            } => {
                assert_eq!(id, b_key.id());
                assert_eq!(reason, DisconnectReason::Quitting);
                assert!(remote_requested);
                assert!(client_id.unwrap().starts_with("peerwire/"));
            }
            other => panic!("{other:?}"),
        }
        match next_event(&mut b_events).await {
            PeerEvent::Added { id, direction, .. } => {
                assert_eq!(id, a_key.id());
                assert_eq!(direction, p2p_rlpx::Direction::Inbound);
            }
            other => panic!("{other:?}"),
        }
        match next_event(&mut b_events).await {
            PeerEvent::Dropped {
                reason,
                remote_requested,
                ..
            } => {
                assert_eq!(reason, DisconnectReason::Quitting);
                assert!(!remote_requested);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(b.peer_count(), 0);
        b.shutdown();
        b_run.await.unwrap().unwrap();
        assert!(matches!(
            a.connect(&a.enode()).await,
            Err(Error::ConnectedToSelf)
        ));
    })
    .await
    .unwrap();
}

/// A protocol that stays connected until the remote hangs up.
fn idle() -> Protocol {
    Protocol::new("demo", 1, 4, |_peer, rw| async move {
        let _ = rw.read_msg().await;
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_enforces_its_peer_limit() {
    tokio::time::timeout(LIMIT, async {
        let mut config = host_config(NodeKey::generate(), vec![idle()]);
        config.max_peers = 1;
        let (b, mut b_events) = Host::bind(config).await.unwrap();
        let b_run = tokio::spawn(b.run());

        let (first, _first_events) = Host::bind(host_config(NodeKey::generate(), vec![idle()]))
            .await
            .unwrap();
        let first_conn = first.spawn_connect(b.enode());
        assert!(matches!(
            next_event(&mut b_events).await,
            PeerEvent::Added { .. }
        ));

        let (second, _second_events) = Host::bind(host_config(NodeKey::generate(), vec![idle()]))
            .await
            .unwrap();
        let exit = second.connect(&b.enode()).await.unwrap();
        assert_eq!(exit.reason, DisconnectReason::TooManyPeers, "{exit:?}");
        assert!(exit.remote_requested);
        match next_event(&mut b_events).await {
            PeerEvent::Rejected { error, .. } => {
                assert!(matches!(error, Error::TooManyPeers), "{error:?}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(b.peer_count(), 1);

        b.shutdown();
        let exit = first_conn.await.unwrap().unwrap();
        assert_eq!(exit.reason, DisconnectReason::Quitting);
        assert!(exit.remote_requested);
        b_run.await.unwrap().unwrap();
        assert!(matches!(
            b.connect(&first.enode()).await,
            Err(Error::ShutDown)
        ));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_refuses_a_second_connection_and_disconnects_on_request() {
    tokio::time::timeout(LIMIT, async {
        let (b, mut b_events) = Host::bind(host_config(NodeKey::generate(), vec![idle()]))
            .await
            .unwrap();
        let b_run = b.spawn_run();
        let (a, mut a_events) = Host::bind(host_config(NodeKey::generate(), vec![idle()]))
            .await
            .unwrap();
        let first = a.spawn_connect(b.enode());
        assert!(matches!(
            next_event(&mut a_events).await,
            PeerEvent::Added { .. }
        ));
        assert!(matches!(
            next_event(&mut b_events).await,
            PeerEvent::Added { .. }
        ));
        assert!(matches!(
            a.connect(&b.enode()).await,
            Err(Error::AlreadyConnected)
        ));
        assert_eq!(a.peers(), vec![b.id()]);

        assert!(a.disconnect(&b.id(), DisconnectReason::Requested));
        let exit = first.await.unwrap().unwrap();
        assert_eq!(exit.reason, DisconnectReason::Requested);
        assert!(!exit.remote_requested);
        match next_event(&mut b_events).await {
            PeerEvent::Dropped {
                reason,
                remote_requested,
                ..
            } => {
                assert_eq!(reason, DisconnectReason::Requested);
                assert!(remote_requested);
            }
            other => panic!("{other:?}"),
        }
        assert!(!a.disconnect(&b.id(), DisconnectReason::Requested));
        b.shutdown();
        b_run.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_reports_garbage_handshakes() {
    use tokio::io::AsyncWriteExt;
    tokio::time::timeout(LIMIT, async {
        let (b, mut b_events) = Host::bind(host_config(NodeKey::generate(), vec![idle()]))
            .await
            .unwrap();
        let b_run = tokio::spawn(b.run());
        let mut stream = tokio::net::TcpStream::connect(b.local_addr())
            .await
            .unwrap();
        stream.write_all(&[0x09, 0x00]).await.unwrap();
        match next_event(&mut b_events).await {
            PeerEvent::Rejected { error, .. } => {
                assert!(error.is_too_big() && error.is_handshake(), "{error:?}")
            }
            other => panic!("{other:?}"),
        }
        b.shutdown();
        b_run.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn two_peers_keep_a_quiet_connection_alive_with_pings() {
    // Two full peerwire stacks (ECIES handshake, frame codec with snappy, p2p_msg::Peer) over
    // an in-memory stream, in paused time. The protocols stay silent for 100 s; a peer that
    // hears nothing for 30 s is dropped, so only the Ping/Pong exchange (every 15 s) through
    // the RLPx stack can keep both alive.
    let (a_key, b_key) = (NodeKey::generate(), NodeKey::generate());
    let (a_io, b_io) = tokio::io::duplex(64 * 1024);
    let b_id = b_key.id();
    let (a, b) = tokio::join!(
        p2p_rlpx::UnauthedStream::new(a_io, a_key.clone()).connect(&b_id),
        p2p_rlpx::UnauthedStream::new(b_io, b_key.clone()).accept()
    );
    let a = RlpxTransport::from_stream(a.unwrap());
    let b = RlpxTransport::from_stream(b.unwrap());
    let a = Peer::new(a, LocalHello::new("peer-a", a_key.id()), vec![idle()]);
    let b = Peer::new(b, LocalHello::new("peer-b", b_key.id()), vec![idle()]);
    let (a_handle, b_handle) = (a.handle(), b.handle());
    let started = tokio::time::Instant::now();
    let (a_exit, b_exit, ()) = tokio::join!(a.run(), b.run(), async {
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!a_handle.is_stopped() && !b_handle.is_stopped());
        a_handle.disconnect(DisconnectReason::Requested);
    });
    assert!(started.elapsed() >= Duration::from_secs(100));
    assert_eq!(a_exit.reason, DisconnectReason::Requested, "{a_exit:?}");
    assert!(a_exit.error.is_none(), "{a_exit:?}");
    assert_eq!(b_exit.reason, DisconnectReason::Requested, "{b_exit:?}");
    assert!(b_exit.remote_requested, "{b_exit:?}");
}
