//! Interop with the @ethereumjs/devp2p reference peer (`tests/peers/devp2p/`), started by `cargo xtask peers`:
//!
//! - our dialer to their listener: RLPx + Hello + Status, headers by number and by hash with skip and reverse,
//!   bodies and receipts, all checked against the server's info line and by root;
//! - their dialer to our listener: `client.mjs` fetches headers, bodies and receipts from a peerwire node
//!   serving a chain of its own (signed legacy transactions, London headers) and verifies them with
//!   @ethereumjs/block and @ethereumjs/tx.
//!
//! Without the peers' environment the tests print a skip notice (and fail under `PEERWIRE_PEERS=1`).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chain_types::{
    BlockEntry, BlockHashOrNumber, Body, ChainSource, ChainStore, EMPTY_OMMERS_HASH, Header,
    HeadersRequest, MemoryStore, Receipt, ReceiptStatus, SealedHeader, roots,
};
use eth_wire::{EthNode, EthPeer};
use p2p_msg::{DisconnectReason, LocalHello, Peer, ProtoRw};
use p2p_rlpx::{Enode, NodeKey, RlpxTransport, TransportConfig};
use primitive_types::{H160, H256, U256};
use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::{Message, SecretKey};
use tokio::sync::mpsc;

use crate::support::{peer_env, within};

/// What the reference server printed on its first line.
#[derive(Debug)]
struct Info {
    chain_id: u64,
    genesis: H256,
    head: u64,
    head_hash: H256,
    td: U256,
    fork_next: u64,
}

fn hash(v: &serde_json::Value, field: &str) -> H256 {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("info line has no string field {field}"));
    let bytes = hex::decode(s.trim_start_matches("0x")).expect("hex hash");
    assert_eq!(bytes.len(), 32, "{field} is not 32 bytes");
    H256::from_slice(&bytes)
}

fn parse_info(line: &str) -> Info {
    let v: serde_json::Value = serde_json::from_str(line).expect("PEERWIRE_DEVP2P_INFO is JSON");
    Info {
        chain_id: v["chainId"].as_u64().expect("chainId"),
        genesis: hash(&v, "genesisHash"),
        head: v["head"].as_u64().expect("head"),
        head_hash: hash(&v, "headHash"),
        td: U256::from_dec_str(v["td"].as_str().expect("td")).expect("decimal td"),
        fork_next: v["forkNext"].as_u64().unwrap_or(0),
    }
}

