//! eth/69 and eth/70 connections over an in-memory pipe: BlockRangeUpdate received, validated and sent when the
//! store's head moves, NewBlock refused, bloom-less receipts with matching roots, eth/70 pages reassembled and
//! pagination violations refused, replies routed by id before decoding, and the serving queue bounded in bytes.

use std::sync::Arc;
use std::time::Duration;

use chain_types::{BlockRange, ChainSource, MemoryStore, roots};
use eth_wire::{
    BlockRangeUpdate, Error, EthDriver, EthMessage, EthPeer, EthVersion, PeerConfig, Receipts70,
    RequestPair, ServeLimits, Status69, StatusMessage, codes, establish, handshake, serve,
};
use p2p_msg::{Msg, MsgPipe, MsgReader, MsgWriter};
use primitive_types::{H256, U256};

use crate::chain::TestChain;

type Pair = (EthPeer<MsgPipe>, EthDriver<MsgPipe>);

/// Connects a client to a server on `version`; the server serves `store` and announces `local`.
async fn connect_with(
    local: StatusMessage,
    chain: &TestChain,
    store: Arc<MemoryStore>,
    config: PeerConfig,
) -> (Pair, Pair) {
    let (_, filter) = chain.status_for(EthVersion::Eth69);
    let (a, b) = MsgPipe::pair();
    let (client, server) = tokio::join!(
        establish(a, "server", local, &filter, config),
        establish(b, "client", local, &filter, config)
    );
    let client = client.expect("test setup");
    let (sp, sd) = server.expect("test setup");
    (client, (sp, sd.with_store(store)))
}

