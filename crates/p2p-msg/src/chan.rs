//! A rendezvous channel for [`Msg`]: the hand-off engine under [`MsgPipe`](crate::MsgPipe) and
//! the multiplexer's per-protocol inbound slots.
//!
//! There is one slot.
//! A sender waits until the slot is free, puts its message there, wakes the oldest parked
//! receiver, then waits until a receiver has *taken* the message (removed it from the slot under
//! the lock) or the channel is closed ([`Rendezvous::send`]); [`Rendezvous::put`] returns right
//! after placing instead (a one-message buffer).
//! A message taken before the close is delivered and its send succeeds; a message still in the
//! slot at the close is withdrawn by its sender, whose send fails.
//! A dropped send future withdraws its message if it was not taken yet.
//!
//! All state lives under one short `std::sync::Mutex`, including the wakers of the sender waiting
//! for its take and of the parked receivers, so each side of a hand-off takes the lock once or
//! twice and no wake-up can be lost between a check and a park.
//! Only senders waiting for a busy slot (several concurrent writers) wait on a [`Notify`],
//! registering before re-checking.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use tokio::sync::Notify;

use crate::Msg;

/// The channel was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

#[derive(Debug, Default)]
struct State {
    slot: Option<Msg>,
    /// Ticket of the message in `slot` (valid while `slot` is `Some`).
    slot_ticket: u64,
    /// Last ticket handed out.
    next_ticket: u64,
    /// Ticket of the last message taken by a receiver.
    last_taken: u64,
    /// The waker of the sender whose message is in the slot, waiting for the take.
    ack_waker: Option<Waker>,
    /// Senders waiting for the slot to become free.
    slot_waiters: usize,
    /// Parked receivers, oldest first: `(id, waker)`. Placing a message pops and wakes the
    /// oldest; a receiver dropped after being popped forwards the wake-up.
    receivers: Vec<(u64, Waker)>,
    /// Last receiver id handed out.
    next_receiver: u64,
    closed: bool,
}

/// A single-slot rendezvous channel with close.
#[derive(Debug, Default)]
pub(crate) struct Rendezvous {
    state: Mutex<State>,
    /// Woken when the slot becomes free (only if a sender waits for it), and on close.
    senders: Notify,
}

impl Rendezvous {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the channel is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Closes the channel; idempotent.
    pub(crate) fn close(&self) {
        let (ack, receivers) = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            (st.ack_waker.take(), std::mem::take(&mut st.receivers))
        };
        if let Some(w) = ack {
            w.wake();
        }
        for (_, w) in receivers {
            w.wake();
        }
        self.senders.notify_waiters();
    }

    /// Tries to place `msg` and wakes the oldest parked receiver; gives the message back if the
    /// slot is busy.
    fn try_place(&self, msg: Msg) -> Result<Result<u64, Msg>, Closed> {
        let mut st = self.lock();
        if st.closed {
            return Err(Closed);
        }
        if st.slot.is_some() {
            return Ok(Err(msg));
        }
        st.next_ticket += 1;
        let ticket = st.next_ticket;
        st.slot = Some(msg);
        st.slot_ticket = ticket;
        let receiver = (!st.receivers.is_empty()).then(|| st.receivers.remove(0));
        drop(st);
        if let Some((_, w)) = receiver {
            w.wake();
        }
        Ok(Ok(ticket))
    }

    /// Places `msg` once the slot is free; returns its ticket and whether it had to wait.
    async fn place(&self, msg: Msg) -> Result<(u64, bool), Closed> {
        let mut msg = match self.try_place(msg)? {
            Ok(t) => return Ok((t, false)),
            Err(m) => m,
        };
        let _waiting = SlotWaiter::new(self);
        loop {
            let mut notified = pin!(self.senders.notified());
            notified.as_mut().enable();
            match self.try_place(msg)? {
                Ok(t) => return Ok((t, true)),
                Err(m) => msg = m,
            }
            notified.await;
        }
    }

    /// Sends `msg` and waits until a receiver has taken it.
    ///
    /// Cancel safety: a dropped future withdraws a message not yet taken.
    pub(crate) async fn send(&self, msg: Msg) -> Result<(), Closed> {
        let (ticket, _) = self.place(msg).await?;
        let mut guard = Withdraw {
            chan: self,
            ticket,
            armed: true,
        };
        let result = poll_fn(|cx| {
            let mut st = self.lock();
            if st.last_taken >= ticket {
                return Poll::Ready(Ok(()));
            }
            if st.closed {
                return Poll::Ready(Err(Closed));
            }
            if !st
                .ack_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                st.ack_waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        // On success there is nothing to withdraw; on close the guard withdraws the message.
        guard.armed = result.is_err();
        drop(guard);
        result
    }

    /// Puts `msg` in the slot as soon as it is free and returns without waiting for a receiver
    /// to take it (a one-message buffer). Returns whether it had to wait for the slot.
    ///
    /// Cancel safety: a dropped future has not placed its message.
    pub(crate) async fn put(&self, msg: Msg) -> Result<bool, Closed> {
        let (_, waited) = self.place(msg).await?;
        Ok(waited)
    }

    /// Receives the next message.
    ///
    /// Cancel safety: the take happens synchronously right before returning, so a dropped future
    /// never loses a message; a dropped receiver that was woken for a message passes the wake-up
    /// on.
    pub(crate) async fn recv(&self) -> Result<Msg, Closed> {
        let mut parked = Parked {
            chan: self,
            id: None,
        };
        poll_fn(|cx| {
            let mut st = self.lock();
            if st.closed {
                parked.unpark(&mut st);
                return Poll::Ready(Err(Closed));
            }
            if let Some(msg) = st.slot.take() {
                parked.unpark(&mut st);
                st.last_taken = st.slot_ticket;
                let ack = st.ack_waker.take();
                let free = st.slot_waiters > 0;
                drop(st);
                if let Some(w) = ack {
                    w.wake();
                }
                if free {
                    self.senders.notify_waiters();
                }
                return Poll::Ready(Ok(msg));
            }
            parked.park(&mut st, cx.waker());
            Poll::Pending
        })
        .await
    }
}

/// A receiver's place in the parked list.
struct Parked<'a> {
    chan: &'a Rendezvous,
    /// Set once parked; cleared when done.
    id: Option<u64>,
}

