//! The RLPx handshake: EIP-8 auth and ack messages (the legacy pre-EIP-8 format is accepted
//! too), their encryption with ECIES, and the derivation of the connection [`Secrets`].
//!
//! The initiator sends `auth`, the recipient answers with `ack`; both then derive the frame
//! secrets from the ephemeral ECDH secret, the two nonces and the exact wire bytes of both
//! packets. Peerwire always sends EIP-8 packets with 100 to 300 bytes of random padding; it
//! reads both formats and answers a legacy auth with a legacy ack.
//!
//! Every size prefix is checked against [`MAX_HANDSHAKE_SIZE`] before anything is allocated.

use std::fmt;

use rand::RngExt as _;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};
use sha3::{Digest, Keccak256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;
use crate::ecies::{self, ECIES_OVERHEAD, ecdh_x};
use crate::key::{NodeKey, public_key_from_raw, random_secret_key};
use crate::mac::KeccakMac;

/// The largest auth or ack size prefix accepted (bytes after the prefix), as in go-ethereum.
pub const MAX_HANDSHAKE_SIZE: usize = 2048;

/// The version number written into auth and ack bodies.
const HANDSHAKE_VERSION: u64 = 4;
/// Length of a legacy (pre-EIP-8) auth packet: ECIES over 194 bytes.
const LEGACY_AUTH_LEN: usize = 194 + ECIES_OVERHEAD;
/// Length of a legacy ack packet: ECIES over 97 bytes.
const LEGACY_ACK_LEN: usize = 97 + ECIES_OVERHEAD;
/// Random padding range for EIP-8 packets (inclusive), as EIP-8 recommends.
const PADDING: std::ops::RangeInclusive<usize> = 100..=300;

/// Which side of the handshake this node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The dialer, which sends auth.
    Initiator,
    /// The listener, which answers with ack.
    Recipient,
}

/// The wire format of a handshake packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFormat {
    /// EIP-8: a 2-byte size prefix, an RLP body and padding.
    Eip8,
    /// The fixed-size format before EIP-8.
    Legacy,
}

/// A decrypted auth body (initiator to recipient).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthMessage {
    /// `r || s || v` signature by the initiator's ephemeral key over
    /// `static-shared-secret XOR nonce`.
    pub signature: [u8; 65],
    /// The initiator's static public key (node id).
    pub initiator_id: [u8; 64],
    /// The initiator's nonce.
    pub nonce: [u8; 32],
    /// The version the initiator announced (ignored beyond decoding).
    pub version: u64,
}

impl fmt::Debug for AuthMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMessage")
            .field("initiator_id", &hex::encode(self.initiator_id))
            .field("nonce", &hex::encode(self.nonce))
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A decrypted ack body (recipient to initiator).
#[derive(Clone, PartialEq, Eq)]
pub struct AckMessage {
    /// The recipient's ephemeral public key (64 bytes, no prefix).
    pub ephemeral_id: [u8; 64],
    /// The recipient's nonce.
    pub nonce: [u8; 32],
    /// The version the recipient announced (ignored beyond decoding).
    pub version: u64,
}

impl fmt::Debug for AckMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckMessage")
            .field("ephemeral_id", &hex::encode(self.ephemeral_id))
            .field("nonce", &hex::encode(self.nonce))
            .field("version", &self.version)
            .finish()
    }
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

fn raw_id(public: &PublicKey) -> [u8; 64] {
    let full = public.serialize_uncompressed();
    let mut id = [0u8; 64];
    id.copy_from_slice(&full[1..]);
    id
}

