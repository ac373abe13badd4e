//! peerwire's JSON-RPC client against a real ganache 7.9.2 (instamine, chain id 1337) over
//! HTTP and WebSocket: plain calls, a 1000-element batch, `newHeads` with `evm_mine`,
//! unsubscribe, and ganache's non-standard errors.
//!
//! `cargo xtask test` starts ganache and sets `PEERWIRE_GANACHE_HTTP` / `PEERWIRE_GANACHE_WS`;
//! without them these tests skip.

use std::time::Duration;

use futures::StreamExt;
use rpc_client::{Client, ClientBuilder, Error};
use serde_json::{Value, json};

use crate::support::{peer_env, within};

const STEP: Duration = Duration::from_secs(20);

async fn ws_client() -> Client {
    let url = peer_env("PEERWIRE_GANACHE_WS");
    let connector = rpc_ws::WsConnector::new(url).expect("ws url");
    within(STEP, ClientBuilder::new().spawn_connect(connector))
        .await
        .expect("connecting to ganache over ws")
}

fn http_client() -> Client {
    let url = peer_env("PEERWIRE_GANACHE_HTTP");
    let transport = rpc_http::HttpTransport::new(url).expect("http url");
    ClientBuilder::new().build_request(transport)
}

fn hex(v: &str) -> u64 {
    u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("a hex quantity")
}

async fn block_number(c: &Client) -> u64 {
    let n: String = within(STEP, c.request("eth_blockNumber", ()))
        .await
        .expect("eth_blockNumber");
    hex(&n)
}

