//! A small in-process HTTP/1.1 JSON-RPC server for the CLI tests.
//!
//! Methods: `eth_blockNumber` gives `"0x10"`; `echo_headers` gives the request headers (names
//! in lower case); `unavailable` gives HTTP 503 with a plain-text body; anything else a
//! ganache-style -32601 error with a `stack` member.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running server; aborted on drop.
#[derive(Debug)]
pub(crate) struct HttpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// Starts the server on a free loopback port.
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut headers = BTreeMap::new();
        let mut line = String::new();
        // Request line.
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len.min(1 << 20)];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let id = req["id"].clone();
        let (status, content_type, reply) = match req["method"].as_str().unwrap_or_default() {
            "eth_blockNumber" => (
                "200 OK",
                "application/json",
                json!({"jsonrpc": "2.0", "id": id, "result": "0x10"}).to_string(),
            ),
            "echo_headers" => (
                "200 OK",
                "application/json",
                json!({"jsonrpc": "2.0", "id": id, "result": headers}).to_string(),
            ),
            "unavailable" => (
                "503 Service Unavailable",
                "text/plain",
                "upstream down\n".to_owned(),
            ),
            other => (
                "200 OK",
                "application/json",
                json!({
                    "jsonrpc": "2.0", "id": id,
                    "error": {
                        "code": -32601,
                        "message": format!("The method {other} does not exist/is not available"),
                        "stack": "Error: x\n    at y"
                    }
                })
                .to_string(),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        let stream = reader.get_mut();
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(reply.as_bytes()).await.is_err()
        {
            return;
        }
    }
}
