//! ECIES as used by the RLPx handshake: secp256k1 ECDH, the NIST SP 800-56 concatenation KDF
//! with SHA-256, AES-128-CTR and HMAC-SHA256.
//!
//! A ciphertext is `R || IV || c || d`: the 65-byte uncompressed ephemeral public key `R`, a
//! 16-byte random IV, the AES-128-CTR ciphertext `c` and `d = HMAC-SHA256(kM, IV || c || auth)`,
//! where `auth` is the caller's authenticated data (RLPx passes the 2-byte size prefix).
//! The tag is checked in constant time before anything is decrypted, and `R` must be a valid
//! curve point.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use secp256k1::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

use crate::Error;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;
type HmacSha256 = Hmac<Sha256>;

/// Length of the uncompressed ephemeral public key at the start of a ciphertext.
const PUBLIC_KEY_LEN: usize = 65;
/// Length of the IV.
const IV_LEN: usize = 16;
/// Length of the HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// Bytes that ECIES adds to a plaintext: public key (65), IV (16) and tag (32).
pub const ECIES_OVERHEAD: usize = PUBLIC_KEY_LEN + IV_LEN + TAG_LEN;

/// The x coordinate of `secret · public` (32 bytes), the raw ECDH shared secret of RLPx.
pub(crate) fn ecdh_x(public: &PublicKey, secret: &SecretKey) -> [u8; 32] {
    let point = secp256k1::ecdh::shared_secret_point(public, secret);
    let mut x = [0u8; 32];
    x.copy_from_slice(&point[..32]);
    x
}

/// The concatenation KDF (SHA-256, empty `s1`) cut into the AES key `kE` and the MAC key
/// `kM = SHA256(next 16 bytes)`.
fn derive_keys(shared: &[u8; 32]) -> ([u8; 16], [u8; 32]) {
    // 32 bytes are needed, which is exactly one SHA-256 block with counter 1.
    let mut hasher = Sha256::new();
    hasher.update(1u32.to_be_bytes());
    hasher.update(shared);
    let block = hasher.finalize();
    let mut enc_key = [0u8; 16];
    enc_key.copy_from_slice(&block[..16]);
    let mac_key: [u8; 32] = Sha256::digest(&block[16..32]).into();
    (enc_key, mac_key)
}

fn tag(mac_key: &[u8; 32], iv: &[u8], ciphertext: &[u8], auth_data: &[u8]) -> HmacSha256 {
    // HMAC zero-pads keys shorter than the 64-byte SHA-256 block, so the padded block key is
    // the same key; this way no fallible constructor is needed.
    let mut block_key = [0u8; 64];
    block_key[..32].copy_from_slice(mac_key);
    let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new(&block_key.into());
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(auth_data);
    mac
}

/// Encrypts `plaintext` to `remote` with a fresh ephemeral key and IV.
#[must_use]
pub fn encrypt(remote: &PublicKey, plaintext: &[u8], auth_data: &[u8]) -> Vec<u8> {
    let ephemeral = crate::key::random_secret_key();
    let mut iv = [0u8; IV_LEN];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut iv);
    encrypt_with(remote, plaintext, auth_data, &ephemeral, iv)
}

/// Encrypts with a given ephemeral key and IV (deterministic; for tests and vectors).
pub(crate) fn encrypt_with(
    remote: &PublicKey,
    plaintext: &[u8],
    auth_data: &[u8],
    ephemeral: &SecretKey,
    iv: [u8; IV_LEN],
) -> Vec<u8> {
    let shared = ecdh_x(remote, ephemeral);
    let (enc_key, mac_key) = derive_keys(&shared);
    let ephemeral_public = PublicKey::from_secret_key(ephemeral);

    let mut out = Vec::with_capacity(ECIES_OVERHEAD + plaintext.len());
    out.extend_from_slice(&ephemeral_public.serialize_uncompressed());
    out.extend_from_slice(&iv);
    let body_start = out.len();
    out.extend_from_slice(plaintext);
    let mut cipher = Aes128Ctr::new(&enc_key.into(), &iv.into());
    cipher.apply_keystream(&mut out[body_start..]);
    let d = tag(&mac_key, &iv, &out[body_start..], auth_data)
        .finalize()
        .into_bytes();
    out.extend_from_slice(&d);
    out
}

