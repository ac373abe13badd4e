//! Envelope crypto: AES-256-GCM under shared keys, ECIES to a public key with the sender's
//! signature, and the symmetric key type and its id.
//!
//! # Symmetric
//!
//! [`seal_sym`] gives `nonce (12) || ciphertext || tag (16)`: AES-256-GCM with a fresh random
//! nonce per message and the caller's authenticated data (for pss, [`PssMsg::aad`]).
//! Random 96-bit nonces stay safe for far more messages per key than a pss conversation sends
//! (the usual bound is 2^32 messages per key).
//!
//! # Asymmetric
//!
//! [`seal_asym`] signs `keccak256(len(aad) (8, big-endian) || aad || plaintext)` with the
//! sender's secp256k1 key (a 65-byte recoverable signature, `r || s || v`), prepends the
//! signature to the plaintext, and encrypts that with the RLPx ECIES
//! ([`p2p_rlpx::ecies_encrypt`]) to the recipient, with `aad` as the ECIES authenticated data.
//! [`open_asym`] decrypts, recovers the sender's key from the signature over the same hash and
//! returns it with the plaintext. Only low-s signatures are accepted, so that a sealed payload
//! has one valid signature.
//!
//! The length prefix makes the signed bytes unambiguous for any `aad` (with [`PssMsg::aad`],
//! which is itself length-prefixed, it changes nothing but the hash).
//! The signature does not name the recipient; what binds a sealed payload to its message is
//! the `aad` (the hint, flags, expiry and topic).
//!
//! # Errors
//!
//! Opening never panics: every failure (too short, wrong key, altered bytes or `aad`, bad
//! signature) is [`Error::Undecryptable`], except input longer than [`MAX_MSG_SIZE`], which is
//! [`Error::PayloadTooLarge`].
//!
//! [`PssMsg::aad`]: crate::PssMsg::aad

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};
use sha3::{Digest as _, Keccak256};

use crate::{Error, MAX_MSG_SIZE};

/// The length of an AES-256-GCM nonce.
const SYM_NONCE_LEN: usize = 12;

/// The length of an AES-256-GCM tag.
const SYM_TAG_LEN: usize = 16;

/// Bytes that [`seal_sym`] adds to a plaintext: the nonce (12) and the tag (16).
pub const SYM_OVERHEAD: usize = SYM_NONCE_LEN + SYM_TAG_LEN;

/// The length of the sender's recoverable signature inside an asymmetric seal
/// (`r (32) || s (32) || v (1)`).
const SIGNATURE_LEN: usize = 65;

/// Bytes that [`seal_asym`] adds to a plaintext: the signature (65) and the ECIES overhead
/// ([`p2p_rlpx::ECIES_OVERHEAD`], 113).
pub const ASYM_OVERHEAD: usize = SIGNATURE_LEN + p2p_rlpx::ECIES_OVERHEAD;

/// A 32-byte AES-256-GCM key shared by the two (or more) ends of a symmetric conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct SymKey(pub [u8; 32]);

impl SymKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut key);
        Self(key)
    }

    /// The key's id: the first 8 bytes of Keccak-256 of the key (equal on every node that holds
    /// the key; never sent on the wire).
    #[must_use]
    pub fn id(&self) -> SymKeyId {
        let hash = Keccak256::digest(self.0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash[..8]);
        SymKeyId(id)
    }
}

impl SymKey {
    /// The key with its AES key schedule computed, for many messages.
    #[must_use]
    pub fn cipher(&self) -> SymCipher {
        SymCipher(Aes256Gcm::new(&self.0.into()))
    }
}

impl fmt::Debug for SymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymKey({})", self.id())
    }
}

/// The local name of a [`SymKey`] (see [`SymKey::id`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymKeyId(pub [u8; 8]);

impl fmt::Display for SymKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for SymKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymKeyId({self})")
    }
}

/// Seals `plaintext` under `key` with `aad` authenticated: `nonce (12) || ciphertext || tag (16)`.
///
/// The nonce is fresh and random for every call.
///
/// # Panics
///
/// If `plaintext` is longer than AES-GCM allows (about 64 GiB).
#[must_use]
pub fn seal_sym(key: &SymKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    key.cipher().seal(aad, plaintext)
}

/// Opens what [`seal_sym`] sealed.
///
/// # Errors
///
/// [`Error::Undecryptable`] if the key, the data or the `aad` differ, or `sealed` is shorter
/// than [`SYM_OVERHEAD`]; [`Error::PayloadTooLarge`] if it is longer than [`MAX_MSG_SIZE`].
pub fn open_sym(key: &SymKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    key.cipher().open(aad, sealed)
}

/// A [`SymKey`] with its AES key schedule computed once: what a node keeps for the keys it
/// sends and receives with, so that each message costs only the cipher itself.
///
/// ```
/// use p2p_pss::{SymKey, open_sym};
///
/// let key = SymKey::generate();
/// let cipher = key.cipher();
/// let sealed = cipher.seal(b"aad", b"hello");
/// assert_eq!(open_sym(&key, b"aad", &sealed).unwrap(), b"hello");
/// assert_eq!(cipher.open(b"aad", &sealed).unwrap(), b"hello");
/// ```
#[derive(Clone)]
pub struct SymCipher(Aes256Gcm);

impl fmt::Debug for SymCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymCipher")
    }
}

