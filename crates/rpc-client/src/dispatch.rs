//! The dispatch loop of a duplex connection, and the state it shares with client handles.
//!
//! Callers register a pending entry (keyed by the u64 request id) in [`State`] and hand the
//! encoded frame to the [`Driver`] through a bounded channel. The driver is one future: a write
//! half that drains the channel (coalescing frames before a flush) and a read half that parses
//! each incoming frame once and resolves pending entries or feeds subscription buffers. Nothing
//! is spawned per call.
//!
//! Connection generations ("epochs") keep a frame queued for a connection that failed from being
//! sent on the next one after its caller was already told [`Error::Disconnected`].

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasherDefault, Hasher},
    sync::{Arc, Mutex, MutexGuard, atomic::AtomicU64},
    time::Duration,
};

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::{
    sync::{Notify, mpsc, oneshot, watch},
    time::{Instant, timeout},
};

use crate::{
    config::{Config, ReconnectPolicy},
    error::Error,
    subscription::{Pushed, SubShared, key_to_json},
    transport::{Connector, FrameReceiver, FrameSender},
    wire::{self, Id, Incoming, Parsed},
};

/// Frames written between two flushes at most.
const MAX_COALESCED: usize = 128;
/// Bound on remembered subscribe requests whose caller gave up before the reply.
pub(crate) const MAX_ORPHANS: usize = 1024;

/// A cheap hasher for locally allocated sequential ids (Fibonacci multiplicative hashing);
/// ids are not attacker-chosen, so no keyed hash is needed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by local ids.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A frame on its way to the driver.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) frame: String,
    pub(crate) epoch: u64,
}

/// The reply channel of a single call.
pub(crate) type CallTx = oneshot::Sender<Result<Bytes, Error>>;
/// The reply channel of a batch.
pub(crate) type BatchTx = oneshot::Sender<Vec<Result<Box<RawValue>, Error>>>;

/// What a pending request id is waiting for.
#[derive(Debug)]
pub(crate) enum Pending {
    Call {
        tx: CallTx,
        /// The frame, kept for calls marked safe to re-send after a reconnect.
        retry: Option<String>,
    },
    BatchItem {
        batch: u64,
        index: usize,
    },
    Subscribe {
        tx: oneshot::Sender<Result<(), Error>>,
        sub: Arc<SubShared>,
    },
    Resubscribe {
        sub: Arc<SubShared>,
    },
}

/// A batch waiting for its answers.
#[derive(Debug)]
pub(crate) struct BatchState {
    pub(crate) first: u64,
    pub(crate) results: Vec<Option<Result<Box<RawValue>, Error>>>,
    pub(crate) tx: Option<BatchTx>,
}

/// Mutable state shared by handles and the driver.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) epoch: u64,
    pub(crate) closed: bool,
    pub(crate) pending: IdMap<Pending>,
    pub(crate) batches: IdMap<BatchState>,
    /// Live subscriptions by the server's id.
    pub(crate) subs: HashMap<String, Arc<SubShared>>,
    /// Live subscriptions by local id (renewed after a reconnect).
    pub(crate) live: IdMap<Arc<SubShared>>,
    /// Subscribe requests whose caller gave up: unsubscribe when the reply comes.
    pub(crate) orphans: IdMap<String>,
    /// Unsubscribe frames waiting for the write half.
    pub(crate) unsub_queue: Vec<String>,
}

/// State shared by every handle of one duplex client and its driver.
pub(crate) struct Shared {
    pub(crate) next_id: AtomicU64,
    state: Mutex<State>,
    /// Wakes the driver: close requested, or unsubscribe frames queued.
    pub(crate) wake: Notify,
    /// Set to `true` when the driver has finished.
    pub(crate) done: watch::Sender<bool>,
    pub(crate) config: Config,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            done: watch::Sender::new(false),
            config,
        }
    }

    /// Locks the state (a poisoned lock is recovered; every mutation is a single step).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Allocates `n` consecutive request ids.
    pub(crate) fn ids(&self, n: u64) -> u64 {
        self.next_id
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the client closed: fails everything with [`Error::Closed`] and wakes the driver.
    pub(crate) fn close(&self) {
        {
            let mut st = self.lock();
            if !st.closed {
                st.closed = true;
                st.fail_all(&Error::Closed);
            }
        }
        self.wake.notify_one();
    }

    /// Queues an unsubscribe request for the write half (fire and forget).
    pub(crate) fn queue_unsubscribe(&self, method: &str, key: &str) {
        let id = self.ids(1);
        match wire::encode_request(Some(id), method, &[key_to_json(key)]) {
            Ok(frame) => {
                self.lock().unsub_queue.push(frame);
                self.wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode unsubscribe"),
        }
    }

    /// Parses one incoming frame and routes every message in it.
    pub(crate) fn handle_frame(&self, frame: &Bytes) {
        let parsed = match wire::parse_frame(frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, len = frame.len(), "ignoring unparsable frame");
                return;
            }
        };
        let mut touched = Vec::new();
        let queued_unsub = {
            let mut st = self.lock();
            let before = st.unsub_queue.len();
            match parsed {
                Parsed::One(m) => st.handle_message(self, frame, m, &mut touched),
                Parsed::Many(v) => {
                    for m in v.into_iter().flatten() {
                        st.handle_message(self, frame, m, &mut touched);
                    }
                }
            }
            for key in touched {
                st.finish_batch(key);
            }
            st.unsub_queue.len() > before
        };
        if queued_unsub {
            self.wake.notify_one();
        }
    }
}

