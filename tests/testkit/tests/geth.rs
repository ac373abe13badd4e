//! `GethNode` against the real geth binary (`PEERWIRE_GETH`, and the dev chain's
//! `PEERWIRE_GETH_GENESIS`, both set by `cargo xtask peers`).

#![allow(missing_docs)]

use std::time::Duration;

use peerwire_testkit::{GethNode, json_rpc, peer_env};
use serde_json::{Value, json};

/// A node started from a genesis with a static peer reports its enode on 127.0.0.1 at its
/// port, answers on the chain's id through `admin_rpc`, and is gone (directory and RPC) once
/// dropped.
#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geth_node_from_a_genesis_answers_its_rpc_and_is_gone_after_drop() {
    let genesis = peer_env("PEERWIRE_GETH_GENESIS");
    let text = std::fs::read_to_string(&genesis).unwrap_or_else(|e| panic!("{genesis}: {e}"));
    let spec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{genesis}: {e}"));
    let chain_id = spec["config"]["chainId"]
        .as_u64()
        .unwrap_or_else(|| panic!("no chainId"));
    let peer = "enode://a979fb575495b8d6db44f750317d0f4622bf4c2aa3365d6af7c284339968eef29b69ad0dce72a4d8db5ebb4968de0e3bec910127f134779fbcb0cb6d3331163c@127.0.0.1:1";
    let geth = GethNode::builder()
        .genesis(&genesis)
        .p2p_toml(&format!("StaticNodes = [\"{peer}\"]"))
        .args(["--networkid".to_owned(), chain_id.to_string()])
        .http_api("eth,net")
        .start()
        .await;
    // With discovery off geth appends `?discport=0`.
    let suffix = format!("@127.0.0.1:{}", geth.p2p_port());
    assert!(
        geth.enode().starts_with("enode://") && geth.enode().contains(&suffix),
        "{}",
        geth.enode()
    );
    assert!(geth.enr().starts_with("enr:"), "{}", geth.enr());
    let id = geth
        .admin_rpc("eth_chainId", json!([]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id, json!(format!("{chain_id:#x}")));
    let dir = geth.dir().to_path_buf();
    let url = geth.http_url();
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    drop(geth);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    let after = json_rpc(addr, "eth_chainId", json!([]), Duration::from_secs(2)).await;
    assert!(after.is_err_and(|e| e.is_unreachable()));
}
