//! Benchmarks of `p2p-msg`, each beside a baseline measured in the same run.
//!
//! - `pipe_one_way/{msgpipe,baseline}/<size>`: one writer, one reader, N messages of 0 B, 64 B,
//!   4 KiB and 1 MiB. The baseline is the bare cost of a hand-off: a tokio `mpsc` channel of
//!   capacity 1 carrying the same message plus a `oneshot` acknowledgement per message.
//! - `pipe_ping_pong/{msgpipe,baseline}`: round trips of a 64 B message.
//! - `peer_mux/{peer,raw_pipe}`: 64 B messages through two running `Peer`s (two protocols each,
//!   both sending) over the in-memory transport, against the raw pipe carrying as many messages.
//!
//! All run on a current-thread tokio runtime, so the figures measure the hand-off machinery,
//! not cross-thread wake-ups.

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p2p_msg::{
    LocalHello, Msg, MsgPipe, MsgReader, MsgWriter, NodeId, Peer, Protocol, pipe_transport,
};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// The baseline hand-off: `mpsc(1)` plus a oneshot acknowledgement per message.
struct Baseline {
    tx: mpsc::Sender<(Msg, oneshot::Sender<()>)>,
    rx: mpsc::Receiver<(Msg, oneshot::Sender<()>)>,
}

impl Baseline {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel(1);
        Self { tx, rx }
    }
}

async fn baseline_send(tx: &mpsc::Sender<(Msg, oneshot::Sender<()>)>, msg: Msg) {
    let (ack_tx, ack_rx) = oneshot::channel();
    tx.send((msg, ack_tx)).await.expect("send");
    ack_rx.await.expect("ack");
}

async fn baseline_recv(rx: &mut mpsc::Receiver<(Msg, oneshot::Sender<()>)>) -> Msg {
    let (msg, ack) = rx.recv().await.expect("recv");
    let _ = ack.send(());
    msg
}

async fn msgpipe_one_way(iters: u64, msg: Msg) -> Duration {
    let (a, b) = MsgPipe::pair();
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        for _ in 0..iters {
            let m = b.read_msg().await.expect("read");
            std::hint::black_box(m);
        }
    });
    for _ in 0..iters {
        a.write_msg(msg.clone()).await.expect("write");
    }
    reader.await.expect("reader");
    start.elapsed()
}

async fn baseline_one_way(iters: u64, msg: Msg) -> Duration {
    let Baseline { tx, mut rx } = Baseline::new();
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        for _ in 0..iters {
            std::hint::black_box(baseline_recv(&mut rx).await);
        }
    });
    for _ in 0..iters {
        baseline_send(&tx, msg.clone()).await;
    }
    reader.await.expect("reader");
    start.elapsed()
}

fn one_way(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("pipe_one_way");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    for size in [0usize, 64, 4096, 1 << 20] {
        let msg = Msg::new(0x10, Bytes::from(vec![0xab; size]));
        g.bench_with_input(BenchmarkId::new("msgpipe", size), &msg, |b, msg| {
            b.to_async(&rt)
                .iter_custom(|iters| msgpipe_one_way(iters, msg.clone()));
        });
        g.bench_with_input(BenchmarkId::new("baseline", size), &msg, |b, msg| {
            b.to_async(&rt)
                .iter_custom(|iters| baseline_one_way(iters, msg.clone()));
        });
    }
    g.finish();
}

async fn msgpipe_ping_pong(iters: u64, msg: Msg) -> Duration {
    let (a, b) = MsgPipe::pair();
    let start = Instant::now();
    let echo = tokio::spawn(async move {
        for _ in 0..iters {
            let m = b.read_msg().await.expect("read");
            b.write_msg(m).await.expect("write");
        }
    });
    for _ in 0..iters {
        a.write_msg(msg.clone()).await.expect("write");
        std::hint::black_box(a.read_msg().await.expect("read"));
    }
    echo.await.expect("echo");
    start.elapsed()
}

