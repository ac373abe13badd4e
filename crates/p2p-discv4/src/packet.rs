//! The discv4 wire format: `hash(32) | signature(65) | type(1) | rlp(body)`.
//!
//! - `hash = keccak256(signature | type | body)` guards against corruption and names the
//!   packet (a Pong and an ENRResponse quote the hash of the request they answer).
//! - `signature` is a recoverable secp256k1 signature of `keccak256(type | body)`; the
//!   recovered public key is the sender's node id.
//! - Bodies follow EIP-8: extra list elements at the end are ignored.
//!
//! Spec: <https://github.com/ethereum/devp2p/blob/master/discv4.md>, EIP-868 for the ENR
//! request and response.
//! [`decode`] checks the size before looking at anything else and never panics.
//! Signatures use random extra nonce data, so no two packets are alike; high-s signatures are
//! refused (malleated copies would dodge replay detection).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p2p_msg::NodeId;
use rlp::{Rlp, RlpStream};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message as SecpMessage, SecretKey};
use sha3::{Digest, Keccak256};

use crate::DecodeError;
use crate::node::Enr;

/// The largest datagram discv4 sends or accepts, in bytes
/// ([spec](https://github.com/ethereum/devp2p/blob/master/discv4.md#wire-protocol)).
pub const MAX_PACKET_SIZE: usize = 1280;

/// The header size in bytes: hash (32) and signature (65).
pub const HEADER_SIZE: usize = 32 + 65;

/// Nodes per Neighbors packet, so that a packet with IPv6 endpoints stays under
/// [`MAX_PACKET_SIZE`] (geth's `maxNeighbors`).
pub const MAX_NEIGHBORS: usize = 12;

/// How far in the future this node sets packet expirations (20 s, like geth).
pub const EXPIRATION: Duration = Duration::from_secs(20);

/// The version this node puts in its Pings.
pub const PING_VERSION: u64 = 4;

/// A packet type byte.
mod kind {
    pub(super) const PING: u8 = 0x01;
    pub(super) const PONG: u8 = 0x02;
    pub(super) const FIND_NODE: u8 = 0x03;
    pub(super) const NEIGHBORS: u8 = 0x04;
    pub(super) const ENR_REQUEST: u8 = 0x05;
    pub(super) const ENR_RESPONSE: u8 = 0x06;
}

/// A UDP/TCP endpoint as carried in Ping, Pong and Neighbors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The IP address (unspecified when the packet carried none or an odd length).
    pub ip: IpAddr,
    /// The discovery port.
    pub udp_port: u16,
    /// The RLPx port.
    pub tcp_port: u16,
}

/// One node in a Neighbors packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Neighbor {
    /// Where the node is.
    pub endpoint: Endpoint,
    /// Its node id.
    pub id: NodeId,
}

/// Ping (type 0x01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The protocol version (4; others are accepted and ignored).
    pub version: u64,
    /// The sender's endpoint as it believes it to be (ignored in favour of the UDP source).
    pub from: Endpoint,
    /// The recipient's endpoint as the sender sees it.
    pub to: Endpoint,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
    /// The sender's ENR sequence number (EIP-868).
    pub enr_seq: Option<u64>,
}

/// Pong (type 0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The endpoint the Ping came from, as the replier saw it.
    pub to: Endpoint,
    /// The hash of the Ping this answers.
    pub ping_hash: [u8; 32],
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
    /// The replier's ENR sequence number (EIP-868).
    pub enr_seq: Option<u64>,
}

/// FindNode (type 0x03).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindNode {
    /// The public key (node id) whose neighbours are wanted.
    pub target: NodeId,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// Neighbors (type 0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbors {
    /// Nodes close to the requested target.
    pub nodes: Vec<Neighbor>,
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRRequest (type 0x05, EIP-868).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrRequest {
    /// Unix time in seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRResponse (type 0x06, EIP-868).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrResponse {
    /// The hash of the ENRRequest this answers.
    pub request_hash: [u8; 32],
    /// The sender's record (signature already verified by the `enr` crate).
    pub enr: Enr,
}

/// A discv4 message body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Ping.
    Ping(Ping),
    /// Pong.
    Pong(Pong),
    /// FindNode.
    FindNode(FindNode),
    /// Neighbors.
    Neighbors(Neighbors),
    /// ENRRequest.
    EnrRequest(EnrRequest),
    /// ENRResponse.
    EnrResponse(EnrResponse),
}

