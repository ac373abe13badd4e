//! Subscriptions (go-ethereum TestClientSubscribe, SubscribeClose, CloseUnsubscribeRace,
//! UnsubscribeTimeout, SubscriptionUnsubscribeServer, NotificationStorm; jsonrpsee
//! notification_close_on_lagging) and the drop-oldest policy.

use std::time::Duration;

use futures::StreamExt;
use rpc_client::{
    ClientBuilder, Error, OverflowPolicy, Subscription, SubscriptionOptions,
    test_utils::{ServerConn, notification},
};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{bounded, manual_client, parse};

/// Answers the next request, which must be `<method>`, with `result`; returns the request.
async fn expect_and_answer(conn: &mut ServerConn, method: &str, result: Value) -> Value {
    let req = parse(&conn.recv().await.unwrap());
    assert_eq!(req["method"], method, "{req}");
    conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": result}).to_string())
        .await;
    req
}

async fn subscribed(
    conn: &mut ServerConn,
    client: &rpc_client::Client,
    options: SubscriptionOptions,
) -> Subscription<u64> {
    let c = client.clone();
    let task = tokio::spawn(async move {
        c.subscribe_with::<u64, _>("eth", ("newHeads",), options)
            .await
    });
    let req = expect_and_answer(conn, "eth_subscribe", json!("0x1")).await;
    assert_eq!(req["params"], json!(["newHeads"]));
    task.await.unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn notifications_arrive_in_order_and_unsubscribe_stops_them() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let mut sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
        assert_eq!(sub.server_id().as_deref(), Some("0x1"));
        for i in 0..10u64 {
            conn.send(notification("eth", &json!("0x1"), &json!(i)))
                .await;
        }
        for i in 0..10u64 {
            assert_eq!(sub.next().await.unwrap().unwrap(), i);
        }
        let c = tokio::spawn(sub.unsubscribe());
        let req = expect_and_answer(&mut conn, "eth_unsubscribe", json!(true)).await;
        assert_eq!(req["params"], json!(["0x1"]));
        c.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn notification_right_behind_the_reply_is_not_lost() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let req = parse(&conn.recv().await.unwrap());
        // Reply and first notification in one frame, then one more right away.
        conn.send(format!(
            r#"[{{"jsonrpc":"2.0","id":{},"result":"0xab"}},{}]"#,
            req["id"],
            notification("eth", &json!("0xab"), &json!(1))
        ))
        .await;
        conn.send(notification("eth", &json!("0xab"), &json!(2)))
            .await;
        let mut sub = task.await.unwrap().unwrap();
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        assert_eq!(sub.next().await.unwrap().unwrap(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn numeric_subscription_ids_and_unknown_subscriptions() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("foo", ()).await });
        let req = expect_and_answer(&mut conn, "foo_subscribe", json!(7)).await;
        assert!(req.get("params").is_none());
        let mut sub = task.await.unwrap().unwrap();
        assert_eq!(sub.server_id().as_deref(), Some("7"));
        conn.send(notification("foo", &json!("7"), &json!(99)))
            .await; // string "7": other sub
        conn.send(notification("foo", &json!(8), &json!(98))).await;
        conn.send(notification("foo", &json!(7), &json!(1))).await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        drop(sub);
        let req = expect_and_answer(&mut conn, "foo_unsubscribe", json!(true)).await;
        assert_eq!(req["params"], json!([7]));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn subscribe_error_is_returned() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("bogus",)).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32602, "message": "no \"bogus\" subscription in eth namespace", "stack": "..."}}).to_string()).await;
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.code(), Some(-32602));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn overflow_closes_delivers_buffered_then_error_and_unsubscribes() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let mut sub = subscribed(&mut conn, &client, SubscriptionOptions::new().capacity(4)).await;
        for i in 0..10u64 {
            conn.send(notification("eth", &json!("0x1"), &json!(i)))
                .await;
        }
        let req = expect_and_answer(&mut conn, "eth_unsubscribe", json!(true)).await;
        assert_eq!(req["params"], json!(["0x1"]));
        for i in 0..4u64 {
            assert_eq!(sub.next().await.unwrap().unwrap(), i);
        }
        assert!(matches!(sub.next().await, Some(Err(Error::Overflow))));
        assert!(sub.next().await.is_none());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_yields_lagged_and_keeps_going() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let opts = SubscriptionOptions::new()
            .capacity(4)
            .policy(OverflowPolicy::DropOldest);
        let mut sub = subscribed(&mut conn, &client, opts).await;
        for i in 0..10u64 {
            conn.send(notification("eth", &json!("0x1"), &json!(i)))
                .await;
        }
        // Let the driver take everything in.
        let c = client.clone();
        let ping = tokio::spawn(async move { c.request::<Value, _>("ping", ()).await });
        expect_and_answer(&mut conn, "ping", json!(1)).await;
        ping.await.unwrap().unwrap();
        assert!(matches!(sub.next().await, Some(Err(Error::Lagged(6)))));
        for i in 6..10u64 {
            assert_eq!(sub.next().await.unwrap().unwrap(), i);
        }
        conn.send(notification("eth", &json!("0x1"), &json!(10)))
            .await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 10);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn notification_storm_against_a_slow_reader_stays_bounded() {
    bounded(async {
        // A reader making a call per item: 8 000 queued notifications fit in the default
        // buffer (20 000); 24 000 overflow.
        for (count, overflow) in [(8_000u64, false), (24_000, true)] {
            let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
            let mut sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
            let pusher = conn.pusher();
            let storm = tokio::spawn(async move {
                for i in 0..count {
                    let n = notification("eth", &json!("0x1"), &json!(i));
                    if pusher.send(n.into()).await.is_err() {
                        break;
                    }
                }
            });
            // The server answers calls while storming.
            let server = tokio::spawn(async move {
                let mut unsubscribed = false;
                while let Some(f) = conn.recv().await {
                    let req = parse(&f);
                    if req["method"] == "eth_unsubscribe" {
                        unsubscribed = true;
                    }
                    conn.send(
                        json!({"jsonrpc": "2.0", "id": req["id"], "result": true}).to_string(),
                    )
                    .await;
                }
                unsubscribed
            });
            let mut got = 0u64;
            let mut end = None;
            while let Some(item) = sub.next().await {
                match item {
                    Ok(v) => {
                        assert_eq!(v, got);
                        got += 1;
                        client.request::<Value, _>("slow", ()).await.unwrap();
                        if got == count {
                            break;
                        }
                    }
                    Err(e) => {
                        end = Some(e);
                        break;
                    }
                }
            }
            storm.await.unwrap();
            if overflow {
                assert!(matches!(end, Some(Error::Overflow)), "{end:?}");
                assert!(got >= 20_000 && got < count, "{got}");
            } else {
                assert!(end.is_none(), "{end:?}");
                assert_eq!(got, count);
            }
            drop(sub);
            client.close().await;
            let unsubscribed = server.await.unwrap();
            if overflow {
                assert!(unsubscribed);
            }
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unsubscribe_is_bounded_when_the_server_never_answers() {
    bounded(async {
        let (client, mut conn, _l, _c) =
            manual_client(ClientBuilder::new().unsubscribe_timeout(Duration::from_secs(10))).await;
        let sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
        let start = Instant::now();
        let (res, req) = tokio::join!(sub.unsubscribe(), conn.recv());
        assert_eq!(parse(&req.unwrap())["method"], "eth_unsubscribe");
        assert!(matches!(res, Err(Error::Timeout)));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_secs(11),
            "{took:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn close_during_pending_subscribe_returns_an_error() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move { c.subscribe::<u64, _>("eth", ("newHeads",)).await });
        let _req = conn.recv().await.unwrap();
        let start = Instant::now();
        client.close().await;
        assert!(matches!(task.await.unwrap(), Err(Error::Closed)));
        assert!(start.elapsed() < Duration::from_secs(1));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn close_ends_subscriptions_and_races_with_unsubscribe() {
    bounded(async {
        for _ in 0..20 {
            let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
            let sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
            let c = client.clone();
            let closer = tokio::spawn(async move { c.close().await });
            let unsub = tokio::spawn(sub.unsubscribe());
            closer.await.unwrap();
            // Either finished cleanly or failed because the client closed; never hangs.
            let _ = unsub.await.unwrap();
        }
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let mut sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
        conn.send(notification("eth", &json!("0x1"), &json!(5)))
            .await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 5);
        client.close().await;
        assert!(matches!(sub.next().await, Some(Err(Error::Closed))));
        assert!(sub.next().await.is_none());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_ended_subscription_and_decode_errors() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let mut sub = subscribed(&mut conn, &client, SubscriptionOptions::new()).await;
        conn.send(notification("eth", &json!("0x1"), &json!("not a number")))
            .await;
        assert!(matches!(sub.next().await, Some(Err(Error::Decode(_)))));
        conn.send(notification("eth", &json!("0x1"), &json!(3)))
            .await;
        assert_eq!(sub.next().await.unwrap().unwrap(), 3);
        conn.send(
            json!({"jsonrpc": "2.0", "method": "eth_subscription",
                "params": {"subscription": "0x1", "error": {"code": -32000, "message": "gone"}}})
            .to_string(),
        )
        .await;
        let end = sub.next().await.unwrap().unwrap_err();
        assert!(matches!(end, Error::SubscriptionEnded(_)));
        assert_eq!(end.code(), Some(-32000));
        assert!(sub.next().await.is_none());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn subscribe_reply_after_the_caller_gave_up_is_unsubscribed() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c = client.clone();
        let task = tokio::spawn(async move {
            c.subscribe_with::<u64, _>(
                "eth",
                ("newHeads",),
                SubscriptionOptions::new().timeout(Duration::from_secs(1)),
            )
            .await
        });
        let req = parse(&conn.recv().await.unwrap());
        assert!(matches!(task.await.unwrap(), Err(Error::Timeout)));
        conn.send(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x9"}).to_string())
            .await;
        let unsub = parse(&conn.recv().await.unwrap());
        assert_eq!(unsub["method"], "eth_unsubscribe");
        assert_eq!(unsub["params"], json!(["0x9"]));
    })
    .await;
}
