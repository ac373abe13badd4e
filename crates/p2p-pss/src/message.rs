//! The wire message: `PssMsg`, its flags, its digest for deduplication and its size limits.
//!
//! # Wire form
//!
//! Our own (the reference network is gone, so there is nothing to interoperate with on this
//! layer): an RLP list of exactly six items,
//!
//! ```text
//! [to: bytes (0..=32), flags: uint, expire: uint32, topic: bytes (4), hops: uint8, payload: bytes]
//! ```
//!
//! where `flags` has bit 0 = symmetric and bit 1 = raw; any other bit, or raw and symmetric
//! together, is invalid.
//!
//! [`PssMsg::decode`] is strict, so that every message has exactly one encoding (and the
//! digest of what was received is the digest of what was sent):
//!
//! - the input length is checked against [`MAX_MSG_SIZE`] before anything else;
//! - the RLP must be canonical: no leading zeros in integers or lengths, a single byte below
//!   `0x80` never wrapped in a string header, short forms wherever they fit;
//! - no trailing bytes, neither after the list nor inside it;
//! - every length is checked against the input before anything is copied, and the hint is
//!   checked against [`ADDRESS_LEN`](crate::ADDRESS_LEN) before it is copied.
//!
//! # Digest and authenticated data
//!
//! [`PssMsg::digest`] covers `to`, the flags, the topic and the payload, but not `expire` and
//! not `hops`: a replay with an altered expiry or hop count is still a duplicate.
//! [`PssMsg::aad`] covers `to`, the flags, `expire` and the topic; sealed payloads bind it (see
//! [`seal_sym`](crate::seal_sym) and [`seal_asym`](crate::seal_asym)), so a replay with an
//! altered expiry no longer opens.
//! Both are length-prefixed concatenations of fixed-order fields, hence unambiguous.

use bytes::Bytes;
use rlp::Rlp;
use sha2::{Digest as _, Sha256};

use crate::{ADDRESS_LEN, Error, Topic};

/// The largest encoded pss message accepted from a peer (the reference's 1 MiB `MaxMsgSize`).
pub const MAX_MSG_SIZE: usize = 1 << 20;

/// The number of items in the RLP list of a [`PssMsg`].
const FIELD_COUNT: usize = 6;

/// The base of an RLP string header.
const STRING: u8 = 0x80;

/// The base of an RLP list header.
const LIST: u8 = 0xc0;

/// The longest [`PssMsg::aad`]: a hint of [`ADDRESS_LEN`] bytes.
const MAX_AAD_LEN: usize = 8 + ADDRESS_LEN + 1 + 4 + TOPIC_LEN;

/// The length of a topic on the wire.
const TOPIC_LEN: usize = 4;

/// The control flags of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// The payload is not encrypted.
    pub raw: bool,
    /// The payload is sealed with a symmetric key (else with ECIES, unless raw).
    pub symmetric: bool,
}

impl Flags {
    /// Bit 0 of the flags integer: the payload is sealed with a symmetric key.
    pub const SYMMETRIC_BIT: u8 = 1;
    /// Bit 1 of the flags integer: the payload is raw (not encrypted).
    pub const RAW_BIT: u8 = 2;

    /// The flags as the integer of the wire form.
    #[must_use]
    pub const fn bits(self) -> u8 {
        let mut bits = 0;
        if self.symmetric {
            bits |= Self::SYMMETRIC_BIT;
        }
        if self.raw {
            bits |= Self::RAW_BIT;
        }
        bits
    }

    /// The flags of the integer of the wire form.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMessage`] if a bit other than bits 0 and 1 is set, or both are (a raw
    /// payload is not sealed, so it cannot be symmetric).
    pub fn from_bits(bits: u64) -> Result<Self, Error> {
        let known = u64::from(Self::SYMMETRIC_BIT | Self::RAW_BIT);
        // Unknown bits, or raw and symmetric together.
        if bits & !known != 0 || bits == known {
            return Err(invalid(format!("invalid flags {bits:#x}")));
        }
        Ok(Self {
            raw: bits & u64::from(Self::RAW_BIT) != 0,
            symmetric: bits & u64::from(Self::SYMMETRIC_BIT) != 0,
        })
    }
}

/// A 32-byte message digest: what the forward cache remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

/// A pss message as it crosses one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PssMsg {
    /// The address hint: a prefix (0 to 32 bytes) of the recipient's overlay address.
    pub to: Bytes,
    /// The flags.
    pub flags: Flags,
    /// When the message expires, Unix seconds.
    pub expire: u32,
    /// The topic (in clear, as ethersphere/swarm's later `message.Message` has it).
    pub topic: Topic,
    /// Links crossed so far (not covered by the digest; a node drops a message at the hop limit).
    pub hops: u8,
    /// The payload: raw bytes, or sealed.
    pub payload: Bytes,
}