impl AuthMessage {
    /// Builds and signs an auth body.
    fn new(key: &NodeKey, remote: &PublicKey, ephemeral: &SecretKey, nonce: [u8; 32]) -> Self {
        let static_shared = ecdh_x(remote, key.secret_key());
        let digest = xor32(&static_shared, &nonce);
        let sig =
            RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(digest), ephemeral);
        let (recid, compact) = sig.serialize_compact();
        let mut signature = [0u8; 65];
        signature[..64].copy_from_slice(&compact);
        signature[64] = u8::from(recid);
        Self {
            signature,
            initiator_id: raw_id(key.public_key()),
            nonce,
            version: HANDSHAKE_VERSION,
        }
    }

    /// The initiator's static public key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPublicKey`] if the id is not a curve point.
    pub fn initiator_key(&self) -> Result<PublicKey, Error> {
        public_key_from_raw(&self.initiator_id)
    }

    /// Recovers the initiator's ephemeral public key from the signature, given the recipient's
    /// static secret key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPublicKey`] if the initiator id is not a curve point,
    /// [`Error::InvalidSignature`] if the signature is malformed or recovers no key.
    pub fn recover_ephemeral(&self, recipient: &SecretKey) -> Result<PublicKey, Error> {
        let initiator = self.initiator_key()?;
        let static_shared = ecdh_x(&initiator, recipient);
        let digest = xor32(&static_shared, &self.nonce);
        let v = self.signature[64];
        if v > 1 {
            return Err(Error::InvalidSignature);
        }
        let recid = RecoveryId::try_from(i32::from(v)).map_err(|_| Error::InvalidSignature)?;
        let sig = RecoverableSignature::from_compact(&self.signature[..64], recid)
            .map_err(|_| Error::InvalidSignature)?;
        sig.recover_ecdsa(Message::from_digest(digest))
            .map_err(|_| Error::InvalidSignature)
    }

    fn encode_body(&self) -> Vec<u8> {
        let mut s = rlp::RlpStream::new_list(4);
        s.append(&self.signature.as_slice());
        s.append(&self.initiator_id.as_slice());
        s.append(&self.nonce.as_slice());
        s.append(&self.version);
        s.out().to_vec()
    }

    fn decode_body(plain: &[u8]) -> Result<Self, Error> {
        let list = rlp::Rlp::new(plain);
        if !list.is_list() {
            return Err(Error::InvalidHandshake("auth body is not a list"));
        }
        Ok(Self {
            signature: fixed(&list, 0, "auth signature")?,
            initiator_id: fixed(&list, 1, "auth public key")?,
            nonce: fixed(&list, 2, "auth nonce")?,
            version: version(&list, 3)?,
        })
    }

    fn decode_legacy(plain: &[u8]) -> Result<Self, Error> {
        // sig (65) || keccak(ephemeral public key) (32) || public key (64) || nonce (32) || 0x00
        if plain.len() != 194 {
            return Err(Error::InvalidHandshake("legacy auth has the wrong length"));
        }
        let mut signature = [0u8; 65];
        signature.copy_from_slice(&plain[..65]);
        let mut initiator_id = [0u8; 64];
        initiator_id.copy_from_slice(&plain[97..161]);
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&plain[161..193]);
        Ok(Self {
            signature,
            initiator_id,
            nonce,
            version: HANDSHAKE_VERSION,
        })
    }
}

impl AckMessage {
    fn encode_body(&self) -> Vec<u8> {
        let mut s = rlp::RlpStream::new_list(3);
        s.append(&self.ephemeral_id.as_slice());
        s.append(&self.nonce.as_slice());
        s.append(&self.version);
        s.out().to_vec()
    }

    fn decode_body(plain: &[u8]) -> Result<Self, Error> {
        let list = rlp::Rlp::new(plain);
        if !list.is_list() {
            return Err(Error::InvalidHandshake("ack body is not a list"));
        }
        Ok(Self {
            ephemeral_id: fixed(&list, 0, "ack ephemeral key")?,
            nonce: fixed(&list, 1, "ack nonce")?,
            version: version(&list, 2)?,
        })
    }

    fn decode_legacy(plain: &[u8]) -> Result<Self, Error> {
        // ephemeral public key (64) || nonce (32) || 0x00
        if plain.len() != 97 {
            return Err(Error::InvalidHandshake("legacy ack has the wrong length"));
        }
        let mut ephemeral_id = [0u8; 64];
        ephemeral_id.copy_from_slice(&plain[..64]);
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&plain[64..96]);
        Ok(Self {
            ephemeral_id,
            nonce,
            version: HANDSHAKE_VERSION,
        })
    }

    /// The recipient's ephemeral public key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPublicKey`] if it is not a curve point.
    pub fn ephemeral_key(&self) -> Result<PublicKey, Error> {
        public_key_from_raw(&self.ephemeral_id)
    }
}

fn fixed<const N: usize>(
    list: &rlp::Rlp<'_>,
    index: usize,
    what: &'static str,
) -> Result<[u8; N], Error> {
    let item = list.at(index).map_err(|_| Error::InvalidHandshake(what))?;
    let data = item.data().map_err(|_| Error::InvalidHandshake(what))?;
    <[u8; N]>::try_from(data).map_err(|_| Error::InvalidHandshake(what))
}

fn version(list: &rlp::Rlp<'_>, index: usize) -> Result<u64, Error> {
    let item = list
        .at(index)
        .map_err(|_| Error::InvalidHandshake("missing version"))?;
    item.as_val::<u64>()
        .map_err(|_| Error::InvalidHandshake("invalid version"))
}

