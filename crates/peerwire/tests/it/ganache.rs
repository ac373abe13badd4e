//! The `peerwire` binary against a real ganache 7.9.2 (instamine, chain id 1337), started by
//! `cargo xtask test`; skipped when `PEERWIRE_GANACHE_HTTP`/`_WS` are unset.

use std::time::Duration;

use serde_json::Value;

use crate::support::{peer_env, peerwire, run};

fn hex_number(v: &Value) -> u64 {
    let s = v.as_str().expect("a hex string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn rpc_chain_id_and_block_number_over_http_and_ws() {
    let (http, ws) = (
        peer_env("PEERWIRE_GANACHE_HTTP"),
        peer_env("PEERWIRE_GANACHE_WS"),
    );
    for url in [&http, &ws] {
        let r = run(&["rpc", url, "eth_chainId"]).await;
        assert_eq!(r.succeeded(), vec!["\"0x539\""], "{url}");
        let r = run(&["rpc", url, "eth_blockNumber", "[]"]).await;
        let lines = r.succeeded();
        assert_eq!(lines.len(), 1);
        let n: Value = serde_json::from_str(lines[0]).unwrap();
        hex_number(&n);
        // An object result (the genesis block) is printed on one line.
        let r = run(&["rpc", url, "eth_getBlockByNumber", r#"["0x0", false]"#]).await;
        let lines = r.succeeded();
        assert_eq!(lines.len(), 1);
        let block: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(block["number"], "0x0");
    }
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn rpc_errors_from_ganache_exit_1() {
    let (http, ws) = (
        peer_env("PEERWIRE_GANACHE_HTTP"),
        peer_env("PEERWIRE_GANACHE_WS"),
    );
    for url in [&http, &ws] {
        // ganache answers unknown methods with -32700 and a `stack` member.
        let r = run(&["rpc", url, "foo_bar"]).await;
        assert_eq!(
            r.rpc_failed(),
            "error: rpc error -32700: The method foo_bar does not exist/is not available",
            "{url}"
        );
    }
    // eth_subscribe is refused over HTTP with ganache's -32004.
    let r = run(&["rpc", &http, "eth_subscribe", r#"["newHeads"]"#]).await;
    assert_eq!(
        r.rpc_failed(),
        "error: rpc error -32004: notifications not supported"
    );
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn subscribe_new_heads_from_ganache() {
    let ws = peer_env("PEERWIRE_GANACHE_WS");
    let sub = peerwire(&["subscribe", &ws, "newHeads", "--count", "3"])
        .spawn()
        .expect("spawning peerwire subscribe");
    // The subscription is live at some point after the spawn: mine one block at a time until
    // the subscriber has printed its three headers and exited.
    let miner = tokio::spawn({
        let ws = ws.clone();
        async move {
            for _ in 0..100 {
                let r = run(&["rpc", &ws, "evm_mine", "[]"]).await;
                assert_eq!(r.succeeded(), vec!["\"0x0\""]);
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
    });
    let out = tokio::time::timeout(Duration::from_secs(30), sub.wait_with_output())
        .await
        .expect("subscriber finished in time")
        .expect("subscriber output");
    miner.abort();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let numbers: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let head: Value = serde_json::from_str(l).expect("a JSON header per line");
            assert!(head["hash"].is_string(), "{head}");
            hex_number(&head["number"])
        })
        .collect();
    assert_eq!(numbers.len(), 3, "{numbers:?}");
    // Other tests may mine on the same ganache, but heads still arrive in order, one per block.
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
}
