//! The RLPx frame codec: [`FrameEncoder`] and [`FrameDecoder`] (and [`RlpxCodec`], both in one)
//! as tokio-util [`Encoder`]/[`Decoder`] implementations.
//!
//! A frame on the wire is
//!
//! ```text
//! header-ciphertext (16) || header-mac (16) || body-ciphertext (fsize rounded up to 16) || frame-mac (16)
//! header = fsize (3 bytes, big-endian) || 0xC2 0x80 0x80 || zero padding
//! body   = rlp(msg-code) || payload || zero padding
//! ```
//!
//! Both directions use AES-256-CTR with the aes secret and a zero IV as one continuous
//! keystream, and the Keccak MAC of [`crate::KeccakMac`]. The decoder checks each MAC in
//! constant time *before* decrypting, and checks the frame size against its limit before
//! reserving buffer space for the body.
//!
//! After [`FrameDecoder::set_snappy`] / [`FrameEncoder::set_snappy`] (RLPx v5, EIP-706), the
//! payload is raw-snappy compressed (the code is not). The decoder reads the declared
//! decompressed length and rejects anything of 16 MiB or more before allocating.
//! One exception: a small Disconnect (code 1) that is not valid snappy is passed through as
//! is, because @ethereumjs/devp2p sends its Disconnect uncompressed even after the Hello.
//!
//! # Codec contract
//!
//! `decode` returns `Ok(None)` when more bytes are needed and consumes nothing until a whole
//! header (then a whole body) is buffered. Any error is fatal for the connection: the MAC and
//! cipher states have moved on and cannot be rewound.

use aes::cipher::{KeyIvInit, StreamCipher};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use subtle::ConstantTimeEq;
use tokio_util::codec::{Decoder, Encoder};

use crate::Error;
use crate::handshake::Secrets;
use crate::mac::FrameMac;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The largest frame size (`fsize`, code plus possibly compressed payload) the format allows.
pub const MAX_FRAME_SIZE: usize = 0xFF_FFFF;
/// The largest uncompressed payload: a snappy message declaring more is rejected
/// (`message length >= 16MB` in go-ethereum).
pub const MAX_MESSAGE_SIZE: usize = 0xFF_FFFF;
/// The largest first frame accepted after the handshake: the Hello is capped at 2 KiB
/// (go-ethereum `baseProtocolMaxMsgSize`), plus one byte for the message code.
pub const MAX_FIRST_FRAME_SIZE: usize = 2048 + 1;

/// The base protocol's Disconnect message code.
const DISCONNECT_CODE: u64 = 0x01;
/// The largest uncompressed Disconnect accepted while snappy is on (p2p-msg's Disconnect
/// payload limit).
const MAX_RAW_DISCONNECT: usize = 100;

const HEADER_LEN: usize = 16;
const MAC_LEN: usize = 16;
/// The header data written after the size: RLP `[0, 0]` (capability id and context id).
const HEADER_DATA: [u8; 3] = [0xC2, 0x80, 0x80];

/// One RLPx message as carried by a frame: the message code and the (uncompressed) payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message code (already offset for the sub-protocol).
    pub code: u64,
    /// The uncompressed payload (RLP bytes for devp2p messages).
    pub payload: Bytes,
}

impl Frame {
    /// A frame with the given code and payload.
    #[must_use]
    pub fn new(code: u64, payload: impl Into<Bytes>) -> Self {
        Self {
            code,
            payload: payload.into(),
        }
    }
}

const fn padded(len: usize) -> usize {
    (len + 15) & !15
}

/// Writes `code` as a canonical RLP integer into `out`, returning the length used.
fn encode_code(code: u64, out: &mut [u8; 9]) -> usize {
    if code == 0 {
        out[0] = 0x80;
        return 1;
    }
    if code < 0x80 {
        // `code` is below 0x80 here, so the cast is lossless.
        out[0] = code as u8;
        return 1;
    }
    let bytes = code.to_be_bytes();
    let skip = (code.leading_zeros() / 8) as usize;
    let n = 8 - skip;
    out[0] = 0x80 + n as u8;
    out[1..=n].copy_from_slice(&bytes[skip..]);
    n + 1
}