async fn baseline_ping_pong(iters: u64, msg: Msg) -> Duration {
    let Baseline {
        tx: tx1,
        rx: mut rx1,
    } = Baseline::new();
    let Baseline {
        tx: tx2,
        rx: mut rx2,
    } = Baseline::new();
    let start = Instant::now();
    let echo = tokio::spawn(async move {
        for _ in 0..iters {
            let m = baseline_recv(&mut rx1).await;
            baseline_send(&tx2, m).await;
        }
    });
    for _ in 0..iters {
        baseline_send(&tx1, msg.clone()).await;
        std::hint::black_box(baseline_recv(&mut rx2).await);
    }
    echo.await.expect("echo");
    start.elapsed()
}

fn ping_pong(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("pipe_ping_pong");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    let msg = Msg::new(0x10, Bytes::from(vec![0xab; 64]));
    g.bench_function("msgpipe", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| msgpipe_ping_pong(iters, msg.clone()));
    });
    g.bench_function("baseline", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| baseline_ping_pong(iters, msg.clone()));
    });
    g.finish();
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn slot<T>() -> Slot<T> {
    Arc::new(Mutex::new(None))
}

/// Two peers, protocols "a" and "b" on both; each sending protocol sends `n` messages, each
/// receiving protocol reads `n`. Returns the time from the first send to the last read.
async fn peer_mux(iters: u64, payload: Bytes) -> Duration {
    let per_proto = iters.div_ceil(2).max(1);
    let start: Slot<Instant> = slot();
    let (done_tx, mut done_rx) = mpsc::channel::<Instant>(2);
    let sender = |name: &'static str| {
        let start = start.clone();
        let msg = Msg::new(1, payload.clone());
        Protocol::new(name, 1, 2, move |_, rw| {
            let start = start.clone();
            let msg = msg.clone();
            async move {
                start.lock().expect("lock").get_or_insert_with(Instant::now);
                for _ in 0..per_proto {
                    rw.write_msg(msg.clone()).await?;
                }
                // Wait for the remote to hang up.
                let _ = rw.read_msg().await;
                Ok(())
            }
        })
    };
    let receiver = |name: &'static str| {
        let done_tx = done_tx.clone();
        Protocol::new(name, 1, 2, move |_, rw| {
            let done_tx = done_tx.clone();
            async move {
                for _ in 0..per_proto {
                    std::hint::black_box(rw.read_msg().await?);
                }
                let _ = done_tx.send(Instant::now()).await;
                // Keep running until the other protocol is done too.
                let _ = rw.read_msg().await;
                Ok(())
            }
        })
    };
    let (ta, tb) = pipe_transport();
    let a = Peer::new(
        ta,
        LocalHello::new("a", NodeId([1; 64])),
        vec![sender("a"), sender("b")],
    );
    let b = Peer::new(
        tb,
        LocalHello::new("b", NodeId([2; 64])),
        vec![receiver("a"), receiver("b")],
    );
    let handle = b.handle();
    let pa = tokio::spawn(a.run());
    let pb = tokio::spawn(b.run());
    let _ = done_rx.recv().await;
    let end = done_rx.recv().await.expect("done");
    handle.disconnect(p2p_msg::DisconnectReason::Requested);
    let _ = pb.await;
    let _ = pa.await;
    let start = start.lock().expect("lock").take().expect("started");
    end - start
}

async fn raw_pipe(iters: u64, payload: Bytes) -> Duration {
    msgpipe_one_way(iters.div_ceil(2).max(1) * 2, Msg::new(0x11, payload)).await
}

fn mux(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("peer_mux");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    let payload = Bytes::from(vec![0xab; 64]);
    g.bench_function("peer", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| peer_mux(iters, payload.clone()));
    });
    g.bench_function("raw_pipe", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| raw_pipe(iters, payload.clone()));
    });
    g.finish();
}

criterion_group!(benches, one_way, ping_pong, mux);
criterion_main!(benches);
