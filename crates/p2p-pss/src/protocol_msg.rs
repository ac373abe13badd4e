//! [`ProtocolMsg`]: the envelope that carries one devp2p message of an emulated protocol inside
//! a pss payload.
//!
//! The wire form is the reference's RLP list `[code, size, payload, []]`: the fourth element is
//! the Go reference's `ReceivedAt time.Time`, which has no exported fields and so always encodes
//! as the empty list. It is always emitted, and required (as an empty list) on decode.
//! On decode the message's size is the payload's length; the encoded `size` is checked to be a
//! `u32` and otherwise ignored, as the reference does.

use bytes::Bytes;
use p2p_msg::Msg;
use rlp::{Rlp, RlpStream};

use crate::{Error, MAX_MSG_SIZE};

/// The largest encoded [`ProtocolMsg`] accepted, in bytes (and the largest payload one may
/// carry): the pss message limit ([`MAX_MSG_SIZE`], the reference's 1 MiB), since a
/// `ProtocolMsg` travels inside one pss message.
pub const MAX_PROTOCOL_MSG_SIZE: usize = MAX_MSG_SIZE;

/// One devp2p message of a protocol carried over pss: code, size and payload.
///
/// Encoded as the reference's RLP list `[code, size, payload, []]`: the fourth element is the
/// Go reference's `ReceivedAt time.Time`, which has no exported fields and so always encodes
/// as the empty list; it is always emitted, and required (as the empty list) on decode. On
/// decode `size` is the payload's length; the encoded size must be a `u32` and is otherwise
/// ignored, as the reference does.
///
/// ```
/// use p2p_pss::ProtocolMsg;
///
/// let msg = ProtocolMsg::new(5, vec![0xc2, 0x01, 0x02]);
/// let bytes = msg.encode();
/// assert_eq!(ProtocolMsg::decode(&bytes).unwrap(), msg);
/// assert_eq!(msg.into_msg().code, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolMsg {
    /// The message code (relative to the protocol).
    pub code: u64,
    /// The payload size: on encode as given, on decode the payload's length.
    pub size: u32,
    /// The payload (normally RLP).
    pub payload: Bytes,
}

impl ProtocolMsg {
    /// A message with `size` equal to the payload's length (saturating at `u32::MAX`; such a
    /// payload is too large to encode anyway).
    #[must_use]
    pub fn new(code: u64, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Self {
            code,
            size: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            payload,
        }
    }

    /// The envelope of `msg`: its code and its payload bytes ([`Msg::data`], so a hand-built
    /// message whose `size` is below its payload's length carries only `size` bytes).
    ///
    /// Payloads are in-memory [`Bytes`], so the reference's short read of the payload (which
    /// could silently truncate it) cannot happen here: the whole payload is always taken.
    ///
    /// # Errors
    ///
    /// [`Error::PayloadTooLarge`] above [`MAX_PROTOCOL_MSG_SIZE`].
    pub fn from_msg(msg: &Msg) -> Result<Self, Error> {
        let data = msg.data();
        if data.len() > MAX_PROTOCOL_MSG_SIZE {
            return Err(Error::PayloadTooLarge {
                size: data.len(),
                limit: MAX_PROTOCOL_MSG_SIZE,
            });
        }
        Ok(Self::new(msg.code, msg.payload.slice(..data.len())))
    }

    /// The devp2p message: code, payload, `size` = the payload's length, received now.
    #[must_use]
    pub fn into_msg(self) -> Msg {
        Msg::new(self.code, self.payload)
    }

    /// The RLP encoding `[code, size, payload, []]`.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        let mut s = RlpStream::new_list(4);
        s.append(&self.code);
        s.append(&self.size);
        s.append(&self.payload.as_ref());
        s.begin_list(0);
        s.out().freeze()
    }

    /// Decodes strictly: one RLP list of exactly four items and nothing after it, a canonical
    /// `u64` code, a `u32` size (ignored), a byte-string payload, and the empty list.
    /// The input length is checked against [`MAX_PROTOCOL_MSG_SIZE`] before anything else; the
    /// payload is a copy of a slice of the input, so nothing is allocated from a declared size.
    ///
    /// # Errors
    ///
    /// [`Error::PayloadTooLarge`] above the limit, [`Error::InvalidMessage`] for anything
    /// malformed (the text begins as the reference's `pss protocol handler unable to decode
    /// payload as p2p message`).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_PROTOCOL_MSG_SIZE {
            return Err(Error::PayloadTooLarge {
                size: bytes.len(),
                limit: MAX_PROTOCOL_MSG_SIZE,
            });
        }
        decode_fields(bytes).map_err(|why| {
            Error::InvalidMessage(format!(
                "pss protocol handler unable to decode payload as p2p message: {why}"
            ))
        })
    }
}

