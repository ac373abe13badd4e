//! Test support (feature `test-utils`): an in-memory duplex transport whose server side the test
//! drives frame by frame (for fault injection), and [`answer`], a tiny JSON-RPC responder that
//! any test server (in-memory, WebSocket, HTTP) can put behind its own framing.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::{
    error::Error,
    transport::{Connector, FrameReceiver, FrameSender},
};

/// Creates an in-memory connector and the listener that receives its connections.
/// `capacity` bounds each direction's frame queue.
pub fn memory_connector(capacity: usize) -> (MemoryConnector, MemoryListener) {
    let (tx, rx) = mpsc::channel(16);
    (
        MemoryConnector {
            accept: tx,
            refuse: Arc::new(AtomicBool::new(false)),
            connects: Arc::new(AtomicUsize::new(0)),
            capacity: capacity.max(1),
        },
        MemoryListener { rx },
    )
}

/// The client side: each [`connect`](Connector::connect) hands a new [`ServerConn`] to the
/// [`MemoryListener`].
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    accept: mpsc::Sender<ServerConn>,
    refuse: Arc<AtomicBool>,
    connects: Arc<AtomicUsize>,
    capacity: usize,
}

impl MemoryConnector {
    /// Makes later connects fail (simulates a server that is down).
    pub fn set_refusing(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Number of connect attempts so far (successful or not).
    pub fn connect_count(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MemError(&'static str);

impl Connector for MemoryConnector {
    type Sender = MemorySender;
    type Receiver = MemoryReceiver;

    async fn connect(&self) -> Result<(MemorySender, MemoryReceiver), Error> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Error::connect(MemError("connection refused")));
        }
        let (c2s_tx, c2s_rx) = mpsc::channel(self.capacity);
        let (s2c_tx, s2c_rx) = mpsc::channel(self.capacity);
        self.accept
            .send(ServerConn {
                rx: c2s_rx,
                tx: s2c_tx,
            })
            .await
            .map_err(|_| Error::connect(MemError("no listener")))?;
        Ok((
            MemorySender {
                tx: c2s_tx,
                closed: AtomicBool::new(false),
            },
            MemoryReceiver {
                rx: Mutex::new(s2c_rx),
            },
        ))
    }
}

/// Receives the server sides of in-memory connections.
#[derive(Debug)]
pub struct MemoryListener {
    rx: mpsc::Receiver<ServerConn>,
}

impl MemoryListener {
    /// The next connection; `None` when every connector is gone.
    pub async fn accept(&mut self) -> Option<ServerConn> {
        self.rx.recv().await
    }
}

/// The server side of one in-memory connection. Dropping it "kills" the connection.
#[derive(Debug)]
pub struct ServerConn {
    rx: mpsc::Receiver<String>,
    tx: mpsc::Sender<Bytes>,
}

impl ServerConn {
    /// The next frame from the client; `None` when the client closed or dropped the connection.
    pub async fn recv(&mut self) -> Option<String> {
        self.rx.recv().await
    }

    /// Sends a frame to the client; `false` when the client is gone.
    pub async fn send(&self, frame: impl Into<Bytes>) -> bool {
        self.tx.send(frame.into()).await.is_ok()
    }

    /// A clonable handle for pushing frames (notifications) from another task.
    pub fn pusher(&self) -> mpsc::Sender<Bytes> {
        self.tx.clone()
    }

    /// Answers every request with `handler` until the client goes away.
    pub async fn serve(mut self, mut handler: impl FnMut(&str, &Value) -> Reply) {
        while let Some(frame) = self.recv().await {
            if let Some(out) = answer(frame.as_bytes(), &mut handler)
                && !self.send(out).await
            {
                return;
            }
        }
    }
}

/// Client sending half of an in-memory connection.
#[derive(Debug)]
pub struct MemorySender {
    tx: mpsc::Sender<String>,
    closed: AtomicBool,
}

impl FrameSender for MemorySender {
    async fn send(&self, frame: String) -> Result<(), Error> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::transport(MemError("connection closed")));
        }
        self.tx
            .send(frame)
            .await
            .map_err(|_| Error::transport(MemError("connection closed")))
    }

    async fn flush(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn close(&self) -> Result<(), Error> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// Client receiving half of an in-memory connection.
#[derive(Debug)]
pub struct MemoryReceiver {
    rx: Mutex<mpsc::Receiver<Bytes>>,
}

impl FrameReceiver for MemoryReceiver {
    async fn recv(&self) -> Result<Option<Bytes>, Error> {
        Ok(self.rx.lock().await.recv().await)
    }
}

/// What a test handler answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `"result": value`.
    Result(Value),
    /// `"error": {code, message, data?}`.
    Error {
        /// The code.
        code: i64,
        /// The message.
        message: String,
        /// Optional data.
        data: Option<Value>,
    },
    /// A complete raw message sent instead of a proper response.
    Raw(String),
    /// No answer at all.
    Silent,
}