impl Message {
    /// The packet type byte.
    #[must_use]
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Ping(_) => kind::PING,
            Self::Pong(_) => kind::PONG,
            Self::FindNode(_) => kind::FIND_NODE,
            Self::Neighbors(_) => kind::NEIGHBORS,
            Self::EnrRequest(_) => kind::ENR_REQUEST,
            Self::EnrResponse(_) => kind::ENR_RESPONSE,
        }
    }

    /// The expiration time (Unix seconds).
    #[must_use]
    pub const fn expiration(&self) -> Option<u64> {
        match self {
            Self::Ping(p) => Some(p.expiration),
            Self::Pong(p) => Some(p.expiration),
            Self::FindNode(p) => Some(p.expiration),
            Self::Neighbors(p) => Some(p.expiration),
            Self::EnrRequest(p) => Some(p.expiration),
            Self::EnrResponse(_) => None,
        }
    }

    /// A short name for logs.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Ping(_) => "ping",
            Self::Pong(_) => "pong",
            Self::FindNode(_) => "findnode",
            Self::Neighbors(_) => "neighbors",
            Self::EnrRequest(_) => "enrrequest",
            Self::EnrResponse(_) => "enrresponse",
        }
    }
}

/// A decoded, verified packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet hash (first 32 bytes).
    pub hash: [u8; 32],
    /// The sender's node id, recovered from the signature.
    pub sender: NodeId,
    /// The body.
    pub message: Message,
}

/// The Unix time `EXPIRATION` from now, for outgoing packets.
#[must_use]
pub fn expiration_from_now() -> u64 {
    unix_now().saturating_add(EXPIRATION.as_secs())
}

/// The current Unix time in seconds.
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether an expiration timestamp lies in the past. Like geth, the timestamp is read as a
/// signed 64-bit number, so values of 2^63 and above (a negated time) are in the past.
#[must_use]
pub fn is_expired(expiration: u64) -> bool {
    expired_at(expiration, unix_now())
}

/// Whether `expiration` lies before the Unix time `now`.
#[must_use]
pub fn expired_at(expiration: u64, now: u64) -> bool {
    i64::try_from(expiration).map_or(true, |e| u64::try_from(e).map_or(true, |e| e < now))
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn append_ip(s: &mut RlpStream, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => s.append(&v4.octets().as_slice()),
        IpAddr::V6(v6) => s.append(&v6.octets().as_slice()),
    };
}

fn append_endpoint(s: &mut RlpStream, e: &Endpoint) {
    s.begin_list(3);
    append_ip(s, e.ip);
    s.append(&e.udp_port);
    s.append(&e.tcp_port);
}

/// The RLP body of a message (without the type byte).
#[must_use]
pub fn encode_body(message: &Message) -> Vec<u8> {
    let mut s = RlpStream::new();
    match message {
        Message::Ping(p) => {
            s.begin_list(if p.enr_seq.is_some() { 5 } else { 4 });
            s.append(&p.version);
            append_endpoint(&mut s, &p.from);
            append_endpoint(&mut s, &p.to);
            s.append(&p.expiration);
            if let Some(seq) = p.enr_seq {
                s.append(&seq);
            }
        }
        Message::Pong(p) => {
            s.begin_list(if p.enr_seq.is_some() { 4 } else { 3 });
            append_endpoint(&mut s, &p.to);
            s.append(&p.ping_hash.as_slice());
            s.append(&p.expiration);
            if let Some(seq) = p.enr_seq {
                s.append(&seq);
            }
        }
        Message::FindNode(p) => {
            s.begin_list(2);
            s.append(&p.target.as_bytes().as_slice());
            s.append(&p.expiration);
        }
        Message::Neighbors(p) => {
            s.begin_list(2);
            s.begin_list(p.nodes.len());
            for n in &p.nodes {
                s.begin_list(4);
                append_ip(&mut s, n.endpoint.ip);
                s.append(&n.endpoint.udp_port);
                s.append(&n.endpoint.tcp_port);
                s.append(&n.id.as_bytes().as_slice());
            }
            s.append(&p.expiration);
        }
        Message::EnrRequest(p) => {
            s.begin_list(1);
            s.append(&p.expiration);
        }
        Message::EnrResponse(p) => {
            s.begin_list(2);
            s.append(&p.request_hash.as_slice());
            s.append_raw(&alloy_rlp::encode(&p.enr), 1);
        }
    }
    s.out().to_vec()
}