impl PssMsg {
    /// The RLP encoding.
    ///
    /// [`PssMsg::decode`] takes it back if [`PssMsg::validate`] accepts the message.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        put_header(&mut out, LIST, self.body_len());
        put_head_fields(
            &mut out,
            &self.to,
            self.flags,
            self.expire,
            self.topic,
            self.hops,
        );
        put_string(&mut out, &self.payload);
        out
    }

    /// The length of [`PssMsg::encode`]'s output, computed without encoding.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        header_len(body) + body
    }

    /// The length of the list's contents.
    fn body_len(&self) -> usize {
        head_fields_len(&self.to, self.flags, self.expire, self.hops) + string_len(&self.payload)
    }

    /// Checks what [`PssMsg::decode`] would check of a message built locally: the hint length,
    /// the flags and the encoded size.
    ///
    /// # Errors
    ///
    /// [`Error::HintTooLong`], [`Error::InvalidMessage`] (raw and symmetric together),
    /// [`Error::PayloadTooLarge`] if the encoding is longer than [`MAX_MSG_SIZE`].
    pub fn validate(&self) -> Result<(), Error> {
        if self.to.len() > ADDRESS_LEN {
            return Err(Error::HintTooLong(self.to.len()));
        }
        Flags::from_bits(u64::from(self.flags.bits()))?;
        let size = self.encoded_len();
        if size > MAX_MSG_SIZE {
            return Err(Error::PayloadTooLarge {
                size,
                limit: MAX_MSG_SIZE,
            });
        }
        Ok(())
    }

    /// Decodes strictly (canonical RLP, no trailing bytes, limits checked before allocating).
    ///
    /// # Errors
    ///
    /// [`Error::PayloadTooLarge`] if `bytes` is longer than [`MAX_MSG_SIZE`] (checked first),
    /// [`Error::HintTooLong`] for a hint longer than 32 bytes, and [`Error::InvalidMessage`]
    /// for anything else: not a list of six byte strings, non-canonical RLP, trailing bytes,
    /// invalid flags, an integer too large for its field or a topic that is not 4 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_MSG_SIZE {
            return Err(Error::PayloadTooLarge {
                size: bytes.len(),
                limit: MAX_MSG_SIZE,
            });
        }
        let [to, flags, expire, topic, hops, payload] = split_fields(bytes)?;

        let to = string_field(to, "to")?;
        if to.len() > ADDRESS_LEN {
            return Err(Error::HintTooLong(to.len()));
        }
        let flags = Flags::from_bits(uint_field(flags, "flags")?)?;
        let expire = uint_field(expire, "expire")?;
        let topic = string_field(topic, "topic")?;
        let topic: [u8; TOPIC_LEN] = topic
            .try_into()
            .map_err(|_| invalid(format!("topic of {} bytes, want {TOPIC_LEN}", topic.len())))?;
        let hops = uint_field(hops, "hops")?;
        let payload = string_field(payload, "payload")?;

        Ok(Self {
            to: Bytes::copy_from_slice(to),
            flags,
            expire,
            topic: Topic(topic),
            hops,
            payload: Bytes::copy_from_slice(payload),
        })
    }

    /// The digest of everything but `expire` and `hops`: SHA-256 (hardware-accelerated where
    /// the CPU has the SHA extensions) of
    /// `len(to) (8, big-endian) || to || flags (1) || topic (4) || payload`.
    #[must_use]
    pub fn digest(&self) -> Digest {
        digest_of(&self.to, self.flags, self.topic, &self.payload)
    }

    /// The authenticated data of a sealed payload: binds `to`, the flags, `expire` and the topic,
    /// as `len(to) (8, big-endian) || to || flags (1) || expire (4, big-endian) || topic (4)`.
    #[must_use]
    pub fn aad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(aad_len(&self.to));
        write_aad(&self.to, self.flags, self.expire, self.topic, |part| {
            out.extend_from_slice(part);
        });
        out
    }
}

/// The length of the authenticated data of a message with hint `to`.
fn aad_len(to: &[u8]) -> usize {
    8 + to.len() + 1 + 4 + TOPIC_LEN
}

/// The layout of [`PssMsg::aad`], part by part, in order: the one definition that both the
/// allocating [`PssMsg::aad`] and the stack [`Aad`] write out.
fn write_aad(to: &[u8], flags: Flags, expire: u32, topic: Topic, mut put: impl FnMut(&[u8])) {
    put(&(to.len() as u64).to_be_bytes());
    put(to);
    put(&[flags.bits()]);
    put(&expire.to_be_bytes());
    put(&topic.0);
}

