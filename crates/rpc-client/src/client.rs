//! The client handle ([`Client`]), its builder, and batches.
//!
//! A [`Client`] is a cheap `Clone` handle. Over a duplex transport every handle talks to one
//! [`Driver`]; over a request/response transport each call is one round trip and no driver
//! exists.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;
use tokio::{
    sync::{mpsc, oneshot},
    time::timeout,
};

use crate::{
    config::{CallOptions, Config, OverflowPolicy, ReconnectPolicy, SubscriptionOptions},
    dispatch::{BatchState, Driver, Outgoing, Pending, Shared},
    error::Error,
    subscription::{SubShared, Subscription, key_to_json},
    transport::{Connector, DynRequestTransport, RequestMeta, RequestTransport},
    wire::{self, Id, Parsed},
};

/// Builds a [`Client`] over a duplex ([`Connector`]) or request/response
/// ([`RequestTransport`]) transport.
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    /// Default settings: request timeout 60 s, connect timeout 10 s, unsubscribe timeout 10 s,
    /// write timeout 10 s, 20 000 buffered notifications per subscription with
    /// [`OverflowPolicy::Close`], no batch chunking, no reconnect policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Default timeout of every call and batch (override per call with [`CallOptions`]).
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.config.request_timeout = d;
        self
    }

    /// Timeout of each dial (initial, lazy redial and reconnect attempts).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// Timeout of [`Subscription::unsubscribe`].
    #[must_use]
    pub fn unsubscribe_timeout(mut self, d: Duration) -> Self {
        self.config.unsubscribe_timeout = d;
        self
    }

    /// Bound on writing a frame to a duplex connection; exceeding it drops the connection.
    #[must_use]
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.config.write_timeout = d;
        self
    }

    /// Default number of notifications buffered per subscription (at least 1).
    #[must_use]
    pub fn subscription_capacity(mut self, n: usize) -> Self {
        self.config.subscription_capacity = n.max(1);
        self
    }

    /// Default overflow policy of subscriptions.
    #[must_use]
    pub fn overflow_policy(mut self, p: OverflowPolicy) -> Self {
        self.config.overflow_policy = p;
        self
    }

    /// Splits batches larger than `n` into several batches of at most `n` (sent concurrently on
    /// duplex transports, one after another on request/response transports).
    #[must_use]
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.config.max_batch_size = Some(n.max(1));
        self
    }

    /// Capacity of the channel from callers to the dispatch loop (callers wait when it is full).
    #[must_use]
    pub fn max_queued_requests(mut self, n: usize) -> Self {
        self.config.max_queued_requests = n.max(1);
        self
    }

    /// Enables background reconnection with resubscription (duplex transports only).
    #[must_use]
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = Some(policy);
        self
    }

    /// Builds a duplex client that dials on the first call. Run the returned [`Driver`].
    pub fn build_duplex<C: Connector>(self, connector: C) -> (Client, Driver<C>) {
        self.make_duplex(connector, None)
    }

    /// Dials (bounded by the connect timeout) and builds a duplex client. Run the returned
    /// [`Driver`].
    ///
    /// # Errors
    ///
    /// The dial error, or [`Error::ConnectTimeout`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the dial.
    pub async fn connect<C: Connector>(self, connector: C) -> Result<(Client, Driver<C>), Error> {
        let conn = match timeout(self.config.connect_timeout, connector.connect()).await {
            Ok(r) => r?,
            Err(_) => return Err(Error::ConnectTimeout),
        };
        Ok(self.make_duplex(connector, Some(conn)))
    }

    /// Like [`build_duplex`](Self::build_duplex), and spawns the driver on the current tokio
    /// runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn_duplex<C: Connector>(self, connector: C) -> Client {
        let (client, driver) = self.build_duplex(connector);
        tokio::spawn(driver.run());
        client
    }

    /// Like [`connect`](Self::connect), and spawns the driver on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The dial error, or [`Error::ConnectTimeout`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the dial.
    pub async fn spawn_connect<C: Connector>(self, connector: C) -> Result<Client, Error> {
        let (client, driver) = self.connect(connector).await?;
        tokio::spawn(driver.run());
        Ok(client)
    }

    /// Builds a client over a request/response transport (no driver needed).
    pub fn build_request<T: RequestTransport>(self, transport: T) -> Client {
        Client {
            inner: Arc::new(Inner {
                backend: Backend::Request {
                    transport: Box::new(transport),
                    next_id: AtomicU64::new(1),
                    closed: AtomicBool::new(false),
                },
                config: self.config,
            }),
        }
    }

    fn make_duplex<C: Connector>(
        self,
        connector: C,
        conn: Option<(C::Sender, C::Receiver)>,
    ) -> (Client, Driver<C>) {
        let (tx, rx) = mpsc::channel(self.config.max_queued_requests);
        let shared = Arc::new(Shared::new(self.config.clone()));
        let driver = Driver::new(shared.clone(), rx, connector, conn);
        let client = Client {
            inner: Arc::new(Inner {
                backend: Backend::Duplex { shared, tx },
                config: self.config,
            }),
        };
        (client, driver)
    }
}