async fn connect(chain: &TestChain, version: EthVersion, config: PeerConfig) -> (Pair, Pair) {
    let local = chain.status_for(version).0;
    connect_with(local, chain, chain.store(), config).await
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

/// A client on `version` whose remote is a raw pipe end driven by the test.
async fn raw_remote(chain: &TestChain, version: EthVersion, config: PeerConfig) -> (Pair, MsgPipe) {
    let (local, filter) = chain.status_for(version);
    let (a, b) = MsgPipe::pair();
    let (client, remote) = tokio::join!(
        establish(a, "raw", local, &filter, config),
        handshake(&b, local, &filter, config.handshake_timeout)
    );
    remote.expect("test setup");
    (client.expect("test setup"), b)
}

#[tokio::test(start_paused = true)]
async fn block_range_update_is_received_validated_and_kept() {
    let chain = TestChain::new(40, 1);
    let ((client, cd), (server, sd)) =
        connect(&chain, EthVersion::Eth69, PeerConfig::default()).await;
    with_drivers!(cd, sd, async {
        let initial = client.block_range().unwrap();
        assert_eq!((initial.earliest, initial.latest), (0, 40));
        assert_eq!(
            ChainSource::head(&client),
            (chain.head().hash(), U256::zero())
        );
        let update = BlockRangeUpdate {
            earliest: 5,
            latest: 77,
            latest_hash: H256::repeat_byte(0x77),
        };
        server
            .send(EthMessage::BlockRangeUpdate(update))
            .await
            .unwrap();
        while client.block_range() == Some(initial) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(client.block_range(), Some(update.block_range()));
        assert_eq!(
            ChainSource::block_range(&client),
            Some(update.block_range())
        );
        assert_eq!(
            ChainSource::head(&client),
            (H256::repeat_byte(0x77), U256::zero())
        );
    });
}

#[tokio::test]
async fn an_invalid_block_range_update_ends_the_connection() {
    let chain = TestChain::new(5, 1);
    for bad in [
        BlockRangeUpdate {
            earliest: 9,
            latest: 8,
            latest_hash: H256::repeat_byte(1),
        },
        BlockRangeUpdate {
            earliest: 0,
            latest: 8,
            latest_hash: H256::zero(),
        },
    ] {
        let ((_client, cd), remote) =
            raw_remote(&chain, EthVersion::Eth70, PeerConfig::default()).await;
        let send = remote.write_msg(EthMessage::BlockRangeUpdate(bad).to_msg());
        let (e, sent) = tokio::join!(cd.run(), send);
        sent.unwrap();
        assert!(matches!(e, Error::InvalidBlockRange { .. }), "{e}");
        assert!(e.is_protocol_violation());
        assert_eq!(
            e.disconnect_reason(),
            p2p_msg::DisconnectReason::SubprotocolError
        );
    }
}

#[tokio::test]
async fn an_eth68_peer_has_no_block_range() {
    let chain = TestChain::new(5, 1);
    let ((client, _cd), _) = connect(&chain, EthVersion::Eth68, PeerConfig::default()).await;
    assert_eq!(client.block_range(), None);
    assert_eq!(
        ChainSource::head(&client),
        (chain.head().hash(), U256::from(6u64))
    );
}

#[tokio::test(start_paused = true)]
async fn the_server_sends_block_range_update_when_its_head_moved_far_enough() {
    let chain = TestChain::new(80, 1);
    let store = chain.store_upto(10);
    let local = StatusMessage::Eth69(Status69 {
        latest: 10,
        latest_hash: chain.headers[10].hash(),
        ..match chain.status_for(EthVersion::Eth70).0 {
            StatusMessage::Eth69(s) => s,
            StatusMessage::Legacy(_) => unreachable!("eth/70 status"),
        }
    });
    let config = PeerConfig {
        range_update_interval: Duration::from_secs(60),
        range_update_threshold: 32,
        ..PeerConfig::default()
    };
    let ((client, cd), (_server, sd)) = connect_with(local, &chain, store.clone(), config).await;
    let range = |n: u64| BlockRange {
        earliest: 0,
        latest: n,
        latest_hash: chain.headers[n as usize].hash(),
    };
    with_drivers!(cd, sd, async {
        assert_eq!(client.block_range(), Some(range(10)));
        // 31 blocks later: below the threshold, nothing is sent.
        chain.extend(&store, 11, 41);
        tokio::time::sleep(Duration::from_secs(130)).await;
        assert_eq!(client.block_range(), Some(range(10)));
        // 32 blocks: sent at the next check, at most once per interval.
        chain.extend(&store, 42, 42);
        let moved = tokio::time::Instant::now();
        while client.block_range() == Some(range(10)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(moved.elapsed() <= Duration::from_secs(60));
        assert_eq!(client.block_range(), Some(range(42)));
        // Another 38 blocks right away: the next update waits for the next interval.
        chain.extend(&store, 43, 80);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(client.block_range(), Some(range(42)));
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(client.block_range(), Some(range(80)));
    });
}

#[tokio::test]
async fn new_block_and_new_block_hashes_on_eth69_end_the_connection() {
    let chain = TestChain::new(5, 1);
    for (version, code) in [
        (EthVersion::Eth69, codes::NEW_BLOCK),
        (EthVersion::Eth70, codes::NEW_BLOCK),
        (EthVersion::Eth69, codes::NEW_BLOCK_HASHES),
    ] {
        let ((_client, cd), remote) = raw_remote(&chain, version, PeerConfig::default()).await;
        // A well-formed eth/68 NewBlockHashes / NewBlock payload: the code alone is the violation.
        let payload = rlp::encode_list::<u64, u64>(&[]).freeze();
        let (e, sent) = tokio::join!(cd.run(), remote.write_msg(Msg::new(code, payload)));
        sent.unwrap();
        assert!(
            matches!(e, Error::UnknownCode { code: c, version: v } if c == code && v == version.number()),
            "{e}"
        );
        assert!(e.is_protocol_violation());
        assert_eq!(
            e.disconnect_reason(),
            p2p_msg::DisconnectReason::SubprotocolError
        );
    }
}

#[tokio::test]
async fn eth69_and_eth70_receipts_round_trip_with_blooms_rebuilt() {
    let chain = TestChain::with_logs(12, 5);
    for version in [EthVersion::Eth69, EthVersion::Eth70] {
        let ((client, cd), (_s, sd)) = connect(&chain, version, PeerConfig::default()).await;
        with_drivers!(cd, sd, async {
            let hashes: Vec<H256> = chain.headers[1..].iter().map(|h| h.hash()).collect();
            let got = client.receipts(hashes).await.unwrap();
            assert_eq!(got, chain.receipts[1..], "{version}");
            for (n, list) in got.iter().enumerate() {
                assert!(list.iter().all(|r| !r.logs_bloom.is_zero()));
                assert_eq!(
                    roots::receipts_root(list),
                    chain.headers[n + 1].receipts_root
                );
            }
        });
    }
}

#[test]
fn the_server_cuts_a_block_at_the_soft_limit_and_flags_it() {
    let chain = TestChain::with_logs(4, 6);
    let store = chain.store();
    let hashes: Vec<H256> = chain.headers[1..].iter().map(|h| h.hash()).collect();
    let one = chain.receipts[1][0].clone();
    let size = EthMessage::Receipts70(Receipts70 {
        request_id: 0,
        last_block_incomplete: false,
        receipts: vec![vec![one.clone(), one]],
    })
    .encode()
    .len();
    // Room for about eight receipts: block 1 whole, block 2 cut after two.
    let limits = ServeLimits {
        soft_response_bytes: size * 4,
        ..ServeLimits::default()
    };
    let (page, cut) = serve::answer_receipts70(&*store, &hashes, 0, &limits).unwrap();
    assert!(cut);
    assert_eq!(page.len(), 2);
    assert_eq!(page[0], chain.receipts[1]);
    assert!(!page[1].is_empty() && page[1].len() < 6);
    assert_eq!(page[1], chain.receipts[2][..page[1].len()]);
    // The continuation starts inside block 2.
    let done = page[1].len();
    let (next, _) = serve::answer_receipts70(&*store, &hashes[1..], done as u64, &limits).unwrap();
    assert_eq!(next[0], chain.receipts[2][done..]);
    // A limit below one receipt still serves one (progress), flagged.
    let tiny = ServeLimits {
        soft_response_bytes: 1,
        ..ServeLimits::default()
    };
    let (page, cut) = serve::answer_receipts70(&*store, &hashes, 0, &tiny).unwrap();
    assert_eq!((page.len(), page[0].len(), cut), (1, 1, true));
    // An unknown block ends the answer.
    let mut with_unknown = hashes;
    with_unknown.insert(1, H256::repeat_byte(0xee));
    let (page, cut) =
        serve::answer_receipts70(&*store, &with_unknown, 0, &ServeLimits::default()).unwrap();
    assert_eq!((page.len(), cut), (1, false));
}

#[tokio::test]
async fn eth70_pages_across_several_blocks_are_reassembled() {
    let chain = TestChain::with_logs(10, 6);
    let config = PeerConfig {
        limits: ServeLimits {
            soft_response_bytes: 700,
            ..ServeLimits::default()
        },
        ..PeerConfig::default()
    };
    let ((client, cd), (_s, sd)) = connect(&chain, EthVersion::Eth70, config).await;
    with_drivers!(cd, sd, async {
        let hashes: Vec<H256> = chain.headers[1..].iter().map(|h| h.hash()).collect();
        let mut got: Vec<Vec<chain_types::Receipt>> = Vec::new();
        let mut calls = 0;
        while got.len() < hashes.len() {
            let part = client.receipts(hashes[got.len()..].to_vec()).await.unwrap();
            assert!(!part.is_empty());
            got.extend(part);
            calls += 1;
        }
        // Whole blocks only, identical to the chain, with fewer calls than blocks (blocks were cut and continued
        // inside a call).
        assert_eq!(got, chain.receipts[1..]);
        assert!(calls < hashes.len(), "{calls} calls");
        for (n, list) in got.iter().enumerate() {
            assert_eq!(
                roots::receipts_root(list),
                chain.headers[n + 1].receipts_root
            );
        }
    });
}

/// Answers each eth/70 GetReceipts on `remote` with `page(request)` until the pipe closes.
async fn answer_pages(remote: &MsgPipe, mut page: impl FnMut(u64) -> Receipts70) {
    while let Ok(msg) = remote.read_msg().await {
        if let Ok(EthMessage::GetReceipts70(req)) = EthMessage::from_msg(EthVersion::Eth70, &msg) {
            let reply = page(req.request_id);
            if remote
                .write_msg(EthMessage::Receipts70(reply).to_msg())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

#[tokio::test]
async fn broken_eth70_pagination_is_refused() {
    let chain = TestChain::with_logs(3, 2);
    let receipt = chain.receipts[1][0].clone();
    let hashes = vec![H256::repeat_byte(1), H256::repeat_byte(2)];
    // An incomplete page whose cut block holds no receipt.
    let ((client, cd), remote) = raw_remote(&chain, EthVersion::Eth70, PeerConfig::default()).await;
    let pages = answer_pages(&remote, |id| Receipts70 {
        request_id: id,
        last_block_incomplete: true,
        receipts: vec![vec![]],
    });
    let e = tokio::select! {
        r = client.get_receipts(hashes.clone()) => r.unwrap_err(),
        e = cd.run() => panic!("driver stopped: {e}"),
        () = pages => panic!("remote stopped"),
    };
    assert!(matches!(e, Error::ReceiptPage(_)), "{e}");
    // A server that cuts forever, one receipt at a time: bounded by `max_receipt_pages`.
    let config = PeerConfig {
        max_receipt_pages: 5,
        ..PeerConfig::default()
    };
    let ((client, cd), remote) = raw_remote(&chain, EthVersion::Eth70, config).await;
    let pages = answer_pages(&remote, |id| Receipts70 {
        request_id: id,
        last_block_incomplete: true,
        receipts: vec![vec![receipt.clone()]],
    });
    let e = tokio::select! {
        r = client.get_receipts(hashes) => r.unwrap_err(),
        e = cd.run() => panic!("driver stopped: {e}"),
        () = pages => panic!("remote stopped"),
    };
    assert!(matches!(e, Error::ReceiptPage(_)), "{e}");
    assert!(e.is_protocol_violation());
}

#[tokio::test]
async fn replies_are_routed_by_id_before_their_body_is_decoded() {
    let chain = TestChain::new(5, 1);
    let ((client, cd), remote) = raw_remote(&chain, EthVersion::Eth70, PeerConfig::default()).await;
    // Two 300-byte strings where headers belong: framing fine, content not a header.
    let junk = vec![0x42u8; 300];
    let mut items = rlp::RlpStream::new_list(2);
    items.append(&junk).append(&junk);
    let body = items.out();
    let reply_with = |id: u64| {
        let mut s = rlp::RlpStream::new_list(2);
        s.append(&id).append_raw(&body, 1);
        Msg::new(codes::BLOCK_HEADERS, s.out().freeze())
    };
    let remote_side = async {
        // Unsolicited: no request 999 is pending; dropped without decoding, the connection lives on.
        remote.write_msg(reply_with(999)).await.unwrap();
        // The client's request (id 0) for one header gets two undecodable ones: too many items, from the header.
        let req = remote.read_msg().await.unwrap();
        let EthMessage::GetBlockHeaders(p) = EthMessage::from_msg(EthVersion::Eth70, &req).unwrap()
        else {
            panic!("a header request");
        };
        remote.write_msg(reply_with(p.request_id)).await.unwrap();
        // The next request gets a proper answer: the connection survived both.
        let req = remote.read_msg().await.unwrap();
        let EthMessage::GetBlockHeaders(p) = EthMessage::from_msg(EthVersion::Eth70, &req).unwrap()
        else {
            panic!("a header request");
        };
        let ok = EthMessage::BlockHeaders(RequestPair {
            request_id: p.request_id,
            message: vec![chain.headers[0].header().clone()],
        });
        remote.write_msg(ok.to_msg()).await.unwrap();
        std::future::pending::<()>().await;
    };
    let test = async {
        let one = chain_types::HeadersRequest::rising(0, 1);
        let e = client.get_block_headers(one).await.unwrap_err();
        assert!(
            matches!(e, Error::TooManyItems { got: 2, max: 1, .. }),
            "{e}"
        );
        let h = client.get_block_headers(one).await.unwrap();
        assert_eq!(h[0].hash(), chain.genesis());
    };
    tokio::select! {
        () = test => {}
        e = cd.run() => panic!("driver stopped: {e}"),
        () = remote_side => unreachable!("the remote never finishes"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_cannot_grow_the_serving_queue() {
    let chain = TestChain::with_logs(20, 40);
    let bound = 64 * 1024;
    let config = PeerConfig {
        serve_queue_bytes: bound,
        ..PeerConfig::default()
    };
    let (local, filter) = chain.status_for(EthVersion::Eth69);
    let (a, b) = MsgPipe::pair();
    let (server, remote) = tokio::join!(
        establish(a, "greedy", local, &filter, config),
        handshake(&b, local, &filter, config.handshake_timeout)
    );
    remote.unwrap();
    let (server, sd) = server.unwrap();
    let sd = sd.with_store(chain.store());
    // Big requests (30 000 hashes, about 1 MiB each) and big answers (20 blocks of 40 receipts, ~130 KiB).
    let hashes: Vec<H256> = chain.headers[1..].iter().map(|h| h.hash()).collect();
    let mut big: Vec<H256> = hashes.clone();
    big.resize(30_000, H256::repeat_byte(0xab));
    let request_size = EthMessage::GetReceipts(RequestPair {
        request_id: 0,
        message: big.clone(),
    })
    .encode()
    .len();
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let greedy = async {
        for id in 0.. {
            let m = EthMessage::GetReceipts(RequestPair {
                request_id: id,
                message: big.clone(),
            });
            b.write_msg(m.to_msg()).await.unwrap();
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let check = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after5 = sent.load(std::sync::atomic::Ordering::Relaxed);
        let queued = server.serve_queued_bytes();
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The server stopped reading: the remote's writes block.
        assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), after5);
        assert!(after5 <= 4, "{after5} requests were taken");
        // Queued: one oversized request, one answer being written and one waiting (each above the bound alone).
        let answer = 140 * 1024;
        assert!(
            queued <= bound.max(request_size) + 2 * answer,
            "{queued} bytes queued"
        );
        assert!(queued > 0);
    };
    tokio::select! {
        () = check => {}
        () = greedy => unreachable!("the greedy remote blocks"),
        e = sd.run() => panic!("driver stopped: {e}"),
    }
}