impl SymCipher {
    /// [`seal_sym`] with this key.
    ///
    /// # Panics
    ///
    /// If `plaintext` is longer than AES-GCM allows (about 64 GiB).
    #[must_use]
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(SYM_OVERHEAD + plaintext.len());
        self.seal_append(aad, plaintext, &mut out);
        out
    }

    /// [`SymCipher::seal`] appended to `out` (sealed in place, with no buffer of its own):
    /// exactly [`SYM_OVERHEAD`] bytes more than `plaintext`.
    ///
    /// # Panics
    ///
    /// If `plaintext` is longer than AES-GCM allows (about 64 GiB).
    pub(crate) fn seal_append(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        let mut nonce = [0u8; SYM_NONCE_LEN];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
        out.reserve(SYM_OVERHEAD + plaintext.len());
        out.extend_from_slice(&nonce);
        let body = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(nonce), aad, (&mut out[body..]).into())
            .expect("a plaintext within the AES-GCM length limit");
        out.extend_from_slice(&tag);
    }

    /// [`open_sym`] with this key.
    ///
    /// # Errors
    ///
    /// As [`open_sym`].
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
        check_size(sealed)?;
        let body_len = sealed
            .len()
            .checked_sub(SYM_OVERHEAD)
            .ok_or(Error::Undecryptable)?;
        let (nonce, rest) = sealed
            .split_at_checked(SYM_NONCE_LEN)
            .ok_or(Error::Undecryptable)?;
        let (body, tag) = rest
            .split_at_checked(body_len)
            .ok_or(Error::Undecryptable)?;
        let nonce = Nonce::try_from(nonce).map_err(|_| Error::Undecryptable)?;
        let tag = Tag::try_from(tag).map_err(|_| Error::Undecryptable)?;
        let mut plain = body.to_vec();
        self.0
            .decrypt_inout_detached(&nonce, aad, plain.as_mut_slice().into(), &tag)
            .map_err(|_| Error::Undecryptable)?;
        Ok(plain)
    }
}

/// Signs `plaintext` (with `aad`) by `sender` and seals it with ECIES to `recipient`.
///
/// The output is [`ASYM_OVERHEAD`] bytes longer than `plaintext`.
#[must_use]
pub fn seal_asym(
    sender: &SecretKey,
    recipient: &PublicKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let sig = RecoverableSignature::sign_ecdsa_recoverable(signed_hash(aad, plaintext), sender);
    let (recid, compact) = sig.serialize_compact();
    let mut signed = Vec::with_capacity(SIGNATURE_LEN + plaintext.len());
    signed.extend_from_slice(&compact);
    signed.push(u8::from(recid));
    signed.extend_from_slice(plaintext);
    p2p_rlpx::ecies_encrypt(recipient, &signed, aad)
}

/// Opens what [`seal_asym`] sealed; returns the sender's public key (recovered from the
/// signature) and the plaintext.
///
/// # Errors
///
/// [`Error::Undecryptable`] if it was not sealed to `recipient`, was altered, is shorter than
/// [`ASYM_OVERHEAD`], or its signature does not verify; [`Error::PayloadTooLarge`] if it is
/// longer than [`MAX_MSG_SIZE`].
pub fn open_asym(
    recipient: &SecretKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<(PublicKey, Vec<u8>), Error> {
    check_size(sealed)?;
    if sealed.len() < ASYM_OVERHEAD {
        return Err(Error::Undecryptable);
    }
    let mut signed =
        p2p_rlpx::ecies_decrypt(recipient, sealed, aad).map_err(|_| Error::Undecryptable)?;
    let Some((sig, plaintext)) = signed.split_at_checked(SIGNATURE_LEN) else {
        return Err(Error::Undecryptable);
    };
    let sender = recover(sig, signed_hash(aad, plaintext))?;
    signed.drain(..SIGNATURE_LEN);
    Ok((sender, signed))
}

/// The hash an asymmetric seal signs: `keccak256(len(aad) (8, big-endian) || aad || plaintext)`.
fn signed_hash(aad: &[u8], plaintext: &[u8]) -> Message {
    let mut hasher = Keccak256::new();
    hasher.update((aad.len() as u64).to_be_bytes());
    hasher.update(aad);
    hasher.update(plaintext);
    Message::from_digest(hasher.finalize().into())
}

/// The public key that made the 65-byte signature `sig` over `hash`.
///
/// Recovery succeeds only for a signature that verifies under the key it returns, so this is
/// also the signature check.
fn recover(sig: &[u8], hash: Message) -> Result<PublicKey, Error> {
    let (compact, v) = sig
        .split_at_checked(SIGNATURE_LEN - 1)
        .ok_or(Error::Undecryptable)?;
    let v = *v.first().ok_or(Error::Undecryptable)?;
    let recid = RecoveryId::try_from(i32::from(v)).map_err(|_| Error::Undecryptable)?;
    let sig =
        RecoverableSignature::from_compact(compact, recid).map_err(|_| Error::Undecryptable)?;
    // Only low-s signatures (what libsecp256k1 makes): the high-s twin would be a second
    // valid seal of the same plaintext.
    let standard = sig.to_standard();
    let mut low = standard;
    low.normalize_s();
    if low != standard {
        return Err(Error::Undecryptable);
    }
    sig.recover_ecdsa(hash).map_err(|_| Error::Undecryptable)
}

fn check_size(sealed: &[u8]) -> Result<(), Error> {
    if sealed.len() > MAX_MSG_SIZE {
        return Err(Error::PayloadTooLarge {
            size: sealed.len(),
            limit: MAX_MSG_SIZE,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
