//! `peerwire rpc` and `peerwire subscribe` against the in-process WebSocket server.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::WsServer;
use crate::support::{run, run_within};

#[tokio::test]
async fn rpc_prints_the_result_as_one_line() {
    let server = WsServer::start(0).await;
    let r = run(&["rpc", &server.url(), "eth_blockNumber"]).await;
    assert_eq!(r.succeeded(), vec!["\"0x10\""]);
    // A pretty-printed result becomes one line; numbers keep every digit.
    let r = run(&["rpc", &server.url(), "pretty", "{}"]).await;
    assert_eq!(
        r.succeeded(),
        vec![r#"{"a":[1,2],"big":123456789012345678901234567890,"s":"two  spaces"}"#]
    );
}

#[tokio::test]
async fn rpc_errors_exit_1() {
    let server = WsServer::start(0).await;
    let r = run(&["rpc", &server.url(), "foo_bar", "[1]"]).await;
    assert_eq!(
        r.rpc_failed(),
        "error: rpc error -32601: The method foo_bar does not exist/is not available"
    );
}

#[tokio::test]
async fn rpc_timeout_exits_2() {
    let server = WsServer::start(0).await;
    let r = run_within(
        Duration::from_secs(10),
        &["rpc", &server.url(), "slow", "--timeout", "0.5"],
    )
    .await;
    assert!(r.failed().contains("timed out"), "{r:#?}");
}

#[tokio::test]
async fn headers_reach_the_handshake() {
    let server = WsServer::start(0).await;
    let r = run(&[
        "rpc",
        &server.url(),
        "echo_headers",
        "--header",
        "x-one: 1",
        "-H",
        "Authorization:Bearer a:b",
    ])
    .await;
    let lines = r.succeeded();
    assert_eq!(lines.len(), 1);
    let seen: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(seen["x-one"], "1");
    assert_eq!(seen["authorization"], "Bearer a:b");
}

#[tokio::test]
async fn subscribe_prints_count_results_then_unsubscribes() {
    let server = WsServer::start(10).await;
    let r = run(&["subscribe", &server.url(), "newHeads", "--count", "3"]).await;
    let lines = r.succeeded();
    let got: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            json!({"number": "0x0", "params": ["newHeads"]}),
            json!({"number": "0x1", "params": ["newHeads"]}),
            json!({"number": "0x2", "params": ["newHeads"]}),
        ]
    );
    // The unsubscribe is sent before exit.
    assert_eq!(server.unsubscribes(), 1);
}

#[tokio::test]
async fn subscribe_params_follow_the_kind() {
    let server = WsServer::start(1).await;
    let r = run(&[
        "subscribe",
        &server.url(),
        "logs",
        r#"{"address":"0x01"}"#,
        "--count",
        "1",
    ])
    .await;
    let got: Value = serde_json::from_str(r.succeeded()[0]).unwrap();
    assert_eq!(got["params"], json!(["logs", {"address": "0x01"}]));
    let r = run(&["subscribe", &server.url(), "x", "[1,2]", "--count", "1"]).await;
    let got: Value = serde_json::from_str(r.succeeded()[0]).unwrap();
    assert_eq!(got["params"], json!(["x", 1, 2]));
}

#[tokio::test]
async fn subscribe_errors_exit_1() {
    let server = WsServer::start(1).await;
    let r = run(&["subscribe", &server.url(), "bogus"]).await;
    assert_eq!(
        r.rpc_failed(),
        "error: rpc error -32602: no \"bogus\" subscription in eth namespace"
    );
}

#[tokio::test]
async fn subscription_lost_with_the_connection_exits_2() {
    // Two notifications, then the server drops the connection.
    let server = WsServer::start(2).await;
    let r = run(&["subscribe", &server.url(), "closing", "--count", "5"]).await;
    assert_eq!(r.code, Some(2), "{r:#?}");
    assert_eq!(r.stdout.lines().count(), 2, "{r:#?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{r:#?}");
    assert!(
        lines[0].starts_with("error: subscription closing ended"),
        "{r:#?}"
    );
}