enum Backend {
    Duplex {
        shared: Arc<Shared>,
        tx: mpsc::Sender<Outgoing>,
    },
    Request {
        transport: Box<dyn DynRequestTransport>,
        next_id: AtomicU64,
        closed: AtomicBool,
    },
}

struct Inner {
    backend: Backend,
    config: Config,
}

/// A JSON-RPC client handle; clone it freely (clones share the connection).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.backend {
            Backend::Duplex { .. } => "duplex",
            Backend::Request { .. } => "request",
        };
        f.debug_struct("Client").field("transport", &kind).finish()
    }
}

/// Removes a pending entry when the waiting future is dropped before its answer.
struct PendingGuard<'a> {
    shared: &'a Shared,
    first: u64,
    count: u64,
    batch: bool,
    armed: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            for id in self.first..self.first + self.count {
                st.pending.remove(&id);
            }
            if self.batch {
                st.batches.remove(&self.first);
            }
        }
    }
}

/// Turns a subscribe request whose caller gave up into an orphan (unsubscribed on reply).
struct SubscribeGuard<'a> {
    shared: &'a Shared,
    id: u64,
    sub: &'a SubShared,
    armed: bool,
}

impl Drop for SubscribeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            if st.pending.remove(&self.id).is_some()
                && st.orphans.len() < crate::dispatch::MAX_ORPHANS
            {
                st.orphans
                    .insert(self.id, self.sub.unsubscribe_method.clone());
            }
        }
    }
}

fn decode<R: DeserializeOwned>(raw: &RawValue) -> Result<R, Error> {
    serde_json::from_str(raw.get()).map_err(Error::Decode)
}

fn decode_bytes<R: DeserializeOwned>(raw: &[u8]) -> Result<R, Error> {
    serde_json::from_slice(raw).map_err(Error::Decode)
}

fn to_raw(bytes: &[u8]) -> Result<Box<RawValue>, Error> {
    serde_json::from_slice(bytes).map_err(Error::Decode)
}

impl Client {
    /// Calls `method` with `params` (a tuple, array, struct, map, or `()` for none) and decodes
    /// the result as `R`.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an error response; [`Error::Decode`] when the result is not an `R`;
    /// timeouts, transport and connection errors otherwise.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the call (its pending entry is removed); the request may
    /// already be on the wire and a late answer is ignored.
    pub async fn request<R: DeserializeOwned, P: Serialize>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, Error> {
        let raw = self
            .call_raw(method, &params, &CallOptions::default())
            .await?;
        decode_bytes(&raw)
    }

