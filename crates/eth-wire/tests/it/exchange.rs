//! EthPeer and the serving side over an in-memory pipe: full header/body/receipt fetches between two in-process
//! peers, serving limits, concurrency, timeouts, bad replies, protocol violations and announcements.

use std::sync::Arc;
use std::time::Duration;

use chain_types::{BlockHashOrNumber, ChainSource, HeadersRequest, roots};
use eth_wire::{
    Announcement, BlockHashNumber, Error, EthDriver, EthMessage, EthPeer, EthVersion, NewBlock,
    PeerConfig, RequestPair, ServeLimits, codes, establish, handshake,
};
use p2p_msg::{Msg, MsgPipe, MsgReader, MsgWriter};
use primitive_types::{H256, U256};
use tokio::sync::mpsc;

use crate::chain::TestChain;

type Pair = (EthPeer<MsgPipe>, EthDriver<MsgPipe>);

/// Connects a client to a server that serves `chain`.
async fn connect(chain: &TestChain, config: PeerConfig) -> (Pair, Pair) {
    let (status, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let (client, server) = tokio::join!(
        establish(a, "server", &status, &filter, config),
        establish(b, "client", &status, &filter, config)
    );
    let client = client.expect("test setup");
    let (server_peer, server_driver) = server.expect("test setup");
    (
        client,
        (server_peer, server_driver.with_store(chain.store())),
    )
}

/// Runs `body` while both drivers run; fails if a driver stops first.
macro_rules! with_drivers {
    ($c:expr, $s:expr, $body:expr) => {{
        let c = $c.run();
        let s = $s.run();
        tokio::select! {
            r = $body => r,
            e = c => panic!("client driver stopped: {e}"),
            e = s => panic!("server driver stopped: {e}"),
        }
    }};
}

#[tokio::test]
async fn full_fetch_between_two_in_process_peers() {
    let chain = TestChain::new(300, 1);
    let ((client, cd), (_server, sd)) = connect(&chain, PeerConfig::default()).await;
    with_drivers!(cd, sd, async {
        assert_eq!(client.head(), (chain.head().hash(), U256::from(301u64)));
        assert_eq!(client.remote_status().genesis(), chain.genesis());
        // Headers 0..=300 by number, in batches of 128.
        let mut got = Vec::new();
        while got.len() < 301 {
            let batch = client
                .headers(HeadersRequest::rising(got.len() as u64, 128))
                .await
                .unwrap();
            assert!(!batch.is_empty());
            got.extend(batch);
        }
        assert_eq!(got.len(), 301);
        for (n, h) in got.iter().enumerate() {
            assert_eq!(h.number, n as u64);
            assert_eq!(h.hash(), chain.headers[n].hash());
            if n > 0 {
                assert_eq!(h.parent_hash, got[n - 1].hash());
            }
        }
        // By hash, reverse, skip 9.
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Hash(chain.head().hash()),
            amount: 5,
            skip: 9,
            reverse: true,
        };
        let nums: Vec<u64> = client
            .headers(req)
            .await
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(nums, vec![300, 290, 280, 270, 260]);
        // By number, forward, skip 2, running off the end.
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Number(290),
            amount: 10,
            skip: 2,
            reverse: false,
        };
        let nums: Vec<u64> = client
            .headers(req)
            .await
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(nums, vec![290, 293, 296, 299]);
        // Reverse past genesis stops at 0 or above.
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Number(5),
            amount: 10,
            skip: 1,
            reverse: true,
        };
        let nums: Vec<u64> = client
            .headers(req)
            .await
            .unwrap()
            .iter()
            .map(|h| h.number)
            .collect();
        assert_eq!(nums, vec![5, 3, 1]);
        // Unknown origin: empty.
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Hash(H256::repeat_byte(0xee)),
            amount: 3,
            skip: 0,
            reverse: false,
        };
        assert!(client.headers(req).await.unwrap().is_empty());

        // Bodies of every block (an unknown hash in the middle is skipped) and their roots.
        let mut hashes: Vec<H256> = got.iter().map(|h| h.hash()).collect();
        hashes.insert(150, H256::repeat_byte(0xee));
        let bodies = client.bodies(hashes.clone()).await.unwrap();
        assert_eq!(bodies.len(), 301);
        let mut txs = 0;
        for (h, b) in got.iter().zip(&bodies) {
            b.check_against(h).unwrap();
            txs += b.transactions.len();
        }
        assert!(txs > 300);
        assert_eq!(bodies, chain.bodies);
        // Receipts and their roots.
        let receipts = client.receipts(hashes).await.unwrap();
        assert_eq!(receipts.len(), 301);
        for (h, r) in got.iter().zip(&receipts) {
            roots::check_receipts(r, h).unwrap();
        }
        assert_eq!(client.in_flight(), 0);
    });
}

