//! Fault injection: a server killed mid-call, garbage and truncated frames, lazy redial,
//! reconnect with resubscription and the `Reconnected` marker, and many calls with random
//! deadlines over a flaky listener.

use std::time::Duration;

use futures::StreamExt;
use rpc_client::{
    CallOptions, ClientBuilder, Error, ReconnectPolicy, test_utils::memory_connector,
    test_utils::notification,
};
use serde_json::{Value, json};

use crate::{bounded, echo_client, manual_client, parse};

#[tokio::test(start_paused = true)]
async fn server_killed_mid_call_fails_the_call_and_the_next_call_redials() {
    bounded(async {
        let (client, mut conn, mut listener, connector) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<Value, _>("m", ()).await });
        let _req = conn.recv().await.unwrap();
        drop(conn);
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Disconnected), "{err}");
        assert!(err.is_disconnect());
        assert_eq!(connector.connect_count(), 1);
        // The next call redials.
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<Value, _>("m", [1]).await });
        let mut conn = listener.accept().await.unwrap();
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "again"}).to_string())
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!("again"));
        assert_eq!(connector.connect_count(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn redial_failure_fails_the_call_with_a_connect_error() {
    bounded(async {
        let (client, conn, _listener, connector) = manual_client(ClientBuilder::new()).await;
        drop(conn);
        tokio::time::sleep(Duration::from_millis(10)).await;
        connector.set_refusing(true);
        let err = client.request::<Value, _>("m", ()).await.unwrap_err();
        assert!(matches!(err, Error::Connect(_)), "{err}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn garbage_and_truncated_frames_are_ignored() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        let id = &req["id"];
        let full = json!({"jsonrpc": "2.0", "id": id, "result": "ok"}).to_string();
        for junk in [
            &b"\x00\xff\xfe garbage"[..],
            &full.as_bytes()[..full.len() / 2],
            b"",
            b"[",
            b"{\"id\":",
            b"42",
            b"[1,2,3]",
            b"{\"method\":\"eth_subscription\",\"params\":{\"subscription\":[]}}",
        ] {
            assert!(conn.send(junk.to_vec()).await);
        }
        conn.send(full.clone()).await;
        assert_eq!(call.await.unwrap().unwrap(), json!("ok"));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_resubscribes_marks_streams_and_retries_safe_calls() {
    bounded(async {
        let policy = ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_attempts: Some(20),
        };
        let (client, mut conn, mut listener, connector) =
            manual_client(ClientBuilder::new().reconnect(policy)).await;
        // Subscribe on the first connection.
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).to_string())
            .await;
        let mut sub = task.await.unwrap().unwrap();
        let local = sub.local_id();
        conn.send(notification("eth", &json!("0x1"), &json!(1)))
            .await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);

        // Two calls in flight: one retry-safe, one not.
        let c = client.clone();
        let safe = tokio::spawn(async move {
            c.request_with::<Value, _>("eth_blockNumber", (), &CallOptions::new().retry_safe())
                .await
        });
        let c = client.clone();
        let unsafe_call = tokio::spawn(async move {
            c.request::<Value, _>("eth_sendRawTransaction", ["0x00"])
                .await
        });
        let mut methods = Vec::new();
        for _ in 0..2 {
            methods.push(parse(&conn.recv().await.unwrap())["method"].clone());
        }
        assert!(methods.contains(&json!("eth_blockNumber")));

        // The server goes down for a while.
        connector.set_refusing(true);
        drop(conn);
        assert!(matches!(
            unsafe_call.await.unwrap(),
            Err(Error::Disconnected)
        ));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(connector.connect_count() > 2, "backoff retries");
        connector.set_refusing(false);

        // The new connection sees the retried call and the resubscription.
        let mut conn = listener.accept().await.unwrap();
        let mut saw_resubscribe = false;
        let mut saw_retry = false;
        for _ in 0..2 {
            let req = parse(&conn.recv().await.unwrap());
            match req["method"].as_str().unwrap() {
                "eth_subscribe" => {
                    assert_eq!(req["params"], json!(["newHeads"]));
                    saw_resubscribe = true;
                    conn.send(
                        json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x2"}).to_string(),
                    )
                    .await;
                }
                "eth_blockNumber" => {
                    saw_retry = true;
                    conn.send(
                        json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x10"}).to_string(),
                    )
                    .await;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(saw_resubscribe && saw_retry);
        assert_eq!(safe.await.unwrap().unwrap(), json!("0x10"));
        // Old id is dead, the new one feeds the same local handle after the marker.
        conn.send(notification("eth", &json!("0x1"), &json!(100)))
            .await;
        conn.send(notification("eth", &json!("0x2"), &json!(2)))
            .await;
        assert!(matches!(sub.next().await, Some(Err(Error::Reconnected))));
        assert_eq!(sub.next().await.unwrap().unwrap(), 2);
        assert_eq!(sub.local_id(), local);
        assert_eq!(sub.server_id().as_deref(), Some("0x2"));
        // New calls work.
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": 5}).to_string())
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!(5));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_gives_up_after_the_limit() {
    bounded(async {
        let policy = ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            max_attempts: Some(3),
        };
        let (client, mut conn, _listener, connector) =
            manual_client(ClientBuilder::new().reconnect(policy)).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).to_string())
            .await;
        let mut sub = task.await.unwrap().unwrap();
        connector.set_refusing(true);
        drop(conn);
        assert!(matches!(sub.next().await, Some(Err(Error::Disconnected))));
        assert!(sub.next().await.is_none());
        assert_eq!(connector.connect_count(), 1 + 3);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn without_reconnect_subscriptions_end_with_disconnected() {
    bounded(async {
        let (client, mut conn, _listener, _connector) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).to_string())
            .await;
        let mut sub = task.await.unwrap().unwrap();
        drop(conn);
        assert!(matches!(sub.next().await, Some(Err(Error::Disconnected))));
        assert!(sub.next().await.is_none());
    })
    .await;
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[tokio::test(start_paused = true)]
async fn many_calls_with_random_deadlines_over_a_flaky_listener_all_end() {
    bounded(async {
        let (connector, mut listener) = memory_connector(64);
        // Flaky server: each connection lives at most 600 ms; `block` answers after up to 1 s.
        tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            while let Some(mut conn) = listener.accept().await {
                let life = Duration::from_millis(rng.below(600));
                let delay_seed = rng.below(u64::MAX);
                tokio::spawn(async move {
                    let mut rng = Rng(delay_seed | 1);
                    let kill = tokio::time::sleep(life);
                    tokio::pin!(kill);
                    let pusher = conn.pusher();
                    loop {
                        tokio::select! {
                            _ = &mut kill => return,
                            f = conn.recv() => {
                                let Some(f) = f else { return };
                                let req = parse(&f);
                                let wait = Duration::from_millis(rng.below(1000));
                                let p = pusher.clone();
                                tokio::spawn(async move {
                                    tokio::time::sleep(wait).await;
                                    let _ = p.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": 1}).to_string().into()).await;
                                });
                            }
                        }
                    }
                });
            }
        });
        let client = ClientBuilder::new()
            .request_timeout(Duration::from_secs(5))
            .spawn_duplex(connector);
        let mut rng = Rng(42);
        let mut tasks = Vec::new();
        for round in 0..10 {
            for _ in 0..10 {
                let c = client.clone();
                let deadline = Duration::from_millis(1 + rng.below(300));
                let cancel = rng.below(2) == 0;
                tasks.push(tokio::spawn(async move {
                    let opts = CallOptions::new().timeout(deadline);
                    let call = c.request_with::<Value, _>("block", (round,), &opts);
                    if cancel {
                        // Cancel by dropping the future at the deadline.
                        tokio::time::timeout(deadline, call).await.ok();
                    } else {
                        let _ = call.await;
                    }
                }));
            }
            tokio::time::sleep(Duration::from_millis(rng.below(200))).await;
        }
        let start = tokio::time::Instant::now();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(2));
        // The client is still healthy against a good server afterwards.
        client.close().await;
        let (good, _) = echo_client(ClientBuilder::new()).await;
        let v: Value = good.request("echo", [1]).await.unwrap();
        assert_eq!(v, json!([1]));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn random_junk_frames_never_break_the_client() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<Value, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).to_string())
            .await;
        let mut sub = task.await.unwrap().unwrap();
        let tokens = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"id\"",
            "\"result\"",
            "\"error\"",
            "\"method\"",
            "\"params\"",
            "\"subscription\"",
            "\"0x1\"",
            "\"eth_subscription\"",
            "null",
            "1",
            "-1",
            "1e999",
            "\"\\u0000\"",
            "true",
            "{\"code\":1}",
            " ",
            "\"\\ud800\"",
        ];
        let mut rng = Rng(7);
        for _ in 0..3000 {
            let n = rng.below(12) as usize;
            let frame: String = (0..n)
                .map(|_| tokens[rng.below(tokens.len() as u64) as usize])
                .collect();
            assert!(conn.send(frame).await);
        }
        // Still healthy: a call and a notification go through.
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<Value, _>("m", ()).await });
        let req = loop {
            let r = parse(&conn.recv().await.unwrap());
            if r["method"] == "m" {
                break r;
            }
        };
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": 1}).to_string())
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!(1));
        conn.send(notification("eth", &json!("0x1"), &json!("last")))
            .await;
        loop {
            match sub.next().await.unwrap() {
                Ok(v) if v == json!("last") => break,
                Ok(_) | Err(Error::Decode(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn batched_notifications_are_all_delivered() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).to_string())
            .await;
        let mut sub = task.await.unwrap().unwrap();
        conn.send(format!(
            "[{},{},{}]",
            notification("eth", &json!("0x1"), &json!(1)),
            json!({"jsonrpc": "2.0", "method": "other_notification"}),
            notification("eth", &json!("0x1"), &json!(2))
        ))
        .await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        assert_eq!(sub.next().await.unwrap().unwrap(), 2);
    })
    .await;
}
