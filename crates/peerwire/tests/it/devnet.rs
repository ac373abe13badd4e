//! `peerwire devnet`, `serve` and `sync`: generated chains synced over real RLPx on loopback,
//! resumed data directories, bad input, and the round trip with the @ethereumjs/devp2p peer
//! (sync its chain, serve it back, and let its own block code verify what we serve).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;

use crate::support::{closed_port, peer_env, peerwire, run, run_within};

/// The deadline of one devnet or sync run in these tests.
const SYNC_LIMIT: Duration = Duration::from_secs(60);

/// Runs `peerwire args --json` to success and returns its JSON summary.
async fn summary(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run_within(SYNC_LIMIT, &all).await;
    let lines = out.succeeded();
    assert_eq!(lines.len(), 1, "one JSON line: {out:#?}");
    serde_json::from_str(lines[0]).expect("the summary is JSON")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// `peerwire serve` in the background, with the enode URL it printed first.
struct Server {
    child: Child,
    enode: String,
}

async fn serve(args: &[&str]) -> Server {
    let mut cmd = peerwire(args);
    cmd.stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawning peerwire serve");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve prints its enode within 30 s")
        .expect("reading serve's stdout");
    let enode = first.expect("serve printed a line");
    assert!(enode.starts_with("enode://"), "{enode}");
    Server { child, enode }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[tokio::test]
async fn devnet_syncs_and_verifies_in_every_mode() {
    let mut head_hashes = Vec::new();
    for (mode, bodies, receipts) in [
        ("light", false, false),
        ("full", true, false),
        ("fast", true, true),
    ] {
        let s = summary(&["devnet", "--blocks", "300", "--peers", "3", "--mode", mode]).await;
        assert_eq!(s["mode"], mode);
        assert_eq!(s["head_number"], 300);
        assert_eq!(s["headers"], 300);
        assert_eq!(s["blocks"], if bodies { 300 } else { 0 });
        assert_eq!(s["peers"], 3);
        assert_eq!(s["source"], "rlpx");
        assert_eq!(s["verified_headers"], 301);
        assert_eq!(s["verified_bodies"], if bodies { 300 } else { 0 });
        assert_eq!(s["verified_receipts"], if receipts { 300 } else { 0 });
        assert!(s["bytes"].as_u64().is_some_and(|b| b > 300 * 500), "{s}");
        assert!(s["elapsed_s"].as_f64().is_some_and(|t| t > 0.0), "{s}");
        let hash = s["head_hash"].as_str().expect("head_hash").to_owned();
        assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
        head_hashes.push(hash);
    }
    // The same seed gives the same chain whatever is downloaded of it.
    assert!(
        head_hashes.windows(2).all(|w| w[0] == w[1]),
        "{head_hashes:?}"
    );

    let memory = summary(&["devnet", "--blocks", "300", "--source", "memory"]).await;
    assert_eq!(memory["head_hash"].as_str(), Some(head_hashes[0].as_str()));
    assert_eq!(memory["source"], "memory");

    let other_seed = summary(&[
        "devnet", "--blocks", "300", "--seed", "2", "--mode", "light",
    ])
    .await;
    assert_ne!(
        other_seed["head_hash"].as_str(),
        Some(head_hashes[0].as_str())
    );
}

#[tokio::test]
async fn devnet_datadir_resumes_and_refuses_another_chain() {
    let dir = tempdir();
    let path = dir.path().to_str().expect("utf-8 path");
    let first = summary(&["devnet", "--blocks", "200", "--datadir", path]).await;
    assert_eq!(first["headers"], 200);
    let second = summary(&["devnet", "--blocks", "350", "--datadir", path]).await;
    assert_eq!(second["head_number"], 350);
    assert_eq!(
        second["headers"], 150,
        "resumes from the stored head: {second}"
    );
    assert_eq!(second["verified_headers"], 351);

    let other = run_within(
        SYNC_LIMIT,
        &[
            "devnet",
            "--blocks",
            "350",
            "--seed",
            "5",
            "--datadir",
            path,
        ],
    )
    .await;
    let line = other.failed();
    assert!(line.contains("another chain"), "{line}");
}

#[tokio::test]
async fn serve_and_sync_over_rlpx_resume_and_refuse_another_chain() {
    let served = tempdir();
    let server = serve(&[
        "serve",
        "--datadir",
        served.path().to_str().expect("utf-8"),
        "--generate",
        "250",
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    let expected = summary(&[
        "devnet", "--blocks", "250", "--source", "memory", "--mode", "light",
    ])
    .await;

    let synced = tempdir();
    let synced_path = synced.path().to_str().expect("utf-8");
    let s = summary(&[
        "sync",
        "--peer",
        &server.enode,
        "--datadir",
        synced_path,
        "--mode",
        "fast",
    ])
    .await;
    assert_eq!(s["head_number"], 250);
    assert_eq!(s["head_hash"], expected["head_hash"]);
    assert_eq!(s["headers"], 250);
    assert_eq!(s["verified_receipts"], 250);

    // Two peers of the same chain: the first is dialed with the follower handshake, the second
    // with the chain learned from it.
    let second_dir = tempdir();
    let second = serve(&[
        "serve",
        "--datadir",
        second_dir.path().to_str().expect("utf-8"),
        "--generate",
        "250",
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    let both = tempdir();
    let s2 = summary(&[
        "sync",
        "--peer",
        &server.enode,
        "--peer",
        &second.enode,
        "--datadir",
        both.path().to_str().expect("utf-8"),
    ])
    .await;
    assert_eq!(s2["peers"], 2);
    assert_eq!(s2["head_hash"], expected["head_hash"]);
    assert_eq!(s2["verified_bodies"], 250);

    let again = summary(&["sync", "--peer", &server.enode, "--datadir", synced_path]).await;
    assert_eq!(again["headers"], 0, "nothing new to sync: {again}");
    assert_eq!(again["head_hash"], expected["head_hash"]);

    // A node serving another chain: the data directory's chain does not match.
    let other_dir = tempdir();
    let other = serve(&[
        "serve",
        "--datadir",
        other_dir.path().to_str().expect("utf-8"),
        "--generate",
        "20",
        "--seed",
        "3",
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    let out = run_within(
        SYNC_LIMIT,
        &["sync", "--peer", &other.enode, "--datadir", synced_path],
    )
    .await;
    let line = out.failed();
    assert!(line.contains("another chain"), "{line}");
}

#[tokio::test]
async fn bad_input_gives_one_line_errors() {
    let dir = tempdir();
    let path = dir.path().to_str().expect("utf-8");

    let line = run(&[
        "sync",
        "--peer",
        "enode://zz@127.0.0.1:1",
        "--datadir",
        path,
    ])
    .await
    .failed()
    .to_owned();
    assert!(
        line.contains("bad --peer") && line.contains("enode"),
        "{line}"
    );

    let line = run(&["sync", "--peer", "http://127.0.0.1:1", "--datadir", path])
        .await
        .failed()
        .to_owned();
    assert!(line.contains("bad --peer"), "{line}");

    let id = "1b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f70beaf8f588b541507fed6a642c5ab42dfdf8120a7f639de5122d47a69a8e8d1";
    let unreachable = format!("enode://{id}@127.0.0.1:{}", closed_port());
    let line = run(&["sync", "--peer", &unreachable, "--datadir", path])
        .await
        .failed()
        .to_owned();
    assert!(
        line.contains("127.0.0.1") && line.to_lowercase().contains("refused"),
        "{line}"
    );

    let line = run(&["serve", "--datadir", path]).await.failed().to_owned();
    assert!(line.contains("--generate"), "{line}");

    let line = run(&["devnet", "--blocks", "0"]).await.failed().to_owned();
    assert!(line.contains("--blocks"), "{line}");
}

/// Sync the @ethereumjs/devp2p node's chain, serve it back, and let its client verify what we
/// serve with its own block code (headers, bodies and receipts against their roots).
#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn sync_from_the_reference_peer_and_serve_it_back() {
    let enode = peer_env("PEERWIRE_DEVP2P_ENODE");
    let info = peer_env("PEERWIRE_DEVP2P_INFO");
    let dir = peer_env("PEERWIRE_PEERS_DIR");
    let node_bin = peer_env("PEERWIRE_NODE");
    let info: Value = serde_json::from_str(&info).expect("the peer's info line is JSON");

    let data = tempdir();
    let data_path = data.path().to_str().expect("utf-8");
    let s = summary(&[
        "sync",
        "--peer",
        &enode,
        "--datadir",
        data_path,
        "--mode",
        "fast",
    ])
    .await;
    assert_eq!(s["head_number"], info["head"]);
    assert_eq!(s["head_hash"], info["headHash"]);
    assert_eq!(s["verified_receipts"], info["head"]);

    let server = serve(&["serve", "--datadir", data_path, "--listen", "127.0.0.1:0"]).await;
    let client = std::path::Path::new(&dir).join("devp2p").join("client.mjs");
    let output = tokio::time::timeout(
        SYNC_LIMIT,
        tokio::process::Command::new(node_bin)
            .arg(&client)
            .arg(&server.enode)
            .current_dir(&dir)
            .env("GENESIS_FROM_STATUS", "1")
            .env("HARDFORK", "london")
            .env("CLIENT_TIMEOUT_MS", "30000")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("client.mjs finishes in time")
    .expect("running client.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .expect("client.mjs prints a JSON line");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(
        result["remoteClient"]
            .as_str()
            .map(|c| c.starts_with("peerwire/")),
        Some(true)
    );
    assert_eq!(result["headHash"], info["headHash"]);
    assert_eq!(result["head"], info["head"]);
}