#[tokio::test]
async fn every_eth_version_serves() {
    for version in EthVersion::ALL {
        let chain = TestChain::new(20, 1);
        let (status, filter) = chain.status_for(version);
        let (a, b) = MsgPipe::pair();
        let cfg = PeerConfig::default();
        let (c, s) = tokio::join!(
            establish(a, "s", &status, &filter, cfg),
            establish(b, "c", &status, &filter, cfg)
        );
        let (client, cd) = c.unwrap();
        let (_server, sd) = s.unwrap();
        assert_eq!(client.version(), version);
        let sd = sd.with_store(chain.store());
        with_drivers!(cd, sd, async {
            let h = client
                .headers(HeadersRequest::rising(0, 100))
                .await
                .unwrap();
            assert_eq!(h.len(), 21, "{version}");
        });
    }
}

#[tokio::test]
async fn serving_limits_cap_replies() {
    let chain = TestChain::new(40, 1);
    let limits = ServeLimits {
        max_headers: 10,
        max_bodies: 7,
        max_receipts: 5,
        ..ServeLimits::default()
    };
    let config = PeerConfig {
        limits,
        ..PeerConfig::default()
    };
    let ((client, cd), (_server, sd)) = connect(&chain, config).await;
    let hashes: Vec<H256> = chain.headers.iter().map(|h| h.hash()).collect();
    with_drivers!(cd, sd, async {
        assert_eq!(
            client
                .headers(HeadersRequest::rising(0, 1000))
                .await
                .unwrap()
                .len(),
            10
        );
        assert_eq!(client.bodies(hashes.clone()).await.unwrap().len(), 7);
        assert_eq!(client.receipts(hashes.clone()).await.unwrap().len(), 5);
    });
    // A soft byte limit of 1: one item per reply.
    let limits = ServeLimits {
        soft_response_bytes: 1,
        ..ServeLimits::default()
    };
    let config = PeerConfig {
        limits,
        ..PeerConfig::default()
    };
    let ((client, cd), (_server, sd)) = connect(&chain, config).await;
    with_drivers!(cd, sd, async {
        assert_eq!(
            client
                .headers(HeadersRequest::rising(0, 1000))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(client.bodies(hashes.clone()).await.unwrap().len(), 1);
    });
}

#[tokio::test]
async fn the_default_limit_is_1024_headers() {
    let chain = TestChain::new(1100, 1);
    let ((client, cd), (_server, sd)) = connect(&chain, PeerConfig::default()).await;
    with_drivers!(cd, sd, async {
        let h = client
            .headers(HeadersRequest::rising(0, 5000))
            .await
            .unwrap();
        assert_eq!(h.len(), 1024);
    });
}

#[tokio::test]
async fn many_concurrent_requests_with_a_small_in_flight_bound() {
    let chain = TestChain::new(100, 1);
    let config = PeerConfig {
        max_in_flight: 3,
        ..PeerConfig::default()
    };
    let ((client, cd), (server, sd)) = connect(&chain, config).await;
    with_drivers!(cd, sd, async {
        let mut tasks = Vec::new();
        for n in 0..40u64 {
            let c = client.clone();
            tasks.push(async move { c.headers(HeadersRequest::rising(n, 3)).await });
        }
        // The server side can request from the client too (the client has no store: empty answers).
        let reverse = server.get_block_headers(HeadersRequest::rising(0, 3));
        let (all, rev) = tokio::join!(
            futures_join(tasks.into_iter().map(Box::pin).collect()),
            reverse
        );
        for (n, r) in all.into_iter().enumerate() {
            let h = r.unwrap();
            assert_eq!(h.len(), 3);
            assert_eq!(h[0].number, n as u64);
        }
        assert!(rev.unwrap().is_empty());
        assert_eq!(client.in_flight(), 0);
    });
}

/// Polls every future concurrently until all are done, keeping their order.
async fn futures_join<F: std::future::Future + Unpin>(mut futs: Vec<F>) -> Vec<F::Output> {
    let mut results: Vec<Option<F::Output>> = (0..futs.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if results[i].is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.expect("all done")).collect()
}

/// A connected client and a scripted remote (the raw pipe end, after the handshake).
async fn scripted(config: PeerConfig) -> (EthPeer<MsgPipe>, EthDriver<MsgPipe>, MsgPipe) {
    let chain = TestChain::new(10, 1);
    let (status, filter) = chain.status(EthVersion::Eth68);
    let (a, b) = MsgPipe::pair();
    let (client, remote) = tokio::join!(
        establish(a, "scripted", &status, &filter, config),
        handshake(&b, &status, &filter, config.handshake_timeout)
    );
    remote.expect("test setup");
    let (peer, driver) = client.expect("test setup");
    (peer, driver, b)
}

async fn read_eth(remote: &MsgPipe) -> EthMessage {
    EthMessage::from_msg(
        EthVersion::Eth68,
        &remote.read_msg().await.expect("test setup"),
    )
    .expect("test setup")
}

#[tokio::test(start_paused = true)]
async fn a_silent_remote_times_out_and_a_late_reply_is_ignored() {
    let config = PeerConfig {
        request_timeout: Duration::from_secs(3),
        ..PeerConfig::default()
    };
    let (client, driver, remote) = scripted(config).await;
    let script = async {
        // Read the first request, answer nothing until it timed out, then answer it late.
        let first = read_eth(&remote).await;
        let id = first.request_id().unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let late = EthMessage::BlockHeaders(RequestPair {
            request_id: id,
            message: Vec::new(),
        });
        remote.write_msg(late.to_msg()).await.unwrap();
        // The second request gets a proper answer.
        let second = read_eth(&remote).await;
        let reply = EthMessage::BlockHeaders(RequestPair {
            request_id: second.request_id().unwrap(),
            message: vec![TestChain::new(1, 1).headers[0].header().clone()],
        });
        remote.write_msg(reply.to_msg()).await.unwrap();
        std::future::pending::<()>().await;
    };
    let test = async {
        let started = tokio::time::Instant::now();
        let e = client
            .get_block_headers(HeadersRequest::rising(0, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::RequestTimeout {
                    request: "BlockHeaders",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.is_timeout());
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert_eq!(client.in_flight(), 0);
        // Mapped for ChainSource users.
        assert!(chain_types::Error::from(e).is_timeout());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let h = client
            .get_block_headers(HeadersRequest::rising(0, 1))
            .await
            .unwrap();
        assert_eq!(h.len(), 1);
    };
    tokio::select! {
        () = test => {}
        () = script => unreachable!(),
        e = driver.run() => panic!("driver stopped: {e}"),
    }
}

#[tokio::test]
async fn oversized_and_mistyped_replies_are_errors() {
    let (client, driver, remote) = scripted(PeerConfig::default()).await;
    let script = async {
        let r = read_eth(&remote).await;
        let body = chain_types::Body::default();
        let two = EthMessage::BlockBodies(RequestPair {
            request_id: r.request_id().unwrap(),
            message: vec![body.clone(), body],
        });
        remote.write_msg(two.to_msg()).await.unwrap();
        let r = read_eth(&remote).await;
        let wrong = EthMessage::BlockBodies(RequestPair {
            request_id: r.request_id().unwrap(),
            message: Vec::new(),
        });
        remote.write_msg(wrong.to_msg()).await.unwrap();
        std::future::pending::<()>().await;
    };
    let test = async {
        let e = client
            .get_block_bodies(vec![H256::repeat_byte(1)])
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::TooManyItems { got: 2, max: 1, .. }),
            "{e}"
        );
        assert!(e.is_protocol_violation());
        let e = client
            .get_block_headers(HeadersRequest::rising(0, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::WrongReply {
                    expected: "BlockHeaders",
                    got: "BlockBodies",
                    ..
                }
            ),
            "{e}"
        );
    };
    tokio::select! {
        () = test => {}
        () = script => unreachable!(),
        e = driver.run() => panic!("driver stopped: {e}"),
    }
}

#[tokio::test]
async fn a_closed_connection_fails_pending_and_later_requests() {
    let (client, driver, remote) = scripted(PeerConfig::default()).await;
    let script = async {
        let _ = read_eth(&remote).await;
        remote.close();
    };
    let driver = async {
        let e = driver.run().await;
        assert!(e.is_closed(), "{e}");
    };
    let (r, (), ()) = tokio::join!(
        client.get_block_bodies(vec![H256::repeat_byte(1)]),
        script,
        driver
    );
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Closed), "{e}");
    assert!(client.is_closed());
    let e = client.get_receipts(vec![H256::zero()]).await.unwrap_err();
    assert!(matches!(e, Error::Closed), "{e}");
    assert!(chain_types::Error::from(e).is_disconnect());
}