    /// Like [`request`](Self::request) with per-call options.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request).
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Self::request).
    pub async fn request_with<R: DeserializeOwned, P: Serialize>(
        &self,
        method: &str,
        params: P,
        options: &CallOptions,
    ) -> Result<R, Error> {
        let raw = self.call_raw(method, &params, options).await?;
        decode_bytes(&raw)
    }

    /// Calls `method` and returns the result undecoded.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request), without decode errors.
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Self::request).
    pub async fn request_raw<P: Serialize>(
        &self,
        method: &str,
        params: P,
    ) -> Result<Box<RawValue>, Error> {
        let raw = self
            .call_raw(method, &params, &CallOptions::default())
            .await?;
        to_raw(&raw)
    }

    /// Like [`request_raw`](Self::request_raw) with per-call options.
    ///
    /// # Errors
    ///
    /// As [`request_raw`](Self::request_raw).
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Self::request).
    pub async fn request_raw_with<P: Serialize>(
        &self,
        method: &str,
        params: P,
        options: &CallOptions,
    ) -> Result<Box<RawValue>, Error> {
        let raw = self.call_raw(method, &params, options).await?;
        to_raw(&raw)
    }

    async fn call_raw<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
        options: &CallOptions,
    ) -> Result<Bytes, Error> {
        let limit = options.timeout.unwrap_or(self.inner.config.request_timeout);
        match &self.inner.backend {
            Backend::Duplex { shared, tx } => {
                let id = shared.ids(1);
                let frame = wire::encode_request(Some(id), method, params)?;
                let (rtx, rrx) = oneshot::channel();
                let epoch = {
                    let mut st = shared.lock();
                    if st.closed {
                        return Err(Error::Closed);
                    }
                    let retry = (options.retry_safe && shared.config.reconnect.is_some())
                        .then(|| frame.clone());
                    st.pending.insert(id, Pending::Call { tx: rtx, retry });
                    st.epoch
                };
                let mut guard = PendingGuard {
                    shared,
                    first: id,
                    count: 1,
                    batch: false,
                    armed: true,
                };
                let res = timeout(limit, async {
                    tx.send(Outgoing { frame, epoch })
                        .await
                        .map_err(|_| Error::Closed)?;
                    rrx.await.unwrap_or(Err(Error::Disconnected))
                })
                .await
                .unwrap_or(Err(Error::Timeout));
                guard.armed = !matches!(res, Ok(_) | Err(Error::Rpc(_)));
                res
            }
            Backend::Request {
                transport,
                next_id,
                closed,
            } => {
                if closed.load(Ordering::Relaxed) {
                    return Err(Error::Closed);
                }
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let body = wire::encode_request(Some(id), method, params)?;
                let meta = RequestMeta {
                    headers: &options.headers,
                    timeout: limit,
                };
                let bytes = timeout(limit, transport.round_trip_dyn(body, meta))
                    .await
                    .unwrap_or(Err(Error::Timeout))?;
                single_response(&bytes, id)
            }
        }
    }

    /// Sends a notification (no id, no answer).
    ///
    /// On a duplex transport it returns once the frame is handed to the dispatch loop; on a
    /// request/response transport once the server has accepted the request (its body is
    /// ignored).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`], [`Error::Closed`], [`Error::Timeout`], transport errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may or may not send the notification.
    pub async fn notify<P: Serialize>(&self, method: &str, params: P) -> Result<(), Error> {
        self.notify_with(method, params, &CallOptions::default())
            .await
    }

    /// Like [`notify`](Self::notify) with per-call options.
    ///
    /// # Errors
    ///
    /// As [`notify`](Self::notify).
    ///
    /// # Cancel safety
    ///
    /// As [`notify`](Self::notify).
    pub async fn notify_with<P: Serialize>(
        &self,
        method: &str,
        params: P,
        options: &CallOptions,
    ) -> Result<(), Error> {
        let frame = wire::encode_request(None, method, &params)?;
        let limit = options.timeout.unwrap_or(self.inner.config.request_timeout);
        match &self.inner.backend {
            Backend::Duplex { shared, tx } => {
                let epoch = {
                    let st = shared.lock();
                    if st.closed {
                        return Err(Error::Closed);
                    }
                    st.epoch
                };
                timeout(limit, tx.send(Outgoing { frame, epoch }))
                    .await
                    .map_err(|_| Error::Timeout)?
                    .map_err(|_| Error::Closed)
            }
            Backend::Request {
                transport, closed, ..
            } => {
                if closed.load(Ordering::Relaxed) {
                    return Err(Error::Closed);
                }
                let meta = RequestMeta {
                    headers: &options.headers,
                    timeout: limit,
                };
                timeout(limit, transport.notify_dyn(frame, meta))
                    .await
                    .unwrap_or(Err(Error::Timeout))
            }
        }
    }

    /// Starts a batch; add calls and [`send`](BatchBuilder::send) it.
    pub fn batch(&self) -> BatchBuilder<'_> {
        BatchBuilder {
            client: self,
            calls: Vec::new(),
            options: CallOptions::default(),
        }
    }

    /// Whether the transport can carry subscriptions.
    pub fn supports_subscriptions(&self) -> bool {
        matches!(self.inner.backend, Backend::Duplex { .. })
    }

    /// Subscribes with `<namespace>_subscribe(params)` (for example `("eth", ("newHeads",))`)
    /// and returns the notifications as a stream of `T`.
    ///
    /// # Errors
    ///
    /// [`Error::NotificationsUnsupported`] on request/response transports (nothing is sent);
    /// the server's error; timeouts and connection errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the reply forgets the request; if the server's success reply
    /// arrives later, the subscription is unsubscribed at once.
    pub async fn subscribe<T: DeserializeOwned, P: Serialize>(
        &self,
        namespace: &str,
        params: P,
    ) -> Result<Subscription<T>, Error> {
        self.subscribe_with(namespace, params, SubscriptionOptions::default())
            .await
    }

    /// Like [`subscribe`](Self::subscribe) with per-subscription options.
    ///
    /// # Errors
    ///
    /// As [`subscribe`](Self::subscribe).
    ///
    /// # Cancel safety
    ///
    /// As [`subscribe`](Self::subscribe).
    pub async fn subscribe_with<T: DeserializeOwned, P: Serialize>(
        &self,
        namespace: &str,
        params: P,
        options: SubscriptionOptions,
    ) -> Result<Subscription<T>, Error> {
        let Backend::Duplex { shared, tx } = &self.inner.backend else {
            return Err(Error::NotificationsUnsupported);
        };
        let params = wire::params_to_raw(&params)?;
        let id = shared.ids(1);
        let sub = Arc::new(SubShared::new(
            id,
            namespace,
            params,
            options
                .capacity
                .unwrap_or(shared.config.subscription_capacity),
            options.policy.unwrap_or(shared.config.overflow_policy),
        ));
        let frame = wire::encode_request(Some(id), &sub.subscribe_method, &sub.params.as_deref())?;
        let (rtx, rrx) = oneshot::channel();
        let epoch = {
            let mut st = shared.lock();
            if st.closed {
                return Err(Error::Closed);
            }
            st.pending.insert(
                id,
                Pending::Subscribe {
                    tx: rtx,
                    sub: sub.clone(),
                },
            );
            st.epoch
        };
        let mut guard = SubscribeGuard {
            shared,
            id,
            sub: &sub,
            armed: true,
        };
        let limit = options.timeout.unwrap_or(shared.config.request_timeout);
        let res = timeout(limit, async {
            tx.send(Outgoing { frame, epoch })
                .await
                .map_err(|_| Error::Closed)?;
            rrx.await.unwrap_or(Err(Error::Disconnected))
        })
        .await
        .unwrap_or(Err(Error::Timeout));
        // After a timeout the reply may still come: the guard turns the request into an orphan
        // that is unsubscribed on arrival.
        guard.armed = matches!(res, Err(Error::Timeout));
        drop(guard);
        match res {
            Ok(()) => Ok(Subscription::new(sub, self.clone())),
            Err(Error::Timeout) => Err(Error::Timeout),
            Err(e) => {
                shared.lock().pending.remove(&id);
                Err(e)
            }
        }
    }

    /// Closes the client: pending calls fail with [`Error::Closed`], subscriptions end with it,
    /// a duplex connection is closed gracefully; later calls fail with [`Error::Closed`].
    /// Waits (bounded by the write timeout) for the driver to finish. Safe to call twice.
    /// On request/response transports requests already sent complete normally and later calls
    /// are refused.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the client is closed as soon as the future is first polled.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Duplex { shared, .. } => {
                shared.close();
                let mut done = shared.done.subscribe();
                let wait = shared.config.write_timeout + Duration::from_secs(1);
                let _ = timeout(wait, done.wait_for(|d| *d)).await;
            }
            Backend::Request { closed, .. } => closed.store(true, Ordering::Relaxed),
        }
    }

    /// Whether [`close`](Self::close) was called (or the driver is gone).
    pub fn is_closed(&self) -> bool {
        match &self.inner.backend {
            Backend::Duplex { shared, .. } => shared.lock().closed,
            Backend::Request { closed, .. } => closed.load(Ordering::Relaxed),
        }
    }

    /// Releases a subscription locally; returns its server id when an unsubscribe is due.
    pub(crate) fn release_subscription(&self, sub: &SubShared) -> Option<String> {
        let Backend::Duplex { shared, .. } = &self.inner.backend else {
            return None;
        };
        let mut st = shared.lock();
        st.live.remove(&sub.local_id);
        let mut q = sub.lock();
        q.released = true;
        let finished = q.is_finished();
        q.end_with(None);
        let key = q.server_key.take()?;
        drop(q);
        st.subs.remove(&key);
        (!finished && !st.closed).then_some(key)
    }

    /// Fire-and-forget unsubscribe (from `Drop`).
    pub(crate) fn queue_unsubscribe(&self, method: &str, key: &str) {
        if let Backend::Duplex { shared, .. } = &self.inner.backend {
            shared.queue_unsubscribe(method, key);
        }
    }

    /// Unsubscribe call bounded by the unsubscribe timeout.
    pub(crate) async fn unsubscribe_call(&self, method: &str, key: &str) -> Result<(), Error> {
        let opts = CallOptions::new().timeout(self.inner.config.unsubscribe_timeout);
        self.call_raw(method, &[key_to_json(key)], &opts)
            .await
            .map(|_| ())
    }

    async fn send_batch_chunk(
        &self,
        calls: &[(String, Option<Box<RawValue>>)],
        options: &CallOptions,
    ) -> Result<Vec<Result<Box<RawValue>, Error>>, Error> {
        let limit = options.timeout.unwrap_or(self.inner.config.request_timeout);
        let n = calls.len() as u64;
        let encode = |first: u64| -> Result<String, Error> {
            let mut buf = Vec::with_capacity(calls.len() * 64 + 2);
            buf.push(b'[');
            for (i, (method, params)) in calls.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                wire::write_request(&mut buf, Some(first + i as u64), method, &params.as_deref())?;
            }
            buf.push(b']');
            wire::into_string(buf)
        };
        match &self.inner.backend {
            Backend::Duplex { shared, tx } => {
                let first = shared.ids(n);
                let frame = encode(first)?;
                let (rtx, rrx) = oneshot::channel();
                let epoch = {
                    let mut st = shared.lock();
                    if st.closed {
                        return Err(Error::Closed);
                    }
                    for (i, id) in (first..first + n).enumerate() {
                        st.pending.insert(
                            id,
                            Pending::BatchItem {
                                batch: first,
                                index: i,
                            },
                        );
                    }
                    st.batches.insert(
                        first,
                        BatchState {
                            first,
                            results: (0..n).map(|_| None).collect(),
                            tx: Some(rtx),
                        },
                    );
                    st.epoch
                };
                let mut guard = PendingGuard {
                    shared,
                    first,
                    count: n,
                    batch: true,
                    armed: true,
                };
                let res = timeout(limit, async {
                    tx.send(Outgoing { frame, epoch })
                        .await
                        .map_err(|_| Error::Closed)?;
                    rrx.await.map_err(|_| Error::Disconnected)
                })
                .await
                .unwrap_or(Err(Error::Timeout));
                guard.armed = res.is_err();
                res
            }
            Backend::Request {
                transport,
                next_id,
                closed,
            } => {
                if closed.load(Ordering::Relaxed) {
                    return Err(Error::Closed);
                }
                let first = next_id.fetch_add(n, Ordering::Relaxed);
                let body = encode(first)?;
                let meta = RequestMeta {
                    headers: &options.headers,
                    timeout: limit,
                };
                let bytes = timeout(limit, transport.round_trip_dyn(body, meta))
                    .await
                    .unwrap_or(Err(Error::Timeout))?;
                batch_response(&bytes, first, calls.len())
            }
        }
    }
}

