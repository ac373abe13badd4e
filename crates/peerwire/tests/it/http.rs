//! `peerwire rpc` against the in-process HTTP server.

use serde_json::Value;

use crate::http_server::HttpServer;
use crate::support::run;

#[tokio::test]
async fn rpc_over_http_prints_the_result() {
    let server = HttpServer::start().await;
    let r = run(&["rpc", &server.url(), "eth_blockNumber"]).await;
    assert_eq!(r.succeeded(), vec!["\"0x10\""]);
}

#[tokio::test]
async fn headers_reach_the_http_server() {
    let server = HttpServer::start().await;
    let r = run(&[
        "rpc",
        &server.url(),
        "echo_headers",
        "[]",
        "--header",
        "x-one: 1",
        "-H",
        "Authorization:Bearer a:b",
    ])
    .await;
    let lines = r.succeeded();
    let seen: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(seen["x-one"], "1");
    assert_eq!(seen["authorization"], "Bearer a:b");
    assert_eq!(seen["content-type"], "application/json");
}

#[tokio::test]
async fn rpc_errors_over_http_exit_1() {
    let server = HttpServer::start().await;
    let r = run(&["rpc", &server.url(), "foo_bar"]).await;
    assert_eq!(
        r.rpc_failed(),
        "error: rpc error -32601: The method foo_bar does not exist/is not available"
    );
}

#[tokio::test]
async fn http_status_errors_exit_2_with_the_body() {
    let server = HttpServer::start().await;
    let r = run(&["rpc", &server.url(), "unavailable"]).await;
    let line = r.failed();
    assert!(line.contains("503"), "{line}");
    assert!(line.contains("upstream down"), "{line}");
}