impl State {
    /// Fails every pending request and ends every subscription with `err`.
    pub(crate) fn fail_all(&mut self, err: &Error) {
        self.epoch += 1;
        for (_, p) in self.pending.drain() {
            match p {
                Pending::Call { tx, .. } => {
                    let _ = tx.send(Err(err.duplicate()));
                }
                Pending::Subscribe { tx, .. } => {
                    let _ = tx.send(Err(err.duplicate()));
                }
                Pending::BatchItem { .. } | Pending::Resubscribe { .. } => {}
            }
        }
        for (_, b) in self.batches.drain() {
            if let Some(tx) = b.tx {
                let _ = tx.send(
                    b.results
                        .into_iter()
                        .map(|r| r.unwrap_or_else(|| Err(err.duplicate())))
                        .collect(),
                );
            }
        }
        for (_, sub) in self.live.drain() {
            let mut q = sub.lock();
            q.server_key = None;
            q.end_with(Some(err.duplicate()));
        }
        self.subs.clear();
        self.orphans.clear();
        self.unsub_queue.clear();
    }

    /// Prepares for a reconnect: fails in-flight requests that are not retry-safe, keeps live
    /// subscriptions (without server ids) for renewal.
    fn fail_for_reconnect(&mut self) {
        self.epoch += 1;
        for (id, p) in std::mem::take(&mut self.pending) {
            match p {
                Pending::Call {
                    tx,
                    retry: Some(frame),
                } => {
                    self.pending.insert(
                        id,
                        Pending::Call {
                            tx,
                            retry: Some(frame),
                        },
                    );
                }
                Pending::Call { tx, retry: None } => {
                    let _ = tx.send(Err(Error::Disconnected));
                }
                Pending::Subscribe { tx, .. } => {
                    let _ = tx.send(Err(Error::Disconnected));
                }
                Pending::BatchItem { .. } | Pending::Resubscribe { .. } => {}
            }
        }
        for (_, b) in self.batches.drain() {
            if let Some(tx) = b.tx {
                let _ = tx.send(
                    b.results
                        .into_iter()
                        .map(|r| r.unwrap_or(Err(Error::Disconnected)))
                        .collect(),
                );
            }
        }
        for sub in self.live.values() {
            sub.lock().server_key = None;
        }
        self.subs.clear();
        self.orphans.clear();
        self.unsub_queue.clear();
    }

