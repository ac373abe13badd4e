//! A small in-process WebSocket JSON-RPC server for the CLI tests.
//!
//! Methods: `eth_blockNumber` gives `"0x10"`; `pretty` gives a multi-line object with a
//! 30-digit number; `slow` never answers; `echo_headers` gives the handshake headers seen;
//! `eth_subscribe` gives `"0xabc"` and then `notifications` notifications whose results are
//! `{"number":"0x<i>"}` (`eth_subscribe ["bogus"]` gives an error, and `["closing"]` drops the connection after the
//! notifications); `eth_unsubscribe` gives
//! `true` and is counted; anything else gives a ganache-style -32601 error with a `stack`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Request, Response},
};

/// A running server; aborted on drop.
#[derive(Debug)]
pub(crate) struct WsServer {
    addr: SocketAddr,
    unsubscribes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsServer {
    /// Starts a server that sends `notifications` notifications per subscription.
    pub(crate) async fn start(notifications: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let unsubscribes = Arc::new(AtomicUsize::new(0));
        let counter = unsubscribes.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, notifications, counter.clone()));
            }
        });
        Self {
            addr,
            unsubscribes,
            task,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// How many `eth_unsubscribe` calls arrived.
    pub(crate) fn unsubscribes(&self) -> usize {
        self.unsubscribes.load(Ordering::SeqCst)
    }
}

#[allow(clippy::result_large_err)] // The callback type is fixed by tungstenite.
async fn serve(stream: TcpStream, notifications: usize, unsubscribes: Arc<AtomicUsize>) {
    let mut headers = BTreeMap::new();
    let callback = |req: &Request, resp: Response| {
        for (name, value) in req.headers() {
            headers.insert(
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            );
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(req) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let id = req["id"].clone();
        let method = req["method"].as_str().unwrap_or_default();
        let reply = match method {
            "eth_blockNumber" => json!({"jsonrpc": "2.0", "id": id, "result": "0x10"}).to_string(),
            "pretty" => format!(
                "{{\n  \"jsonrpc\": \"2.0\",\n  \"id\": {id},\n  \"result\": {{\n    \"a\": [1, 2],\n    \"big\": 123456789012345678901234567890,\n    \"s\": \"two  spaces\"\n  }}\n}}"
            ),
            "slow" => continue,
            "echo_headers" => json!({"jsonrpc": "2.0", "id": id, "result": headers}).to_string(),
            "eth_subscribe" if req["params"][0] == "bogus" => json!({
                "jsonrpc": "2.0", "id": id,
                "error": {"code": -32602, "message": "no \"bogus\" subscription in eth namespace"}
            })
            .to_string(),
            "eth_subscribe" => {
                let ok = json!({"jsonrpc": "2.0", "id": id, "result": "0xabc"}).to_string();
                if ws.send(Message::text(ok)).await.is_err() {
                    break;
                }
                for i in 0..notifications {
                    let note = json!({
                        "jsonrpc": "2.0",
                        "method": "eth_subscription",
                        "params": {"subscription": "0xabc", "result": {"number": format!("{i:#x}"), "params": req["params"]}}
                    });
                    if ws.send(Message::text(note.to_string())).await.is_err() {
                        return;
                    }
                }
                if req["params"][0] == "closing" {
                    // Drop the connection without a close frame.
                    return;
                }
                continue;
            }
            "eth_unsubscribe" => {
                unsubscribes.fetch_add(1, Ordering::SeqCst);
                json!({"jsonrpc": "2.0", "id": id, "result": true}).to_string()
            }
            other => json!({
                "jsonrpc": "2.0", "id": id,
                "error": {
                    "code": -32601,
                    "message": format!("The method {other} does not exist/is not available"),
                    "stack": "Error: The method does not exist\n    at x (y.js:1:2)"
                }
            })
            .to_string(),
        };
        if ws.send(Message::text(reply)).await.is_err() {
            break;
        }
    }
}
