//! HTTP scenarios.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rpc_client::{CallOptions, ClientBuilder, Error as RpcError, test_utils::Reply};
use rpc_http::{Error, HttpTransport, JwtAuth};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Resp, Seen, bounded, gzip_stored, spawn_http};

fn rpc_handler(method: &str, params: &Value) -> Reply {
    match method {
        "echo" => Reply::Result(params.clone()),
        "big" => Reply::Result(Value::String(
            "y".repeat(params[0].as_u64().unwrap_or(0) as usize),
        )),
        other => Reply::method_not_found(other),
    }
}

fn answer(req: &Seen) -> Resp {
    match rpc_client::test_utils::answer(&req.body, rpc_handler) {
        Some(out) => Resp::json(out),
        None => Resp {
            status: 204,
            ..Resp::default()
        },
    }
}

#[tokio::test]
async fn calls_batches_notifications_and_headers() {
    bounded(async {
        let (addr, log) = spawn_http(answer).await;
        let t = HttpTransport::builder(format!("http://{addr}/"))
            .header("x-static", "s")
            .build()
            .unwrap();
        let client = ClientBuilder::new().build_request(t);
        let v: (String, u64) = client.request("echo", ("a", 1)).await.unwrap();
        assert_eq!(v, ("a".into(), 1));
        let err = client.request::<Value, _>("nope", ()).await.unwrap_err();
        assert_eq!(err.code(), Some(-32601));
        let _: Value = client
            .request_with("echo", (), &CallOptions::new().header("x-req", "r"))
            .await
            .unwrap();
        let mut b = client.batch();
        for i in 0..1000u64 {
            b.add("echo", (i,)).unwrap();
        }
        let r = b.send().await.unwrap();
        assert_eq!(r.decode::<(u64,)>(999).unwrap().0, 999);
        client.notify("echo", [1]).await.unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 5);
        for req in &log {
            assert_eq!(req.method, "POST");
            assert_eq!(req.header("content-type"), Some("application/json"));
            assert_eq!(req.header("accept"), Some("application/json"));
            assert_eq!(req.header("x-static"), Some("s"));
            assert!(req.header("accept-encoding").unwrap_or("").contains("gzip"));
        }
        assert_eq!(log[2].header("x-req"), Some("r"));
        assert!(log[0].header("x-req").is_none());
        let note: Value = serde_json::from_slice(&log[4].body).unwrap();
        assert!(note.get("id").is_none());
    })
    .await;
}

#[tokio::test]
async fn subscriptions_are_unsupported_and_nothing_is_sent() {
    bounded(async {
        let (addr, log) = spawn_http(answer).await;
        let client = rpc_http::client(&format!("http://{addr}")).unwrap();
        let err = client
            .subscribe::<Value, _>("eth", ("newHeads",))
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::NotificationsUnsupported));
        assert!(err.is_notifications_unsupported());
        assert!(log.lock().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn non_2xx_statuses_with_plain_text_bodies_and_retry_after() {
    bounded(async {
        let (addr, _) = spawn_http(|req: &Seen| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            if body.contains("teapot") {
                Resp {
                    status: 418,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: b"I'm a teapot".to_vec(),
                    ..Resp::default()
                }
            } else if body.contains("busy") {
                Resp {
                    status: 429,
                    headers: vec![("retry-after".into(), "3".into())],
                    ..Resp::default()
                }
            } else {
                Resp {
                    status: 400,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: b"400 Bad Request: Unexpected token '}'".to_vec(),
                    ..Resp::default()
                }
            }
        })
        .await;
        let client = rpc_http::client(&format!("http://{addr}")).unwrap();
        let err = client.request::<Value, _>("teapot", ()).await.unwrap_err();
        let h = err.http_error().unwrap();
        assert_eq!(h.status, 418);
        assert_eq!(h.body, "I'm a teapot");
        assert_eq!(err.to_string(), "http status 418: I'm a teapot");
        assert!(!err.is_retryable());
        let err = client.request::<Value, _>("busy", ()).await.unwrap_err();
        assert_eq!(err.http_error().unwrap().status, 429);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert!(err.is_retryable());
        let err = client.request::<Value, _>("other", ()).await.unwrap_err();
        assert_eq!(err.http_error().unwrap().status, 400);
        assert!(err.to_string().contains("Unexpected token"));
        let err = client.notify("teapot", ()).await.unwrap_err();
        assert_eq!(err.http_error().unwrap().status, 418);
    })
    .await;
}

#[tokio::test]
async fn notifications_do_not_wait_for_or_parse_the_body() {
    bounded(async {
        let (addr, _) = spawn_http(|req: &Seen| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            if body.contains("stall") {
                Resp {
                    stall_body: true,
                    ..Resp::json(vec![b' '; 100])
                }
            } else {
                Resp::json("null")
            }
        })
        .await;
        let client = ClientBuilder::new()
            .request_timeout(Duration::from_secs(2))
            .build_request(HttpTransport::new(format!("http://{addr}")).unwrap());
        client.notify("null_body", ()).await.unwrap();
        let start = std::time::Instant::now();
        client.notify("stall", ()).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(1));
        // A call with a body that never comes times out instead.
        let err = client.request::<Value, _>("stall", ()).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        // A `null` body to a call is an invalid response, not a crash.
        let err = client
            .request::<Value, _>("null_body", ())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::InvalidResponse(_)), "{err}");
    })
    .await;
}