/// Dials the reference server and returns our EthPeer, driving the connection in a task. With `follow`, our node
/// starts without a chain and mirrors the remote Status (as `peerwire sync` into an empty data directory).
async fn dial_reference(
    enode: &str,
    info: &Info,
    follow: bool,
) -> (EthPeer<ProtoRw>, p2p_msg::PeerHandle) {
    let enode: Enode = enode
        .parse()
        .expect("PEERWIRE_DEVP2P_ENODE is an enode URL");
    let key = NodeKey::generate();
    let transport = RlpxTransport::dial(&enode, &key, &TransportConfig::default())
        .await
        .expect("RLPx dial");
    let (tx, mut rx) = mpsc::channel(1);
    let mut node = EthNode::new(info.chain_id, info.genesis);
    // Every fork of the fixture chain is at block 0; a scheduled future fork is its only fork block.
    node.fork_blocks = if info.fork_next == 0 {
        Vec::new()
    } else {
        vec![info.fork_next]
    };
    node.genesis_difficulty = U256::one();
    node.follow_remote_chain = follow;
    node.peers = Some(tx);
    let peer = Peer::new(
        transport,
        LocalHello::new("peerwire-interop/test", key.id()),
        Arc::new(node).protocols(),
    );
    let handle = peer.handle();
    tokio::spawn(async move {
        let exit = peer.run().await;
        eprintln!(
            "reference connection ended: {:?} (remote requested: {})",
            exit.reason, exit.remote_requested
        );
    });
    let eth = within(Duration::from_secs(10), rx.recv())
        .await
        .expect("eth handshake with the reference peer");
    (eth, handle)
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn our_dialer_to_their_listener() {
    let enode = peer_env("PEERWIRE_DEVP2P_ENODE");
    let info = peer_env("PEERWIRE_DEVP2P_INFO");
    let info = parse_info(&info);
    within(Duration::from_secs(60), async {
        let (eth, handle) = dial_reference(&enode, &info, false).await;
        let status = *eth.remote_status();
        assert_eq!(status.genesis(), info.genesis);
        assert_eq!(status.network_id(), info.chain_id);
        assert_eq!(status.head(), (info.head_hash, info.td));
        assert_eq!(eth.head(), (info.head_hash, info.td));

        // Every header by number, in batches of up to 1024.
        let mut headers: Vec<Header> = Vec::new();
        while headers.len() as u64 <= info.head {
            let from = headers.len() as u64;
            let want = (info.head + 1 - from).min(1024);
            let batch = eth
                .headers(HeadersRequest::rising(from, want))
                .await
                .expect("headers by number");
            assert_eq!(batch.len() as u64, want, "headers from {from}");
            headers.extend(batch);
        }
        assert_eq!(headers[0].hash(), info.genesis);
        for (n, h) in headers.iter().enumerate() {
            assert_eq!(h.number, n as u64);
            if n > 0 {
                assert_eq!(h.parent_hash, headers[n - 1].hash(), "parent link at {n}");
            }
            // Our encoding of their header reproduces its hash: the round trip is byte-exact.
            assert_eq!(
                rlp::decode::<SealedHeader>(&rlp::encode(h))
                    .expect("re-decode")
                    .hash(),
                h.hash()
            );
        }
        assert_eq!(headers[info.head as usize].hash(), info.head_hash);

        // By hash, reverse, skip 9: head, head-10, ...
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Hash(info.head_hash),
            amount: 5,
            skip: 9,
            reverse: true,
        };
        let got = eth.headers(req).await.expect("headers by hash, reverse");
        let want: Vec<u64> = (0..5u64)
            .filter(|i| 10 * i <= info.head)
            .map(|i| info.head - 10 * i)
            .collect();
        assert_eq!(got.iter().map(|h| h.number).collect::<Vec<_>>(), want);
        for h in &got {
            assert_eq!(h.hash(), headers[h.number as usize].hash());
        }
        // By number, forward, skip 2; and by hash, forward.
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Number(1),
            amount: 5,
            skip: 2,
            reverse: false,
        };
        let got = eth.headers(req).await.expect("headers with skip");
        let want: Vec<u64> = (0..5)
            .map(|i| 1 + 3 * i)
            .filter(|n| *n <= info.head)
            .collect();
        assert_eq!(got.iter().map(|h| h.number).collect::<Vec<_>>(), want);
        let req = HeadersRequest {
            origin: BlockHashOrNumber::Hash(headers[1].hash()),
            amount: 3,
            skip: 0,
            reverse: false,
        };
        let got = eth.headers(req).await.expect("headers by hash");
        assert_eq!(
            got.iter().map(|h| h.number).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );

        // Bodies and receipts of every block after genesis, by root.
        let mut txs = 0;
        let mut receipts_seen = 0;
        for chunk in headers[1..].chunks(128) {
            let hashes: Vec<H256> = chunk.iter().map(Header::hash).collect();
            let bodies = eth.bodies(hashes.clone()).await.expect("bodies");
            assert_eq!(bodies.len(), chunk.len());
            for (h, b) in chunk.iter().zip(&bodies) {
                b.check_against(h)
                    .unwrap_or_else(|e| panic!("body {}: {e}", h.number));
                txs += b.transactions.len();
            }
            let receipts = eth.receipts(hashes).await.expect("receipts");
            assert_eq!(receipts.len(), chunk.len());
            for (h, r) in chunk.iter().zip(&receipts) {
                roots::check_receipts(r, h)
                    .unwrap_or_else(|e| panic!("receipts {}: {e}", h.number));
                receipts_seen += r.len();
            }
        }
        // The fixture puts 2 transactions in every 10th block.
        assert_eq!(txs as u64, 2 * (info.head / 10));
        assert_eq!(receipts_seen, txs);
        handle.disconnect(DisconnectReason::Requested);
    })
    .await;
}

/// Keccak-256.
fn keccak(data: &[u8]) -> H256 {
    chain_types::keccak256(data)
}

/// A signed EIP-155 legacy transfer (its RLP list).
fn signed_transfer(key: &SecretKey, chain_id: u64, nonce: u64, value: u64) -> Bytes {
    let to = H160::repeat_byte(0xab);
    let gas_price = 10_000_000_000u64;
    let gas = 21_000u64;
    let mut s = rlp::RlpStream::new_list(9);
    s.append(&nonce)
        .append(&gas_price)
        .append(&gas)
        .append(&to)
        .append(&value)
        .append_empty_data();
    s.append(&chain_id).append(&0u8).append(&0u8);
    let digest = keccak(&s.out());
    let sig = RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(digest.0), key);
    let (recid, rs) = sig.serialize_compact();
    let v = u64::from(u8::from(recid)) + chain_id * 2 + 35;
    let mut s = rlp::RlpStream::new_list(9);
    s.append(&nonce)
        .append(&gas_price)
        .append(&gas)
        .append(&to)
        .append(&value)
        .append_empty_data();
    s.append(&v);
    s.append(&U256::from_big_endian(&rs[..32]));
    s.append(&U256::from_big_endian(&rs[32..]));
    s.out().freeze()
}