/// Encodes and signs a packet; returns the datagram and its hash.
#[must_use]
pub fn encode(message: &Message, key: &SecretKey) -> (Vec<u8>, [u8; 32]) {
    encode_raw(message.kind(), &encode_body(message), key)
}

/// Signs an arbitrary type byte and body (for tests of malformed packets).
#[must_use]
pub fn encode_raw(kind: u8, body: &[u8], key: &SecretKey) -> (Vec<u8>, [u8; 32]) {
    let digest = keccak(&[&[kind], body]);
    // Random extra nonce data: two packets with the same body (same second) still get
    // distinct signatures, so the receiver's replay filter keeps both.
    let mut noncedata = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut noncedata);
    let sig = RecoverableSignature::sign_ecdsa_recoverable_with_noncedata(
        SecpMessage::from_digest(digest),
        key,
        &noncedata,
    );
    let (recid, compact) = sig.serialize_compact();
    let mut out = Vec::with_capacity(HEADER_SIZE + 1 + body.len());
    out.extend_from_slice(&[0u8; 32]);
    out.extend_from_slice(&compact);
    out.push(u8::from(recid));
    out.push(kind);
    out.extend_from_slice(body);
    let hash = keccak(&[out.get(32..).unwrap_or_default()]);
    out[..32].copy_from_slice(&hash);
    (out, hash)
}

/// Checks and decodes a datagram.
///
/// # Errors
///
/// A [`DecodeError`] saying which check failed: size, hash, signature, type, body.
pub fn decode(datagram: &[u8]) -> Result<Packet, DecodeError> {
    let len = datagram.len();
    if len > MAX_PACKET_SIZE {
        return Err(DecodeError::TooLarge { len });
    }
    let (Some(hash), Some(sig), Some(signed)) = (
        datagram.get(..32),
        datagram.get(32..HEADER_SIZE),
        datagram.get(HEADER_SIZE..).filter(|s| !s.is_empty()),
    ) else {
        return Err(DecodeError::TooShort { len });
    };
    let rest = datagram.get(32..).unwrap_or_default();
    let computed = keccak(&[rest]);
    if computed.as_slice() != hash {
        return Err(DecodeError::BadHash);
    }
    let sender = recover(sig, signed)?;
    let (&kind, body) = signed.split_first().ok_or(DecodeError::TooShort { len })?;
    let message = decode_body(kind, body)?;
    Ok(Packet {
        hash: computed,
        sender,
        message,
    })
}

fn recover(sig: &[u8], signed: &[u8]) -> Result<NodeId, DecodeError> {
    let (compact, v) = sig.split_at_checked(64).ok_or(DecodeError::BadSignature)?;
    let v = *v.first().ok_or(DecodeError::BadSignature)?;
    let recid = RecoveryId::try_from(i32::from(v)).map_err(|_| DecodeError::BadSignature)?;
    let sig = RecoverableSignature::from_compact(compact, recid)
        .map_err(|_| DecodeError::BadSignature)?;
    // Only low-s signatures (what libsecp256k1 makes): the high-s twin of a packet would
    // otherwise be a "new" packet that slips past the replay filter.
    let standard = sig.to_standard();
    let mut low = standard;
    low.normalize_s();
    if low != standard {
        return Err(DecodeError::BadSignature);
    }
    let public = sig
        .recover_ecdsa(SecpMessage::from_digest(keccak(&[signed])))
        .map_err(|_| DecodeError::BadSignature)?;
    Ok(p2p_rlpx::node_id(&public))
}

fn list_at<'a>(r: &Rlp<'a>, i: usize) -> Result<Rlp<'a>, DecodeError> {
    let item = r.at(i)?;
    if !item.is_list() {
        return Err(rlp::DecoderError::RlpExpectedToBeList.into());
    }
    Ok(item)
}

fn decode_ip(r: &Rlp<'_>) -> Result<IpAddr, DecodeError> {
    let data = r.data()?;
    Ok(if let Ok(b) = <[u8; 4]>::try_from(data) {
        IpAddr::V4(Ipv4Addr::from(b))
    } else if let Ok(b) = <[u8; 16]>::try_from(data) {
        let v6 = Ipv6Addr::from(b);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    })
}

