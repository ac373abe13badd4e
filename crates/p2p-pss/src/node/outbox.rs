//! Sending: sealing with the key store, the bounded outbox and its worker.
//!
//! A sent message gets `expire = now + msg_ttl` and `hops = 0`, enters the node's own forward
//! cache (so that echoes from the network are dropped) and is queued in the outbox, which is
//! bounded in messages and bytes ([`Error::OutboxFull`] when either is exhausted: back-pressure
//! for the caller). The worker routes each message; when no peer takes it, it tries again with
//! a doubling backoff (from `retry_backoff` up to 5 s) until the message expires (counted as
//! `no_route`). A message leaves the outbox's accounting when it is queued on a link or given up.

use std::collections::VecDeque;
use std::sync::Weak;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Inner, PssConfig, bump, lock, now_secs};
use crate::keystore::Hint;
use crate::message::{Aad, encode_with_payload};
use crate::{
    ADDRESS_LEN, Digest, Error, Flags, MAX_MSG_SIZE, PeerKey, PssMsg, SYM_OVERHEAD, Topic,
    seal_asym,
};

/// The longest wait between two attempts to route a message.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A message waiting to be routed.
#[derive(Debug)]
pub(super) struct Outgoing {
    to: Hint,
    expire: u64,
    bytes: Bytes,
}

/// The outbox's queue and its accounting.
#[derive(Debug)]
pub(super) struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    max_messages: usize,
    max_bytes: usize,
    messages: AtomicUsize,
    bytes: AtomicUsize,
}

impl Outbox {
    pub(super) fn new(config: &PssConfig) -> (Self, mpsc::Receiver<Outgoing>) {
        let max_messages = config.outbox_messages.max(1);
        let (tx, rx) = mpsc::channel(max_messages);
        (
            Self {
                tx,
                max_messages,
                max_bytes: config.outbox_bytes,
                messages: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
            },
            rx,
        )
    }

    /// Messages and bytes accounted to the outbox.
    pub(super) fn len(&self) -> (usize, usize) {
        (
            self.messages.load(Ordering::Acquire),
            self.bytes.load(Ordering::Acquire),
        )
    }

    /// Reserves room for one message of `size` bytes.
    fn reserve(&self, size: usize) -> Result<(), Error> {
        let full = || {
            let (messages, bytes) = self.len();
            Error::OutboxFull { messages, bytes }
        };
        self.messages
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_messages).then_some(n + 1)
            })
            .map_err(|_| full())?;
        if self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                n.checked_add(size).filter(|&t| t <= self.max_bytes)
            })
            .is_err()
        {
            self.messages.fetch_sub(1, Ordering::AcqRel);
            return Err(full());
        }
        Ok(())
    }

    fn release(&self, size: usize) {
        self.messages.fetch_sub(1, Ordering::AcqRel);
        self.bytes.fetch_sub(size, Ordering::AcqRel);
    }
}

impl Inner {
    /// The expiry of a message sent at `now`.
    fn expiry(&self, now: u64) -> u32 {
        u32::try_from(now.saturating_add(self.config.msg_ttl.as_secs())).unwrap_or(u32::MAX)
    }

    fn check_running(&self) -> Result<(), Error> {
        if *self.shutdown.borrow() {
            return Err(Error::Shutdown);
        }
        Ok(())
    }

    fn new_msg(&self, to: &[u8], topic: Topic, flags: Flags, now: u64) -> Result<PssMsg, Error> {
        if to.len() > ADDRESS_LEN {
            return Err(Error::HintTooLong(to.len()));
        }
        self.check_running()?;
        Ok(PssMsg {
            to: Bytes::copy_from_slice(to),
            flags,
            expire: self.expiry(now),
            topic,
            hops: 0,
            payload: Bytes::new(),
        })
    }

    pub(super) fn send_raw(&self, to: &[u8], topic: Topic, payload: Bytes) -> Result<(), Error> {
        let flags = Flags {
            raw: true,
            symmetric: false,
        };
        let now = now_secs();
        let mut m = self.new_msg(to, topic, flags, now)?;
        m.payload = payload;
        self.enqueue(&m, now)
    }