/// Matches a request/response answer to a single call.
fn single_response(bytes: &Bytes, id: u64) -> Result<Bytes, Error> {
    match wire::parse_frame(bytes)? {
        Parsed::One(m) => match m.id {
            Id::Num(n) if n == id && m.method.is_none() => m.outcome_in(bytes),
            Id::Null | Id::Missing if m.error.is_some() && m.method.is_none() => {
                m.outcome_in(bytes)
            }
            _ if m.method.is_some() => Err(Error::InvalidResponse(
                "got a notification instead of a response".into(),
            )),
            _ => Err(Error::InvalidResponse(
                "response id does not match the request".into(),
            )),
        },
        Parsed::Many(_) => Err(Error::InvalidResponse(
            "got an array instead of a single response".into(),
        )),
    }
}

/// Matches a request/response answer to a batch of `n` calls with ids `first..first + n`.
fn batch_response(
    bytes: &[u8],
    first: u64,
    n: usize,
) -> Result<Vec<Result<Box<RawValue>, Error>>, Error> {
    let mut out: Vec<Option<Result<Box<RawValue>, Error>>> = (0..n).map(|_| None).collect();
    let mut place = |m: &wire::Incoming<'_>| {
        if let Id::Num(id) = m.id
            && let Some(slot) = id
                .checked_sub(first)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| out.get_mut(i))
            && slot.is_none()
        {
            *slot = Some(m.outcome());
        }
    };
    match wire::parse_frame(bytes)? {
        Parsed::Many(v) => v.iter().flatten().for_each(&mut place),
        Parsed::One(m) => match m.id {
            Id::Num(_) => place(&m),
            _ if m.error.is_some() => return m.outcome().map(|_| Vec::new()),
            _ => {
                return Err(Error::InvalidResponse(
                    "batch answer is neither an array nor an error".into(),
                ));
            }
        },
    }
    Ok(out
        .into_iter()
        .map(|r| r.unwrap_or(Err(Error::MissingResponse)))
        .collect())
}