/// [`PssMsg::aad`] on the stack, for the send path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aad {
    buf: [u8; MAX_AAD_LEN],
    len: usize,
}

impl Aad {
    /// The authenticated data of a message with these fields; `None` for a hint longer than
    /// [`ADDRESS_LEN`].
    pub(crate) fn new(to: &[u8], flags: Flags, expire: u32, topic: Topic) -> Option<Self> {
        let mut buf = [0u8; MAX_AAD_LEN];
        let len = aad_len(to);
        let mut rest = buf.get_mut(..len)?;
        write_aad(to, flags, expire, topic, |part| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(part.len());
            head.copy_from_slice(part);
            rest = tail;
        });
        Some(Self { buf, len })
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Encodes a message whose payload of `payload_len` bytes `write_payload` appends to the
/// buffer (so that a sealed payload is written in place), and computes its digest over the
/// same buffer: the result equals [`PssMsg::encode`] and [`PssMsg::digest`] of the message.
///
/// # Errors
///
/// [`Error::HintTooLong`], [`Error::PayloadTooLarge`] (checked before allocating), and
/// [`Error::InvalidMessage`] if `write_payload` appended other than `payload_len` bytes.
pub(crate) fn encode_with_payload(
    to: &[u8],
    flags: Flags,
    expire: u32,
    topic: Topic,
    payload_len: usize,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Result<(Vec<u8>, Digest), Error> {
    if to.len() > ADDRESS_LEN {
        return Err(Error::HintTooLong(to.len()));
    }
    let hops = 0;
    // A one-byte payload may be encoded without a header, which depends on its value; the
    // header written here assumes at least two bytes and is fixed below otherwise.
    let payload_enc = header_len(payload_len) + payload_len;
    let body = head_fields_len(to, flags, expire, hops) + payload_enc;
    let size = header_len(body) + body;
    if size > MAX_MSG_SIZE {
        return Err(Error::PayloadTooLarge {
            size,
            limit: MAX_MSG_SIZE,
        });
    }
    let mut out = Vec::with_capacity(size);
    put_header(&mut out, LIST, body);
    put_head_fields(&mut out, to, flags, expire, topic, hops);
    put_header(&mut out, STRING, payload_len);
    let start = out.len();
    write_payload(&mut out);
    if out.len() - start != payload_len {
        return Err(invalid(format!(
            "payload writer gave {} bytes, want {payload_len}",
            out.len().saturating_sub(start)
        )));
    }
    let digest = digest_of(to, flags, topic, out.get(start..).unwrap_or(&[]));
    if payload_len == 1 && out.last().is_some_and(|&b| b < STRING) {
        // Rare (sealed payloads are never this short): re-encode canonically.
        let payload = Bytes::copy_from_slice(out.get(start..).unwrap_or(&[]));
        let m = PssMsg {
            to: Bytes::copy_from_slice(to),
            flags,
            expire,
            topic,
            hops,
            payload,
        };
        return Ok((m.encode(), digest));
    }
    Ok((out, digest))
}

/// The digest definition of [`PssMsg::digest`].
fn digest_of(to: &[u8], flags: Flags, topic: Topic, payload: &[u8]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update((to.len() as u64).to_be_bytes());
    hasher.update(to);
    hasher.update([flags.bits()]);
    hasher.update(topic.0);
    hasher.update(payload);
    Digest(hasher.finalize().into())
}

/// The encoded length of the five items before the payload.
fn head_fields_len(to: &[u8], flags: Flags, expire: u32, hops: u8) -> usize {
    string_len(to)
        + uint_len(u64::from(flags.bits()))
        + uint_len(u64::from(expire))
        + 1
        + TOPIC_LEN
        + uint_len(u64::from(hops))
}

/// Appends the five items before the payload.
fn put_head_fields(
    out: &mut Vec<u8>,
    to: &[u8],
    flags: Flags,
    expire: u32,
    topic: Topic,
    hops: u8,
) {
    put_string(out, to);
    put_uint(out, u64::from(flags.bits()));
    put_uint(out, u64::from(expire));
    put_string(out, &topic.0);
    put_uint(out, u64::from(hops));
}

/// Appends an RLP header of base `base` ([`STRING`] or [`LIST`]) for `len` bytes of contents.
fn put_header(out: &mut Vec<u8>, base: u8, len: usize) {
    if len <= 55 {
        out.push(base + len as u8);
    } else {
        let n = be_len(len as u64);
        out.push(base + 55 + n as u8);
        put_be(out, len as u64, n);
    }
}

/// Appends the last `n` big-endian bytes of `value`.
fn put_be(out: &mut Vec<u8>, value: u64, n: usize) {
    let be = value.to_be_bytes();
    out.extend_from_slice(be.get(8 - n.min(8)..).unwrap_or(&be));
}

/// Appends a canonical RLP byte string.
fn put_string(out: &mut Vec<u8>, data: &[u8]) {
    match data {
        [b] if *b < STRING => out.push(*b),
        _ => {
            put_header(out, STRING, data.len());
            out.extend_from_slice(data);
        }
    }
}

/// Appends a canonical RLP unsigned integer.
fn put_uint(out: &mut Vec<u8>, n: u64) {
    match n {
        0 => out.push(STRING),
        1..0x80 => out.push(n as u8),
        _ => {
            let len = be_len(n);
            out.push(STRING + len as u8);
            put_be(out, n, len);
        }
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidMessage(reason)
}

fn rlp_error(what: &str, err: rlp::DecoderError) -> Error {
    invalid(format!("{what}: {err}"))
}

/// Splits a message into the exact encodings of its six items, checking the list header, that
/// nothing trails the list and that the items fill the list exactly.
fn split_fields(bytes: &[u8]) -> Result<[&[u8]; FIELD_COUNT], Error> {
    let outer = Rlp::new(bytes);
    if !outer.is_list() {
        return Err(invalid("not an RLP list".into()));
    }
    // `payload_info` checks the header is canonical and the declared length is present.
    let info = outer.payload_info().map_err(|e| rlp_error("list", e))?;
    if info.total() != bytes.len() {
        return Err(invalid(format!(
            "{} trailing bytes after the list",
            bytes.len().saturating_sub(info.total())
        )));
    }
    let mut rest = bytes
        .get(info.header_len..)
        .ok_or_else(|| invalid("truncated list".into()))?;
    let mut items: [&[u8]; FIELD_COUNT] = [&[]; FIELD_COUNT];
    let mut count = 0;
    while !rest.is_empty() {
        if count == FIELD_COUNT {
            return Err(invalid(format!("more than {FIELD_COUNT} items")));
        }
        let item = Rlp::new(rest)
            .payload_info()
            .map_err(|e| rlp_error("item", e))?;
        let (head, tail) = rest
            .split_at_checked(item.total())
            .ok_or_else(|| invalid("truncated item".into()))?;
        items[count] = head;
        count += 1;
        rest = tail;
    }
    if count != FIELD_COUNT {
        return Err(invalid(format!("{count} items, want {FIELD_COUNT}")));
    }
    Ok(items)
}

/// The contents of one item that must be a canonical byte string.
fn string_field<'a>(item: &'a [u8], name: &str) -> Result<&'a [u8], Error> {
    let rlp = Rlp::new(item);
    if !rlp.is_data() {
        return Err(invalid(format!("{name} is a list, want bytes")));
    }
    // `split_fields` already checked the header is canonical (short form up to 55 bytes, no
    // leading zeros in the length); only a wrapped single byte is left to reject.
    if let [0x81, byte] = item
        && *byte < 0x80
    {
        return Err(invalid(format!("{name}: single byte wrapped in a string")));
    }
    rlp.data().map_err(|e| rlp_error(name, e))
}

/// The value of one item that must be a canonical unsigned integer that fits `T`.
fn uint_field<T: TryFrom<u64>>(item: &[u8], name: &str) -> Result<T, Error> {
    let width = size_of::<T>().min(8);
    let data = string_field(item, name)?;
    if data.first() == Some(&0) {
        return Err(invalid(format!("{name}: integer with a leading zero")));
    }
    if data.len() > width {
        return Err(invalid(format!(
            "{name}: integer of {} bytes, at most {width}",
            data.len()
        )));
    }
    let value = data.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    T::try_from(value).map_err(|_| invalid(format!("{name}: integer {value} out of range")))
}

/// The number of big-endian bytes of `n` without leading zeros.
fn be_len(n: u64) -> usize {
    8 - (n.leading_zeros() / 8) as usize
}

/// The length of an RLP string or list header for a payload of `len` bytes.
fn header_len(len: usize) -> usize {
    if len <= 55 { 1 } else { 1 + be_len(len as u64) }
}

/// The encoded length of a byte string.
fn string_len(data: &[u8]) -> usize {
    match data {
        [b] if *b < 0x80 => 1,
        _ => header_len(data.len()) + data.len(),
    }
}

/// The encoded length of an unsigned integer.
fn uint_len(n: u64) -> usize {
    if n < 0x80 { 1 } else { 1 + be_len(n) }
}

#[cfg(test)]
mod tests;