/// Reads a canonical RLP integer code from the start of `data`: returns it and its length.
fn decode_code(data: &[u8]) -> Result<(u64, usize), Error> {
    match data.first() {
        None => Err(Error::EmptyFrame),
        // A raw zero byte is a non-canonical encoding of 0, which must be 0x80.
        Some(0) => Err(Error::InvalidMessageCode),
        Some(&b) if b < 0x80 => Ok((u64::from(b), 1)),
        Some(0x80) => Ok((0, 1)),
        Some(&b) if b <= 0x88 => {
            let n = usize::from(b - 0x80);
            let bytes = data.get(1..=n).ok_or(Error::InvalidMessageCode)?;
            if bytes.first() == Some(&0) || (n == 1 && bytes[0] < 0x80) {
                return Err(Error::InvalidMessageCode);
            }
            let value = bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
            Ok((value, n + 1))
        }
        Some(_) => Err(Error::InvalidMessageCode),
    }
}

/// The sending half of the frame codec: encrypts, MACs and (optionally) compresses frames.
pub struct FrameEncoder {
    cipher: Aes256Ctr,
    mac: FrameMac,
    snappy: Option<snap::raw::Encoder>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder")
            .field("snappy", &self.snappy.is_some())
            .finish_non_exhaustive()
    }
}

impl FrameEncoder {
    /// The egress half for the given secrets.
    #[must_use]
    pub fn new(secrets: &Secrets) -> Self {
        Self {
            cipher: Aes256Ctr::new(&secrets.aes_secret.into(), &[0u8; 16].into()),
            mac: FrameMac::new(&secrets.mac_secret, secrets.egress_mac.clone()),
            snappy: None,
            scratch: Vec::new(),
        }
    }

    /// Turns snappy compression of payloads on or off.
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on.then(snap::raw::Encoder::new);
    }

    /// Whether snappy compression is on.
    #[must_use]
    pub fn snappy(&self) -> bool {
        self.snappy.is_some()
    }

    /// Appends one encrypted frame carrying `code` and `payload` to `dst`.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooBig`] if the payload is 16 MiB or more, [`Error::FrameTooBig`] if
    /// the frame would be, [`Error::Snappy`] if compression fails.
    pub fn encode_frame(
        &mut self,
        code: u64,
        payload: &[u8],
        dst: &mut BytesMut,
    ) -> Result<(), Error> {
        if payload.len() > MAX_MESSAGE_SIZE {
            return Err(Error::MessageTooBig {
                size: payload.len(),
            });
        }
        let body: &[u8] = match &mut self.snappy {
            Some(encoder) => {
                self.scratch
                    .resize(snap::raw::max_compress_len(payload.len()), 0);
                let n = encoder.compress(payload, &mut self.scratch)?;
                &self.scratch[..n]
            }
            None => payload,
        };
        let mut code_buf = [0u8; 9];
        let code_len = encode_code(code, &mut code_buf);
        let fsize = code_len + body.len();
        if fsize > MAX_FRAME_SIZE {
            return Err(Error::FrameTooBig {
                size: fsize,
                limit: MAX_FRAME_SIZE,
            });
        }
        let padded_len = padded(fsize);
        dst.reserve(HEADER_LEN + MAC_LEN + padded_len + MAC_LEN);

        let mut header = [0u8; HEADER_LEN];
        // fsize fits in 24 bits (checked above).
        header[..3].copy_from_slice(&(fsize as u32).to_be_bytes()[1..]);
        header[3..6].copy_from_slice(&HEADER_DATA);
        self.cipher.apply_keystream(&mut header);
        let header_mac = self.mac.header_mac(&header);
        dst.put_slice(&header);
        dst.put_slice(&header_mac);

        let body_start = dst.len();
        dst.put_slice(&code_buf[..code_len]);
        dst.put_slice(body);
        dst.put_bytes(0, padded_len - fsize);
        let body_ct = &mut dst[body_start..];
        self.cipher.apply_keystream(body_ct);
        let frame_mac = self.mac.body_mac(body_ct);
        dst.put_slice(&frame_mac);
        Ok(())
    }
}

impl Encoder<Frame> for FrameEncoder {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item.code, &item.payload, dst)
    }
}

impl Encoder<&Frame> for FrameEncoder {
    type Error = Error;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_frame(item.code, &item.payload, dst)
    }
}