fn verify_jwt(token: &str, secret: &[u8; 32]) -> u64 {
    let mut parts = token.split('.');
    let (h, c, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(format!("{h}.{c}").as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(s).unwrap())
        .unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap();
    claims["iat"].as_u64().unwrap()
}

#[tokio::test]
async fn jwt_auth_runs_on_every_request_with_a_fresh_iat() {
    bounded(async {
        let secret = [0x42u8; 32];
        let (addr, log) = spawn_http(answer).await;
        let t = HttpTransport::builder(format!("http://{addr}"))
            .auth(JwtAuth::new(secret))
            .build()
            .unwrap();
        let client = ClientBuilder::new().build_request(t);
        for _ in 0..3 {
            let _: Value = client.request("echo", ()).await.unwrap();
        }
        client.notify("echo", ()).await.unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 4);
        for req in &log {
            let auth = req.header("authorization").unwrap();
            let token = auth.strip_prefix("Bearer ").unwrap();
            let iat = verify_jwt(token, &secret);
            assert!(now.abs_diff(iat) <= 60, "iat {iat} vs now {now}");
        }
        // A custom hook runs once per request.
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let hook = move |h: &mut http::HeaderMap| -> Result<(), Error> {
            let n = c.fetch_add(1, Ordering::SeqCst);
            h.insert("x-n", http::HeaderValue::from(n));
            Ok(())
        };
        let t = HttpTransport::builder(format!("http://{addr}"))
            .auth(hook)
            .build()
            .unwrap();
        let client = ClientBuilder::new().build_request(t);
        for _ in 0..3 {
            let _: Value = client.request("echo", ()).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    })
    .await;
}

#[tokio::test]
async fn gzip_responses_are_decoded() {
    bounded(async {
        let (addr, _) = spawn_http(|req: &Seen| {
            let mut r = answer(req);
            r.body = gzip_stored(&r.body);
            r.headers.push(("content-encoding".into(), "gzip".into()));
            r
        })
        .await;
        let client = rpc_http::client(&format!("http://{addr}")).unwrap();
        let v: Value = client.request("echo", ["zipped"]).await.unwrap();
        assert_eq!(v, json!(["zipped"]));
        let s: String = client.request("big", [200_000]).await.unwrap();
        assert_eq!(s.len(), 200_000);
    })
    .await;
}

#[tokio::test]
async fn timeouts_size_limits_and_id_checks() {
    bounded(async {
        let (addr, _) = spawn_http(|req: &Seen| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            if body.contains("hang") {
                Resp {
                    silent: true,
                    ..Resp::default()
                }
            } else if body.contains("wrong_id") {
                Resp::json(r#"{"jsonrpc":"2.0","id":999999,"result":1}"#)
            } else if body.contains("notif_reply") {
                Resp::json(
                    r#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":1}}"#,
                )
            } else {
                answer(req)
            }
        })
        .await;
        let t = HttpTransport::builder(format!("http://{addr}"))
            .max_response_size(Some(1 << 20))
            .build()
            .unwrap();
        let client = ClientBuilder::new().build_request(t);
        let start = std::time::Instant::now();
        let err = client
            .request_with::<Value, _>("hang", (), &CallOptions::new().timeout(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
        let err = client.request::<String, _>("big", [2 << 20]).await.unwrap_err();
        // The announced length, not the limit plus one.
        assert!(
            matches!(err, RpcError::MessageTooLarge { size, limit: 1_048_576 } if size > 2 << 20),
            "{err}"
        );
        let err = client.request::<Value, _>("wrong_id", ()).await.unwrap_err();
        assert!(matches!(err, RpcError::InvalidResponse(_)), "{err}");
        let err = client.request::<Value, _>("notif_reply", ()).await.unwrap_err();
        assert!(matches!(err, RpcError::InvalidResponse(_)), "{err}");
        // The default limit reads a 15 MiB body.
        let client = rpc_http::client(&format!("http://{addr}")).unwrap();
        let s: String = client.request("big", [15 << 20]).await.unwrap();
        assert_eq!(s.len(), 15 << 20);
    })
    .await;
}

#[tokio::test]
async fn concurrent_calls_and_refused_connections() {
    bounded(async {
        let (addr, _) = spawn_http(answer).await;
        let client = rpc_http::client(&format!("http://{addr}")).unwrap();
        let calls = (0..100u64).map(|i| {
            let c = client.clone();
            async move { c.request::<(u64,), _>("echo", (i,)).await }
        });
        for (i, r) in futures::future::join_all(calls)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(r.unwrap().0, i as u64);
        }
        // A closed port.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = rpc_http::client(&format!("http://127.0.0.1:{port}")).unwrap();
        let err = client.request::<Value, _>("echo", ()).await.unwrap_err();
        assert!(matches!(err, RpcError::Connect(_)), "{err}");
        assert!(err.is_disconnect());
    })
    .await;
}
