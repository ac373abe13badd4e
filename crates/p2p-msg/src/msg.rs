//! [`Msg`]: one devp2p message, a code plus an in-memory RLP payload.

use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use crate::Error;

/// One devp2p message: a code and an uncompressed payload.
///
/// Unlike the Go reference (whose payload is a single-use reader), the payload is an in-memory
/// [`Bytes`]: cloning a `Msg` is cheap and a message can be resent.
/// `size` is the payload size; [`Msg::new`] keeps it equal to `payload.len()`.
/// If a hand-built message has `size` below `payload.len()`, readers see only the first `size`
/// bytes ([`Msg::data`]), like the reference's byte budget.
///
/// Equality compares `code`, `size` and `payload`, not `received_at`.
#[derive(Clone)]
pub struct Msg {
    /// The message code (absolute on the wire, relative inside a protocol).
    pub code: u64,
    /// The size of the uncompressed payload in bytes.
    pub size: u32,
    /// The uncompressed payload (normally RLP).
    pub payload: Bytes,
    /// When the message was received (or created, for outgoing messages).
    pub received_at: Instant,
}

impl Msg {
    /// Creates a message; `size` is the payload length (saturating at `u32::MAX`) and
    /// `received_at` is now.
    pub fn new(code: u64, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Self {
            code,
            size: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            payload,
            received_at: Instant::now(),
        }
    }

    /// Creates a message whose payload is the RLP encoding of `value`.
    pub fn encode<T: rlp::Encodable + ?Sized>(code: u64, value: &T) -> Self {
        let mut stream = rlp::RlpStream::new();
        value.rlp_append(&mut stream);
        Self::new(code, stream.out().freeze())
    }

    /// The payload bytes, limited to `size`.
    pub fn data(&self) -> &[u8] {
        let n = usize::try_from(self.size)
            .unwrap_or(usize::MAX)
            .min(self.payload.len());
        self.payload.get(..n).unwrap_or_default()
    }

    /// Decodes **one** RLP value from the start of the payload.
    ///
    /// Bytes after the first RLP item are ignored, as in the reference.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMessage`] naming the code and size, with the RLP error.
    pub fn decode<T: rlp::Decodable>(&self) -> Result<T, Error> {
        decode_first(self.data()).map_err(|rlp| Error::InvalidMessage {
            code: self.code,
            size: self.size,
            rlp,
        })
    }

    /// Discards the payload.
    ///
    /// With an in-memory payload this only drops it; it exists so that protocol code reads like
    /// the reference ("every payload must be consumed").
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps the reference's shape.
    pub fn discard(self) -> Result<(), Error> {
        drop(self);
        Ok(())
    }

    /// When the message was received.
    pub const fn received_at(&self) -> Instant {
        self.received_at
    }
}

/// Decodes the first RLP item of `data`, ignoring trailing bytes.
pub(crate) fn decode_first<T: rlp::Decodable>(data: &[u8]) -> Result<T, rlp::DecoderError> {
    let info = rlp::PayloadInfo::from(data)?;
    let end = info.total();
    let item = data.get(..end).ok_or(rlp::DecoderError::RlpIsTooShort)?;
    rlp::decode(item)
}

impl PartialEq for Msg {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.size == other.size && self.payload == other.payload
    }
}

impl Eq for Msg {}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "msg #{} ({} bytes)", self.code, self.size)
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msg")
            .field("code", &self.code)
            .field("size", &self.size)
            .field(
                "payload",
                &hex::encode(self.payload.get(..64).unwrap_or(&self.payload)),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair(u8, u8);

    impl rlp::Decodable for Pair {
        fn decode(r: &rlp::Rlp<'_>) -> Result<Self, rlp::DecoderError> {
            Ok(Self(r.val_at(0)?, r.val_at(1)?))
        }
    }

    #[test]
    fn display() {
        let m = Msg::new(0x10, vec![1, 2, 3]);
        assert_eq!(m.to_string(), "msg #16 (3 bytes)");
    }

    #[test]
    fn decode_ignores_trailing_bytes() {
        let m = Msg::new(1, vec![0xc2, 0x01, 0x02, 0xff, 0xff]);
        let v: Pair = m.decode().unwrap();
        assert_eq!(v, Pair(1, 2));
    }

    #[test]
    fn decode_error_names_code_and_size() {
        let m = Msg::new(0, vec![0x83, 1, 2, 3]);
        let e = m.decode::<Pair>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid message: (code 0x0) (size 4) RlpExpectedToBeList"
        );
        assert!(e.is_invalid_message());
    }

    #[test]
    fn decode_respects_size() {
        let mut m = Msg::new(0, vec![0xc2, 0x01, 0x02]);
        m.size = 2;
        assert!(m.decode::<Pair>().is_err());
        assert_eq!(m.data(), &[0xc2, 0x01]);
    }

    #[test]
    fn empty_payload_is_an_error() {
        assert!(Msg::new(3, Bytes::new()).decode::<u8>().is_err());
    }
}