#[derive(Debug, Clone, Copy)]
enum DecodeState {
    Header,
    Body { fsize: usize },
}

/// The receiving half of the frame codec: checks MACs, decrypts and (optionally) decompresses.
pub struct FrameDecoder {
    cipher: Aes256Ctr,
    mac: FrameMac,
    state: DecodeState,
    snappy: Option<snap::raw::Decoder>,
    max_frame_size: usize,
    first_frame_limit: Option<usize>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("state", &self.state)
            .field("snappy", &self.snappy.is_some())
            .field("max_frame_size", &self.max_frame_size)
            .finish_non_exhaustive()
    }
}

impl FrameDecoder {
    /// The ingress half for the given secrets.
    #[must_use]
    pub fn new(secrets: &Secrets) -> Self {
        Self {
            cipher: Aes256Ctr::new(&secrets.aes_secret.into(), &[0u8; 16].into()),
            mac: FrameMac::new(&secrets.mac_secret, secrets.ingress_mac.clone()),
            state: DecodeState::Header,
            snappy: None,
            max_frame_size: MAX_FRAME_SIZE,
            first_frame_limit: None,
        }
    }

    /// Turns snappy decompression of payloads on or off.
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on.then(snap::raw::Decoder::new);
    }

    /// Whether snappy decompression is on.
    #[must_use]
    pub fn snappy(&self) -> bool {
        self.snappy.is_some()
    }

    /// Lowers the frame size limit (at most [`MAX_FRAME_SIZE`]).
    pub fn set_max_frame_size(&mut self, limit: usize) {
        self.max_frame_size = limit.min(MAX_FRAME_SIZE);
    }

    /// Applies a lower limit to the next frame only (for the Hello, see
    /// [`MAX_FIRST_FRAME_SIZE`]).
    pub fn limit_next_frame(&mut self, limit: usize) {
        self.first_frame_limit = Some(limit);
    }

    fn decode_header(&mut self, src: &mut BytesMut) -> Result<Option<usize>, Error> {
        let Some(chunk) = src.get(..HEADER_LEN + MAC_LEN) else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&chunk[..HEADER_LEN]);
        let expected = self.mac.header_mac(&header);
        if !bool::from(expected.ct_eq(&chunk[HEADER_LEN..])) {
            return Err(Error::HeaderMacMismatch);
        }
        self.cipher.apply_keystream(&mut header);
        src.advance(HEADER_LEN + MAC_LEN);
        let fsize =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let limit = self
            .first_frame_limit
            .take()
            .unwrap_or(self.max_frame_size)
            .min(self.max_frame_size);
        if fsize == 0 {
            return Err(Error::EmptyFrame);
        }
        if fsize > limit {
            return Err(Error::FrameTooBig { size: fsize, limit });
        }
        Ok(Some(fsize))
    }

    fn decode_body(&mut self, fsize: usize, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let padded_len = padded(fsize);
        let total = padded_len + MAC_LEN;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        let (body_ct, mac) = frame.split_at_mut(padded_len);
        let expected = self.mac.body_mac(body_ct);
        if !bool::from(expected.ct_eq(mac)) {
            return Err(Error::FrameMacMismatch);
        }
        self.cipher.apply_keystream(body_ct);
        frame.truncate(fsize);
        let (code, code_len) = decode_code(&frame)?;
        frame.advance(code_len);
        let payload = match &mut self.snappy {
            None => frame.freeze(),
            Some(decoder) => match decompress(decoder, &frame) {
                Ok(payload) => payload,
                // Some peers (@ethereumjs/devp2p) send their Disconnect uncompressed even
                // after the Hello; accept a small one as is, as reth does.
                Err(_) if code == DISCONNECT_CODE && frame.len() <= MAX_RAW_DISCONNECT => {
                    frame.freeze()
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Some(Frame { code, payload }))
    }
}

impl Decoder for FrameDecoder {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let DecodeState::Header = self.state {
            match self.decode_header(src)? {
                Some(fsize) => self.state = DecodeState::Body { fsize },
                None => return Ok(None),
            }
        }
        let DecodeState::Body { fsize } = self.state else {
            return Ok(None);
        };
        let frame = self.decode_body(fsize, src)?;
        if frame.is_some() {
            self.state = DecodeState::Header;
        }
        Ok(frame)
    }
}

