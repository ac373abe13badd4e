//! `peerwire pss node`: one pss node over RLPx.
//!
//! The node is a `p2p_rlpx::Host` running pss (`pss/2`) on every connection, plus the `ping/1`
//! protocol carried over pss by the protocol adapter (asymmetric), so that any node answers
//! pings. Everything it reports is a JSON line on stdout, each with an `event` field:
//!
//! - `listening` (first): `enode`, `address` (overlay), `public_key`, `topic`, `topic_name`;
//! - `link_up` / `link_down`: a pss link to a directly connected peer (`peer`: its node id);
//! - `message`: a message that arrived on the topic: `topic`, `mode` (`raw`, `sym`, `asym`),
//!   `hops`, `to` (the address hint), `from` (the sender's key, asymmetric) or `key_id`
//!   (symmetric), `payload` and its `encoding` (`utf8`, or `hex` when it is not UTF-8);
//! - `pong` (with `--ping`): `seq`, `rtt_ms`, `peer`.
//!
//! Warnings (a failed dial, a line that could not be sent) go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use p2p_msg::{NodeId, Protocol};
use p2p_pss::{
    Delivery, HandlerCaps, Mode, OverlayAddr, PeerKey, Ping, ProtocolParams, Pss, PssConfig,
    PssProtocol, Subscription, SymKey, Topic, Transport as _,
};
use p2p_rlpx::{Enode, Host, HostConfig, NodeKey, PeerEvent};
use secp256k1::PublicKey;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::keys::{self, hex0x, public_key_hex};
use crate::node::{client_id, enode_short, error_chain};

/// The longest stdin line sent as one message, in bytes (longer lines are skipped).
const MAX_LINE_BYTES: usize = 64 * 1024;
/// The first pause before dialing a peer again.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest pause between dials of a peer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How often a dialer checks whether a peer that dialed us is still connected.
const CONNECTED_CHECK: Duration = Duration::from_secs(1);