impl Reply {
    /// A `-32601` method-not-found error in go-ethereum's wording.
    pub fn method_not_found(method: &str) -> Self {
        Self::Error {
            code: -32601,
            message: format!("the method {method} does not exist/is not available"),
            data: None,
        }
    }
}

fn respond(id: &Value, reply: Reply) -> Option<Value> {
    match reply {
        Reply::Result(v) => Some(json!({"jsonrpc": "2.0", "id": id, "result": v})),
        Reply::Error {
            code,
            message,
            data,
        } => {
            let mut err = json!({"code": code, "message": message});
            if let (Some(d), Some(obj)) = (data, err.as_object_mut()) {
                obj.insert("data".into(), d);
            }
            Some(json!({"jsonrpc": "2.0", "id": id, "error": err}))
        }
        Reply::Raw(s) => serde_json::from_str(&s).ok().or(Some(Value::String(s))),
        Reply::Silent => None,
    }
}

fn answer_one(req: &Value, handler: &mut impl FnMut(&str, &Value) -> Reply) -> Option<Value> {
    let method = req.get("method").and_then(Value::as_str);
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let id = req.get("id");
    match (method, id) {
        (Some(m), Some(id)) => respond(id, handler(m, &params)),
        (Some(m), None) => {
            handler(m, &params);
            None
        }
        (None, id) => Some(
            json!({"jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null),
            "error": {"code": -32600, "message": "invalid request"}}),
        ),
    }
}

/// Answers one incoming frame (a request, a notification or a batch) with `handler`; `None`
/// when nothing is to be sent back. Invalid JSON gets a `-32700` error with `id: null`.
/// A [`Reply::Raw`] that is not JSON is sent verbatim.
pub fn answer(frame: &[u8], mut handler: impl FnMut(&str, &Value) -> Reply) -> Option<String> {
    let req: Value = match serde_json::from_slice(frame) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                json!({"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32700, "message": e.to_string()}})
                .to_string(),
            );
        }
    };
    let out = match &req {
        Value::Array(items) if items.is_empty() => Some(json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": -32600, "message": "empty batch"}})),
        Value::Array(items) => {
            let answers: Vec<Value> = items
                .iter()
                .filter_map(|r| answer_one(r, &mut handler))
                .collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        other => answer_one(other, &mut handler),
    };
    out.map(|v| match v {
        Value::String(s) => s,
        v => v.to_string(),
    })
}

/// A `<namespace>_subscription` notification frame.
pub fn notification(namespace: &str, subscription: &Value, result: &Value) -> String {
    json!({"jsonrpc": "2.0", "method": format!("{namespace}_subscription"),
        "params": {"subscription": subscription, "result": result}})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_requests_batches_and_garbage() {
        let mut h = |m: &str, p: &Value| match m {
            "echo" => Reply::Result(p.clone()),
            "silent" => Reply::Silent,
            other => Reply::method_not_found(other),
        };
        let out = answer(
            br#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#,
            &mut h,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["result"], json!([1]));
        assert!(answer(br#"{"jsonrpc":"2.0","method":"echo"}"#, &mut h).is_none());
        let out = answer(
            br#"[{"id":1,"method":"echo","params":[]},{"id":2,"method":"nope"},{"id":3,"method":"silent"}]"#,
            &mut h,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[1]["error"]["code"], json!(-32601));
        let out = answer(b"{bad", &mut h).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["error"]["code"], json!(-32700));
        assert_eq!(v["id"], Value::Null);
    }
}