/// Collects the calls of one batch. Built by [`Client::batch`].
pub struct BatchBuilder<'a> {
    client: &'a Client,
    calls: Vec<(String, Option<Box<RawValue>>)>,
    options: CallOptions,
}

impl fmt::Debug for BatchBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl BatchBuilder<'_> {
    /// Adds a call; returns its index in the [`BatchResponse`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] when the params do not serialise to an array, object or nothing.
    pub fn add<P: Serialize>(&mut self, method: &str, params: P) -> Result<usize, Error> {
        let params = wire::params_to_raw(&params)?;
        self.calls.push((method.to_owned(), params));
        Ok(self.calls.len() - 1)
    }

    /// Number of calls added.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call was added.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Options (timeout, headers) for the whole batch.
    #[must_use]
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// Sends the batch (split into chunks if the client has a maximum batch size) and collects
    /// one result per call, in the order added.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyBatch`] (nothing sent); timeouts and connection errors for the whole
    /// batch. Per-call outcomes (including [`Error::MissingResponse`]) are in the
    /// [`BatchResponse`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the batch; answers arriving later are ignored.
    pub async fn send(self) -> Result<BatchResponse, Error> {
        if self.calls.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let chunk = self
            .client
            .inner
            .config
            .max_batch_size
            .unwrap_or(usize::MAX);
        let items = if self.calls.len() <= chunk {
            self.client
                .send_batch_chunk(&self.calls, &self.options)
                .await?
        } else if self.client.supports_subscriptions() {
            let parts = futures::future::join_all(
                self.calls
                    .chunks(chunk)
                    .map(|c| self.client.send_batch_chunk(c, &self.options)),
            )
            .await;
            let mut items = Vec::with_capacity(self.calls.len());
            for p in parts {
                items.extend(p?);
            }
            items
        } else {
            let mut items = Vec::with_capacity(self.calls.len());
            for c in self.calls.chunks(chunk) {
                items.extend(self.client.send_batch_chunk(c, &self.options).await?);
            }
            items
        };
        Ok(BatchResponse { items })
    }
}