/// The strict decoder; the error says what was wrong.
fn decode_fields(bytes: &[u8]) -> Result<ProtocolMsg, String> {
    let rlp = Rlp::new(bytes);
    let info = rlp.payload_info().map_err(|e| e.to_string())?;
    if info.total() != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the list",
            bytes.len().saturating_sub(info.total())
        ));
    }
    if !rlp.is_list() {
        return Err("not a list".to_owned());
    }
    let count = rlp.item_count().map_err(|e| e.to_string())?;
    if count != 4 {
        return Err(format!("{count} items, want 4"));
    }
    let item = |i: usize| rlp.at(i).map_err(|e| format!("item {i}: {e}"));
    let code: u64 = item(0)?.as_val().map_err(|e| format!("code: {e}"))?;
    let _size: u32 = item(1)?.as_val().map_err(|e| format!("size: {e}"))?;
    let payload = item(2)?;
    if !payload.is_data() {
        return Err("payload: not a byte string".to_owned());
    }
    let data = payload.data().map_err(|e| format!("payload: {e}"))?;
    // A single byte below 0x80 is its own encoding; `0x81 xx` for such a byte is not canonical.
    if let [byte] = data
        && *byte < 0x80
        && payload.as_raw().len() != 1
    {
        return Err("payload: non-canonical single byte".to_owned());
    }
    let received_at = item(3)?;
    if !received_at.is_list() || !received_at.is_empty() {
        return Err("fourth item: not the empty list".to_owned());
    }
    Ok(ProtocolMsg::new(code, Bytes::copy_from_slice(data)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Decodes `hex` and compares with `want` (`None`: must fail with `InvalidMessage`).
    fn check(hex: &str, want: Option<(u64, &[u8])>) {
        let bytes = hex::decode(hex).unwrap();
        let got = ProtocolMsg::decode(&bytes);
        match want {
            Some((code, payload)) => {
                let msg = got.unwrap_or_else(|e| panic!("{hex}: {e}"));
                assert_eq!(msg.code, code, "{hex}");
                assert_eq!(msg.payload.as_ref(), payload, "{hex}");
                assert_eq!(msg.size as usize, payload.len(), "{hex}");
            }
            None => assert!(
                matches!(got, Err(Error::InvalidMessage(_))),
                "{hex}: {got:?}"
            ),
        }
    }

    // Known answer, by hand from the RLP rules:
    //   code 5        -> 05 (a single byte below 0x80 is its own encoding)
    //   size 3        -> 03
    //   payload c20102 (3 bytes) -> 83 c2 01 02 (0x80 + length, then the bytes)
    //   ReceivedAt [] -> c0 (the empty list)
    //   list of 1 + 1 + 4 + 1 = 7 bytes -> c7 (0xc0 + length), then the items.
    // And code 0, empty payload: 80 80 80 c0 (zero and the empty string are 0x80) -> c4 ...
    #[test]
    fn encoding_known_answers() {
        let msg = ProtocolMsg::new(5, vec![0xc2, 0x01, 0x02]);
        assert_eq!(hex::encode(msg.encode()), "c7050383c20102c0");
        assert_eq!(
            hex::encode(ProtocolMsg::new(0, vec![]).encode()),
            "c4808080c0"
        );
        check("c7050383c20102c0", Some((5, &[0xc2, 0x01, 0x02])));
        check("c4808080c0", Some((0, &[])));
    }

    #[test]
    fn decode_ignores_the_encoded_size() {
        // Size 0x63 (99) for a 3-byte payload: the size is the payload's length.
        check("c7056383c20102c0", Some((5, &[0xc2, 0x01, 0x02])));
        // But it must be a u32: five bytes do not fit.
        check("cc0585010000000083c20102c0", None);
    }

    #[test]
    fn decode_is_strict() {
        // Missing fourth element (the three-item form).
        check("c6050383c20102", None);
        // Fourth element not a list.
        check("c7050383c2010280", None);
        // Fourth element a non-empty list.
        check("c8050383c20102c101", None);
        // A fifth element.
        check("c8050383c20102c080", None);
        // Trailing bytes after the list.
        check("c7050383c20102c000", None);
        // Not a list.
        check("83c20102", None);
        // Truncated.
        check("c7050383c201", None);
        // Code with a leading zero.
        check("c98200050383c20102c0", None);
        // Code longer than 8 bytes.
        check("d0890100000000000000000383c20102c0", None);
        // Payload is a list.
        check("c70503c3c20102c0", None);
        // Non-canonical single-byte payload.
        check("c50503817fc0", None);
        // Canonical single-byte payload.
        check("c405037fc0", Some((5, &[0x7f])));
        // Empty input.
        check("", None);
    }

    #[test]
    fn oversized_input_is_rejected_before_decoding() {
        let big = vec![0u8; MAX_PROTOCOL_MSG_SIZE + 1];
        assert!(matches!(
            ProtocolMsg::decode(&big),
            Err(Error::PayloadTooLarge { size, .. }) if size == MAX_PROTOCOL_MSG_SIZE + 1
        ));
        let msg = Msg::new(1, vec![0u8; MAX_PROTOCOL_MSG_SIZE + 1]);
        assert!(matches!(
            ProtocolMsg::from_msg(&msg),
            Err(Error::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn from_msg_takes_size_bytes_and_into_msg_restores() {
        let mut msg = Msg::new(7, vec![0xc2, 0x01, 0x02, 0xff]);
        msg.size = 3;
        let pm = ProtocolMsg::from_msg(&msg).unwrap();
        assert_eq!(pm.payload.as_ref(), &[0xc2, 0x01, 0x02]);
        assert_eq!(pm.size, 3);
        let back = ProtocolMsg::decode(&pm.encode()).unwrap().into_msg();
        assert_eq!(back, Msg::new(7, vec![0xc2, 0x01, 0x02]));
    }

    proptest! {
        #[test]
        fn round_trip(code: u64, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let msg = ProtocolMsg::new(code, payload);
            prop_assert_eq!(ProtocolMsg::decode(&msg.encode()).unwrap(), msg);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ProtocolMsg::decode(&bytes);
        }

        #[test]
        fn decoder_never_panics_on_list_prefixed_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            // Random bytes behind a valid list header reach the item decoders.
            let mut input = vec![0xc0 + bytes.len().min(55) as u8];
            input.extend_from_slice(&bytes[..bytes.len().min(55)]);
            let _ = ProtocolMsg::decode(&input);
        }
    }
}