fn decode_endpoint(r: &Rlp<'_>) -> Result<Endpoint, DecodeError> {
    Ok(Endpoint {
        ip: decode_ip(&r.at(0)?)?,
        udp_port: r.val_at(1)?,
        tcp_port: r.val_at(2)?,
    })
}

fn decode_hash(r: &Rlp<'_>) -> Result<[u8; 32], DecodeError> {
    <[u8; 32]>::try_from(r.data()?).map_err(|_| rlp::DecoderError::RlpInvalidLength.into())
}

fn decode_id(r: &Rlp<'_>) -> Result<NodeId, DecodeError> {
    NodeId::from_slice(r.data()?).ok_or_else(|| rlp::DecoderError::RlpInvalidLength.into())
}

fn optional_u64(r: &Rlp<'_>, i: usize) -> Option<u64> {
    r.at(i).ok().and_then(|v| v.as_val::<u64>().ok())
}

/// Decodes a body of the given type.
///
/// # Errors
///
/// [`DecodeError::UnknownType`] or [`DecodeError::Rlp`]/[`DecodeError::BadRecord`].
pub fn decode_body(kind: u8, body: &[u8]) -> Result<Message, DecodeError> {
    let r = Rlp::new(body);
    if !r.is_list() {
        return Err(rlp::DecoderError::RlpExpectedToBeList.into());
    }
    Ok(match kind {
        kind::PING => Message::Ping(Ping {
            version: r.val_at(0)?,
            from: decode_endpoint(&list_at(&r, 1)?)?,
            to: decode_endpoint(&list_at(&r, 2)?)?,
            expiration: r.val_at(3)?,
            enr_seq: optional_u64(&r, 4),
        }),
        kind::PONG => Message::Pong(Pong {
            to: decode_endpoint(&list_at(&r, 0)?)?,
            ping_hash: decode_hash(&r.at(1)?)?,
            expiration: r.val_at(2)?,
            enr_seq: optional_u64(&r, 3),
        }),
        kind::FIND_NODE => Message::FindNode(FindNode {
            target: decode_id(&r.at(0)?)?,
            expiration: r.val_at(1)?,
        }),
        kind::NEIGHBORS => {
            let list = list_at(&r, 0)?;
            // The datagram is at most 1280 bytes, so the count is small; still cap it.
            let mut nodes = Vec::with_capacity(list.item_count()?.min(MAX_PACKET_SIZE / 70));
            for item in list.iter() {
                if !item.is_list() {
                    return Err(rlp::DecoderError::RlpExpectedToBeList.into());
                }
                nodes.push(Neighbor {
                    endpoint: Endpoint {
                        ip: decode_ip(&item.at(0)?)?,
                        udp_port: item.val_at(1)?,
                        tcp_port: item.val_at(2)?,
                    },
                    id: decode_id(&item.at(3)?)?,
                });
            }
            Message::Neighbors(Neighbors {
                nodes,
                expiration: r.val_at(1)?,
            })
        }
        kind::ENR_REQUEST => Message::EnrRequest(EnrRequest {
            expiration: r.val_at(0)?,
        }),
        kind::ENR_RESPONSE => {
            let raw = r.at(1)?.as_raw();
            let enr = <Enr as alloy_rlp::Decodable>::decode(&mut &raw[..])
                .map_err(|e| DecodeError::BadRecord(e.to_string()))?;
            Message::EnrResponse(EnrResponse {
                request_hash: decode_hash(&r.at(0)?)?,
                enr,
            })
        }
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Splits nodes into Neighbors messages of at most [`MAX_NEIGHBORS`] each (at least one,
/// possibly empty, message).
#[must_use]
pub fn neighbors_messages(nodes: &[Neighbor], expiration: u64) -> Vec<Message> {
    if nodes.is_empty() {
        return vec![Message::Neighbors(Neighbors {
            nodes: Vec::new(),
            expiration,
        })];
    }
    nodes
        .chunks(MAX_NEIGHBORS)
        .map(|chunk| {
            Message::Neighbors(Neighbors {
                nodes: chunk.to_vec(),
                expiration,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