/// Decrypts an ECIES ciphertext addressed to `secret`.
///
/// # Errors
///
/// [`Error::EciesTooShort`] if `ciphertext` is shorter than [`ECIES_OVERHEAD`],
/// [`Error::InvalidPublicKey`] if the ephemeral key is not a valid curve point, and
/// [`Error::EciesTagMismatch`] if the tag does not match (checked before decrypting).
pub fn decrypt(secret: &SecretKey, ciphertext: &[u8], auth_data: &[u8]) -> Result<Vec<u8>, Error> {
    if ciphertext.len() < ECIES_OVERHEAD {
        return Err(Error::EciesTooShort {
            len: ciphertext.len(),
        });
    }
    let (key_bytes, rest) = ciphertext.split_at(PUBLIC_KEY_LEN);
    let (iv, rest) = rest.split_at(IV_LEN);
    let (body, d) = rest.split_at(rest.len() - TAG_LEN);
    if key_bytes.first() != Some(&4) {
        return Err(Error::InvalidPublicKey);
    }
    let ephemeral = PublicKey::from_slice(key_bytes).map_err(|_| Error::InvalidPublicKey)?;
    let shared = ecdh_x(&ephemeral, secret);
    let (enc_key, mac_key) = derive_keys(&shared);
    tag(&mac_key, iv, body, auth_data)
        .verify_slice(d)
        .map_err(|_| Error::EciesTagMismatch)?;
    let mut plain = body.to_vec();
    let mut iv_block = [0u8; IV_LEN];
    iv_block.copy_from_slice(iv);
    let mut cipher = Aes128Ctr::new(&enc_key.into(), &iv_block.into());
    cipher.apply_keystream(&mut plain);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_secret_bytes([byte; 32]).unwrap()
    }

    #[test]
    fn round_trip_with_auth_data() {
        let recipient = key(7);
        let public = PublicKey::from_secret_key(&recipient);
        let ct = encrypt(&public, b"hello ecies", b"\x01\x02");
        assert_eq!(ct.len(), 11 + ECIES_OVERHEAD);
        assert_eq!(
            decrypt(&recipient, &ct, b"\x01\x02").unwrap(),
            b"hello ecies"
        );
    }

    #[test]
    fn wrong_auth_data_or_key_or_tampering_fails_the_tag() {
        let recipient = key(7);
        let public = PublicKey::from_secret_key(&recipient);
        let ct = encrypt(&public, b"hello ecies", b"ab");
        assert!(matches!(
            decrypt(&recipient, &ct, b"ac"),
            Err(Error::EciesTagMismatch)
        ));
        assert!(matches!(
            decrypt(&key(8), &ct, b"ab"),
            Err(Error::EciesTagMismatch)
        ));
        for i in 65..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x40;
            assert!(
                matches!(
                    decrypt(&recipient, &bad, b"ab"),
                    Err(Error::EciesTagMismatch)
                ),
                "byte {i}"
            );
        }
    }

    #[test]
    fn invalid_curve_point_is_rejected() {
        let recipient = key(7);
        let public = PublicKey::from_secret_key(&recipient);
        let mut ct = encrypt(&public, b"x", b"");
        // Change y so that (x, y) is no longer on the curve.
        ct[64] ^= 1;
        assert!(matches!(
            decrypt(&recipient, &ct, b""),
            Err(Error::InvalidPublicKey)
        ));
        ct[0] = 2;
        assert!(matches!(
            decrypt(&recipient, &ct, b""),
            Err(Error::InvalidPublicKey)
        ));
    }

    #[test]
    fn short_input_is_rejected() {
        assert!(matches!(
            decrypt(&key(1), &[4; 112], b""),
            Err(Error::EciesTooShort { len: 112 })
        ));
    }

    #[test]
    fn deterministic_encryption_is_reproducible() {
        let recipient = PublicKey::from_secret_key(&key(3));
        let a = encrypt_with(&recipient, b"abc", b"", &key(4), [9; 16]);
        let b = encrypt_with(&recipient, b"abc", b"", &key(4), [9; 16]);
        assert_eq!(a, b);
        assert_eq!(decrypt(&key(3), &a, b"").unwrap(), b"abc");
    }
}
