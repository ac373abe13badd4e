//! Test support: bounded waits, and [`FakeNet`], an in-memory fake pss transport.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use p2p_pss::{
    Delivery, Error, HandlerCaps, Mode, OverlayAddr, PeerKey, Subscription, SymKeyId, Topic,
    Transport,
};
use secp256k1::PublicKey;
use tokio::sync::mpsc;

/// The bound of every test.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `fut` under [`TEST_TIMEOUT`].
pub(crate) async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("test timed out")
}

/// Waits (bounded) until `cond` holds.
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let wait = async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

/// An in-memory network of fake pss nodes: a message sent to a public key goes to the node
/// holding it, one sent with a symmetric key to every other node holding the key; deliveries
/// carry the modes a real node would report (the sender's public key, or the key id).
#[derive(Clone, Default)]
pub(crate) struct FakeNet {
    nodes: Arc<Mutex<Vec<FakeNode>>>,
}

/// One node of a [`FakeNet`]; cheap to clone.
#[derive(Clone)]
pub(crate) struct FakeNode {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    net: Weak<Mutex<Vec<FakeNode>>>,
    public: PublicKey,
    /// Known keys per topic, with the address hint stored for public keys.
    keys: Mutex<HashMap<(PeerKey, Topic), Vec<u8>>>,
    subs: Mutex<HashMap<Topic, Vec<mpsc::Sender<Delivery>>>>,
}

impl FakeNet {
    /// A new node with a fresh secp256k1 key.
    pub(crate) fn node(&self) -> FakeNode {
        let public = *p2p_rlpx::NodeKey::generate().public_key();
        let node = FakeNode {
            inner: Arc::new(NodeInner {
                net: Arc::downgrade(&self.nodes),
                public,
                keys: Mutex::new(HashMap::new()),
                subs: Mutex::new(HashMap::new()),
            }),
        };
        self.nodes.lock().unwrap().push(node.clone());
        node
    }
}

impl FakeNode {
    pub(crate) fn public(&self) -> PublicKey {
        self.inner.public
    }

    /// Stores a symmetric key id for `topic` (as `set_symmetric_key` with `receive` would).
    pub(crate) fn add_sym_key(&self, id: SymKeyId, topic: Topic) {
        self.inner
            .keys
            .lock()
            .unwrap()
            .insert((PeerKey::Symmetric(id), topic), Vec::new());
    }

    /// The hint stored with a public key.
    pub(crate) fn hint(&self, key: PublicKey, topic: Topic) -> Option<Vec<u8>> {
        self.inner
            .keys
            .lock()
            .unwrap()
            .get(&(PeerKey::Asymmetric(key), topic))
            .cloned()
    }

    /// Hands `payload` to this node's handlers as if it arrived in `mode`.
    pub(crate) fn inject(&self, topic: Topic, mode: Mode, payload: impl Into<Bytes>) {
        self.deliver(Delivery {
            topic,
            mode,
            to: Bytes::new(),
            hops: 1,
            payload: payload.into(),
        });
    }

    fn deliver(&self, delivery: Delivery) {
        let subs = self.inner.subs.lock().unwrap();
        for tx in subs.get(&delivery.topic).into_iter().flatten() {
            let _ = tx.try_send(delivery.clone());
        }
    }
}

impl Transport for FakeNode {
    fn send(&self, to: &PeerKey, topic: Topic, payload: Bytes) -> Result<(), Error> {
        if !self.has_key(to, topic) {
            return Err(Error::UnknownKey { key: *to, topic });
        }
        let Some(net) = self.inner.net.upgrade() else {
            return Ok(());
        };
        let nodes: Vec<Self> = net.lock().unwrap().clone();
        for node in nodes {
            if Arc::ptr_eq(&node.inner, &self.inner) {
                continue;
            }
            let mode = match *to {
                PeerKey::Asymmetric(key) if key == node.public() => Mode::Asymmetric(self.public()),
                PeerKey::Symmetric(id) if node.has_key(to, topic) => Mode::Symmetric(id),
                _ => continue,
            };
            node.deliver(Delivery {
                topic,
                mode,
                to: Bytes::new(),
                hops: 1,
                payload: payload.clone(),
            });
        }
        Ok(())
    }

    fn subscribe(&self, topic: Topic, _caps: HandlerCaps) -> Subscription {
        let (tx, rx) = mpsc::channel(1024);
        self.inner
            .subs
            .lock()
            .unwrap()
            .entry(topic)
            .or_default()
            .push(tx);
        Subscription::new(topic, rx)
    }

    fn has_key(&self, key: &PeerKey, topic: Topic) -> bool {
        self.inner.keys.lock().unwrap().contains_key(&(*key, topic))
    }

    fn add_public_key(&self, key: PublicKey, topic: Topic, hint: &[u8]) -> Result<(), Error> {
        if hint.len() > 32 {
            return Err(Error::HintTooLong(hint.len()));
        }
        self.inner
            .keys
            .lock()
            .unwrap()
            .insert((PeerKey::Asymmetric(key), topic), hint.to_vec());
        Ok(())
    }
}

/// The first `len` bytes of a key's overlay address.
pub(crate) fn hint_of(key: &PublicKey, len: usize) -> Vec<u8> {
    OverlayAddr::from_public_key(key).0[..len].to_vec()
}
