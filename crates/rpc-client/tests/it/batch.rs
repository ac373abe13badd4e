//! Batches (go-ethereum TestClientBatchRequest, _len, Limit; jsonrpsee batch cases).

use std::time::Duration;

use rpc_client::{ClientBuilder, Error, test_utils::memory_connector};
use serde_json::{Value, json};

use crate::{bounded, echo_client, manual_client, parse};

#[tokio::test(start_paused = true)]
async fn batch_results_in_request_order_with_per_element_errors() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let mut b = client.batch();
        assert_eq!(b.add("echo", ("a",)).unwrap(), 0);
        assert_eq!(b.add("no_such_method", [1, 2, 3]).unwrap(), 1);
        assert_eq!(b.add("echo", json!({"x": 1})).unwrap(), 2);
        let r = b.send().await.unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.decode::<(String,)>(0).unwrap().0, "a");
        let err = r.decode::<Value>(1).unwrap_err();
        assert_eq!(err.code(), Some(-32601));
        assert_eq!(
            err.rpc_error().unwrap().message,
            "the method no_such_method does not exist/is not available"
        );
        assert_eq!(r.decode::<Value>(2).unwrap(), json!({"x": 1}));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn empty_batch_is_an_error_and_sends_nothing() {
    bounded(async {
        let (connector, _listener) = memory_connector(8);
        let (client, driver) = ClientBuilder::new().build_duplex(connector.clone());
        tokio::spawn(driver.run());
        assert!(matches!(
            client.batch().send().await,
            Err(Error::EmptyBatch)
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(connector.connect_count(), 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn missing_out_of_order_and_extra_answers() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let task = tokio::spawn(async move {
            let mut b = c2.batch();
            for i in 0..3 {
                b.add("m", (i,)).unwrap();
            }
            b.send().await
        });
        let req = parse(&conn.recv().await.unwrap());
        let ids: Vec<u64> = req
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        // Answers for elements 1 and 0 (reversed), an unknown id, a null entry; element 2 missing.
        conn.send(format!(
            r#"[{{"id":{},"result":"b"}},{{"id":424242,"result":"x"}},null,{{"id":{},"result":"a"}}]"#,
            ids[1], ids[0]
        ))
        .await;
        let r = task.await.unwrap().unwrap();
        assert_eq!(r.decode::<String>(0).unwrap(), "a");
        assert_eq!(r.decode::<String>(1).unwrap(), "b");
        assert!(matches!(r.decode::<String>(2), Err(Error::MissingResponse)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_batch_limit_error_lands_on_the_first_element() {
    bounded(async {
        let (client, mut conn, _l, _c) = manual_client(ClientBuilder::new()).await;
        let c2 = client.clone();
        let task = tokio::spawn(async move {
            let mut b = c2.batch();
            for i in 0..3 {
                b.add("m", (i,)).unwrap();
            }
            b.send().await
        });
        let req = parse(&conn.recv().await.unwrap());
        let first = &req[0]["id"];
        conn.send(format!(
            r#"{{"jsonrpc":"2.0","id":{first},"error":{{"code":-32600,"message":"batch too large"}}}}"#
        ))
        .await;
        let r = task.await.unwrap().unwrap();
        let e = r.decode::<Value>(0).unwrap_err();
        assert_eq!(e.code(), Some(-32600));
        assert_eq!(e.rpc_error().unwrap().message, "batch too large");
        assert!(matches!(r.decode::<Value>(1), Err(Error::MissingResponse)));
        assert!(matches!(r.decode::<Value>(2), Err(Error::MissingResponse)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn large_batches_are_chunked() {
    bounded(async {
        let (client, mut conn, _l, _c) =
            manual_client(ClientBuilder::new().max_batch_size(2)).await;
        let c2 = client.clone();
        let task = tokio::spawn(async move {
            let mut b = c2.batch();
            for i in 0..5u64 {
                b.add("m", (i,)).unwrap();
            }
            b.send().await
        });
        let mut sizes = Vec::new();
        for _ in 0..3 {
            let req = parse(&conn.recv().await.unwrap());
            let arr = req.as_array().unwrap();
            sizes.push(arr.len());
            let answers: Vec<Value> = arr
                .iter()
                .map(|r| json!({"jsonrpc": "2.0", "id": r["id"], "result": r["params"][0]}))
                .collect();
            conn.send(Value::Array(answers).to_string()).await;
        }
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 2, 2]);
        let r = task.await.unwrap().unwrap();
        let got: Vec<u64> = (0..5).map(|i| r.decode(i).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_thousand_element_batch() {
    bounded(async {
        let (client, _) = echo_client(ClientBuilder::new()).await;
        let mut b = client.batch();
        for i in 0..1000u64 {
            b.add("echo", (i,)).unwrap();
        }
        let r = b.send().await.unwrap();
        assert_eq!(r.len(), 1000);
        for i in 0..1000usize {
            assert_eq!(r.decode::<(u64,)>(i).unwrap().0, i as u64);
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn batch_times_out_as_a_whole() {
    bounded(async {
        let (client, _) =
            echo_client(ClientBuilder::new().request_timeout(Duration::from_secs(2))).await;
        let mut b = client.batch();
        b.add("sleep", ()).unwrap();
        b.add("sleep", ()).unwrap();
        assert!(matches!(b.send().await, Err(Error::Timeout)));
    })
    .await;
}
