//! geth as the other implementation: its `devp2p discv4 test` suite against a peerwire node,
//! and a geth node with discovery on that finds us and that we find.

use std::time::Duration;

use p2p_discv4::Discv4;
use p2p_rlpx::NodeKey;
use tokio::process::Command;

use crate::loopback::config;

pub(crate) fn env_path(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the reference-peer tests through `cargo xtask test`")
    })
}

/// Every test of geth's suite (15 in v1.17.10) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_devp2p_discv4_suite_passes() {
    let devp2p = env_path("PEERWIRE_GETH_DEVP2P");
    let node = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
    let enode = node.local_enode().to_string();
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        Command::new(devp2p)
            .args(["discv4", "test", "--remote", &enode])
            .args(["--listen1", "127.0.0.1", "--listen2", "127.0.0.2"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the suite finishes in 5 minutes")
    .expect("devp2p runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    eprintln!("{:?}", node.stats());
    assert!(
        output.status.success(),
        "geth's discv4 suite failed:\n{text}"
    );
    let summary = text
        .lines()
        .find_map(|l| l.trim().strip_suffix(" tests passed."))
        .and_then(|l| l.split_once('/'))
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .expect("a summary line");
    assert!(
        summary.0 == summary.1 && summary.1 >= 14,
        "{summary:?}:\n{text}"
    );
}
