//! Subscriptions: a bounded per-subscription buffer with an overflow policy, and the
//! [`Subscription`] stream handed to the user.
//!
//! The buffer is created and registered with the pending subscribe request *before* the
//! subscribe reply is processed, so a notification that follows the reply on the wire is never
//! lost. The dispatch loop never blocks on a slow reader: when the buffer is full the
//! [`OverflowPolicy`] decides.

use std::{
    collections::VecDeque,
    fmt,
    marker::PhantomData,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};

use futures::Stream;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::{Client, config::OverflowPolicy, error::Error};

/// Prefix of internal keys for numeric subscription ids (strings are kept as they are).
pub(crate) const NUM_KEY_PREFIX: char = '\0';

/// What the reader did with a notification.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Buffered (possibly after dropping the oldest).
    Ok,
    /// The buffer was full under [`OverflowPolicy::Close`]: the subscription has ended.
    Overflowed,
    /// The subscription had already ended; the item was discarded.
    Ignored,
}

#[derive(Debug)]
enum Entry {
    Item(Box<RawValue>),
    Reconnected,
}

/// The state of one subscription's buffer.
#[derive(Debug)]
pub(crate) struct SubQueue {
    entries: VecDeque<Entry>,
    items: usize,
    capacity: usize,
    policy: OverflowPolicy,
    lagged: u64,
    end: Option<Error>,
    finished: bool,
    waker: Option<Waker>,
    /// The server's current id for this subscription (internal key form).
    pub(crate) server_key: Option<String>,
    /// The user dropped or unsubscribed the handle.
    pub(crate) released: bool,
}

impl SubQueue {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Buffers one notification.
    pub(crate) fn push(&mut self, raw: Box<RawValue>) -> Pushed {
        if self.finished || self.released {
            return Pushed::Ignored;
        }
        if self.items >= self.capacity {
            match self.policy {
                OverflowPolicy::Close => {
                    self.end_with(Some(Error::Overflow));
                    return Pushed::Overflowed;
                }
                OverflowPolicy::DropOldest => {
                    if let Some(pos) = self
                        .entries
                        .iter()
                        .position(|e| matches!(e, Entry::Item(_)))
                    {
                        self.entries.remove(pos);
                        self.items -= 1;
                        self.lagged += 1;
                    }
                }
            }
        }
        self.entries.push_back(Entry::Item(raw));
        self.items += 1;
        self.wake();
        Pushed::Ok
    }

    /// Puts a reconnect marker behind the buffered items (at most one in a row).
    pub(crate) fn push_reconnected(&mut self) {
        if self.finished || matches!(self.entries.back(), Some(Entry::Reconnected)) {
            return;
        }
        self.entries.push_back(Entry::Reconnected);
        self.wake();
    }

    /// Ends the stream after the buffered items, with a final error item when given.
    pub(crate) fn end_with(&mut self, err: Option<Error>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.end = err;
        self.wake();
    }

    /// Whether the stream has ended (or will after draining).
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }
}

/// The shared part of one subscription, owned jointly by the dispatch state and the handle.
#[derive(Debug)]
pub(crate) struct SubShared {
    pub(crate) local_id: u64,
    pub(crate) subscribe_method: String,
    pub(crate) unsubscribe_method: String,
    pub(crate) params: Option<Box<RawValue>>,
    queue: Mutex<SubQueue>,
}

impl SubShared {
    pub(crate) fn new(
        local_id: u64,
        namespace: &str,
        params: Option<Box<RawValue>>,
        capacity: usize,
        policy: OverflowPolicy,
    ) -> Self {
        Self {
            local_id,
            subscribe_method: format!("{namespace}_subscribe"),
            unsubscribe_method: format!("{namespace}_unsubscribe"),
            params,
            queue: Mutex::new(SubQueue {
                entries: VecDeque::new(),
                items: 0,
                capacity: capacity.max(1),
                policy,
                lagged: 0,
                end: None,
                finished: false,
                waker: None,
                server_key: None,
                released: false,
            }),
        }
    }

    /// Locks the buffer (a poisoned lock is recovered: the queue has no invariants a panic
    /// elsewhere could break).
    pub(crate) fn lock(&self) -> MutexGuard<'_, SubQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Turns an internal key back into the JSON value of the server's subscription id.
pub(crate) fn key_to_json(key: &str) -> serde_json::Value {
    if let Some(num) = key.strip_prefix(NUM_KEY_PREFIX) {
        if let Ok(n) = num.parse::<u64>() {
            return serde_json::Value::from(n);
        }
        if let Ok(n) = num.parse::<i64>() {
            return serde_json::Value::from(n);
        }
    }
    serde_json::Value::String(key.to_owned())
}

/// A live subscription: a [`Stream`] of notifications decoded as `T`.
///
/// Items are `Ok(T)` for each notification, or `Err(e)`:
///
/// - markers, after which the stream goes on ([`Error::is_marker`]): [`Error::Lagged`] (the
///   oldest notifications were dropped under [`OverflowPolicy::DropOldest`]) and
///   [`Error::Reconnected`] (the connection was re-established and the subscription renewed;
///   notifications may be missing);
/// - [`Error::Decode`] for one notification that does not decode as `T` (the stream goes on);
/// - a terminal error, after which the stream ends: [`Error::Overflow`],
///   [`Error::Disconnected`], [`Error::Closed`], [`Error::SubscriptionEnded`].
///
/// # Drop behavior
///
/// Dropping the handle sends `<ns>_unsubscribe` in the background (its reply is not awaited).
/// Use [`unsubscribe`](Self::unsubscribe) to wait for the server's answer.
pub struct Subscription<T> {
    shared: Arc<SubShared>,
    client: Client,
    released: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("local_id", &self.shared.local_id)
            .field("method", &self.shared.subscribe_method)
            .field("server_id", &self.server_id())
            .finish()
    }
}

