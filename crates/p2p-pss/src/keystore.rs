//! The key store: peers' public keys and symmetric keys per topic, each with the address hint
//! to send to, and the most-recently-used list of symmetric keys tried on receipt.
//!
//! Every map is bounded ([`Limits`]); a full store refuses new keys with
//! [`Error::KeyStoreFull`] (replacing an existing entry always works).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use secp256k1::PublicKey;

use crate::{ADDRESS_LEN, Error, SymCipher, SymKey, SymKeyId, Topic};

/// The capacities of a [`KeyStore`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) public: usize,
    pub(crate) symmetric: usize,
    pub(crate) receive: usize,
}

/// An address hint (at most [`ADDRESS_LEN`] bytes) held inline: copying it costs no
/// allocation and no reference count.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hint {
    bytes: [u8; ADDRESS_LEN],
    len: u8,
}

impl Hint {
    /// The hint of `hint`'s bytes.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`] beyond [`ADDRESS_LEN`] bytes.
    pub(crate) fn new(hint: &[u8]) -> Result<Self, Error> {
        let mut bytes = [0u8; ADDRESS_LEN];
        let dst = bytes
            .get_mut(..hint.len())
            .ok_or(Error::HintTooLong(hint.len()))?;
        dst.copy_from_slice(hint);
        Ok(Self {
            bytes,
            len: hint.len() as u8,
        })
    }
}

impl std::ops::Deref for Hint {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hint(0x{})", hex::encode(&**self))
    }
}

#[derive(Debug, Clone)]
struct SymEntry {
    /// Shared so that a send clones a pointer, not the key schedule.
    cipher: Arc<SymCipher>,
    hint: Hint,
}

/// Keys per topic with their address hints.
#[derive(Debug)]
pub(crate) struct KeyStore {
    limits: Limits,
    public: HashMap<(PublicKey, Topic), Hint>,
    symmetric: HashMap<(SymKeyId, Topic), SymEntry>,
    /// Symmetric keys tried on receipt, most recently used first.
    receive: VecDeque<(SymKeyId, Topic)>,
}

fn check_hint(hint: &[u8]) -> Result<Hint, Error> {
    Hint::new(hint)
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

    pub(crate) fn public_hint(&self, key: &PublicKey, topic: Topic) -> Option<Hint> {
        self.public.get(&(*key, topic)).copied()
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

    pub(crate) fn symmetric(&self, id: SymKeyId, topic: Topic) -> Option<(Arc<SymCipher>, Hint)> {
        self.symmetric
            .get(&(id, topic))
            .map(|e| (e.cipher.clone(), e.hint))
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
