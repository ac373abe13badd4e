//! The RLPx frame MAC: a running Keccak-256 state that is never reset, updated with seeds
//! built by a single-block AES-256 (ECB) encryption of the current digest under the MAC secret.
//!
//! - header: `seed = AES(digest[..16]) XOR header_ciphertext`, `update(seed)`, `mac = digest[..16]`;
//! - body: `update(body_ciphertext)`, `d = digest`, `seed = AES(d[..16]) XOR d[..16]`,
//!   `update(seed)`, `mac = digest[..16]`.
//!
//! "digest" is the hash of everything written so far, taken without finalising the state.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use sha3::{Digest, Keccak256};

/// A running Keccak-256 MAC state of one direction of an RLPx connection.
///
/// It starts as `keccak256` over `(mac-secret XOR nonce) || handshake-packet` and is then
/// updated by every frame. [`KeccakMac::digest`] peeks at the current hash.
#[derive(Clone)]
pub struct KeccakMac {
    hasher: Keccak256,
}

impl std::fmt::Debug for KeccakMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeccakMac").finish_non_exhaustive()
    }
}

impl Default for KeccakMac {
    fn default() -> Self {
        Self::new()
    }
}

impl KeccakMac {
    /// An empty state (the hash of nothing so far).
    #[must_use]
    pub fn new() -> Self {
        Self {
            hasher: Keccak256::new(),
        }
    }

    /// Feeds bytes into the state.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// The Keccak-256 hash of everything fed so far; the state itself is unchanged.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

/// A MAC state paired with the AES-256 block cipher keyed with the MAC secret.
#[derive(Clone)]
pub(crate) struct FrameMac {
    mac: KeccakMac,
    cipher: aes::Aes256,
}

impl std::fmt::Debug for FrameMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameMac").finish_non_exhaustive()
    }
}

impl FrameMac {
    pub(crate) fn new(mac_secret: &[u8; 32], mac: KeccakMac) -> Self {
        Self {
            mac,
            cipher: aes::Aes256::new(mac_secret.into()),
        }
    }

    fn encrypt16(&self, data: &[u8; 32]) -> [u8; 16] {
        let mut block = [0u8; 16];
        block.copy_from_slice(&data[..16]);
        let mut ga = block.into();
        self.cipher.encrypt_block(&mut ga);
        ga.into()
    }

    /// Updates the state with a header ciphertext and returns the header MAC.
    pub(crate) fn header_mac(&mut self, header_ct: &[u8; 16]) -> [u8; 16] {
        let mut seed = self.encrypt16(&self.mac.digest());
        for (s, h) in seed.iter_mut().zip(header_ct) {
            *s ^= h;
        }
        self.mac.update(&seed);
        first16(&self.mac.digest())
    }

    /// Updates the state with a body ciphertext (including padding) and returns the frame MAC.
    pub(crate) fn body_mac(&mut self, body_ct: &[u8]) -> [u8; 16] {
        self.mac.update(body_ct);
        let d = self.mac.digest();
        let mut seed = self.encrypt16(&d);
        for (s, h) in seed.iter_mut().zip(&d[..16]) {
            *s ^= h;
        }
        self.mac.update(&seed);
        first16(&self.mac.digest())
    }
}

fn first16(d: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_does_not_finalise() {
        let mut m = KeccakMac::new();
        assert_eq!(
            hex::encode(m.digest()),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        m.update(b"fo");
        let _ = m.digest();
        m.update(b"o");
        let mut fresh = KeccakMac::new();
        fresh.update(b"foo");
        assert_eq!(m.digest(), fresh.digest());
    }

    #[test]
    fn header_and_body_macs_depend_on_history() {
        let mut a = FrameMac::new(&[1; 32], KeccakMac::new());
        let mut b = a.clone();
        assert_eq!(a.header_mac(&[2; 16]), b.header_mac(&[2; 16]));
        assert_ne!(a.body_mac(&[3; 32]), b.body_mac(&[4; 32]));
        assert_ne!(a.header_mac(&[2; 16]), b.header_mac(&[2; 16]));
    }
}