/// Decompresses a snappy block after checking its declared length.
fn decompress(decoder: &mut snap::raw::Decoder, data: &[u8]) -> Result<Bytes, Error> {
    if data.is_empty() {
        return Err(Error::EmptyMessage);
    }
    let size = snap::raw::decompress_len(data)?;
    if size > MAX_MESSAGE_SIZE {
        return Err(Error::MessageTooBig { size });
    }
    let mut out = vec![0u8; size];
    let n = decoder.decompress(data, &mut out)?;
    out.truncate(n);
    Ok(Bytes::from(out))
}

/// Both halves of the frame codec in one value, for use with `tokio_util::codec::Framed`.
#[derive(Debug)]
pub struct RlpxCodec {
    encoder: FrameEncoder,
    decoder: FrameDecoder,
}

impl RlpxCodec {
    /// A codec for the given secrets.
    #[must_use]
    pub fn new(secrets: &Secrets) -> Self {
        Self {
            encoder: FrameEncoder::new(secrets),
            decoder: FrameDecoder::new(secrets),
        }
    }

    /// Turns snappy on or off in both directions.
    pub fn set_snappy(&mut self, on: bool) {
        self.encoder.set_snappy(on);
        self.decoder.set_snappy(on);
    }

    /// The sending half.
    pub fn encoder_mut(&mut self) -> &mut FrameEncoder {
        &mut self.encoder
    }

    /// The receiving half.
    pub fn decoder_mut(&mut self) -> &mut FrameDecoder {
        &mut self.decoder
    }

    /// Splits into the sending and receiving halves.
    #[must_use]
    pub fn split(self) -> (FrameEncoder, FrameDecoder) {
        (self.encoder, self.decoder)
    }
}

impl Decoder for RlpxCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.decoder.decode(src)
    }
}

impl Encoder<Frame> for RlpxCodec {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.encoder.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::KeccakMac;

    fn secrets() -> Secrets {
        Secrets {
            aes_secret: [1; 32],
            mac_secret: [2; 32],
            egress_mac: KeccakMac::new(),
            ingress_mac: KeccakMac::new(),
        }
    }

    #[test]
    fn codes_round_trip_canonically() {
        for code in [
            0u64,
            1,
            0x10,
            0x7f,
            0x80,
            0xff,
            0x100,
            0xdead_beef,
            u64::MAX,
        ] {
            let mut buf = [0u8; 9];
            let n = encode_code(code, &mut buf);
            assert_eq!(decode_code(&buf[..n]).unwrap(), (code, n), "code {code}");
        }
        assert_eq!(encode_code(0, &mut [0; 9]), 1);
        for bad in [
            &[0x00][..],
            &[0x81, 0x05],
            &[0x82, 0x00, 0x80],
            &[0x89],
            &[0xc0],
            &[0x82, 0x01],
        ] {
            assert!(decode_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn frames_round_trip_with_and_without_snappy() {
        let mut enc = FrameEncoder::new(&secrets());
        let mut dec = FrameDecoder::new(&secrets());
        let mut wire = BytesMut::new();
        for (i, snappy) in [false, true, false].into_iter().enumerate() {
            enc.set_snappy(snappy);
            dec.set_snappy(snappy);
            let payload = vec![i as u8; 1000 * i + 5];
            enc.encode_frame(0x10 + i as u64, &payload, &mut wire)
                .unwrap();
            let frame = dec.decode(&mut wire).unwrap().unwrap();
            assert_eq!(frame, Frame::new(0x10 + i as u64, payload));
            assert!(wire.is_empty());
        }
    }

    #[test]
    fn partial_input_needs_more_bytes() {
        let mut enc = FrameEncoder::new(&secrets());
        let mut dec = FrameDecoder::new(&secrets());
        let mut wire = BytesMut::new();
        enc.encode_frame(3, b"hello", &mut wire).unwrap();
        let all = wire.split();
        let mut buf = BytesMut::new();
        for (i, byte) in all.iter().enumerate() {
            buf.put_u8(*byte);
            let out = dec.decode(&mut buf).unwrap();
            assert_eq!(out.is_some(), i == all.len() - 1);
        }
    }
}