#[tokio::test]
async fn protocol_violations_end_the_driver() {
    type Check = fn(&Error) -> bool;
    let cases: Vec<(Msg, Check)> = vec![
        (
            Msg::new(codes::BLOCK_HEADERS, vec![0xc3, 0x01, 0xc0]),
            |e| {
                matches!(
                    e,
                    Error::Decode {
                        message: "BlockHeaders",
                        ..
                    }
                )
            },
        ),
        (Msg::new(0x0b, vec![0xc0]), |e| {
            matches!(
                e,
                Error::UnknownCode {
                    code: 0x0b,
                    version: 68
                }
            )
        }),
        (
            Msg::new(codes::GET_NODE_DATA, vec![0xc2, 0x01, 0xc0]),
            |e| matches!(e, Error::UnknownCode { code: 0x0d, .. }),
        ),
        (
            EthMessage::Status(TestChain::new(1, 1).status(EthVersion::Eth68).0).to_msg(),
            |e| matches!(e, Error::UnexpectedStatus),
        ),
    ];
    for (msg, check) in cases {
        let (_client, driver, remote) = scripted(PeerConfig::default()).await;
        let (e, sent) = tokio::join!(driver.run(), remote.write_msg(msg));
        sent.unwrap();
        assert!(check(&e), "{e}");
        assert!(e.is_protocol_violation());
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_remote_ends_the_driver() {
    let config = PeerConfig {
        idle_timeout: Duration::from_secs(60),
        ..PeerConfig::default()
    };
    let (_client, driver, _remote) = scripted(config).await;
    let started = tokio::time::Instant::now();
    let e = driver.run().await;
    assert!(e.is_timeout(), "{e}");
    assert_eq!(started.elapsed(), Duration::from_secs(60));
}

#[tokio::test]
async fn announcements_are_forwarded_and_new_blocks_move_the_head() {
    let (client, driver, remote) = scripted(PeerConfig::default()).await;
    let (tx, mut rx) = mpsc::channel::<Announcement>(4);
    let driver = driver.with_announcements(tx);
    let chain = TestChain::new(12, 1);
    let block = chain.headers[12].header().clone();
    let test = async {
        let hashes = EthMessage::NewBlockHashes(vec![BlockHashNumber {
            hash: H256::repeat_byte(5),
            number: 11,
        }]);
        remote.write_msg(hashes.to_msg()).await.unwrap();
        let a = rx.recv().await.unwrap();
        assert_eq!(a.peer, "scripted");
        assert_eq!(a.message, hashes);
        let nb = EthMessage::NewBlock(Box::new(NewBlock {
            header: block.clone(),
            body: chain.bodies[12].clone(),
            total_difficulty: U256::from(1000u64),
        }));
        remote.write_msg(nb.to_msg()).await.unwrap();
        let a = rx.recv().await.unwrap();
        assert_eq!(a.message, nb);
        assert_eq!(client.head(), (block.hash(), U256::from(1000u64)));
        // Remote requests are answered (empty: no store) with the same id.
        let get = EthMessage::GetBlockHeaders(RequestPair {
            request_id: 77,
            message: HeadersRequest::rising(0, 5),
        });
        remote.write_msg(get.to_msg()).await.unwrap();
        let reply = read_eth(&remote).await;
        assert_eq!(
            reply,
            EthMessage::BlockHeaders(RequestPair {
                request_id: 77,
                message: Vec::new()
            })
        );
        let get = EthMessage::GetPooledTransactions(RequestPair {
            request_id: 78,
            message: vec![H256::zero()],
        });
        remote.write_msg(get.to_msg()).await.unwrap();
        assert_eq!(
            read_eth(&remote).await,
            EthMessage::PooledTransactions(RequestPair {
                request_id: 78,
                message: Vec::new()
            })
        );
    };
    tokio::select! {
        () = test => {}
        e = driver.run() => panic!("driver stopped: {e}"),
    }
}

#[tokio::test]
async fn dyn_chain_source_works_over_eth() {
    let chain = TestChain::new(30, 1);
    let ((client, cd), (_server, sd)) = connect(&chain, PeerConfig::default()).await;
    let source: Arc<dyn chain_types::DynChainSource> = Arc::new(client);
    with_drivers!(cd, sd, async {
        assert_eq!(source.id(), "server");
        let h = source.headers(HeadersRequest::rising(10, 5)).await.unwrap();
        assert_eq!(
            h.iter().map(|h| h.number).collect::<Vec<_>>(),
            vec![10, 11, 12, 13, 14]
        );
    });
}

#[tokio::test(start_paused = true)]
async fn in_flight_requests_are_bounded() {
    let config = PeerConfig {
        max_in_flight: 3,
        request_timeout: Duration::from_secs(5),
        ..PeerConfig::default()
    };
    let (client, driver, remote) = scripted(config).await;
    let requests: Vec<_> = (0..10u64)
        .map(|n| {
            let c = client.clone();
            Box::pin(async move { c.get_block_headers(HeadersRequest::rising(n, 1)).await })
        })
        .collect();
    let observe = async {
        // The remote sees exactly three requests and answers none; nothing more arrives while they wait.
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(read_eth(&remote).await.request_id().expect("a request"));
        }
        assert_eq!(client.in_flight(), 3);
        let more = tokio::time::timeout(Duration::from_secs(4), remote.read_msg()).await;
        assert!(
            more.is_err(),
            "a fourth request was sent while three were in flight"
        );
        ids
    };
    let (results, ids) = tokio::select! {
        r = async { tokio::join!(futures_join(requests), observe) } => r,
        e = driver.run() => panic!("driver stopped: {e}"),
    };
    assert_eq!(ids.len(), 3);
    // The three sent time out; the seven that never got a slot time out too, within the same deadline.
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::RequestTimeout { .. })))
    );
    assert_eq!(client.in_flight(), 0);
}
