//! The base protocol's wire types: [`NodeId`], [`Cap`], [`Hello`], and its constants.

use std::fmt;
use std::str::FromStr;

use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

/// The base protocol's version sent in our Hello (devp2p v5).
pub const BASE_PROTOCOL_VERSION: u64 = 5;
/// Number of message codes reserved for the base protocol "p2p" (0x00..=0x0f).
pub const BASE_PROTOCOL_LENGTH: u64 = 16;
/// Largest Hello accepted, in bytes (geth `baseProtocolMaxMsgSize`).
pub const MAX_HELLO_SIZE: u32 = 2 * 1024;
/// From this remote Hello version on, payloads are snappy-compressed (EIP-706).
pub const SNAPPY_PROTOCOL_VERSION: u64 = 5;
/// Hello message code.
pub const HELLO_CODE: u64 = 0x00;
/// Disconnect message code.
pub const DISCONNECT_CODE: u64 = 0x01;
/// Ping message code.
pub const PING_CODE: u64 = 0x02;
/// Pong message code.
pub const PONG_CODE: u64 = 0x03;

/// A node's identity: its 64-byte uncompressed secp256k1 public key without the `0x04` prefix.
///
/// `Display` and `FromStr` use 128 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 64]);

impl NodeId {
    /// The all-zero id (never valid in a Hello).
    pub const ZERO: Self = Self([0; 64]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// Whether all bytes are zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }

    /// Builds an id from a slice; `None` unless it has exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 64]>::try_from(bytes).ok().map(Self)
    }
}

impl Default for NodeId {
    fn default() -> Self {
        Self::ZERO
    }
}

impl From<[u8; 64]> for NodeId {
    fn from(b: [u8; 64]) -> Self {
        Self(b)
    }
}

impl AsRef<[u8]> for NodeId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NodeId({})",
            hex::encode(self.0.get(..8).unwrap_or_default())
        )
    }
}

/// Error parsing a [`NodeId`] from hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid node id: expected 128 hex digits")]
pub struct ParseNodeIdError;

impl FromStr for NodeId {
    type Err = ParseNodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 64];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseNodeIdError)?;
        Ok(Self(out))
    }
}

impl Encodable for NodeId {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.append(&self.0.as_slice());
    }
}

impl Decodable for NodeId {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        rlp.decoder().decode_value(|b| {
            Self::from_slice(b).ok_or(DecoderError::Custom("node id must be 64 bytes"))
        })
    }
}

/// A capability: a protocol name and version, written `name/version` (`eth/68`).
///
/// The derived order is the canonical one (geth's `Cap.Cmp`): by name byte-wise, then by
/// version ascending.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cap {
    /// The protocol name (case-sensitive).
    pub name: String,
    /// The protocol version.
    pub version: u32,
}

impl Cap {
    /// Creates a capability.
    pub fn new(name: impl Into<String>, version: u32) -> Self {
        Self {
            name: name.into(),
            version,
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

impl Encodable for Cap {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.append(&self.name.as_bytes());
        s.append(&self.version);
    }
}

impl Decodable for Cap {
    /// Decodes `[name, version, ...]`; extra elements are ignored and a name that is not UTF-8
    /// is decoded lossily.
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let name: Vec<u8> = rlp.val_at(0)?;
        Ok(Self {
            name: String::from_utf8_lossy(&name).into_owned(),
            version: rlp.val_at(1)?,
        })
    }
}

/// The Hello message (code 0x00): the first message each side sends after the transport
/// handshake.
///
/// Payload: `[version, client_id, [[cap_name, cap_version], ...], listen_port, id, ...]`.
/// Decoding follows EIP-8: extra list elements are ignored and any version is accepted.
/// Decoding through [`Decodable`] requires a 64-byte id; the peer's handshake decodes the id
/// leniently first so that a bad id gives [`DisconnectReason::InvalidIdentity`](super::DisconnectReason::InvalidIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The base protocol version ([`BASE_PROTOCOL_VERSION`] for ours).
    pub version: u64,
    /// Free-form client name, for example `peerwire/0.1.0`.
    pub client_id: String,
    /// Capabilities, in canonical order when we send them.
    pub caps: Vec<Cap>,
    /// The TCP listening port (0: not listening or unknown).
    pub listen_port: u64,
    /// The node id.
    pub id: NodeId,
}

impl Hello {
    /// The RLP payload.
    pub fn encode_payload(&self) -> Vec<u8> {
        rlp::encode(self).to_vec()
    }

    /// Decodes a Hello payload (one RLP list; trailing bytes ignored).
    ///
    /// # Errors
    ///
    /// The RLP error, including a non-64-byte id.
    pub fn decode_payload(payload: &[u8]) -> Result<Self, DecoderError> {
        let raw: RawHello = crate::msg::decode_first(payload)?;
        let id =
            NodeId::from_slice(&raw.id).ok_or(DecoderError::Custom("node id must be 64 bytes"))?;
        Ok(raw.with_id(id))
    }
}

impl Encodable for Hello {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(5);
        s.append(&self.version);
        s.append(&self.client_id.as_bytes());
        s.append_list(&self.caps);
        s.append(&self.listen_port);
        s.append(&self.id);
    }
}

impl Decodable for Hello {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let raw = RawHello::decode(rlp)?;
        let id =
            NodeId::from_slice(&raw.id).ok_or(DecoderError::Custom("node id must be 64 bytes"))?;
        Ok(raw.with_id(id))
    }
}

/// A Hello whose id is not checked yet.
#[derive(Debug, Clone)]
pub(crate) struct RawHello {
    pub(crate) version: u64,
    pub(crate) client_id: String,
    pub(crate) caps: Vec<Cap>,
    pub(crate) listen_port: u64,
    pub(crate) id: Vec<u8>,
}

impl RawHello {
    pub(crate) fn with_id(self, id: NodeId) -> Hello {
        Hello {
            version: self.version,
            client_id: self.client_id,
            caps: self.caps,
            listen_port: self.listen_port,
            id,
        }
    }
}

impl Decodable for RawHello {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let client_id: Vec<u8> = rlp.val_at(1)?;
        let caps_rlp = rlp.at(2)?;
        if !caps_rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let mut caps = Vec::new();
        for item in caps_rlp.iter() {
            caps.push(Cap::decode(&item)?);
        }
        Ok(Self {
            version: rlp.val_at(0)?,
            client_id: String::from_utf8_lossy(&client_id).into_owned(),
            caps,
            listen_port: rlp.val_at(3)?,
            id: rlp.val_at(4)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_order_and_display() {
        let mut caps = [
            Cap::new("eth", 68),
            Cap::new("a", 2),
            Cap::new("eth", 66),
            Cap::new("B", 1),
        ];
        caps.sort();
        let s: Vec<String> = caps.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["B/1", "a/2", "eth/66", "eth/68"]);
    }

    #[test]
    fn node_id_hex() {
        let id = NodeId([0xab; 64]);
        let s = id.to_string();
        assert_eq!(s.len(), 128);
        assert_eq!(s.parse::<NodeId>(), Ok(id));
        assert!("abcd".parse::<NodeId>().is_err());
        assert!(NodeId::ZERO.is_zero());
    }

    #[test]
    fn hello_round_trip() {
        let h = Hello {
            version: 5,
            client_id: "peerwire".into(),
            caps: vec![Cap::new("eth", 68), Cap::new("snap", 1)],
            listen_port: 30303,
            id: NodeId([7; 64]),
        };
        assert_eq!(Hello::decode_payload(&h.encode_payload()), Ok(h));
    }
}