/// Pads an EIP-8 body, encrypts it to `remote` and prepends the size prefix.
fn seal_eip8(remote: &PublicKey, mut body: Vec<u8>) -> Vec<u8> {
    let padding = rand::rng().random_range(PADDING);
    body.resize(body.len() + padding, 0);
    let size = body.len() + ECIES_OVERHEAD;
    // The body is at most a few hundred bytes, far below u16::MAX.
    let prefix = u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes();
    let mut packet = prefix.to_vec();
    packet.extend_from_slice(&ecies::encrypt(remote, &body, &prefix));
    packet
}

/// Decrypts a complete handshake packet in either format.
fn open_packet(
    key: &SecretKey,
    packet: &[u8],
    legacy_len: usize,
) -> Result<(Vec<u8>, HandshakeFormat), Error> {
    if packet.len() == legacy_len
        && packet.first() == Some(&4)
        && let Ok(plain) = ecies::decrypt(key, packet, &[])
    {
        return Ok((plain, HandshakeFormat::Legacy));
    }
    let (prefix, rest) = packet
        .split_first_chunk::<2>()
        .ok_or(Error::InvalidHandshake(
            "packet shorter than its size prefix",
        ))?;
    let size = usize::from(u16::from_be_bytes(*prefix));
    if size > MAX_HANDSHAKE_SIZE {
        return Err(Error::HandshakeTooBig {
            size,
            limit: MAX_HANDSHAKE_SIZE,
        });
    }
    if rest.len() != size {
        return Err(Error::InvalidHandshake(
            "size prefix does not match the packet length",
        ));
    }
    Ok((ecies::decrypt(key, rest, prefix)?, HandshakeFormat::Eip8))
}

/// Decrypts and decodes a complete auth packet (size prefix included, for EIP-8) addressed to
/// `key`. Trailing padding, extra list elements and other versions are accepted (EIP-8).
///
/// # Errors
///
/// A handshake error ([`Error::is_handshake`]) for anything malformed.
pub fn decode_auth(
    key: &SecretKey,
    packet: &[u8],
) -> Result<(AuthMessage, HandshakeFormat), Error> {
    let (plain, format) = open_packet(key, packet, LEGACY_AUTH_LEN)?;
    let auth = match format {
        HandshakeFormat::Eip8 => AuthMessage::decode_body(&plain)?,
        HandshakeFormat::Legacy => AuthMessage::decode_legacy(&plain)?,
    };
    Ok((auth, format))
}

/// Decrypts and decodes a complete ack packet addressed to `key`.
///
/// # Errors
///
/// A handshake error ([`Error::is_handshake`]) for anything malformed.
pub fn decode_ack(key: &SecretKey, packet: &[u8]) -> Result<(AckMessage, HandshakeFormat), Error> {
    let (plain, format) = open_packet(key, packet, LEGACY_ACK_LEN)?;
    let ack = match format {
        HandshakeFormat::Eip8 => AckMessage::decode_body(&plain)?,
        HandshakeFormat::Legacy => AckMessage::decode_legacy(&plain)?,
    };
    Ok((ack, format))
}

/// The secrets of an established RLPx connection, as derived by one side.
#[derive(Clone)]
pub struct Secrets {
    /// The AES-256-CTR key of the frame cipher (both directions, zero IV).
    pub aes_secret: [u8; 32],
    /// The AES-256 key used by the frame MAC.
    pub mac_secret: [u8; 32],
    /// The MAC state of frames this side sends.
    pub egress_mac: KeccakMac,
    /// The MAC state of frames this side receives.
    pub ingress_mac: KeccakMac,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

/// Everything the key derivation needs, from one side's point of view.
#[derive(Debug, Clone, Copy)]
pub struct KeyMaterial<'a> {
    /// This side's role.
    pub role: Role,
    /// This side's ephemeral secret key.
    pub local_ephemeral: &'a SecretKey,
    /// The remote's ephemeral public key.
    pub remote_ephemeral: &'a PublicKey,
    /// This side's nonce.
    pub local_nonce: &'a [u8; 32],
    /// The remote's nonce.
    pub remote_nonce: &'a [u8; 32],
    /// The auth packet as sent on the wire (with its size prefix).
    pub auth_packet: &'a [u8],
    /// The ack packet as sent on the wire (with its size prefix).
    pub ack_packet: &'a [u8],
}