impl<T> Subscription<T> {
    pub(crate) fn new(shared: Arc<SubShared>, client: Client) -> Self {
        Self {
            shared,
            client,
            released: false,
            _item: PhantomData,
        }
    }

    /// A process-local id that stays the same across resubscriptions.
    pub fn local_id(&self) -> u64 {
        self.shared.local_id
    }

    /// The server's current subscription id (numbers in decimal); `None` while resubscribing or
    /// after the end.
    pub fn server_id(&self) -> Option<String> {
        let q = self.shared.lock();
        q.server_key
            .as_ref()
            .map(|k| match k.strip_prefix(NUM_KEY_PREFIX) {
                Some(n) => n.to_owned(),
                None => k.clone(),
            })
    }

    /// Unsubscribes and waits for the server's answer, bounded by the unsubscribe timeout.
    /// Nothing is delivered after this is called.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the server does not answer in time, or the call's error; the
    /// subscription is released locally in every case.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the subscription released locally; the unsubscribe request
    /// may or may not have reached the server.
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        self.released = true;
        let key = self.client.release_subscription(&self.shared);
        match key {
            Some(key) => {
                self.client
                    .unsubscribe_call(&self.shared.unsubscribe_method, &key)
                    .await
            }
            None => Ok(()),
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            if let Some(key) = self.client.release_subscription(&self.shared) {
                self.client
                    .queue_unsubscribe(&self.shared.unsubscribe_method, &key);
            }
        }
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let raw = {
            let mut q = self.shared.lock();
            if q.lagged > 0 {
                let n = std::mem::take(&mut q.lagged);
                return Poll::Ready(Some(Err(Error::Lagged(n))));
            }
            match q.entries.pop_front() {
                Some(Entry::Item(raw)) => {
                    q.items -= 1;
                    raw
                }
                Some(Entry::Reconnected) => return Poll::Ready(Some(Err(Error::Reconnected))),
                None if q.finished => return Poll::Ready(q.end.take().map(Err)),
                None => {
                    if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        q.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        };
        Poll::Ready(Some(serde_json::from_str(raw.get()).map_err(Error::Decode)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(n: u32) -> Box<RawValue> {
        RawValue::from_string(n.to_string()).unwrap()
    }

    fn drain(q: &mut SubQueue) -> Vec<String> {
        let mut out = Vec::new();
        if q.lagged > 0 {
            out.push(format!("lagged {}", q.lagged));
            q.lagged = 0;
        }
        while let Some(e) = q.entries.pop_front() {
            match e {
                Entry::Item(r) => out.push(r.get().to_owned()),
                Entry::Reconnected => out.push("reconnected".into()),
            }
        }
        out
    }

    #[test]
    fn close_policy_ends_on_overflow() {
        let s = SubShared::new(1, "eth", None, 2, OverflowPolicy::Close);
        let mut q = s.lock();
        assert_eq!(q.push(raw(1)), Pushed::Ok);
        assert_eq!(q.push(raw(2)), Pushed::Ok);
        assert_eq!(q.push(raw(3)), Pushed::Overflowed);
        assert!(q.is_finished());
        assert_eq!(q.push(raw(4)), Pushed::Ignored);
        assert_eq!(drain(&mut q), ["1", "2"]);
        assert!(matches!(q.end, Some(Error::Overflow)));
    }

    #[test]
    fn drop_oldest_counts_lag() {
        let s = SubShared::new(1, "eth", None, 2, OverflowPolicy::DropOldest);
        let mut q = s.lock();
        for i in 1..=5 {
            assert_eq!(q.push(raw(i)), Pushed::Ok);
        }
        q.push_reconnected();
        q.push_reconnected();
        assert_eq!(drain(&mut q), ["lagged 3", "4", "5", "reconnected"]);
    }

    #[test]
    fn numeric_keys_map_back_to_numbers() {
        assert_eq!(key_to_json("\u{0}12"), serde_json::json!(12));
        assert_eq!(key_to_json("0x1"), serde_json::json!("0x1"));
    }
}
