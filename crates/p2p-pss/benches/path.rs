//! A 5-hop path of pss nodes beside a direct `MsgPipe`, measured in the same run.
//!
//! Six [`Pss`] nodes A-B-C-D-E-F are linked in a line with [`sim::link`] (in-memory `MsgPipe`
//! links running `pss/2`); A sends raw 256-byte messages to F's full overlay address, F's
//! handler receives them (five links, four routing nodes in between). Beside it, a direct
//! [`MsgPipe`] carries messages of the same payload size from one end to the other.
//!
//! - **rate**: messages per second from the first send to the last delivery. pss keeps at most
//!   [`WINDOW`] messages in flight (below the per-link queue and the subscription's capacity,
//!   so that nothing is dropped); the pipe is a rendezvous, a writer task and a reader task.
//! - **latency**: one message at a time, from the send to its delivery at the far end (pss:
//!   `send_raw` to `recv` on F's subscription; pipe: a `write_msg` joined with the `read_msg`
//!   that takes it); p50 and p99 of [`LATENCY_SAMPLES`] messages.
//!
//! Each round measures both, alternating; the medians of the rounds are reported with the ratio
//! pss / pipe (target: a rate of at least 0.2x the pipe's). Everything runs twice: on a
//! current-thread runtime (all nodes and both pipe ends on one thread: the CPU cost, without
//! cross-thread wake-ups, as `p2p-msg`'s pipe bench measures) and on a 2-worker multi-thread
//! runtime (the nodes spread over both cores; the pipe's rendezvous then pays cross-thread
//! wake-ups, so its figure varies widely from run to run). The nodes' per-peer rate limit is
//! lifted (it would cap the rate at 2000 messages per second by design).
//!
//! Run with `cargo bench -p p2p-pss --bench path` (`-- --quick` for fewer rounds).

// A bench binary prints its results.
#![allow(missing_docs, clippy::print_stdout)]

use std::time::{Duration, Instant};

use bytes::{BufMut as _, Bytes, BytesMut};
use p2p_msg::{Msg, MsgPipe, MsgReader as _, MsgWriter as _};
use p2p_pss::sim::{self, Link};
use p2p_pss::{Error, HandlerCaps, Pss, PssConfig, Subscription, Topic};
use p2p_rlpx::NodeKey;

/// The payload size of every message.
const PAYLOAD: usize = 256;
/// Nodes on the path (so `NODES - 1` links).
const NODES: usize = 6;
/// Messages in flight on the pss path.
const WINDOW: u64 = 128;
/// Messages per rate measurement on the pss path.
const PSS_MESSAGES: u64 = 20_000;
/// Messages per rate measurement on the pipe.
const PIPE_MESSAGES: u64 = 200_000;
/// Messages per latency measurement.
const LATENCY_SAMPLES: usize = 2_000;
/// The longest wait for one delivery before the run counts it as lost.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A path of linked nodes.
struct Path {
    nodes: Vec<Pss>,
    _links: Vec<Link>,
    sink: Subscription,
    topic: Topic,
    serial: u64,
}

impl Path {
    async fn new() -> Self {
        let mut config = PssConfig::default();
        config.peer_rate = u32::MAX / 2;
        config.peer_burst = u32::MAX / 2;
        let nodes: Vec<Pss> = (0..NODES)
            .map(|_| Pss::new(&NodeKey::generate(), config.clone()))
            .collect();
        let links = nodes.windows(2).map(|w| sim::link(&w[0], &w[1])).collect();
        let topic = Topic::from_name("bench-path");
        let sink = nodes[NODES - 1].subscribe_raw(topic);
        let mut path = Self {
            nodes,
            _links: links,
            sink,
            topic,
            serial: 0,
        };
        // The links come up asynchronously: wait until every node sees its neighbours, then
        // until a message gets through.
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            for (i, node) in path.nodes.iter().enumerate() {
                let want = if i == 0 || i == NODES - 1 { 1 } else { 2 };
                while node.peer_count() < want {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            loop {
                path.send().expect("send");
                let probe = path.serial;
                if path.recv_until(probe).await {
                    return;
                }
            }
        })
        .await;
        assert!(ready.is_ok(), "the 5-hop path never delivered");
        path
    }

    /// Sends one message (unique, so that no forward cache takes it for a duplicate) to the
    /// last node's full address.
    fn send(&mut self) -> Result<(), Error> {
        self.serial += 1;
        let mut payload = BytesMut::with_capacity(PAYLOAD);
        payload.put_u64(self.serial);
        payload.resize(PAYLOAD, 0x5a);
        let to = self.nodes[NODES - 1].address();
        self.nodes[0].send_raw(&to.0, self.topic, payload.freeze())
    }

    /// The serial of the next delivery, if one comes within [`DELIVERY_TIMEOUT`].
    async fn recv(&mut self) -> Option<u64> {
        match tokio::time::timeout(DELIVERY_TIMEOUT, self.sink.recv()).await {
            Ok(Some(d)) => {
                let head: [u8; 8] = d.payload.get(..8)?.try_into().ok()?;
                Some(u64::from_be_bytes(head))
            }
            Ok(None) => panic!("the sink closed"),
            Err(_) => None,
        }
    }

    /// Receives until the message numbered `serial` arrives; false if the wait times out.
    async fn recv_until(&mut self, serial: u64) -> bool {
        loop {
            match self.recv().await {
                Some(s) if s == serial => return true,
                Some(_) => {}
                None => return false,
            }
        }
    }