/// The help text after the options: the three commands of a conversation over a relay.
pub(crate) const AFTER_HELP: &str = "\
Two terminals talking over a third node (on one machine):

  1. the relay (its key file keeps its enode the same from run to run):
       peerwire pss node --listen 127.0.0.1:30400 --key-file relay.key
     It prints {\"event\":\"listening\",\"enode\":\"enode://…@127.0.0.1:30400\",…}: copy the enode.
  2. alice, in a second terminal, with a shared key (any 64 hex digits, for example from
     `head -c32 /dev/urandom | xxd -p -c32`):
       peerwire pss node --listen 127.0.0.1:30401 --peer ENODE_OF_RELAY --sym-key KEY
  3. bob, in a third terminal, with the same key:
       peerwire pss node --listen 127.0.0.1:30402 --peer ENODE_OF_RELAY --sym-key KEY

Each line typed at alice arrives at bob as {\"event\":\"message\",…,\"hops\":2,…,\"payload\":\"…\"}
and the other way round; the relay forwards what it cannot open. Instead of a shared key, send
to one node's public key (`public_key` of its first line) with --to-key, or unencrypted to an
address prefix with --to. `--ping PUBLIC_KEY` measures round trips over pss to any node.";

/// Options of `peerwire pss node`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The TCP address to listen on for RLPx (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The node key file (hex secret); created if missing. Without it, a fresh key each run.
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// A peer to connect to (and to dial again whenever the connection fails); repeat for more.
    #[arg(long = "peer", value_name = "ENODE")]
    peers: Vec<Enode>,
    /// The topic name of the messages sent and printed (its topic is the first 4 bytes of
    /// SHA-256 of the name).
    #[arg(long, value_name = "NAME", default_value = "chat")]
    topic: String,
    /// Send stdin's lines unencrypted to this overlay address prefix (hex, 0 to 32 bytes; `0x`
    /// alone reaches every node). With --sym-key: the address hint of the sealed messages.
    #[arg(long, value_name = "HEX_ADDR_PREFIX", value_parser = keys::parse_prefix, conflicts_with = "to_key")]
    to: Option<Bytes>,
    /// Send stdin's lines sealed to this public key (hex of 64, 65 or 33 bytes).
    #[arg(long, value_name = "PUBKEY_HEX", value_parser = keys::parse_public_key, conflicts_with = "sym_key")]
    to_key: Option<PublicKey>,
    /// With --to-key: how many bytes of the recipient's overlay address the messages carry
    /// (0 to 32; fewer hide the recipient among more nodes). Default 32.
    #[arg(long, value_name = "N", requires = "to_key", value_parser = clap::value_parser!(u8).range(0..=32))]
    hint_bytes: Option<u8>,
    /// Send stdin's lines sealed with this shared key (64 hex digits), and open messages sealed
    /// with it.
    #[arg(long, value_name = "HEX32", value_parser = keys::parse_sym_key)]
    sym_key: Option<SymKey>,
    /// Ping the node with this public key over pss, print each round trip, then exit (non-zero
    /// if a ping gets no pong within --timeout).
    #[arg(long, value_name = "PUBKEY_HEX", value_parser = keys::parse_public_key)]
    ping: Option<PublicKey>,
    /// With --ping: how many pings.
    #[arg(long, value_name = "N", requires = "ping", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: Option<u32>,
    /// With --ping: how long to wait for the first pss link, and for each pong, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// Where stdin's lines go.
#[derive(Debug)]
enum Destination {
    /// Unencrypted, to an address prefix.
    Raw(Bytes),
    /// Sealed to a stored key.
    Key(PeerKey),
}

impl Destination {
    /// The destination of the options, with its key stored in the node for `topic`.
    fn from_args(args: &Args, pss: &Pss, topic: Topic) -> anyhow::Result<Option<Self>> {
        if let Some(key) = args.to_key {
            let hint_len = usize::from(args.hint_bytes.unwrap_or(32));
            let address = OverlayAddr::from_public_key(&key);
            let hint = address.0.get(..hint_len).unwrap_or(&address.0);
            pss.set_peer_public_key(key, topic, hint)
                .context("cannot store --to-key")?;
            return Ok(Some(Self::Key(PeerKey::Asymmetric(key))));
        }
        if let Some(key) = &args.sym_key {
            let hint = args.to.clone().unwrap_or_default();
            let id = pss
                .set_symmetric_key(key.clone(), topic, &hint, true)
                .context("cannot store --sym-key")?;
            return Ok(Some(Self::Key(PeerKey::Symmetric(id))));
        }
        Ok(args.to.clone().map(Self::Raw))
    }

    /// Seals (or not) and queues one message.
    fn send(&self, pss: &Pss, topic: Topic, payload: Bytes) -> Result<(), p2p_pss::Error> {
        match self {
            Self::Raw(to) => pss.send_raw(to, topic, payload),
            Self::Key(key) => pss.send(key, topic, payload),
        }
    }
}

/// What to stop when the command ends.
struct Running {
    host: Host,
    pss: Pss,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.host.shutdown();
        self.pss.shutdown();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Runs the node until interrupted (or, with `--ping`, until the pings are done).
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let key = match &args.key_file {
        Some(path) => NodeKey::load_or_generate(path)
            .with_context(|| format!("cannot load the node key {}", path.display()))?,
        None => NodeKey::generate(),
    };
    let topic = Topic::from_name(&args.topic);
    let pss = Pss::new(&key, PssConfig::default());
    let (links_tx, links) = watch::channel(0usize);

    let mut config = HostConfig::new(key);
    config.listen_addr = args.listen;
    config.client_id = client_id();
    config.protocols = vec![observe_links(pss.protocol(), Arc::new(links_tx))];
    let (host, events) = match Host::bind(config).await {
        Ok(bound) => bound,
        Err(e) => {
            pss.shutdown();
            return Err(e).with_context(|| format!("cannot listen on {}", args.listen));
        }
    };
    let mut running = Running {
        host: host.clone(),
        pss: pss.clone(),
        tasks: vec![tokio::spawn(drain_events(events))],
    };
    let accept = host.spawn_run();

    let (ping, ping_protocol) = Ping::new();
    let ping_adapter =
        PssProtocol::register(pss.clone(), ping_protocol, ProtocolParams::new(true, false))
            .context("cannot register ping over pss")?;
    let subscription = pss.subscribe(
        topic,
        HandlerCaps {
            raw: true,
            prox: false,
        },
    );
    let destination = Destination::from_args(&args, &pss, topic)?;

    let started = json!({
        "event": "listening",
        "enode": host.enode().to_string(),
        "address": pss.address().to_string(),
        "public_key": public_key_hex(&pss.public_key()),
        "topic": topic.to_string(),
        "topic_name": args.topic,
    });
    crate::output::line(&started.to_string()).context("cannot write to stdout")?;

    running
        .tasks
        .push(tokio::spawn(print_deliveries(subscription)));
    for enode in &args.peers {
        running
            .tasks
            .push(tokio::spawn(keep_connected(host.clone(), *enode)));
    }
    if let Some(destination) = destination {
        running
            .tasks
            .push(tokio::spawn(send_stdin(pss.clone(), destination, topic)));
    }

    let result = if let Some(target) = args.ping {
        let wait = Duration::from_secs(args.timeout);
        let pinger = super::ping::Pinger {
            pss: &pss,
            adapter: &ping_adapter,
            ping: &ping,
            timeout: wait,
        };
        pinger.run(links, target, args.count.unwrap_or(3)).await
    } else {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal.context("cannot listen for Ctrl-C"),
            ended = accept => match ended {
                Ok(result) => result.context("the listener failed"),
                Err(e) => Err(e).context("the listener task failed"),
            },
        }
    };
    drop(running);
    result
}

/// `inner` (pss's protocol), reporting each link's start and end as a JSON line and counting
/// the running links in `links`.
fn observe_links(inner: Protocol, links: Arc<watch::Sender<usize>>) -> Protocol {
    let (name, version, length) = (inner.name.clone(), inner.version, inner.length);
    Protocol::new(name, version, length, move |info, rw| {
        let (inner, links) = (inner.clone(), links.clone());
        async move {
            let link = Link::up(links, info.id());
            let result = inner.run(info, rw).await;
            drop(link);
            result
        }
    })
}

/// A running pss link; reports its end when dropped.
struct Link {
    links: Arc<watch::Sender<usize>>,
    peer: NodeId,
}

impl Link {
    fn up(links: Arc<watch::Sender<usize>>, peer: NodeId) -> Self {
        links.send_modify(|n| *n += 1);
        print_event(&json!({"event": "link_up", "peer": peer.to_string()}));
        Self { links, peer }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.links.send_modify(|n| *n = n.saturating_sub(1));
        print_event(&json!({"event": "link_down", "peer": self.peer.to_string()}));
    }
}

/// Prints one event line; a closed stdout is ignored here (the command's own lines fail).
pub(crate) fn print_event(event: &Value) {
    let _ = crate::output::line(&event.to_string());
}

/// Reads the host's peer events so that it never waits for room, logging them.
async fn drain_events(mut events: mpsc::Receiver<PeerEvent>) {
    while let Some(event) = events.recv().await {
        tracing::debug!(?event, "peer event");
    }
}

/// Prints every delivery of the subscription.
async fn print_deliveries(mut subscription: Subscription) {
    while let Some(delivery) = subscription.recv().await {
        print_event(&delivery_json(&delivery));
    }
}

/// The `message` line of a delivery.
fn delivery_json(delivery: &Delivery) -> Value {
    let mut line = json!({
        "event": "message",
        "topic": delivery.topic.to_string(),
        "hops": delivery.hops,
        "to": hex0x(&delivery.to),
    });
    match delivery.mode {
        Mode::Raw => line["mode"] = json!("raw"),
        Mode::Symmetric(id) => {
            line["mode"] = json!("sym");
            line["key_id"] = json!(id.to_string());
        }
        Mode::Asymmetric(from) => {
            line["mode"] = json!("asym");
            line["from"] = json!(public_key_hex(&from));
        }
    }
    match std::str::from_utf8(&delivery.payload) {
        Ok(text) => {
            line["payload"] = json!(text);
            line["encoding"] = json!("utf8");
        }
        Err(_) => {
            line["payload"] = json!(hex0x(&delivery.payload));
            line["encoding"] = json!("hex");
        }
    }
    line
}

/// Dials `enode`, and again with a growing pause whenever the connection fails or ends,
/// until the host shuts down.
async fn keep_connected(host: Host, enode: Enode) {
    let mut backoff = MIN_BACKOFF;
    loop {
        if host.peers().contains(&enode.id) {
            // Connected already (it dialed us).
            tokio::time::sleep(CONNECTED_CHECK).await;
            continue;
        }
        let started = Instant::now();
        match host.connect(&enode).await {
            Ok(exit) => tracing::debug!(peer = %enode_short(&enode), ?exit, "connection ended"),
            Err(p2p_rlpx::Error::ShutDown) => return,
            Err(p2p_rlpx::Error::AlreadyConnected) => {
                tokio::time::sleep(CONNECTED_CHECK).await;
                continue;
            }
            Err(e) => eprintln!(
                "warning: cannot connect to {}: {}; retrying in {:.1} s",
                enode_short(&enode),
                error_chain(&e),
                backoff.as_secs_f64()
            ),
        }
        if started.elapsed() >= STABLE_AFTER {
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sends each line of stdin (without its line end) as one message, until stdin ends.
async fn send_stdin(pss: Pss, destination: Destination, topic: Topic) {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line(&mut stdin, &mut line).await {
            Ok(LineRead::End) => return,
            Ok(LineRead::TooLong) => {
                eprintln!("warning: a line longer than {MAX_LINE_BYTES} bytes was not sent");
                continue;
            }
            Ok(LineRead::Line) => {}
            Err(e) => {
                eprintln!("warning: cannot read stdin: {e}");
                return;
            }
        }
        if let Err(e) = destination.send(&pss, topic, Bytes::copy_from_slice(&line)) {
            eprintln!("warning: message not sent: {}", error_chain(&e));
        }
    }
}

/// What [`read_line`] read.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line (without its `\n` or `\r\n`).
    Line,
    /// A line longer than [`MAX_LINE_BYTES`], skipped to its end.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads one line into `line`, holding at most [`MAX_LINE_BYTES`] + 1 bytes of it.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<LineRead> {
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(LineRead::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Ok(if line.len() > MAX_LINE_BYTES {
            LineRead::TooLong
        } else {
            LineRead::Line
        });
    }
    if line.len() <= MAX_LINE_BYTES {
        // The last line, without a line end.
        return Ok(LineRead::Line);
    }
    // Too long: skip to the end of the line.
    loop {
        let mut rest = Vec::new();
        let n = (&mut *reader)
            .take(limit)
            .read_until(b'\n', &mut rest)
            .await?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(LineRead::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader = BufReader::new(input);
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = read_line(&mut reader, &mut line).await.unwrap();
            if read == LineRead::End {
                return out;
            }
            out.push((read, line));
        }
    }

    #[tokio::test]
    async fn lines_are_split_and_long_ones_skipped() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut input = b"a\r\nbb\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nlast");
        let got = lines(&input).await;
        assert_eq!(
            got.len(),
            4,
            "{:?}",
            got.iter().map(|l| &l.0).collect::<Vec<_>>()
        );
        assert_eq!(got[0], (LineRead::Line, b"a".to_vec()));
        assert_eq!(got[1], (LineRead::Line, b"bb".to_vec()));
        assert_eq!(got[2].0, LineRead::TooLong);
        assert_eq!(got[3], (LineRead::Line, b"last".to_vec()));
        let exact = vec![b'y'; MAX_LINE_BYTES];
        let got = lines(&[exact.as_slice(), b"\n"].concat()).await;
        assert_eq!(got, vec![(LineRead::Line, exact)]);
    }

    #[test]
    fn deliveries_print_their_mode_sender_and_payload() {
        let key = *NodeKey::generate().public_key();
        let delivery = Delivery {
            topic: Topic::from_name("chat"),
            mode: Mode::Asymmetric(key),
            to: Bytes::from_static(&[0xab]),
            hops: 3,
            payload: Bytes::from_static(b"hi"),
        };
        let line = delivery_json(&delivery);
        assert_eq!(line["event"], "message");
        assert_eq!(line["mode"], "asym");
        assert_eq!(line["from"], public_key_hex(&key));
        assert_eq!(line["hops"], 3);
        assert_eq!(line["to"], "0xab");
        assert_eq!(line["payload"], "hi");
        assert_eq!(line["encoding"], "utf8");
        let raw = Delivery {
            mode: Mode::Raw,
            payload: Bytes::from_static(&[0xff, 0x00]),
            ..delivery
        };
        let line = delivery_json(&raw);
        assert_eq!(line["mode"], "raw");
        assert_eq!(line["payload"], "0xff00");
        assert_eq!(line["encoding"], "hex");
        assert!(line.get("from").is_none());
    }
}
