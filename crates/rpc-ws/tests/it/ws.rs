//! WebSocket scenarios.

use std::{sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use rpc_client::{ClientBuilder, Error as RpcError};
use rpc_ws::{Error, WsConnector};
use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use crate::{Seen, accept, bounded, serve, spawn_server};

#[tokio::test]
async fn calls_batches_and_subscriptions_over_ws() {
    bounded(async {
        let (addr, _) = spawn_server(None).await;
        let client = rpc_ws::spawn_connect(&format!("ws://{addr}"))
            .await
            .unwrap();
        let v: (String, u64) = client.request("echo", ("a", 1)).await.unwrap();
        assert_eq!(v, ("a".into(), 1));
        let err = client.request::<Value, _>("nope", ()).await.unwrap_err();
        assert_eq!(err.code(), Some(-32601));
        let mut b = client.batch();
        for i in 0..100u64 {
            b.add("echo", (i,)).unwrap();
        }
        let r = b.send().await.unwrap();
        assert_eq!(r.decode::<(u64,)>(99).unwrap().0, 99);
        client.notify("echo", [1]).await.unwrap();
        let mut sub = client
            .subscribe::<u64, _>("eth", ("newHeads",))
            .await
            .unwrap();
        for i in 0..3u64 {
            assert_eq!(sub.next().await.unwrap().unwrap(), i);
        }
        sub.unsubscribe().await.unwrap();
        client.close().await;
    })
    .await;
}

#[tokio::test]
async fn handshake_headers_basic_auth_and_origin() {
    bounded(async {
        let (addr, seen) = spawn_server(None).await;
        let c = WsConnector::builder(format!("ws://alice:s%3Acret@{addr}/rpc"))
            .header("x-custom", "yes")
            .build()
            .unwrap();
        assert_eq!(c.url(), format!("ws://{addr}/rpc"));
        let client = ClientBuilder::new().spawn_connect(c).await.unwrap();
        let _: Value = client.request("echo", ()).await.unwrap();
        let dials = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let d = dials.clone();
        let c = WsConnector::builder(format!("ws://{addr}"))
            .origin("http://example.org")
            .auth_hook(move |h| {
                let n = d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                h.insert("x-dial", http::HeaderValue::from(n));
                Ok(())
            })
            .build()
            .unwrap();
        let client2 = ClientBuilder::new().spawn_connect(c).await.unwrap();
        let _: Value = client2.request("echo", ()).await.unwrap();
        let failing = WsConnector::builder(format!("ws://{addr}"))
            .auth_hook(|_| Err("no token".into()))
            .build()
            .unwrap();
        let err = ClientBuilder::new().connect(failing).await.unwrap_err();
        assert!(err.to_string().contains("connect"), "{err}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1]["x-dial"], "0");
        assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 1);
        // "alice:s:cret" in base64.
        assert_eq!(seen[0]["authorization"], "Basic YWxpY2U6czpjcmV0");
        assert_eq!(seen[0]["x-custom"], "yes");
        assert!(seen[0].get("origin").is_none());
        assert_eq!(seen[1]["origin"], "http://example.org");
        assert!(seen[1].get("authorization").is_none());
    })
    .await;
}

#[tokio::test]
async fn rejected_handshake_reports_the_status() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let seen = Seen::default();
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = accept(tcp, None, &seen, Some(403)).await;
            }
        });
        let err = rpc_ws::connect(&format!("ws://{addr}")).await.unwrap_err();
        let RpcError::Connect(cause) = &err else {
            panic!("{err}")
        };
        let ws = cause.downcast_ref::<Error>().unwrap();
        assert!(ws.is_handshake());
        assert_eq!(ws.handshake_status(), Some(403));
    })
    .await;
}

#[tokio::test]
async fn message_size_limits() {
    bounded(async {
        let (addr, _) = spawn_server(None).await;
        let small = WsConnector::builder(format!("ws://{addr}"))
            .max_message_size(Some(1088))
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(small).await.unwrap();
        let s: String = client.request("big", [200]).await.unwrap();
        assert_eq!(s.len(), 200);
        let err = client
            .request::<String, _>("big", [2048])
            .await
            .unwrap_err();
        assert!(
            matches!(err, RpcError::MessageTooLarge { limit: 1088, .. }),
            "{err}"
        );
        // The next call redials and works again.
        let s: String = client.request("big", [10]).await.unwrap();
        assert_eq!(s.len(), 10);

        // Default limit: a response just under 32 MiB arrives intact.
        let client = rpc_ws::spawn_connect(&format!("ws://{addr}"))
            .await
            .unwrap();
        let n = (32 << 20) - 50 - 40;
        let s: String = client.request("big", [n]).await.unwrap();
        assert_eq!(s.len(), n);
        // Over the default limit fails...
        let err = client
            .request::<String, _>("big", [(32 << 20) + 64])
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::MessageTooLarge { .. }), "{err}");
        // ...and passes when unlimited.
        let unlimited = WsConnector::builder(format!("ws://{addr}"))
            .max_message_size(None)
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(unlimited).await.unwrap();
        let s: String = client.request("big", [(32 << 20) + 64]).await.unwrap();
        assert_eq!(s.len(), (32 << 20) + 64);
    })
    .await;
}