    /// Frames to send right after a reconnect: retry-safe calls, then resubscriptions.
    fn renewal_frames(&mut self, shared: &Shared) -> Vec<String> {
        let mut frames: Vec<String> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Call { retry, .. } => retry.clone(),
                _ => None,
            })
            .collect();
        let subs: Vec<Arc<SubShared>> = self.live.values().cloned().collect();
        for sub in subs {
            let id = shared.ids(1);
            let params = sub.params.as_deref();
            match wire::encode_request(Some(id), &sub.subscribe_method, &params) {
                Ok(f) => {
                    frames.push(f);
                    self.pending.insert(id, Pending::Resubscribe { sub });
                }
                Err(e) => {
                    self.live.remove(&sub.local_id);
                    sub.lock().end_with(Some(e));
                }
            }
        }
        frames
    }

    fn handle_message(
        &mut self,
        shared: &Shared,
        frame: &Bytes,
        m: Incoming<'_>,
        touched: &mut Vec<u64>,
    ) {
        match (m.id, m.method.is_some()) {
            (Id::Num(id), false) => self.handle_response(shared, frame, id, &m, touched),
            (Id::Missing | Id::Null, true) => self.handle_notification(shared, &m),
            (Id::Null, false) if m.error.is_some() => {
                tracing::warn!(error = %m.outcome().err().map(|e| e.to_string()).unwrap_or_default(),
                    "server reported an error without a request id");
            }
            (_, true) => {
                tracing::debug!(method = ?m.method, "ignoring call from the server");
            }
            (id, false) => tracing::debug!(?id, "ignoring response with unknown id"),
        }
    }

    fn handle_response(
        &mut self,
        shared: &Shared,
        frame: &Bytes,
        id: u64,
        m: &Incoming<'_>,
        touched: &mut Vec<u64>,
    ) {
        match self.pending.remove(&id) {
            Some(Pending::Call { tx, .. }) => {
                let _ = tx.send(m.outcome_in(frame));
            }
            Some(Pending::BatchItem { batch, index }) => {
                if let Some(b) = self.batches.get_mut(&batch) {
                    if let Some(slot) = b.results.get_mut(index) {
                        *slot = Some(m.outcome());
                    }
                    if !touched.contains(&batch) {
                        touched.push(batch);
                    }
                }
            }
            Some(Pending::Subscribe { tx, sub }) => {
                let res = m.outcome().and_then(|raw| wire::parse_sub_id(&raw));
                match res {
                    Ok(key) => {
                        self.register_sub(&key, &sub);
                        if tx.send(Ok(())).is_err() {
                            // The caller went away in between: release it right here.
                            self.subs.remove(&key);
                            self.live.remove(&sub.local_id);
                            self.push_unsub(shared, &sub.unsubscribe_method, &key);
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            }
            Some(Pending::Resubscribe { sub }) => {
                let res = m.outcome().and_then(|raw| wire::parse_sub_id(&raw));
                match res {
                    Ok(key) => {
                        if sub.lock().released {
                            self.push_unsub(shared, &sub.unsubscribe_method, &key);
                        } else {
                            self.register_sub(&key, &sub);
                            sub.lock().push_reconnected();
                        }
                    }
                    Err(e) => {
                        self.live.remove(&sub.local_id);
                        sub.lock().end_with(Some(e));
                    }
                }
            }
            None => {
                if let Some(unsub) = self.orphans.remove(&id) {
                    if let Ok(key) = m.outcome().and_then(|raw| wire::parse_sub_id(&raw)) {
                        self.push_unsub(shared, &unsub, &key);
                    }
                } else {
                    tracing::debug!(id, "ignoring response with unknown id");
                }
            }
        }
    }

    fn register_sub(&mut self, key: &str, sub: &Arc<SubShared>) {
        sub.lock().server_key = Some(key.to_owned());
        self.subs.insert(key.to_owned(), sub.clone());
        self.live.insert(sub.local_id, sub.clone());
    }

    fn push_unsub(&mut self, shared: &Shared, method: &str, key: &str) {
        let id = shared.ids(1);
        match wire::encode_request(Some(id), method, &[key_to_json(key)]) {
            Ok(frame) => self.unsub_queue.push(frame),
            Err(e) => tracing::warn!(error = %e, "cannot encode unsubscribe"),
        }
    }

    fn handle_notification(&mut self, shared: &Shared, m: &Incoming<'_>) {
        let Some(method) = m.method.as_deref() else {
            return;
        };
        if !method.ends_with("_subscription") {
            tracing::debug!(method, "ignoring server notification");
            return;
        }
        let Some(p) = &m.sub else {
            tracing::debug!(method, "malformed subscription notification");
            return;
        };
        let mut buf = [0u8; wire::NUM_KEY_BUF];
        let key = p.subscription.as_key(&mut buf);
        let Some(sub) = self.subs.get(key.as_ref()) else {
            tracing::debug!(method, subscription = %key, "notification for unknown subscription");
            return;
        };
        if let Some(err) = p.error {
            let sub = sub.clone();
            self.subs.remove(key.as_ref());
            self.live.remove(&sub.local_id);
            let e = match wire::decode_error_object(err) {
                Error::Rpc(obj) => Error::SubscriptionEnded(obj),
                other => other,
            };
            sub.lock().end_with(Some(e));
            return;
        }
        let Some(result) = p.result else {
            tracing::debug!(method, "notification without result");
            return;
        };
        let pushed = sub.lock().push(result.to_owned());
        if pushed == Pushed::Overflowed {
            let sub = sub.clone();
            tracing::warn!(subscription = %key, "subscription buffer overflowed, unsubscribing");
            self.subs.remove(key.as_ref());
            self.live.remove(&sub.local_id);
            self.push_unsub(shared, &sub.unsubscribe_method, &key);
        }
    }

    /// Completes a batch after a message that answered some of its elements: elements still
    /// unanswered get [`Error::MissingResponse`].
    fn finish_batch(&mut self, key: u64) {
        let Some(b) = self.batches.remove(&key) else {
            return;
        };
        let mut out = Vec::with_capacity(b.results.len());
        for (i, r) in b.results.into_iter().enumerate() {
            match r {
                Some(r) => out.push(r),
                None => {
                    self.pending.remove(&(b.first + i as u64));
                    out.push(Err(Error::MissingResponse));
                }
            }
        }
        if let Some(tx) = b.tx {
            let _ = tx.send(out);
        }
    }
}

/// Why a connection's serve phase ended.
enum Exit {
    Closed,
    Shutdown,
    Lost(Error),
}

/// The dispatch loop of a duplex client: drive it with [`run`](Self::run) (or let
/// [`ClientBuilder::spawn_duplex`](crate::ClientBuilder::spawn_duplex) spawn it).
///
/// It dials lazily when it has no connection and a call arrives, serves the connection until it
/// breaks, and then either fails in-flight calls with [`Error::Disconnected`] (default) or
/// reconnects under the [`ReconnectPolicy`].
///
/// # Drop behavior
///
/// Dropping the driver (or its future) closes the client: pending calls fail with
/// [`Error::Closed`] and subscriptions end with it.
#[must_use = "the driver does nothing unless it is run"]
pub struct Driver<C: Connector> {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Outgoing>,
    connector: C,
    conn: Option<(C::Sender, C::Receiver)>,
}

impl<C: Connector> fmt::Debug for Driver<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Drop for Driver<C> {
    fn drop(&mut self) {
        self.shared.close();
        self.shared.done.send_replace(true);
    }
}

impl<C: Connector> Driver<C> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: mpsc::Receiver<Outgoing>,
        connector: C,
        conn: Option<(C::Sender, C::Receiver)>,
    ) -> Self {
        Self {
            shared,
            rx,
            connector,
            conn,
        }
    }

    /// Runs the dispatch loop until the client is closed or every handle is dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the client (see the type's drop behaviour).
    pub async fn run(mut self) {
        let mut conn = self.conn.take();
        let mut first: Option<Outgoing> = None;
        let mut renew: Vec<String> = Vec::new();
        loop {
            if self.shared.lock().closed {
                if let Some((sender, _)) = conn.take() {
                    let _ = timeout(self.shared.config.write_timeout, sender.close()).await;
                }
                return;
            }
            let (sender, receiver) = match conn.take() {
                Some(c) => c,
                None => {
                    // Idle: wait for a call, then dial.
                    let out = tokio::select! {
                        _ = self.shared.wake.notified() => {
                            self.shared.lock().unsub_queue.clear();
                            continue;
                        }
                        o = self.rx.recv() => match o {
                            Some(o) => o,
                            None => return,
                        },
                    };
                    if out.epoch != self.shared.lock().epoch {
                        continue;
                    }
                    match self.dial().await {
                        Ok(c) => {
                            // The caller may have given up (or the client closed) meanwhile.
                            if out.epoch == self.shared.lock().epoch {
                                first = Some(out);
                            }
                            c
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "dial failed");
                            self.shared.lock().fail_all(&e);
                            continue;
                        }
                    }
                }
            };
            if self.shared.lock().closed {
                let _ = timeout(self.shared.config.write_timeout, sender.close()).await;
                return;
            }
            let exit = self
                .serve(&sender, &receiver, first.take(), std::mem::take(&mut renew))
                .await;
            match exit {
                Exit::Closed => {
                    let _ = timeout(self.shared.config.write_timeout, sender.close()).await;
                    return;
                }
                Exit::Shutdown => {
                    let frames = std::mem::take(&mut self.shared.lock().unsub_queue);
                    let wt = self.shared.config.write_timeout;
                    for f in frames {
                        let _ = timeout(wt, sender.send(f)).await;
                    }
                    let _ = timeout(wt, sender.flush()).await;
                    let _ = timeout(wt, sender.close()).await;
                    return;
                }
                Exit::Lost(e) => {
                    tracing::debug!(error = %e, "connection lost");
                    drop((sender, receiver));
                    // An oversized message is reported as such; anything else is a loss.
                    let reason = match e {
                        Error::MessageTooLarge { .. } => e,
                        _ => Error::Disconnected,
                    };
                    match self.shared.config.reconnect.clone() {
                        None => self.shared.lock().fail_all(&reason),
                        Some(policy) => {
                            self.shared.lock().fail_for_reconnect();
                            if let Some(c) = self.reconnect(&policy).await {
                                renew = self.shared.lock().renewal_frames(&self.shared);
                                conn = Some(c);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Dials once, bounded by the connect timeout.
    async fn dial(&self) -> Result<(C::Sender, C::Receiver), Error> {
        match timeout(self.shared.config.connect_timeout, self.connector.connect()).await {
            Ok(r) => r,
            Err(_) => Err(Error::ConnectTimeout),
        }
    }

    /// Redials with backoff; `None` when closed or out of attempts (everything failed then).
    async fn reconnect(&mut self, policy: &ReconnectPolicy) -> Option<(C::Sender, C::Receiver)> {
        let mut attempt: u32 = 0;
        loop {
            if self.shared.lock().closed {
                return None;
            }
            attempt = attempt.saturating_add(1);
            match self.dial().await {
                Ok(c) => {
                    tracing::info!(attempt, "reconnected");
                    return Some(c);
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "reconnect attempt failed");
                    if policy.max_attempts.is_some_and(|m| attempt >= m) {
                        tracing::warn!(attempt, "giving up reconnecting");
                        self.shared.lock().fail_all(&Error::Disconnected);
                        return None;
                    }
                }
            }
            let deadline = Instant::now() + policy.backoff(attempt);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = self.shared.wake.notified() => {
                        let mut st = self.shared.lock();
                        st.unsub_queue.clear();
                        if st.closed {
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Serves one connection until it breaks, the client closes or every handle is gone.
    async fn serve(
        &mut self,
        sender: &C::Sender,
        receiver: &C::Receiver,
        first: Option<Outgoing>,
        renew: Vec<String>,
    ) -> Exit {
        let shared = &*self.shared;
        let rx = &mut self.rx;
        let epoch = shared.lock().epoch;
        let wt: Duration = shared.config.write_timeout;
        let read = async {
            loop {
                match receiver.recv().await {
                    Ok(Some(frame)) => shared.handle_frame(&frame),
                    Ok(None) => return Exit::Lost(Error::Disconnected),
                    Err(e) => return Exit::Lost(e),
                }
            }
        };
        let write = async {
            let initial = renew.into_iter().chain(first.map(|o| o.frame));
            if let Err(e) = write_all(sender, initial, wt).await {
                return Exit::Lost(e);
            }
            // One registration with the wake-up notifier, renewed only when it fires (not on
            // every frame).
            let notified = shared.wake.notified();
            tokio::pin!(notified);
            loop {
                tokio::select! {
                    biased;
                    () = &mut notified => {
                        notified.set(shared.wake.notified());
                        let frames = {
                            let mut st = shared.lock();
                            if st.closed {
                                return Exit::Closed;
                            }
                            std::mem::take(&mut st.unsub_queue)
                        };
                        if let Err(e) = write_all(sender, frames, wt).await {
                            return Exit::Lost(e);
                        }
                    }
                    o = rx.recv() => {
                        let Some(o) = o else { return Exit::Shutdown };
                        let mut n = 0usize;
                        let mut next = Some(o);
                        while let Some(o) = next.take() {
                            if o.epoch == epoch
                                && let Err(e) = send_bounded(sender, o.frame, wt).await
                            {
                                return Exit::Lost(e);
                            }
                            n += 1;
                            if n < MAX_COALESCED {
                                next = rx.try_recv().ok();
                            }
                        }
                        if let Err(e) = flush_bounded(sender, wt).await {
                            return Exit::Lost(e);
                        }
                    }
                }
            }
        };
        tokio::select! {
            e = read => e,
            e = write => e,
        }
    }
}

async fn send_bounded<S: FrameSender>(s: &S, frame: String, wt: Duration) -> Result<(), Error> {
    timeout(wt, s.send(frame))
        .await
        .unwrap_or(Err(Error::Timeout))
}

async fn flush_bounded<S: FrameSender>(s: &S, wt: Duration) -> Result<(), Error> {
    timeout(wt, s.flush()).await.unwrap_or(Err(Error::Timeout))
}

async fn write_all<S: FrameSender>(
    s: &S,
    frames: impl IntoIterator<Item = String>,
    wt: Duration,
) -> Result<(), Error> {
    let mut any = false;
    for f in frames {
        send_bounded(s, f, wt).await?;
        any = true;
    }
    if any {
        flush_bounded(s, wt).await?;
    }
    Ok(())
}