impl Secrets {
    /// Derives the connection secrets (devp2p RLPx "secrets" section).
    #[must_use]
    pub fn derive(m: &KeyMaterial<'_>) -> Self {
        let ephemeral_key = ecdh_x(m.remote_ephemeral, m.local_ephemeral);
        let (initiator_nonce, recipient_nonce) = match m.role {
            Role::Initiator => (m.local_nonce, m.remote_nonce),
            Role::Recipient => (m.remote_nonce, m.local_nonce),
        };
        let nonce_hash: [u8; 32] = Keccak256::new()
            .chain_update(recipient_nonce)
            .chain_update(initiator_nonce)
            .finalize()
            .into();
        let shared: [u8; 32] = Keccak256::new()
            .chain_update(ephemeral_key)
            .chain_update(nonce_hash)
            .finalize()
            .into();
        let aes_secret: [u8; 32] = Keccak256::new()
            .chain_update(ephemeral_key)
            .chain_update(shared)
            .finalize()
            .into();
        let mac_secret: [u8; 32] = Keccak256::new()
            .chain_update(ephemeral_key)
            .chain_update(aes_secret)
            .finalize()
            .into();

        let mut with_auth = KeccakMac::new();
        with_auth.update(&xor32(&mac_secret, recipient_nonce));
        with_auth.update(m.auth_packet);
        let mut with_ack = KeccakMac::new();
        with_ack.update(&xor32(&mac_secret, initiator_nonce));
        with_ack.update(m.ack_packet);
        let (egress_mac, ingress_mac) = match m.role {
            Role::Initiator => (with_auth, with_ack),
            Role::Recipient => (with_ack, with_auth),
        };
        Self {
            aes_secret,
            mac_secret,
            egress_mac,
            ingress_mac,
        }
    }
}

fn random_nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
    nonce
}

/// Reads one handshake packet without reading past its end, so that the first frame stays in
/// the socket. A packet starting with `0x04` may be legacy; it is tried as such first.
async fn read_packet<S: AsyncRead + Unpin>(
    io: &mut S,
    key: &SecretKey,
    legacy_len: usize,
) -> Result<Vec<u8>, Error> {
    let mut packet = vec![0u8; 2];
    read_exact(io, &mut packet).await?;
    if packet[0] == 4 {
        // An EIP-8 packet starting with 0x04 declares 1024 or more bytes, so reading up to the
        // legacy length never reads past its end.
        packet.resize(legacy_len, 0);
        read_exact(io, &mut packet[2..]).await?;
        if ecies::decrypt(key, &packet, &[]).is_ok() {
            return Ok(packet);
        }
    }
    let size = usize::from(u16::from_be_bytes([packet[0], packet[1]]));
    if size > MAX_HANDSHAKE_SIZE {
        return Err(Error::HandshakeTooBig {
            size,
            limit: MAX_HANDSHAKE_SIZE,
        });
    }
    let total = size + 2;
    if total < packet.len() {
        return Err(Error::InvalidHandshake(
            "size prefix does not match the packet length",
        ));
    }
    let have = packet.len();
    packet.resize(total, 0);
    read_exact(io, &mut packet[have..]).await?;
    Ok(packet)
}

async fn read_exact<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Result<(), Error> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::Closed),
        Err(e) => Err(Error::Io(e)),
    }
}

/// The outcome of a successful handshake.
#[derive(Debug)]
pub(crate) struct Established {
    pub(crate) secrets: Secrets,
    pub(crate) remote: PublicKey,
}

/// Runs the initiator side: sends auth, reads ack, derives the secrets.
pub(crate) async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    key: &NodeKey,
    remote: &PublicKey,
) -> Result<Established, Error> {
    let ephemeral = random_secret_key();
    let nonce = random_nonce();
    let auth = AuthMessage::new(key, remote, &ephemeral, nonce);
    let auth_packet = seal_eip8(remote, auth.encode_body());
    io.write_all(&auth_packet).await?;
    io.flush().await?;

    let ack_packet = read_packet(io, key.secret_key(), LEGACY_ACK_LEN).await?;
    let (ack, _) = decode_ack(key.secret_key(), &ack_packet)?;
    let remote_ephemeral = ack.ephemeral_key()?;
    let secrets = Secrets::derive(&KeyMaterial {
        role: Role::Initiator,
        local_ephemeral: &ephemeral,
        remote_ephemeral: &remote_ephemeral,
        local_nonce: &nonce,
        remote_nonce: &ack.nonce,
        auth_packet: &auth_packet,
        ack_packet: &ack_packet,
    });
    Ok(Established {
        secrets,
        remote: *remote,
    })
}