#[tokio::test]
async fn server_ping_is_answered_and_calls_go_on() {
    bounded(async {
        let (addr, _) = spawn_server(None).await;
        let client = rpc_ws::spawn_connect(&format!("ws://{addr}"))
            .await
            .unwrap();
        let v: Value = client.request("ping_me", [1]).await.unwrap();
        assert_eq!(v, json!([1]));
        let mut sub = client
            .subscribe::<u64, _>("eth", ("newHeads",))
            .await
            .unwrap();
        assert_eq!(sub.next().await.unwrap().unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn idle_pings_keep_a_live_connection_and_drop_a_dead_one() {
    bounded(async {
        // Live server: idle pings are answered; the connection survives idle periods.
        let (addr, seen) = spawn_server(None).await;
        let c = WsConnector::builder(format!("ws://{addr}"))
            .ping_interval(Some(Duration::from_millis(50)))
            .pong_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(c).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _: Value = client.request("echo", ()).await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1, "no redial happened");

        // Dead server: completes the handshake, then never reads (so never pongs).
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let seen = Seen::default();
            let mut keep = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                if let Some(ws) = accept(tcp, None, &seen, None).await {
                    keep.push(ws);
                }
            }
        });
        let c = WsConnector::builder(format!("ws://{addr}"))
            .ping_interval(Some(Duration::from_millis(100)))
            .pong_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(c).await.unwrap();
        let start = tokio::time::Instant::now();
        let err = client.request::<Value, _>("sleep", ()).await.unwrap_err();
        assert!(matches!(err, RpcError::Disconnected), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    })
    .await;
}

#[tokio::test]
async fn binary_replies_and_a_close_frame_with_code_1000() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = accept(tcp, None, &Seen::default(), None).await.unwrap();
            while let Some(Ok(msg)) = ws.next().await {
                match msg {
                    Message::Text(t) => {
                        let out = rpc_client::test_utils::answer(t.as_bytes(), |_, p| {
                            rpc_client::test_utils::Reply::Result(p.clone())
                        })
                        .unwrap();
                        ws.send(Message::Binary(out.into_bytes().into()))
                            .await
                            .unwrap();
                    }
                    Message::Close(frame) => return frame.map(|f| f.code),
                    _ => {}
                }
            }
            None
        });
        let client = rpc_ws::spawn_connect(&format!("ws://{addr}"))
            .await
            .unwrap();
        let v: Value = client.request("anything", [7]).await.unwrap();
        assert_eq!(v, json!([7]));
        client.close().await;
        assert_eq!(server.await.unwrap(), Some(CloseCode::Normal));
    })
    .await;
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/server.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn test_roots() -> RootCertStore {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(format!("{dir}/ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

#[tokio::test]
async fn wss_with_a_custom_root_store() {
    bounded(async {
        let (addr, _) = spawn_server(Some(tls_acceptor())).await;
        let url = format!("wss://localhost:{}", addr.port());
        let c = WsConnector::builder(&url)
            .root_store(test_roots())
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(c).await.unwrap();
        let v: Value = client.request("echo", ["tls"]).await.unwrap();
        assert_eq!(v, json!(["tls"]));
        // Also by IP address (the certificate lists 127.0.0.1).
        let c = WsConnector::builder(format!("wss://{addr}"))
            .root_store(test_roots())
            .build()
            .unwrap();
        let client = ClientBuilder::new().spawn_connect(c).await.unwrap();
        let _: Value = client.request("echo", ()).await.unwrap();
        // The bundled webpki roots do not trust the test CA.
        let err = rpc_ws::connect(&url).await.unwrap_err();
        assert!(matches!(err, RpcError::Connect(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn server_killed_mid_call_then_back_on_the_same_address() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // First server: accepts, reads one message, dies.
        let first = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = accept(tcp, None, &Seen::default(), None).await.unwrap();
            let _ = ws.next().await;
            drop(ws);
            drop(listener);
        });
        let client = ClientBuilder::new()
            .connect_timeout(Duration::from_secs(2))
            .spawn_connect(WsConnector::new(format!("ws://{addr}")).unwrap())
            .await
            .unwrap();
        let err = client.request::<Value, _>("sleep", ()).await.unwrap_err();
        assert!(err.is_disconnect(), "{err}");
        first.await.unwrap();
        // Down: the redial fails.
        let err = client.request::<Value, _>("echo", ()).await.unwrap_err();
        assert!(matches!(err, RpcError::Connect(_)), "{err}");
        // Back on the same address: concurrent calls succeed (at most one may race the redial).
        let listener = TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let seen = Seen::default();
            while let Ok((tcp, _)) = listener.accept().await {
                if let Some(ws) = accept(tcp, None, &seen, None).await {
                    tokio::spawn(serve(ws));
                }
            }
        });
        let calls = (0..20u64).map(|i| {
            let c = client.clone();
            async move { c.request::<(u64,), _>("echo", (i,)).await }
        });
        let results = futures::future::join_all(calls).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        assert!(failed <= 1, "{failed} failed");
    })
    .await;
}

#[tokio::test]
async fn connect_timeout_covers_a_handshake_that_never_completes() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut keep = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                keep.push(tcp);
            }
        });
        let start = tokio::time::Instant::now();
        let err = ClientBuilder::new()
            .connect_timeout(Duration::from_millis(300))
            .connect(WsConnector::new(format!("ws://{addr}")).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::ConnectTimeout), "{err}");
        assert!(err.is_timeout() && err.is_disconnect());
        assert!(start.elapsed() < Duration::from_secs(2));
    })
    .await;
}