/// A London-rules chain of `len` blocks with signed transfers every 5th block, for the reference client.
fn interop_chain(len: u64, chain_id: u64) -> Vec<BlockEntry> {
    let key = SecretKey::from_secret_bytes([0x42; 32]).expect("secret key");
    let mut out: Vec<BlockEntry> = Vec::new();
    let mut nonce = 0;
    let mut base_fee = 1_000_000_000u64;
    for n in 0..=len {
        let txs: Vec<Bytes> = if n > 0 && n % 5 == 0 {
            (0..3)
                .map(|i| {
                    nonce += 1;
                    signed_transfer(&key, chain_id, nonce - 1, n * 100 + i)
                })
                .collect()
        } else {
            Vec::new()
        };
        let receipts: Vec<Receipt> = (0..txs.len() as u64)
            .map(|i| Receipt {
                tx_type: 0,
                status: ReceiptStatus::Success,
                cumulative_gas_used: 21_000 * (i + 1),
                ..Receipt::default()
            })
            .collect();
        let body = Body {
            transactions: txs,
            ommers: Vec::new(),
            withdrawals: None,
        };
        let parent = out.last().map(|b| b.header.hash()).unwrap_or_default();
        if n > 0 {
            // Base fee falls by 1/8 per (nearly) empty block, as EIP-1559 computes it for tiny blocks.
            base_fee -= base_fee / 8;
        }
        let header = Header {
            parent_hash: parent,
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: H160::repeat_byte(0x22),
            state_root: chain_types::EMPTY_ROOT_HASH,
            transactions_root: roots::transactions_root(&body.transactions),
            receipts_root: roots::receipts_root(&receipts),
            difficulty: U256::one(),
            number: n,
            gas_limit: 30_000_000,
            gas_used: 21_000 * receipts.len() as u64,
            timestamp: 1_700_000_000 + 12 * n,
            extra_data: Bytes::from_static(b"peerwire interop"),
            base_fee_per_gas: Some(base_fee),
            ..Header::default()
        };
        out.push(BlockEntry {
            header: header.seal(),
            body: Some(body),
            receipts: Some(receipts),
        });
    }
    out
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn their_dialer_to_our_listener() {
    let dir = peer_env("PEERWIRE_PEERS_DIR");
    let node_bin = peer_env("PEERWIRE_NODE");
    let chain_id = 4242;
    let chain = interop_chain(60, chain_id);
    let genesis = chain[0].header.hash();
    let head = chain.last().expect("head").header.clone();
    let txs: usize = chain
        .iter()
        .map(|b| b.body.as_ref().map_or(0, |b| b.transactions.len()))
        .sum();
    let store = Arc::new(MemoryStore::new());
    store.insert_batch(chain).expect("chain links");

    let mut node = EthNode::new(chain_id, genesis);
    node.store = Some(store as Arc<dyn ChainStore>);
    let node = Arc::new(node);
    let key = NodeKey::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let enode = Enode::new(key.id(), addr).to_string();
    let server = {
        let key = key.clone();
        tokio::spawn(async move {
            // The client connects twice: a Status probe, then the real session.
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let key = key.clone();
                let node = node.clone();
                tokio::spawn(async move {
                    match RlpxTransport::accept(stream, &key, &TransportConfig::default()).await {
                        Ok(t) => {
                            let exit = Peer::new(
                                t,
                                LocalHello::new("peerwire-interop/test", key.id()),
                                node.protocols(),
                            )
                            .run()
                            .await;
                            eprintln!(
                                "inbound connection ended: {:?} ({:?})",
                                exit.reason, exit.error
                            );
                        }
                        Err(e) => eprintln!("inbound RLPx handshake failed: {e}"),
                    }
                });
            }
        })
    };

    let client = std::path::Path::new(&dir).join("devp2p").join("client.mjs");
    let output = within(
        Duration::from_secs(60),
        tokio::process::Command::new(node_bin)
            .arg(&client)
            .arg(&enode)
            .current_dir(&dir)
            .env("GENESIS_FROM_STATUS", "1")
            .env("HARDFORK", "london")
            .env("CLIENT_TIMEOUT_MS", "30000")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run client.mjs");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client.mjs failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .expect("client.mjs prints a JSON line");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["head"].as_u64(), Some(head.number));
    assert_eq!(
        result["headHash"].as_str(),
        Some(format!("0x{}", hex::encode(head.hash())).as_str())
    );
    assert_eq!(result["headers"].as_u64(), Some(head.number + 1));
    assert_eq!(result["txs"].as_u64(), Some(txs as u64));
    assert_eq!(result["receipts"].as_u64(), Some(txs as u64));
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn full_sync_of_their_chain_through_chain_downloader() {
    let enode = peer_env("PEERWIRE_DEVP2P_ENODE");
    let info = peer_env("PEERWIRE_DEVP2P_INFO");
    let info = parse_info(&info);
    within(Duration::from_secs(60), async {
        let (eth, handle) = dial_reference(&enode, &info, true).await;
        assert_eq!(eth.remote_status().genesis(), info.genesis);
        // The genesis comes from the peer and must hash to the announced genesis.
        let genesis = eth
            .headers(HeadersRequest::rising(0, 1))
            .await
            .expect("genesis header")
            .pop()
            .expect("one header")
            .seal();
        assert_eq!(genesis.hash(), info.genesis);
        for mode in [
            chain_downloader::SyncMode::Full,
            chain_downloader::SyncMode::Fast,
        ] {
            let store = MemoryStore::new();
            store
                .insert_batch(vec![BlockEntry {
                    header: genesis.clone(),
                    body: Some(Body::default()),
                    receipts: Some(Vec::new()),
                }])
                .expect("genesis");
            let downloader =
                chain_downloader::Downloader::new(store, chain_downloader::Config::default());
            let source: Arc<dyn chain_types::DynChainSource> = Arc::new(eth.clone());
            let id = source.id().to_owned();
            downloader.register_peer(source);
            downloader
                .synchronise(&id, info.head_hash, info.td, mode)
                .await
                .unwrap_or_else(|e| panic!("{mode:?} sync from the reference peer: {e}"));
            let store = downloader.store();
            let (head, td) = store.head().expect("store").expect("a head");
            assert_eq!(head.number, info.head);
            assert_eq!(head.hash(), info.head_hash);
            assert_eq!(td, info.td);
            // Hash by hash against what the peer serves directly, and every body and receipt list by root.
            let mut from = 0;
            while from <= info.head {
                let want = (info.head + 1 - from).min(1024);
                for h in eth
                    .headers(HeadersRequest::rising(from, want))
                    .await
                    .expect("headers")
                {
                    let stored = store
                        .header_by_number(h.number)
                        .expect("store")
                        .expect("stored header");
                    assert_eq!(stored.hash(), h.hash(), "{mode:?}: block {}", h.number);
                    let body = store
                        .body(&stored.hash())
                        .expect("store")
                        .expect("stored body");
                    body.check_against(&h).expect("stored body matches");
                    if matches!(mode, chain_downloader::SyncMode::Fast) {
                        let receipts = store
                            .receipts(&stored.hash())
                            .expect("store")
                            .expect("stored receipts");
                        roots::check_receipts(&receipts, &h).expect("stored receipts match");
                    }
                }
                from += want;
            }
        }
        handle.disconnect(DisconnectReason::Requested);
    })
    .await;
}

/// The frame known-answer test of p2p-rlpx, cross-checked against the reference peer: the
/// @ethereumjs/devp2p library's own frame code (`tests/peers/devp2p/frame-kat.mjs`) writes two
/// frames with fixed secrets, and p2p-rlpx must write the same bytes.
#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn frame_known_answer_matches_the_reference_implementation() {
    let dir = peer_env("PEERWIRE_PEERS_DIR");
    let node_bin = peer_env("PEERWIRE_NODE");
    let script = std::path::Path::new(&dir)
        .join("devp2p")
        .join("frame-kat.mjs");
    let output = within(
        Duration::from_secs(30),
        tokio::process::Command::new(node_bin)
            .arg(&script)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run frame-kat.mjs");
    assert!(
        output.status.success(),
        "frame-kat.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs = String::from_utf8_lossy(&output.stdout).trim().to_owned();

    let secret = keccak(b"").0;
    let mut egress_mac = p2p_rlpx::KeccakMac::new();
    egress_mac.update(b"peerwire-kat-egress");
    let secrets = p2p_rlpx::Secrets {
        aes_secret: secret,
        mac_secret: secret,
        egress_mac,
        ingress_mac: p2p_rlpx::KeccakMac::new(),
    };
    let mut encoder = p2p_rlpx::FrameEncoder::new(&secrets);
    let mut ours = bytes::BytesMut::new();
    encoder
        .encode_frame(0x08, &[0xc4, 1, 2, 3, 4], &mut ours)
        .expect("encode the first frame");
    encoder
        .encode_frame(0x22, b"peerwire", &mut ours)
        .expect("encode the second frame");
    assert_eq!(hex::encode(&ours), theirs);
}