/// Runs the recipient side: reads auth, sends ack (in the format of the auth), derives the
/// secrets.
pub(crate) async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    key: &NodeKey,
) -> Result<Established, Error> {
    let auth_packet = read_packet(io, key.secret_key(), LEGACY_AUTH_LEN).await?;
    let (auth, format) = decode_auth(key.secret_key(), &auth_packet)?;
    let remote = auth.initiator_key()?;
    let remote_ephemeral = auth.recover_ephemeral(key.secret_key())?;

    let ephemeral = random_secret_key();
    let nonce = random_nonce();
    let ack = AckMessage {
        ephemeral_id: raw_id(&PublicKey::from_secret_key(&ephemeral)),
        nonce,
        version: HANDSHAKE_VERSION,
    };
    let ack_packet = match format {
        HandshakeFormat::Eip8 => seal_eip8(&remote, ack.encode_body()),
        HandshakeFormat::Legacy => {
            let mut body = Vec::with_capacity(97);
            body.extend_from_slice(&ack.ephemeral_id);
            body.extend_from_slice(&ack.nonce);
            body.push(0);
            ecies::encrypt(&remote, &body, &[])
        }
    };
    io.write_all(&ack_packet).await?;
    io.flush().await?;
    let secrets = Secrets::derive(&KeyMaterial {
        role: Role::Recipient,
        local_ephemeral: &ephemeral,
        remote_ephemeral: &remote_ephemeral,
        local_nonce: &nonce,
        remote_nonce: &auth.nonce,
        auth_packet: &auth_packet,
        ack_packet: &ack_packet,
    });
    Ok(Established { secrets, remote })
}

/// Builds a complete EIP-8 auth packet (for tests and tools that drive the handshake by hand).
#[must_use]
pub fn encode_auth(
    key: &NodeKey,
    remote: &PublicKey,
    ephemeral: &SecretKey,
    nonce: [u8; 32],
) -> Vec<u8> {
    seal_eip8(
        remote,
        AuthMessage::new(key, remote, ephemeral, nonce).encode_body(),
    )
}

/// Builds a complete EIP-8 ack packet (for tests and tools that drive the handshake by hand).
#[must_use]
pub fn encode_ack(remote: &PublicKey, ephemeral: &SecretKey, nonce: [u8; 32]) -> Vec<u8> {
    let ack = AckMessage {
        ephemeral_id: raw_id(&PublicKey::from_secret_key(ephemeral)),
        nonce,
        version: HANDSHAKE_VERSION,
    };
    seal_eip8(remote, ack.encode_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_round_trip_recovers_the_ephemeral_key() {
        let a = NodeKey::generate();
        let b = NodeKey::generate();
        let eph = random_secret_key();
        let packet = encode_auth(&a, b.public_key(), &eph, [5; 32]);
        assert!(packet.len() >= 2 + 100 + ECIES_OVERHEAD);
        let (auth, format) = decode_auth(b.secret_key(), &packet).unwrap();
        assert_eq!(format, HandshakeFormat::Eip8);
        assert_eq!(auth.nonce, [5; 32]);
        assert_eq!(&auth.initiator_key().unwrap(), a.public_key());
        assert_eq!(
            auth.recover_ephemeral(b.secret_key()).unwrap(),
            PublicKey::from_secret_key(&eph)
        );
    }

    #[test]
    fn oversized_prefix_is_rejected_before_decrypting() {
        let key = NodeKey::generate();
        let mut packet = vec![0x08, 0x01];
        packet.extend(std::iter::repeat_n(0, 2049));
        assert!(matches!(
            decode_auth(key.secret_key(), &packet),
            Err(Error::HandshakeTooBig {
                size: 2049,
                limit: 2048
            })
        ));
    }

    #[test]
    fn both_sides_derive_matching_secrets() {
        let (ea, eb) = (random_secret_key(), random_secret_key());
        let (pa, pb) = (
            PublicKey::from_secret_key(&ea),
            PublicKey::from_secret_key(&eb),
        );
        let (na, nb) = ([1; 32], [2; 32]);
        let a = Secrets::derive(&KeyMaterial {
            role: Role::Initiator,
            local_ephemeral: &ea,
            remote_ephemeral: &pb,
            local_nonce: &na,
            remote_nonce: &nb,
            auth_packet: b"auth",
            ack_packet: b"ack",
        });
        let b = Secrets::derive(&KeyMaterial {
            role: Role::Recipient,
            local_ephemeral: &eb,
            remote_ephemeral: &pa,
            local_nonce: &nb,
            remote_nonce: &na,
            auth_packet: b"auth",
            ack_packet: b"ack",
        });
        assert_eq!(a.aes_secret, b.aes_secret);
        assert_eq!(a.mac_secret, b.mac_secret);
        assert_eq!(a.egress_mac.digest(), b.ingress_mac.digest());
        assert_eq!(a.ingress_mac.digest(), b.egress_mac.digest());
        assert_ne!(a.egress_mac.digest(), a.ingress_mac.digest());
    }
}