    /// Messages per second over `n` messages with [`WINDOW`] in flight, and how many were lost.
    async fn rate(&mut self, n: u64) -> (f64, u64) {
        let first = self.serial + 1;
        let (mut sent, mut received, mut lost) = (0u64, 0u64, 0u64);
        let start = Instant::now();
        while received + lost < n {
            while sent < n && sent.saturating_sub(received + lost) < WINDOW {
                match self.send() {
                    Ok(()) => sent += 1,
                    Err(Error::OutboxFull { .. }) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            match self.recv().await {
                Some(serial) if serial >= first => received += 1,
                // A late message of an earlier measurement.
                Some(_) => {}
                None => lost += sent.saturating_sub(received + lost),
            }
        }
        (received as f64 / start.elapsed().as_secs_f64(), lost)
    }

    /// One-way latencies of `n` messages sent one at a time.
    async fn latencies(&mut self, n: usize) -> Vec<Duration> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            self.send().expect("send");
            let serial = self.serial;
            assert!(
                self.recv_until(serial).await,
                "a message was lost on the idle path"
            );
            out.push(start.elapsed());
        }
        out
    }
}

/// A subscription that takes raw messages.
trait SubscribeRaw {
    fn subscribe_raw(&self, topic: Topic) -> Subscription;
}

impl SubscribeRaw for Pss {
    fn subscribe_raw(&self, topic: Topic) -> Subscription {
        p2p_pss::Transport::subscribe(
            self,
            topic,
            HandlerCaps {
                raw: true,
                prox: false,
            },
        )
    }
}

fn pipe_msg() -> Msg {
    Msg::new(0, Bytes::from(vec![0x5a; PAYLOAD]))
}

/// Messages per second through a direct pipe: a writer task and a reader.
async fn pipe_rate(n: u64) -> f64 {
    let (a, b) = MsgPipe::pair();
    let msg = pipe_msg();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..n {
            a.write_msg(msg.clone()).await.expect("write");
        }
        a
    });
    for _ in 0..n {
        std::hint::black_box(b.read_msg().await.expect("read"));
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(writer.await.expect("writer"));
    rate
}

/// Latencies of `n` single hand-offs through a direct pipe.
async fn pipe_latencies(n: usize) -> Vec<Duration> {
    let (a, b) = MsgPipe::pair();
    let msg = pipe_msg();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let (w, r) = tokio::join!(a.write_msg(msg.clone()), b.read_msg());
        w.expect("write");
        std::hint::black_box(r.expect("read"));
        out.push(start.elapsed());
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Both measurements for `rounds` rounds on `runtime`; prints the rounds and the table.
fn measure(flavor: &str, runtime: &tokio::runtime::Runtime, rounds: usize) {
    runtime.block_on(async {
        let mut path = Path::new().await;
        let (mut pss_rates, mut pipe_rates) = (Vec::new(), Vec::new());
        let (mut pss_p50, mut pss_p99, mut pipe_p50, mut pipe_p99) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut lost_total = 0;
        for round in 1..=rounds {
            let (rate, lost) = path.rate(PSS_MESSAGES).await;
            lost_total += lost;
            let pipe = pipe_rate(PIPE_MESSAGES).await;
            let mut lat = path.latencies(LATENCY_SAMPLES).await;
            lat.sort();
            let mut plat = pipe_latencies(LATENCY_SAMPLES).await;
            plat.sort();
            println!(
                "{flavor} round {round}: pss 5-hop {rate:.0} msg/s (lost {lost}), pipe {pipe:.0} msg/s; \
                 latency pss p50 {:.1} us p99 {:.1} us, pipe p50 {:.2} us p99 {:.2} us",
                micros(percentile(&lat, 0.5)),
                micros(percentile(&lat, 0.99)),
                micros(percentile(&plat, 0.5)),
                micros(percentile(&plat, 0.99)),
            );
            pss_rates.push(rate);
            pipe_rates.push(pipe);
            pss_p50.push(micros(percentile(&lat, 0.5)));
            pss_p99.push(micros(percentile(&lat, 0.99)));
            pipe_p50.push(micros(percentile(&plat, 0.5)));
            pipe_p99.push(micros(percentile(&plat, 0.99)));
        }
        let (rate, pipe) = (median(pss_rates), median(pipe_rates));
        let (p99, pipe_p99) = (median(pss_p99), median(pipe_p99));
        println!();
        println!("path on a {flavor} runtime (medians of {rounds} rounds, {PAYLOAD} B payloads):");
        println!("| | msg/s | p50 latency | p99 latency |");
        println!("|---|---|---|---|");
        println!(
            "| pss, 5 hops (A-B-C-D-E-F, raw, full address) | {rate:.0} | {:.1} us | {p99:.1} us |",
            median(pss_p50),
        );
        println!(
            "| direct MsgPipe | {pipe:.0} | {:.2} us | {pipe_p99:.2} us |",
            median(pipe_p50),
        );
        println!(
            "{flavor}: rate ratio pss/pipe {:.3}x (target >= 0.2x); p99 latency ratio pss/pipe {:.0}x; lost {lost_total}",
            rate / pipe,
            p99 / pipe_p99
        );
        println!();
        for node in &path.nodes {
            node.shutdown();
        }
    });
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 5 };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    measure("current-thread", &current, rounds);
    drop(current);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    measure("multi-thread (2 workers)", &multi, rounds);
}
