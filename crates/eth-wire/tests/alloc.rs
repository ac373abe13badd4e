//! Bounded decoding, measured: a counting global allocator records the peak of live heap bytes while a
//! 10 MiB message is decoded or routed. A message of one-byte transactions is rejected from its list header,
//! and an unsolicited 10 MiB reply is dropped by its request id, both without allocating anything near the
//! message's size (before, the former expanded into hundreds of MB). One test only: the allocator is global.
// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system allocator and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chain_types::{Header, HeadersRequest};
use eth_wire::{
    EthMessage, EthVersion, ForkFilter, PeerConfig, RequestPair, Status69, codes, establish,
    handshake,
};
use p2p_msg::{Msg, MsgPipe, MsgReader, MsgWriter};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout` (through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The peak of live heap bytes above the level when `f` started.
async fn peak_during<T>(f: impl Future<Output = T>) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f.await;
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// A 10 MiB list (3-byte length header) of `0x01` bytes, each a one-byte "typed transaction".
fn one_byte_items() -> Vec<u8> {
    let n = 10 * 1024 * 1024 - 16;
    let mut enc = vec![0xfa];
    enc.extend_from_slice(&u32::try_from(n).expect("fits").to_be_bytes()[1..]);
    enc.resize(4 + n, 0x01);
    enc
}

/// `[request_id, items]` around a raw list.
fn reply(request_id: u64, items: &[u8]) -> Bytes {
    let mut s = rlp::RlpStream::new_list(2);
    s.append(&request_id).append_raw(items, 1);
    s.out().freeze()
}

#[tokio::test(flavor = "current_thread")]
async fn ten_mib_messages_are_refused_or_dropped_without_expanding() {
    const MIB: usize = 1024 * 1024;
    // 1. Decoding a 10 MiB Transactions message of one-byte transactions: rejected from the count.
    let msg = Msg::new(codes::TRANSACTIONS, one_byte_items());
    let (result, peak) = peak_during(async { EthMessage::from_msg(EthVersion::Eth68, &msg) }).await;
    assert!(result.is_err());
    eprintln!("one-byte transactions: {peak} bytes allocated");
    assert!(peak < 64 * 1024, "decoding allocated {peak} bytes");

    // 2. The largest valid list of the smallest transactions (10 bytes each) costs about three times its size
    // (one `Bytes` handle per transaction, the data shared with the message), not a copy per transaction.
    let tx = Bytes::from_static(&[0xc9, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let count = MIB - 1;
    let msg = EthMessage::Transactions(vec![tx; count]).to_msg();
    let (result, peak) = peak_during(async { EthMessage::from_msg(EthVersion::Eth68, &msg) }).await;
    assert!(matches!(result, Ok(EthMessage::Transactions(ref t)) if t.len() == count));
    eprintln!("smallest valid transactions: {peak} bytes allocated");
    assert!(peak < 40 * MIB, "decoding allocated {peak} bytes");
    drop((result, msg));

    // 3. A connection: an unsolicited 10 MiB reply (no request has its id) is dropped before its body is
    // decoded; the connection carries on.
    let genesis = Header {
        gas_limit: 30_000_000,
        ..Header::default()
    }
    .seal();
    let filter = ForkFilter::genesis_only(genesis.hash());
    let status = Status69 {
        version: 70,
        network_id: 1,
        genesis: genesis.hash(),
        fork_id: filter.current(),
        earliest: 0,
        latest: 0,
        latest_hash: genesis.hash(),
    };
    let (a, b) = MsgPipe::pair();
    let (client, remote) = tokio::join!(
        establish(a, "remote", status, &filter, PeerConfig::default()),
        handshake(&b, status, &filter, PeerConfig::default().handshake_timeout)
    );
    remote.expect("handshake");
    let (client, driver) = client.expect("handshake");
    let unsolicited = Msg::new(codes::POOLED_TRANSACTIONS, reply(12_345, &one_byte_items()));
    let remote_side = async {
        b.write_msg(unsolicited).await.expect("taken");
        let req = b.read_msg().await.expect("a request");
        let Ok(EthMessage::GetBlockHeaders(p)) = EthMessage::from_msg(EthVersion::Eth70, &req)
        else {
            panic!("a header request");
        };
        let answer = EthMessage::BlockHeaders(RequestPair {
            request_id: p.request_id,
            message: vec![genesis.header().clone()],
        });
        b.write_msg(answer.to_msg()).await.expect("taken");
        std::future::pending::<()>().await;
    };
    let ((), peak) = peak_during(async {
        tokio::select! {
            h = client.get_block_headers(HeadersRequest::rising(0, 1)) => {
                assert_eq!(h.expect("answered")[0].hash(), genesis.hash());
            }
            e = driver.run() => panic!("driver stopped: {e}"),
            () = remote_side => unreachable!("the remote never finishes"),
        }
    })
    .await;
    // The unsolicited payload itself (10 MiB) was allocated before; nothing near it was added.
    eprintln!("unsolicited reply: {peak} bytes allocated");
    assert!(peak < MIB, "routing allocated {peak} bytes");
}
