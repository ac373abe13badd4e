//! The request/response path of the client core, over a scripted in-test transport.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use rpc_client::{
    CallOptions, ClientBuilder, Error, HttpError, RequestMeta, RequestTransport, test_utils::answer,
};
use serde_json::{Value, json};

use crate::{bounded, handler};

/// What the transport saw: bodies and per-request headers.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// Answers with [`handler`] unless a canned body is set; records what it saw.
#[derive(Debug, Default, Clone)]
struct Scripted {
    canned: Arc<Mutex<Option<Result<Bytes, u16>>>>,
    seen: Seen,
}

impl RequestTransport for Scripted {
    async fn round_trip(&self, body: String, meta: RequestMeta<'_>) -> Result<Bytes, Error> {
        self.seen
            .lock()
            .unwrap()
            .push((body.clone(), meta.headers.to_vec()));
        if let Some(c) = self.canned.lock().unwrap().clone() {
            return c.map_err(|status| {
                Error::Http(Box::new(HttpError {
                    status,
                    body: "busy".into(),
                    retry_after: Some(Duration::from_secs(2)),
                }))
            });
        }
        if body.contains("\"sleep\"") {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok(answer(body.as_bytes(), handler).unwrap_or_default().into())
    }

    async fn notify(&self, body: String, meta: RequestMeta<'_>) -> Result<(), Error> {
        self.seen
            .lock()
            .unwrap()
            .push((body, meta.headers.to_vec()));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn calls_batches_and_notifications() {
    bounded(async {
        let t = Scripted::default();
        let client = ClientBuilder::new().build_request(t.clone());
        assert!(!client.supports_subscriptions());
        let v: (u64, String) = client.request("echo", (1, "a")).await.unwrap();
        assert_eq!(v, (1, "a".into()));
        let err = client.request::<Value, _>("fail", ()).await.unwrap_err();
        assert_eq!(err.code(), Some(3));
        let mut b = client.batch();
        b.add("echo", [1]).unwrap();
        b.add("nope", ()).unwrap();
        let r = b.send().await.unwrap();
        assert_eq!(r.decode::<Value>(0).unwrap(), json!([1]));
        assert_eq!(r.decode::<Value>(1).unwrap_err().code(), Some(-32601));
        client
            .notify_with("note", [1], &CallOptions::new().header("x-test", "1"))
            .await
            .unwrap();
        let seen = t.seen.lock().unwrap().clone();
        let (body, headers) = seen.last().unwrap();
        assert!(!body.contains("\"id\""));
        assert_eq!(headers, &[("x-test".to_string(), "1".to_string())]);
        assert!(matches!(
            client.subscribe::<Value, _>("eth", ("newHeads",)).await,
            Err(Error::NotificationsUnsupported)
        ));
        // Nothing was sent for the subscribe.
        assert_eq!(t.seen.lock().unwrap().len(), seen.len());
        client.close().await;
        assert!(client.is_closed());
        assert!(matches!(
            client.request::<Value, _>("echo", ()).await,
            Err(Error::Closed)
        ));
        assert!(matches!(
            client.notify("echo", ()).await,
            Err(Error::Closed)
        ));
        assert!(matches!(
            client.batch().send().await,
            Err(Error::EmptyBatch)
        ));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn bad_bodies_and_http_errors() {
    bounded(async {
        let t = Scripted::default();
        let client = ClientBuilder::new()
            .request_timeout(Duration::from_secs(5))
            .build_request(t.clone());
        for (body, check) in [
            ("null", "invalid response"),
            ("", "invalid response"),
            ("[]", "invalid response"),
            ("<html>", "invalid response"),
            (
                r#"{"jsonrpc":"2.0","id":12345,"result":1}"#,
                "does not match",
            ),
        ] {
            *t.canned.lock().unwrap() = Some(Ok(Bytes::from(body)));
            let err = client.request::<Value, _>("echo", ()).await.unwrap_err();
            assert!(err.to_string().contains(check), "{body}: {err}");
        }
        *t.canned.lock().unwrap() = Some(Err(503));
        let err = client.request::<Value, _>("echo", ()).await.unwrap_err();
        assert_eq!(err.http_error().unwrap().status, 503);
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        *t.canned.lock().unwrap() = None;
        let err = client.request::<Value, _>("sleep", ()).await.unwrap_err();
        assert!(err.is_timeout());
    })
    .await;
}
