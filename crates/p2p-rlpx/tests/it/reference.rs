//! A deliberately plain, spec-following frame writer (devp2p `rlpx.md`, "Framing" and "MAC"),
//! independent of the crate's codec: it builds frames with arbitrary header and body
//! plaintexts, for the known-answer test and for feeding the decoder valid-MAC garbage.

use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use sha3::{Digest, Keccak256};

/// One direction's frame state: the AES-256-CTR keystream (zero IV), the MAC secret and the
/// running Keccak state.
pub(crate) struct RefWriter {
    ctr: ctr::Ctr128BE<aes::Aes256>,
    mac_secret: [u8; 32],
    mac: Keccak256,
}

impl RefWriter {
    pub(crate) fn new(aes_secret: [u8; 32], mac_secret: [u8; 32], mac_init: &[u8]) -> Self {
        let mut mac = Keccak256::new();
        mac.update(mac_init);
        Self {
            ctr: ctr::Ctr128BE::new(&aes_secret.into(), &[0u8; 16].into()),
            mac_secret,
            mac,
        }
    }

    fn aes_ecb(&self, block: &[u8]) -> [u8; 16] {
        let cipher = aes::Aes256::new(&self.mac_secret.into());
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&block[..16]);
        let mut b = aes::Block::from(raw);
        cipher.encrypt_block(&mut b);
        b.into()
    }

    fn digest(&self) -> [u8; 32] {
        self.mac.clone().finalize().into()
    }

    /// Encrypts and MACs a raw 16-byte header plaintext and a raw body plaintext (padded here
    /// to 16 bytes with zeros).
    pub(crate) fn frame_raw(&mut self, header: [u8; 16], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut header_ct = header;
        self.ctr.apply_keystream(&mut header_ct);
        // header-mac-seed = aes(mac-secret, keccak256.digest(egress-mac)[:16]) ^ header-ciphertext
        let mut seed = self.aes_ecb(&self.digest());
        for (s, h) in seed.iter_mut().zip(header_ct) {
            *s ^= h;
        }
        self.mac.update(seed);
        out.extend_from_slice(&header_ct);
        out.extend_from_slice(&self.digest()[..16]);

        let mut body_ct = body.to_vec();
        body_ct.resize(body.len().div_ceil(16) * 16, 0);
        self.ctr.apply_keystream(&mut body_ct);
        // frame-mac-seed = aes(mac-secret, keccak256.digest(egress-mac)[:16]) ^ keccak256.digest(egress-mac)[:16]
        self.mac.update(&body_ct);
        let d = self.digest();
        let mut seed = self.aes_ecb(&d);
        for (s, x) in seed.iter_mut().zip(&d[..16]) {
            *s ^= x;
        }
        self.mac.update(seed);
        out.extend_from_slice(&body_ct);
        out.extend_from_slice(&self.digest()[..16]);
        out
    }

    /// A well-formed frame: header `fsize || c2 80 80`, body `frame_data`.
    pub(crate) fn frame(&mut self, frame_data: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 16];
        let len = u32::try_from(frame_data.len()).unwrap().to_be_bytes();
        header[..3].copy_from_slice(&len[1..]);
        header[3..6].copy_from_slice(&[0xc2, 0x80, 0x80]);
        self.frame_raw(header, frame_data)
    }
}

pub(crate) fn keccak(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}