    pub(super) fn send_sealed(
        &self,
        key: &PeerKey,
        topic: Topic,
        payload: Bytes,
    ) -> Result<(), Error> {
        if payload.len() > MAX_MSG_SIZE {
            return Err(Error::PayloadTooLarge {
                size: payload.len(),
                limit: MAX_MSG_SIZE,
            });
        }
        let unknown = || Error::UnknownKey { key: *key, topic };
        let now = now_secs();
        match key {
            PeerKey::Symmetric(id) => {
                let (sym, hint) = lock(&self.keys).symmetric(*id, topic).ok_or_else(unknown)?;
                self.check_running()?;
                let flags = Flags {
                    raw: false,
                    symmetric: true,
                };
                let expire = self.expiry(now);
                let aad =
                    Aad::new(&hint, flags, expire, topic).ok_or(Error::HintTooLong(hint.len()))?;
                // Sealed in place into the message's encoding, digested over the same buffer.
                let (bytes, digest) = encode_with_payload(
                    &hint,
                    flags,
                    expire,
                    topic,
                    payload.len() + SYM_OVERHEAD,
                    |out| sym.seal_append(aad.as_slice(), &payload, out),
                )?;
                self.enqueue_encoded(hint, u64::from(expire), bytes.into(), digest, now)
            }
            PeerKey::Asymmetric(public) => {
                let hint = lock(&self.keys)
                    .public_hint(public, topic)
                    .ok_or_else(unknown)?;
                let mut m = self.new_msg(&hint, topic, Flags::default(), now)?;
                m.payload = seal_asym(self.key.secret_key(), public, &m.aad(), &payload).into();
                self.enqueue(&m, now)
            }
        }
    }

    fn enqueue(&self, m: &PssMsg, now: u64) -> Result<(), Error> {
        m.validate()?;
        let bytes = Bytes::from(m.encode());
        let to = Hint::new(&m.to)?;
        self.enqueue_encoded(to, u64::from(m.expire), bytes, m.digest(), now)
    }

    /// Reserves room, enters the digest into the forward cache and queues the encoding.
    fn enqueue_encoded(
        &self,
        to: Hint,
        expire: u64,
        bytes: Bytes,
        digest: Digest,
        now: u64,
    ) -> Result<(), Error> {
        let size = bytes.len();
        if let Err(e) = self.outbox.reserve(size) {
            bump(&self.stats.outbox_full, 1);
            return Err(e);
        }
        lock(&self.cache).insert(digest, expire, now);
        let item = Outgoing { to, expire, bytes };
        if let Err(e) = self.outbox.tx.try_send(item) {
            self.outbox.release(size);
            return Err(match e {
                mpsc::error::TrySendError::Closed(_) => Error::Shutdown,
                mpsc::error::TrySendError::Full(_) => {
                    bump(&self.stats.outbox_full, 1);
                    let (messages, bytes) = self.outbox.len();
                    Error::OutboxFull { messages, bytes }
                }
            });
        }
        Ok(())
    }

    /// One attempt to route `item`; gives it back when no peer took it and it has not expired.
    fn attempt(&self, item: Outgoing) -> Option<Outgoing> {
        if self.dispatch(&item.to, None, &item.bytes) > 0 {
            self.outbox.release(item.bytes.len());
            return None;
        }
        if item.expire <= now_secs() {
            bump(&self.stats.no_route, 1);
            self.outbox.release(item.bytes.len());
            return None;
        }
        Some(item)
    }
}

/// The outbox worker: routes queued messages and retries unroutable ones until they expire.
/// Ends when the node shuts down or is dropped.
pub(super) async fn worker(inner: Weak<Inner>, mut rx: mpsc::Receiver<Outgoing>) {
    let Some(mut shutdown) = inner.upgrade().map(|i| i.shutdown.subscribe()) else {
        return;
    };
    let initial = inner
        .upgrade()
        .map_or(Duration::from_millis(100), |i| i.config.retry_backoff)
        .max(Duration::from_millis(1));
    // Waiting messages, each with its next attempt and backoff; bounded by the outbox's
    // accounting (they still count as queued).
    let mut retry: VecDeque<(Instant, Duration, Outgoing)> = VecDeque::new();
    loop {
        let next = retry.iter().map(|(at, _, _)| *at).min();
        tokio::select! {
            item = rx.recv() => {
                let Some(item) = item else { break };
                let Some(node) = inner.upgrade() else { break };
                if let Some(item) = node.attempt(item) {
                    retry.push_back((Instant::now() + initial, initial, item));
                }
            }
            () = sleep_until(next), if next.is_some() => {
                let Some(node) = inner.upgrade() else { break };
                let now = Instant::now();
                for _ in 0..retry.len() {
                    let Some((at, backoff, item)) = retry.pop_front() else { break };
                    if at > now {
                        retry.push_back((at, backoff, item));
                        continue;
                    }
                    if let Some(item) = node.attempt(item) {
                        let backoff = (backoff * 2).min(MAX_BACKOFF);
                        retry.push_back((now + backoff, backoff, item));
                    }
                }
            }
            _ = shutdown.wait_for(|stopped| *stopped) => break,
        }
    }
    if let Some(node) = inner.upgrade() {
        for (_, _, item) in retry {
            node.outbox.release(item.bytes.len());
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}
