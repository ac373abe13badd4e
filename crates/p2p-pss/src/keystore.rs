//! The key store: peers' public keys and symmetric keys per topic, each with the address hint
//! to send to, and the most-recently-used list of symmetric keys tried on receipt.
//!
//! Every map is bounded ([`Limits`]); a full store refuses new keys with
//! [`Error::KeyStoreFull`] (replacing an existing entry always works).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use secp256k1::PublicKey;

use crate::{ADDRESS_LEN, Error, SymCipher, SymKey, SymKeyId, Topic};

/// The capacities of a [`KeyStore`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) public: usize,
    pub(crate) symmetric: usize,
    pub(crate) receive: usize,
}

#[derive(Debug, Clone)]
struct SymEntry {
    /// Shared so that a send clones a pointer, not the key schedule.
    cipher: Arc<SymCipher>,
    hint: Bytes,
}

/// Keys per topic with their address hints.
#[derive(Debug)]
pub(crate) struct KeyStore {
    limits: Limits,
    public: HashMap<(PublicKey, Topic), Bytes>,
    symmetric: HashMap<(SymKeyId, Topic), SymEntry>,
    /// Symmetric keys tried on receipt, most recently used first.
    receive: VecDeque<(SymKeyId, Topic)>,
}

fn check_hint(hint: &[u8]) -> Result<Bytes, Error> {
    if hint.len() > ADDRESS_LEN {
        return Err(Error::HintTooLong(hint.len()));
    }
    Ok(Bytes::copy_from_slice(hint))
}

impl KeyStore {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            public: HashMap::new(),
            symmetric: HashMap::new(),
            receive: VecDeque::new(),
        }
    }

    pub(crate) fn set_public(
        &mut self,
        key: PublicKey,
        topic: Topic,
        hint: &[u8],
    ) -> Result<(), Error> {
        let hint = check_hint(hint)?;
        if !self.public.contains_key(&(key, topic)) && self.public.len() >= self.limits.public {
            return Err(Error::KeyStoreFull {
                kind: "public",
                limit: self.limits.public,
            });
        }
        self.public.insert((key, topic), hint);
        Ok(())
    }

    pub(crate) fn public_hint(&self, key: &PublicKey, topic: Topic) -> Option<Bytes> {
        self.public.get(&(*key, topic)).cloned()
    }

    pub(crate) fn set_symmetric(
        &mut self,
        key: SymKey,
        topic: Topic,
        hint: &[u8],
        receive: bool,
    ) -> Result<SymKeyId, Error> {
        let hint = check_hint(hint)?;
        let id = key.id();
        if !self.symmetric.contains_key(&(id, topic))
            && self.symmetric.len() >= self.limits.symmetric
        {
            return Err(Error::KeyStoreFull {
                kind: "symmetric",
                limit: self.limits.symmetric,
            });
        }
        self.symmetric.insert(
            (id, topic),
            SymEntry {
                cipher: Arc::new(key.cipher()),
                hint,
            },
        );
        if receive {
            self.receive.retain(|k| *k != (id, topic));
            self.receive.push_front((id, topic));
            self.receive.truncate(self.limits.receive);
        }
        Ok(id)
    }

    pub(crate) fn symmetric(&self, id: SymKeyId, topic: Topic) -> Option<(Arc<SymCipher>, Bytes)> {
        self.symmetric
            .get(&(id, topic))
            .map(|e| (e.cipher.clone(), e.hint.clone()))
    }

    /// The receive keys of `topic`, most recently used first.
    pub(crate) fn receive_keys(&self, topic: Topic) -> Vec<(SymKeyId, Arc<SymCipher>)> {
        self.receive
            .iter()
            .filter(|(_, t)| *t == topic)
            .filter_map(|k| self.symmetric.get(k).map(|e| (k.0, e.cipher.clone())))
            .collect()
    }

    /// Moves a receive key to the front after it opened a message.
    pub(crate) fn touch(&mut self, id: SymKeyId, topic: Topic) {
        if let Some(pos) = self.receive.iter().position(|k| *k == (id, topic))
            && pos != 0
            && let Some(k) = self.receive.remove(pos)
        {
            self.receive.push_front(k);
        }
    }
}