/// The per-call outcomes of a batch, in request order.
#[derive(Debug)]
pub struct BatchResponse {
    items: Vec<Result<Box<RawValue>, Error>>,
}

impl BatchResponse {
    /// Number of outcomes (equal to the number of calls).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no outcomes.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The raw outcome of call `index`.
    pub fn get(&self, index: usize) -> Option<&Result<Box<RawValue>, Error>> {
        self.items.get(index)
    }

    /// Decodes the outcome of call `index` as `R`.
    ///
    /// # Errors
    ///
    /// The call's error, [`Error::Decode`], or [`Error::MissingResponse`] for an index out of
    /// range.
    pub fn decode<R: DeserializeOwned>(&self, index: usize) -> Result<R, Error> {
        match self.items.get(index) {
            Some(Ok(raw)) => decode(raw),
            Some(Err(e)) => Err(e.duplicate()),
            None => Err(Error::MissingResponse),
        }
    }

    /// All raw outcomes.
    pub fn into_results(self) -> Vec<Result<Box<RawValue>, Error>> {
        self.items
    }

    /// Iterates over the raw outcomes.
    pub fn iter(&self) -> impl Iterator<Item = &Result<Box<RawValue>, Error>> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending_len(c: &Client) -> usize {
        match &c.inner.backend {
            Backend::Duplex { shared, .. } => shared.lock().pending.len(),
            Backend::Request { .. } => 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_call_removes_its_pending_entry() {
        let (connector, mut listener) = crate::test_utils::memory_connector(8);
        let (client, driver) = ClientBuilder::new().build_duplex(connector);
        tokio::spawn(driver.run());
        let c = client.clone();
        let call = tokio::spawn(async move { c.request::<u64, _>("m", ()).await });
        let mut conn = listener.accept().await.unwrap();
        let _req = conn.recv().await.unwrap();
        assert_eq!(pending_len(&client), 1);
        call.abort();
        let _ = call.await;
        assert_eq!(pending_len(&client), 0);
        let c = client.clone();
        let batch = tokio::spawn(async move {
            let mut b = c.batch();
            b.add("a", ()).unwrap();
            b.add("b", ()).unwrap();
            b.send().await
        });
        let _req = conn.recv().await.unwrap();
        assert_eq!(pending_len(&client), 2);
        batch.abort();
        let _ = batch.await;
        assert_eq!(pending_len(&client), 0);
        // A timed-out call is removed too.
        let err = client
            .request_with::<u64, _>("m", (), &CallOptions::new().timeout(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(pending_len(&client), 0);
    }

    #[test]
    fn single_response_matching() {
        assert_eq!(
            single_response(
                &Bytes::from_static(br#"{"jsonrpc":"2.0","id":4,"result":"0x1"}"#),
                4
            )
            .unwrap(),
            &br#""0x1""#[..]
        );
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{"id":5,"result":1}"#), 4),
            Err(Error::InvalidResponse(_))
        ));
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{"id":"4","result":1}"#), 4),
            Err(Error::InvalidResponse(_))
        ));
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{"id":null,"error":{"code":-32700,"message":"parse"}}"#), 4),
            Err(Error::Rpc(e)) if e.code == -32700
        ));
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{}"#), 4),
            Err(Error::InvalidResponse(_))
        ));
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{"id":4}"#), 4),
            Err(Error::NoResult)
        ));
        assert!(matches!(
            single_response(&Bytes::from_static(br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":1}}"#),
                4
            ),
            Err(Error::InvalidResponse(_))
        ));
        assert!(single_response(&Bytes::from_static(b"null"), 4).is_err());
    }

    #[test]
    fn batch_response_matching() {
        let r = batch_response(
            br#"[{"id":11,"result":2}, null, {"id":10,"result":1}, {"id":99,"result":0}]"#,
            10,
            3,
        )
        .unwrap();
        assert_eq!(r[0].as_ref().unwrap().get(), "1");
        assert_eq!(r[1].as_ref().unwrap().get(), "2");
        assert!(matches!(r[2], Err(Error::MissingResponse)));
        let r = batch_response(
            br#"{"id":10,"error":{"code":-32600,"message":"batch too large"}}"#,
            10,
            3,
        )
        .unwrap();
        assert!(matches!(&r[0], Err(Error::Rpc(e)) if e.message == "batch too large"));
        assert!(matches!(r[1], Err(Error::MissingResponse)));
        assert!(matches!(
            batch_response(
                br#"{"id":null,"error":{"code":-32700,"message":"x"}}"#,
                10,
                2
            ),
            Err(Error::Rpc(_))
        ));
    }
}
