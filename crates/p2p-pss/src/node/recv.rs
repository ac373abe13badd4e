//! Receiving: what a node does with a message from a peer.
//!
//! In order: rate limit (per peer), size check, strict decode, expiry (also too far in the
//! future), hop limit, duplicate check against the forward cache, the raw check, the recipient
//! test, opening, delivery, forwarding. A node is a possible recipient when the hint is a
//! prefix of its address, or when a prox handler exists for the topic and the hint is within
//! the neighbourhood depth. A possible recipient tries to open the message (raw as is,
//! symmetric with the topic's receive keys, most recently used first, asymmetric with its own
//! key); a message it cannot open is forwarded. An opened message for the own full address
//! stops here; one for a partial or empty hint is delivered and also forwarded.

use bytes::Bytes;
use p2p_msg::Msg;
use tokio::sync::mpsc::error::TrySendError;

use super::link::TokenBucket;
use super::{Inner, bump, lock, now_secs};
use crate::{ADDRESS_LEN, Delivery, MAX_MSG_SIZE, Mode, PssMsg, open_asym, proximity};

/// What the handlers of a topic accept, together.
#[derive(Debug, Clone, Copy, Default)]
struct TopicCaps {
    any: bool,
    raw: bool,
    prox: bool,
}

impl Inner {
    /// A message read from link `link`.
    pub(super) fn on_wire(&self, link: u64, msg: Msg, bucket: &mut TokenBucket) {
        bump(&self.stats.received, 1);
        if !bucket.take() {
            bump(&self.stats.rate_limited, 1);
            return;
        }
        if msg.code != 0 || msg.payload.len() > MAX_MSG_SIZE || msg.size as usize > MAX_MSG_SIZE {
            bump(&self.stats.invalid, 1);
            return;
        }
        match PssMsg::decode(&msg.payload) {
            Ok(m) => self.process(Some(link), m),
            Err(e) => {
                tracing::trace!(error = %e, "pss: invalid message dropped");
                bump(&self.stats.invalid, 1);
            }
        }
    }

    fn topic_caps(&self, m: &PssMsg) -> TopicCaps {
        let handlers = lock(&self.handlers);
        let mut caps = TopicCaps::default();
        for h in handlers.get(&m.topic).into_iter().flatten() {
            caps.any = true;
            caps.raw |= h.caps.raw;
            caps.prox |= h.caps.prox;
        }
        caps
    }

    /// Processes a decoded message that came from `from` (a link id).
    pub(crate) fn process(&self, from: Option<u64>, mut m: PssMsg) {
        let now = now_secs();
        let expire = u64::from(m.expire);
        if expire < now || expire > now.saturating_add(self.config.max_ttl.as_secs()) {
            bump(&self.stats.expired, 1);
            return;
        }
        m.hops = m.hops.saturating_add(1);
        if m.hops > self.config.max_hops {
            bump(&self.stats.too_many_hops, 1);
            return;
        }
        if !lock(&self.cache).insert(m.digest(), expire, now) {
            bump(&self.stats.duplicates, 1);
            return;
        }
        let caps = self.topic_caps(&m);
        if m.flags.raw && caps.any && !caps.raw {
            bump(&self.stats.raw_refused, 1);
            return;
        }
        let exact = self.addr.matches(&m.to);
        let near = !exact && caps.prox && {
            let depth = lock(&self.router).table.depth();
            proximity(&self.addr.0, &m.to) >= depth
        };
        if (exact || near) && caps.any {
            if let Some((mode, payload)) = self.open(&m) {
                self.deliver(&m, mode, payload, near);
                if exact && m.to.len() == ADDRESS_LEN {
                    return;
                }
            }
        } else if exact && m.to.len() == ADDRESS_LEN {
            // Nobody here can take it, and no other node has this address.
            return;
        }
        self.forward(from, &m, exact);
    }

    fn open(&self, m: &PssMsg) -> Option<(Mode, Bytes)> {
        if m.flags.raw {
            return Some((Mode::Raw, m.payload.clone()));
        }
        let aad = m.aad();
        if m.flags.symmetric {
            let keys = lock(&self.keys).receive_keys(m.topic);
            for (id, key) in keys {
                if let Ok(plain) = key.open(&aad, &m.payload) {
                    lock(&self.keys).touch(id, m.topic);
                    return Some((Mode::Symmetric(id), Bytes::from(plain)));
                }
            }
            return None;
        }
        open_asym(self.key.secret_key(), &aad, &m.payload)
            .ok()
            .map(|(sender, plain)| (Mode::Asymmetric(sender), Bytes::from(plain)))
    }

    fn deliver(&self, m: &PssMsg, mode: Mode, payload: Bytes, prox_only: bool) {
        let mut handlers = lock(&self.handlers);
        let Some(list) = handlers.get_mut(&m.topic) else {
            return;
        };
        let raw = matches!(mode, Mode::Raw);
        list.retain(|h| {
            if (raw && !h.caps.raw) || (prox_only && !h.caps.prox) {
                return true;
            }
            let delivery = Delivery {
                topic: m.topic,
                mode,
                to: m.to.clone(),
                hops: m.hops,
                payload: payload.clone(),
            };
            match h.tx.try_send(delivery) {
                Ok(()) => {
                    bump(&self.stats.delivered, 1);
                    true
                }
                Err(TrySendError::Full(_)) => {
                    bump(&self.stats.handler_full, 1);
                    true
                }
                Err(TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Forwards `m` (hops already counted); with `here` (the own address has the hint) an
    /// empty route is not a failure: the message has arrived.
    fn forward(&self, from: Option<u64>, m: &PssMsg, here: bool) {
        let bytes = Bytes::from(m.encode());
        if self.dispatch(&m.to, from, &bytes) == 0 && !here {
            bump(&self.stats.no_route, 1);
        }
    }
}
