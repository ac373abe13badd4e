//! `peerwire pss`: eight node processes in a line over real RLPx with pings across seven hops,
//! two nodes talking over a third, the simulation's JSON report, and bad arguments.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::support::{finish, peerwire, run, run_within};

/// How long a node may take to print a line we wait for.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `peerwire pss node`; killed on drop.
struct Node {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stdin: Option<ChildStdin>,
    /// The `listening` line.
    info: Value,
}

impl Node {
    /// Starts a node with `args` (after `pss node`) and reads its first line.
    async fn start(args: &[&str], with_stdin: bool) -> Self {
        let mut all = vec!["pss", "node"];
        all.extend_from_slice(args);
        let mut cmd = peerwire(&all);
        if with_stdin {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawning peerwire pss node");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let stdin = child.stdin.take();
        let mut node = Self {
            child,
            stdout,
            stdin,
            info: Value::Null,
        };
        node.info = node.wait_for("listening", |_| true).await;
        node
    }

    fn field(&self, name: &str) -> String {
        self.info[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", self.info))
            .to_owned()
    }

    fn enode(&self) -> String {
        self.field("enode")
    }

    fn public_key(&self) -> String {
        self.field("public_key")
    }

    /// The next line with `event` that `accept` accepts (other lines are skipped), within
    /// [`LINE_TIMEOUT`].
    async fn wait_for(&mut self, event: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(LINE_TIMEOUT, async {
            loop {
                let line = self
                    .stdout
                    .next_line()
                    .await
                    .expect("reading the node's stdout")
                    .unwrap_or_else(|| panic!("the node's stdout ended before a {event} line"));
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                if value["event"] == event && accept(&value) {
                    return value;
                }
            }
        })
        .await;
        match found {
            Ok(value) => value,
            Err(_) => panic!("no {event} line within {LINE_TIMEOUT:?}"),
        }
    }

    async fn send_line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("a node started with stdin");
        stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .expect("writing to the node's stdin");
        stdin.flush().await.expect("flushing the node's stdin");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Node 0 to node 7 in a line, each dialing the next over RLPx on loopback; node 0 pings node
/// 7 through the six in between (seven links, so at least three hops), and every ping's pong
/// comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_in_a_line_answer_pings_across_seven_hops() {
    let mut nodes = vec![Node::start(&[], false).await];
    for _ in 1..7 {
        let next = nodes.last().expect("a node").enode();
        let mut node = Node::start(&["--peer", &next], false).await;
        node.wait_for("link_up", |_| true).await;
        nodes.push(node);
    }
    let target = nodes.first().expect("node 7").public_key();
    let first_hop = nodes.last().expect("node 1").enode();
    let ping = peerwire(&[
        "pss",
        "node",
        "--peer",
        &first_hop,
        "--ping",
        &target,
        "--count",
        "3",
        "--timeout",
        "20",
    ]);
    let run = finish(Duration::from_secs(90), ping).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let pongs: Vec<&Value> = lines.iter().filter(|l| l["event"] == "pong").collect();
    assert_eq!(pongs.len(), 3, "{run:#?}");
    for (i, pong) in pongs.iter().enumerate() {
        assert_eq!(pong["seq"], i + 1);
        assert_eq!(pong["peer"], target.as_str());
        let rtt = pong["rtt_ms"].as_f64().expect("rtt_ms");
        assert!(rtt > 0.0 && rtt < 20_000.0, "{pong}");
    }
    // Node 0 is linked to node 1 only: the pongs crossed the whole line.
    let links: Vec<&Value> = lines.iter().filter(|l| l["event"] == "link_up").collect();
    assert_eq!(links.len(), 1, "{run:#?}");
    drop(nodes);
}

/// Alice and bob share a symmetric key and are both linked only to a relay: a line typed at
/// alice arrives at bob as a `message` line, having crossed at least one link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_talk_over_a_third() {
    let key = "5a".repeat(32);
    let relay = Node::start(&[], false).await;
    let relay_enode = relay.enode();
    let args = ["--peer", &relay_enode, "--sym-key", &key];
    let mut bob = Node::start(&args, false).await;
    let mut alice = Node::start(&args, true).await;
    bob.wait_for("link_up", |_| true).await;
    alice.wait_for("link_up", |_| true).await;

    alice.send_line("hello over pss").await;
    let got = bob
        .wait_for("message", |m| m["payload"] == "hello over pss")
        .await;
    assert_eq!(got["mode"], "sym", "{got}");
    assert_eq!(got["encoding"], "utf8", "{got}");
    assert_eq!(got["topic"], alice.info["topic"], "{got}");
    let hops = got["hops"].as_u64().expect("hops");
    assert!(hops >= 1, "{got}");
    drop(relay);
}

/// Every value under `value` named `name`, depth first.
fn find_all<'a>(value: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == name {
                    out.push(v);
                }
                find_all(v, name, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                find_all(v, name, out);
            }
        }
        _ => {}
    }
}

/// `pss sim --nodes 16 --json` prints one JSON object in which every kind of target reached
/// all of its intended recipients, with the wall time and the peak memory.
#[tokio::test]
async fn a_16_node_simulation_reaches_every_intended_recipient() {
    let r = run_within(
        Duration::from_secs(120),
        &["pss", "sim", "--nodes", "16", "--json"],
    )
    .await;
    let lines = r.succeeded();
    assert_eq!(lines.len(), 1, "{r:#?}");
    let report: Value = serde_json::from_str(lines[0]).expect("one JSON object");
    let mut shares = Vec::new();
    find_all(&report, "reached_share", &mut shares);
    assert!(shares.len() >= 3, "one share per kind of target: {report}");
    for share in shares {
        assert_eq!(share.as_f64(), Some(1.0), "{report}");
    }
    assert!(
        report["wall_secs"].as_f64().is_some_and(|s| s > 0.0),
        "{report}"
    );
    assert!(
        report["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0),
        "{report}"
    );
}

#[tokio::test]
async fn bad_pss_arguments_exit_2() {
    for (args, expect) in [
        (&["pss", "sim", "--nodes", "1"][..], "--nodes"),
        (&["pss", "sim", "--kill", "1.5"][..], "between 0 and 1"),
        (&["pss", "sim", "--messages", "0"][..], "--messages"),
        (&["pss", "node", "--hint-bytes", "4"][..], "--to-key"),
        (&["pss", "node", "--sym-key", "abcd"][..], "32"),
        (&["pss", "node", "--to", "0x123"][..], "not hex"),
        (&["pss", "node", "--ping", "0x1234"][..], "public key"),
        (&["pss", "node", "--peer", "enode://nope"][..], "--peer"),
    ] {
        let r = run(args).await;
        let line = r.failed();
        assert!(line.contains(expect), "{args:?}: {line}");
    }
}
