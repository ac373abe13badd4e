//! Integration tests of `rpc-client` over the in-memory transport: the conformance scenarios of
//! go-ethereum's and jsonrpsee's client tests, by behaviour, plus fault injection.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod batch;
mod calls;
mod faults;
mod request_transport;
mod subscriptions;

use std::{future::Future, time::Duration};

use rpc_client::{
    Client, ClientBuilder,
    test_utils::{MemoryConnector, MemoryListener, Reply, ServerConn, memory_connector},
};
use serde_json::{Value, json};

/// Bounds every test: with paused time a hang turns into a quick failure.
pub(crate) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(600), f)
        .await
        .expect("test timed out")
}

/// The handler most tests use: `echo`, `null`, `fail` (with data), `sleep` (never answers),
/// ganache-style errors with a `stack`, anything else method-not-found.
pub(crate) fn handler(method: &str, params: &Value) -> Reply {
    match method {
        "echo" => Reply::Result(params.clone()),
        "null" => Reply::Result(Value::Null),
        "fail" => Reply::Error {
            code: 3,
            message: "execution reverted".into(),
            data: Some(json!("0x08c379a0")),
        },
        "ganache_err" => Reply::Raw(
            json!({"id": 0, "jsonrpc": "2.0", "error": {"message": "The method foo_bar does not exist/is not available", "stack": "Error: The method...\n  at x", "code": -32700}})
                .to_string(),
        ),
        "sleep" => Reply::Silent,
        other => Reply::method_not_found(other),
    }
}

/// Accepts every connection and serves it with [`handler`].
pub(crate) fn serve_all(mut listener: MemoryListener) {
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            tokio::spawn(conn.serve(handler));
        }
    });
}

/// A client whose server answers with [`handler`].
pub(crate) async fn echo_client(builder: ClientBuilder) -> (Client, MemoryConnector) {
    let (connector, listener) = memory_connector(64);
    serve_all(listener);
    let client = builder.spawn_connect(connector.clone()).await.unwrap();
    (client, connector)
}

/// A client plus the server side of its (first) connection, for hand-driven servers.
pub(crate) async fn manual_client(
    builder: ClientBuilder,
) -> (Client, ServerConn, MemoryListener, MemoryConnector) {
    let (connector, mut listener) = memory_connector(64);
    let (client, driver) = builder.build_duplex(connector.clone());
    tokio::spawn(driver.run());
    // Trigger the lazy dial with a notification.
    client.notify("hello", ()).await.unwrap();
    let mut conn = listener.accept().await.unwrap();
    let first = conn.recv().await.unwrap();
    assert!(first.contains("hello"));
    (client, conn, listener, connector)
}

/// Parses a request frame the client sent.
pub(crate) fn parse(frame: &str) -> Value {
    serde_json::from_str(frame).unwrap()
}