impl Parked<'_> {
    fn park(&mut self, st: &mut State, waker: &Waker) {
        if let Some(id) = self.id
            && let Some((_, w)) = st.receivers.iter_mut().find(|(i, _)| *i == id)
        {
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
            return;
        }
        // New, or popped by a wake-up that found the slot taken by someone else: park again.
        st.next_receiver += 1;
        let id = st.next_receiver;
        st.receivers.push((id, waker.clone()));
        self.id = Some(id);
    }

    fn unpark(&mut self, st: &mut State) {
        if let Some(id) = self.id.take() {
            st.receivers.retain(|(i, _)| *i != id);
        }
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let next = {
            let mut st = self.chan.lock();
            if let Some(pos) = st.receivers.iter().position(|(i, _)| *i == id) {
                st.receivers.remove(pos);
                None
            } else if st.slot.is_some() && !st.receivers.is_empty() {
                // We were woken for the message in the slot but are gone: pass it on.
                Some(st.receivers.remove(0))
            } else {
                None
            }
        };
        if let Some((_, w)) = next {
            w.wake();
        }
    }
}

/// Counts a sender waiting for the slot, so that takes only notify when someone waits.
struct SlotWaiter<'a>(&'a Rendezvous);

impl<'a> SlotWaiter<'a> {
    fn new(chan: &'a Rendezvous) -> Self {
        chan.lock().slot_waiters += 1;
        Self(chan)
    }
}

impl Drop for SlotWaiter<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.slot_waiters = st.slot_waiters.saturating_sub(1);
    }
}

/// Withdraws an untaken message when a send is cancelled or the channel closed.
struct Withdraw<'a> {
    chan: &'a Rendezvous,
    ticket: u64,
    armed: bool,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let free = {
            let mut st = self.chan.lock();
            if st.slot.is_some() && st.slot_ticket == self.ticket {
                st.slot = None;
                st.ack_waker = None;
                st.slot_waiters > 0
            } else {
                false
            }
        };
        if free {
            self.chan.senders.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Counts wake-ups.
    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl futures::task::ArcWake for Counter {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Counter {
        fn count(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn woken_receiver_dropped_passes_the_wake_up_on() {
        use std::task::Context;

        let ch = Rendezvous::default();
        let (c1, c2) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let (w1, w2) = (
            futures::task::waker(c1.clone()),
            futures::task::waker(c2.clone()),
        );
        let mut r1 = Box::pin(ch.recv());
        let mut r2 = Box::pin(ch.recv());
        assert!(r1.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        assert!(r2.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
        // One message wakes only the oldest receiver.
        assert_eq!(ch.put(Msg::new(7, vec![])).await, Ok(false));
        assert_eq!((c1.count(), c2.count()), (1, 0));
        // It goes away without polling: the wake-up passes to the next one, which gets it.
        drop(r1);
        assert_eq!(c2.count(), 1);
        match r2.as_mut().poll(&mut Context::from_waker(&w2)) {
            std::task::Poll::Ready(Ok(m)) => assert_eq!(m.code, 7),
            other => panic!("unexpected {other:?}"),
        }
        // Close wakes every parked receiver.
        let mut r3 = Box::pin(ch.recv());
        assert!(r3.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        ch.close();
        assert_eq!(c1.count(), 2);
        assert!(matches!(
            r3.as_mut().poll(&mut Context::from_waker(&w1)),
            std::task::Poll::Ready(Err(Closed))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_send_withdraws() {
        let ch = Rendezvous::default();
        let r = tokio::time::timeout(Duration::from_millis(10), ch.send(Msg::new(1, vec![]))).await;
        assert!(r.is_err());
        // Nothing left in the slot: a receive waits.
        let r = tokio::time::timeout(Duration::from_millis(10), ch.recv()).await;
        assert!(r.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn many_senders_in_order_of_placement() {
        let ch = Arc::new(Rendezvous::default());
        let mut tasks = Vec::new();
        for i in 0..5u64 {
            let ch = ch.clone();
            tasks.push(tokio::spawn(
                async move { ch.send(Msg::new(i, vec![])).await },
            ));
        }
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(ch.recv().await.unwrap().code);
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn close_fails_untaken_send() {
        let ch = Arc::new(Rendezvous::default());
        let c2 = ch.clone();
        let t = tokio::spawn(async move { c2.send(Msg::new(1, vec![])).await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        ch.close();
        assert_eq!(t.await.unwrap(), Err(Closed));
        assert_eq!(ch.recv().await, Err(Closed));
        assert!(ch.is_closed());
    }
}
