//! Single calls and notifications (go-ethereum TestClientRequest, NullResponse, ErrorData,
//! Notify; jsonrpsee's call and id cases).

use std::time::Duration;

use rpc_client::{CallOptions, ClientBuilder, Error};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{bounded, echo_client, manual_client, parse};

#[derive(Debug, Deserialize, PartialEq)]
struct Echo(String, i64, Vec<i64>, Inner);

#[derive(Debug, Deserialize, PartialEq)]
struct Inner {
    a: bool,
}

#[tokio::test(start_paused = true)]
async fn request_round_trips_mixed_params_into_a_struct() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let r: Echo = client
            .request("echo", ("hello", 10, [1, 2], json!({"a": true})))
            .await
            .unwrap();
        assert_eq!(r, Echo("hello".into(), 10, vec![1, 2], Inner { a: true }));
        let obj: Value = client.request("echo", json!({"k": "v"})).await.unwrap();
        assert_eq!(obj, json!({"k": "v"}));
        // No params: the server sees none (the handler gets null).
        let none: Value = client.request("echo", ()).await.unwrap();
        assert_eq!(none, Value::Null);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn params_are_omitted_when_empty_and_invalid_params_are_refused_before_sending() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let call = tokio::spawn(async move { c2.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        assert_eq!(req["jsonrpc"], "2.0");
        assert!(req.get("params").is_none());
        assert!(req["id"].is_u64());
        conn.send(format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":1}}"#,
            req["id"]
        ))
        .await;
        assert_eq!(call.await.unwrap().unwrap(), json!(1));
        let err = client.request::<Value, _>("m", 5).await.unwrap_err();
        assert!(matches!(err, Error::InvalidParams(_)), "{err}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn null_result_is_success() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let v: Option<u64> = client.request("null", ()).await.unwrap();
        assert_eq!(v, None);
        assert_eq!(client.request_raw("null", ()).await.unwrap().get(), "null");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn error_code_message_and_data_come_through() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let err = client.request::<Value, _>("fail", ()).await.unwrap_err();
        let obj = err.rpc_error().unwrap();
        assert_eq!(obj.code, 3);
        assert_eq!(obj.message, "execution reverted");
        assert_eq!(obj.data.as_ref().unwrap().get(), r#""0x08c379a0""#);
        assert_eq!(err.to_string(), "rpc error 3: execution reverted");
        let err = client.request::<Value, _>("no_such", ()).await.unwrap_err();
        assert_eq!(err.code(), Some(-32601));
        assert!(!err.is_retryable());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn decode_error_when_result_has_another_type() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let err = client.request::<u64, _>("echo", ["x"]).await.unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unknown_and_wrongly_typed_ids_are_ignored_not_fatal() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let call = tokio::spawn(async move {
            c2.request_with::<Value, _>(
                "m",
                (),
                &CallOptions::new().timeout(Duration::from_secs(5)),
            )
            .await
        });
        let req = parse(&conn.recv().await.unwrap());
        let id = req["id"].as_u64().unwrap();
        // A string id, an unknown id, no id, and garbage: all ignored.
        conn.send(format!(r#"{{"jsonrpc":"2.0","id":"{id}","result":"str"}}"#))
            .await;
        conn.send(r#"{"jsonrpc":"2.0","id":999999,"result":"unknown"}"#)
            .await;
        conn.send(r#"{"jsonrpc":"2.0","result":"0x4"}"#).await;
        conn.send("not json").await;
        conn.send(format!("{{ \"id\" : {id} ,\n \"result\": \"right\" }}"))
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!("right"));
        // The connection is still usable.
        let c3 = client.clone();
        let call = tokio::spawn(async move { c3.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(format!(r#"{{"id":{},"result":2}}"#, req["id"]))
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!(2));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn string_id_reply_never_resolves_a_numeric_request() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let start = Instant::now();
        let call = tokio::spawn(async move {
            c2.request_with::<Value, _>(
                "m",
                (),
                &CallOptions::new().timeout(Duration::from_secs(3)),
            )
            .await
        });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(format!(r#"{{"id":"{}","result":1}}"#, req["id"]))
            .await;
        assert!(matches!(call.await.unwrap(), Err(Error::Timeout)));
        assert!(start.elapsed() >= Duration::from_secs(3));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn default_and_per_call_timeouts() {
    bounded(async {
        let (client, _) =
            echo_client(ClientBuilder::new().request_timeout(Duration::from_secs(7))).await;
        let start = Instant::now();
        let err = client.request::<Value, _>("sleep", ()).await.unwrap_err();
        assert!(err.is_timeout());
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(7) && took < Duration::from_secs(8),
            "{took:?}"
        );
        let start = Instant::now();
        let err = client
            .request_with::<Value, _>(
                "sleep",
                (),
                &CallOptions::new().timeout(Duration::from_secs(1)),
            )
            .await
            .unwrap_err();
        assert!(err.is_timeout() && err.is_retryable());
        assert!(start.elapsed() < Duration::from_secs(2));
        // Still works afterwards.
        let v: Value = client.request("echo", [1]).await.unwrap();
        assert_eq!(v, json!([1]));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn dropped_call_late_answer_is_ignored() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let call = tokio::spawn(async move { c2.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        call.abort();
        let _ = call.await;
        conn.send(format!(r#"{{"id":{},"result":1}}"#, req["id"]))
            .await;
        let c3 = client.clone();
        let call = tokio::spawn(async move { c3.request::<Value, _>("m", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(format!(r#"{{"id":{},"result":2}}"#, req["id"]))
            .await;
        assert_eq!(call.await.unwrap().unwrap(), json!(2));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn ganache_error_objects_with_stack_are_tolerated() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let call = tokio::spawn(async move { c2.request::<Value, _>("foo_bar", ()).await });
        let req = parse(&conn.recv().await.unwrap());
        conn.send(format!(
            r#"{{"id":{},"jsonrpc":"2.0","error":{{"message":"The method foo_bar does not exist/is not available","stack":"Error: x\n    at y","code":-32700}}}}"#,
            req["id"]
        ))
        .await;
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(err.code(), Some(-32700));
        assert!(err.to_string().contains("foo_bar does not exist"));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn notify_sends_a_message_without_id() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        client.notify("note", ("x",)).await.unwrap();
        let msg = parse(&conn.recv().await.unwrap());
        assert_eq!(
            msg,
            json!({"jsonrpc": "2.0", "method": "note", "params": ["x"]})
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn many_concurrent_calls_all_succeed() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let calls = (0..200u64).map(|i| {
            let c = client.clone();
            async move { c.request::<(u64,), _>("echo", (i,)).await }
        });
        let results = futures::future::join_all(calls).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap().0, i as u64);
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn close_fails_pending_and_later_calls() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let pending = tokio::spawn(async move { c2.request::<Value, _>("sleep", ()).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let start = Instant::now();
        client.close().await;
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(matches!(pending.await.unwrap(), Err(Error::Closed)));
        assert!(client.is_closed());
        assert!(matches!(
            client.request::<Value, _>("echo", ()).await,
            Err(Error::Closed)
        ));
        assert!(matches!(
            client.notify("echo", ()).await,
            Err(Error::Closed)
        ));
        // Closing twice is fine.
        client.close().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn close_sends_a_graceful_close_and_server_sees_eof() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        client.close().await;
        assert!(conn.recv().await.is_none());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_ends_the_driver() {
    bounded(async {
        let (connector, mut listener) = rpc_client::test_utils::memory_connector(8);
        let (client, driver) = ClientBuilder::new().build_duplex(connector);
        let task = tokio::spawn(driver.run());
        client.notify("x", ()).await.unwrap();
        let mut conn = listener.accept().await.unwrap();
        assert!(conn.recv().await.is_some());
        drop(client);
        task.await.unwrap();
        assert!(conn.recv().await.is_none());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn refused_connect_is_a_retryable_connect_error() {
    bounded(async {
        let (connector, _listener) = rpc_client::test_utils::memory_connector(8);
        connector.set_refusing(true);
        let err = ClientBuilder::new().connect(connector).await.unwrap_err();
        assert!(matches!(err, Error::Connect(_)), "{err}");
        assert!(err.is_disconnect() && err.is_retryable());
    })
    .await;
}
