//! Integration tests of `rpc-ws` against an in-process tokio-tungstenite server on loopback
//! (go-ethereum's websocket tests by behaviour: headers, origin, size limits, pings, close,
//! TLS, server loss and redial).

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]
// The handshake callback signature is fixed by tungstenite.
#![allow(clippy::result_large_err)]

mod ws;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use rpc_client::test_utils::{Reply, answer, notification};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        handshake::server::{ErrorResponse, Request, Response},
        protocol::WebSocketConfig,
    },
};

/// Bounds every test.
pub(crate) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test timed out")
}

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type ServerWs = WebSocketStream<Box<dyn Io>>;

/// Captured handshake request headers.
pub(crate) type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

/// Accepts one WebSocket connection (optionally over TLS), recording its headers; `reject`
/// answers the upgrade with that status instead.
pub(crate) async fn accept(
    tcp: TcpStream,
    tls: Option<&tokio_rustls::TlsAcceptor>,
    seen: &Seen,
    reject: Option<u16>,
) -> Option<ServerWs> {
    let io: Box<dyn Io> = match tls {
        Some(acc) => Box::new(acc.accept(tcp).await.ok()?),
        None => Box::new(tcp),
    };
    let seen = seen.clone();
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        seen.lock().unwrap().push(req.headers().clone());
        match reject {
            Some(status) => {
                let mut r = ErrorResponse::new(Some("go away".into()));
                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                Err(r)
            }
            None => Ok(resp),
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    tokio_tungstenite::accept_hdr_async_with_config(io, callback, Some(config))
        .await
        .ok()
}

/// The test methods: `echo`, `big` (a string of n bytes), `sleep` (no answer), `ping_me`
/// (answered after a server ping), `eth_subscribe` (three notifications follow),
/// `eth_unsubscribe`.
fn handler(method: &str, params: &Value) -> Reply {
    match method {
        "echo" | "ping_me" => Reply::Result(params.clone()),
        "big" => {
            let n = params[0].as_u64().unwrap_or(0) as usize;
            Reply::Result(Value::String("x".repeat(n)))
        }
        "sleep" => Reply::Silent,
        "eth_subscribe" => Reply::Result(json!("0x1")),
        "eth_unsubscribe" => Reply::Result(json!(true)),
        other => Reply::method_not_found(other),
    }
}

/// Serves JSON-RPC on one connection, answering in the frame type of the request.
pub(crate) async fn serve(mut ws: ServerWs) {
    while let Some(Ok(msg)) = ws.next().await {
        let (data, binary) = match &msg {
            Message::Text(t) => (t.as_bytes().to_vec(), false),
            Message::Binary(b) => (b.to_vec(), true),
            Message::Close(_) => return,
            _ => continue,
        };
        let text = String::from_utf8_lossy(&data).into_owned();
        let Some(out) = answer(&data, handler) else {
            continue;
        };
        if text.contains("\"ping_me\"") {
            // Ping first; the client must answer while the reply is pending.
            if ws.send(Message::Ping("ping".into())).await.is_err() {
                return;
            }
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(p))) if &p[..] == b"ping" => break,
                    Some(Ok(_)) => continue,
                    _ => return,
                }
            }
        }
        let reply = if binary {
            Message::Binary(out.into_bytes().into())
        } else {
            Message::Text(out.into())
        };
        if ws.send(reply).await.is_err() {
            return;
        }
        if text.contains("\"eth_subscribe\"") {
            for i in 0..3 {
                let n = notification("eth", &json!("0x1"), &json!(i));
                if ws.send(Message::Text(n.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A plain JSON-RPC server; returns its address and the captured handshake headers.
pub(crate) async fn spawn_server(tls: Option<tokio_rustls::TlsAcceptor>) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let s = s.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                if let Some(ws) = accept(tcp, tls.as_ref(), &s, None).await {
                    serve(ws).await;
                }
            });
        }
    });
    (addr, seen)
}