/// Checks a client against ganache: chain id, block number, a 1000-element batch, errors.
async fn basics(c: &Client) {
    let chain: String = within(STEP, c.request("eth_chainId", ()))
        .await
        .expect("eth_chainId");
    assert_eq!(chain, "0x539");
    let before = block_number(c).await;

    let mut batch = c.batch();
    for i in 0..1000 {
        if i % 2 == 0 {
            batch.add("eth_chainId", ()).expect("add");
        } else {
            batch.add("eth_blockNumber", [(); 0]).expect("add");
        }
    }
    let answers = within(STEP, batch.send())
        .await
        .expect("1000-element batch");
    assert_eq!(answers.len(), 1000);
    for i in 0..1000 {
        let v: String = answers.decode(i).expect("batch element");
        if i % 2 == 0 {
            assert_eq!(v, "0x539", "element {i}");
        } else {
            assert!(hex(&v) >= before, "element {i}: {v}");
        }
    }

    // ganache reports unknown methods with -32700 (not -32601) and adds a `stack` member.
    let err = within(STEP, c.request::<Value, _>("foo_bar", ()))
        .await
        .expect_err("an error");
    let obj = err.rpc_error().expect("a JSON-RPC error");
    assert_eq!(obj.code, -32700);
    assert_eq!(
        obj.message,
        "The method foo_bar does not exist/is not available"
    );
    // Bad params: again -32700.
    let err = within(
        STEP,
        c.request::<Value, _>("eth_getBalance", ("0xnothex", "latest")),
    )
    .await
    .expect_err("an error");
    assert_eq!(err.code(), Some(-32700), "{err}");
    assert!(
        err.to_string()
            .contains("Cannot wrap string value \"0xnothex\""),
        "{err}"
    );

    // A failing element does not spoil the rest of a batch.
    let mut batch = c.batch();
    batch.add("eth_chainId", ()).expect("add");
    batch.add("foo_bar", [1]).expect("add");
    batch.add("eth_chainId", ()).expect("add");
    let answers = within(STEP, batch.send()).await.expect("mixed batch");
    assert_eq!(answers.decode::<String>(0).expect("element 0"), "0x539");
    assert_eq!(
        answers.decode::<String>(1).expect_err("an error").code(),
        Some(-32700)
    );
    assert_eq!(answers.decode::<String>(2).expect("element 2"), "0x539");

    // ganache answers notifications anyway (a response without an id): it is ignored and the
    // client stays usable.
    within(STEP, c.notify("eth_chainId", ()))
        .await
        .expect("notify");
    let chain: String = within(STEP, c.request("eth_chainId", ()))
        .await
        .expect("eth_chainId after a notification");
    assert_eq!(chain, "0x539");
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn websocket_calls_batches_and_errors() {
    let c = ws_client().await;
    basics(&c).await;
    within(STEP, c.close()).await;
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn http_calls_batches_and_errors() {
    let c = http_client();
    basics(&c).await;
    // Subscriptions over HTTP: the client refuses before sending anything, and ganache itself
    // answers a raw eth_subscribe with its -32004.
    let err = within(STEP, c.subscribe::<Value, _>("eth", ("newHeads",)))
        .await
        .expect_err("an error");
    assert!(err.is_notifications_unsupported(), "{err:?}");
    let err = within(STEP, c.request::<Value, _>("eth_subscribe", ("newHeads",)))
        .await
        .expect_err("an error");
    let obj = err.rpc_error().expect("a JSON-RPC error");
    assert_eq!(obj.code, -32004);
    assert_eq!(obj.message, "notifications not supported");
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn http_and_websocket_see_the_same_chain() {
    let (http, ws) = (http_client(), ws_client().await);
    let mined: String = within(STEP, ws.request("evm_mine", ()))
        .await
        .expect("evm_mine");
    assert_eq!(mined, "0x0");
    // Read the same block over both transports.
    let n = block_number(&http).await;
    let a: Value = within(
        STEP,
        http.request("eth_getBlockByNumber", (format!("{n:#x}"), false)),
    )
    .await
    .expect("block over http");
    let b: Value = within(
        STEP,
        ws.request("eth_getBlockByNumber", (format!("{n:#x}"), false)),
    )
    .await
    .expect("block over ws");
    assert_eq!(a, b);
    assert_eq!(hex(a["number"].as_str().expect("number")), n);
    within(STEP, ws.close()).await;
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn new_heads_receives_exactly_the_mined_blocks() {
    let c = ws_client().await;
    let mut heads = within(STEP, c.subscribe::<Value, _>("eth", ("newHeads",)))
        .await
        .expect("eth_subscribe newHeads");
    let server_id = heads.server_id().expect("a server id");
    let start = block_number(&c).await;
    let mined: String = within(STEP, c.request("evm_mine", [json!({"blocks": 3})]))
        .await
        .expect("evm_mine");
    assert_eq!(mined, "0x0");
    let end = block_number(&c).await;
    // Other test processes may mine on the same ganache at the same time; without them
    // `end == start + 3`. Every block after `start` up to `end` arrives once, in order.
    assert!(end >= start + 3, "start {start}, end {end}");
    let mut number = start;
    while number < end {
        let head = within(STEP, heads.next())
            .await
            .expect("the stream goes on")
            .expect("a header");
        let n = hex(head["number"].as_str().expect("number"));
        if n <= start {
            // Mined by another process between our subscribe and our first eth_blockNumber.
            continue;
        }
        assert_eq!(n, number + 1, "heads arrive in order without gaps");
        // It is the canonical block of that height.
        let block: Value = within(
            STEP,
            c.request("eth_getBlockByNumber", (&head["number"], false)),
        )
        .await
        .expect("eth_getBlockByNumber");
        assert_eq!(block["hash"], head["hash"]);
        assert_eq!(block["parentHash"], head["parentHash"]);
        number = n;
    }

    within(STEP, heads.unsubscribe())
        .await
        .expect("eth_unsubscribe");
    // The server no longer knows the id: a second unsubscribe gives false.
    let again: bool = within(STEP, c.request("eth_unsubscribe", [&server_id]))
        .await
        .expect("eth_unsubscribe again");
    assert!(!again, "subscription {server_id} was still live");

    // An unknown kind is ganache's error.
    let err = within(STEP, c.subscribe::<Value, _>("eth", ("bogus",)))
        .await
        .expect_err("an error");
    assert!(err.is_rpc(), "{err}");
    assert!(
        err.to_string()
            .contains("no \"bogus\" subscription in eth namespace"),
        "{err}"
    );
    within(STEP, c.close()).await;
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn dropping_a_subscription_unsubscribes() {
    let c = ws_client().await;
    let heads = within(STEP, c.subscribe::<Value, _>("eth", ("newHeads",)))
        .await
        .expect("eth_subscribe newHeads");
    let server_id = heads.server_id().expect("a server id");
    drop(heads);
    // The unsubscribe is queued on drop and written by the driver right away; give it a moment
    // and a round trip on the same connection, then ask the server once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: String = within(STEP, c.request("eth_chainId", ()))
        .await
        .expect("eth_chainId");
    let live: bool = within(STEP, c.request("eth_unsubscribe", [&server_id]))
        .await
        .expect("eth_unsubscribe probe");
    assert!(!live, "subscription {server_id} survived the drop");
    within(STEP, c.close()).await;
}

#[tokio::test]
async fn unreachable_ganache_port_is_a_connect_error() {
    // Not a ganache test as such, but it keeps the error path honest next to the real one.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let connector = rpc_ws::WsConnector::new(format!("ws://127.0.0.1:{port}")).expect("url");
    let err = within(STEP, ClientBuilder::new().spawn_connect(connector))
        .await
        .expect_err("an error");
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
}
