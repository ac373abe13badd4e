//! [`DisconnectReason`] and the lenient decoding of the Disconnect payload.

use std::fmt;

use crate::msg::decode_first;

/// Largest Disconnect payload decoded (the reference limits its RLP stream to 100 bytes).
pub const MAX_DISCONNECT_PAYLOAD: usize = 100;

/// Why a connection ends, as sent in the base protocol's Disconnect message (code 0x01).
///
/// See the [devp2p spec](https://github.com/ethereum/devp2p/blob/master/rlpx.md#disconnect-0x01).
/// `Invalid` (0xff) is never valid on the wire: it stands for a Disconnect payload that did not
/// decode or named an unknown reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// 0x00: disconnect requested.
    Requested = 0x00,
    /// 0x01: TCP sub-system error (never sent).
    NetworkError = 0x01,
    /// 0x02: breach of protocol, for example a malformed message.
    ProtocolError = 0x02,
    /// 0x03: useless peer (no shared capability).
    UselessPeer = 0x03,
    /// 0x04: too many peers.
    TooManyPeers = 0x04,
    /// 0x05: already connected.
    AlreadyConnected = 0x05,
    /// 0x06: incompatible p2p protocol version.
    IncompatibleVersion = 0x06,
    /// 0x07: invalid node identity.
    InvalidIdentity = 0x07,
    /// 0x08: client quitting.
    Quitting = 0x08,
    /// 0x09: unexpected identity in the handshake.
    UnexpectedIdentity = 0x09,
    /// 0x0a: identity is the same as this node (connected to self).
    ConnectedToSelf = 0x0a,
    /// 0x0b: ping timeout.
    ReadTimeout = 0x0b,
    /// 0x10: some other reason specific to a subprotocol.
    SubprotocolError = 0x10,
    /// 0xff: an undecodable or unknown reason (never sent).
    Invalid = 0xff,
}

impl DisconnectReason {
    /// Every reason that may appear on the wire.
    pub const ALL: [Self; 13] = [
        Self::Requested,
        Self::NetworkError,
        Self::ProtocolError,
        Self::UselessPeer,
        Self::TooManyPeers,
        Self::AlreadyConnected,
        Self::IncompatibleVersion,
        Self::InvalidIdentity,
        Self::Quitting,
        Self::UnexpectedIdentity,
        Self::ConnectedToSelf,
        Self::ReadTimeout,
        Self::SubprotocolError,
    ];

    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The reason for a wire code; `None` for unknown codes (and for 0xff).
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x00 => Self::Requested,
            0x01 => Self::NetworkError,
            0x02 => Self::ProtocolError,
            0x03 => Self::UselessPeer,
            0x04 => Self::TooManyPeers,
            0x05 => Self::AlreadyConnected,
            0x06 => Self::IncompatibleVersion,
            0x07 => Self::InvalidIdentity,
            0x08 => Self::Quitting,
            0x09 => Self::UnexpectedIdentity,
            0x0a => Self::ConnectedToSelf,
            0x0b => Self::ReadTimeout,
            0x10 => Self::SubprotocolError,
            _ => return None,
        })
    }

    /// The Disconnect payload: the spec's one-element list `[reason]`
    /// (`0xC1 0x08` for Quitting, `0xC1 0x80` for Requested), as current geth sends.
    pub fn encode_payload(self) -> Vec<u8> {
        let mut s = rlp::RlpStream::new_list(1);
        s.append(&self.code());
        s.out().to_vec()
    }

    /// Decodes a Disconnect payload leniently.
    ///
    /// Accepted: an empty payload (Requested), a list whose first element is the reason (an
    /// empty list gives Requested), or a bare RLP integer (`0x08`; `0x80` and the legacy `0x00`
    /// give Requested). Trailing bytes are ignored.
    ///
    /// # Errors
    ///
    /// [`DisconnectDecodeError`] for payloads above [`MAX_DISCONNECT_PAYLOAD`] bytes, malformed
    /// RLP, or an unknown reason code.
    pub fn decode_payload(payload: &[u8]) -> Result<Self, DisconnectDecodeError> {
        if payload.len() > MAX_DISCONNECT_PAYLOAD {
            return Err(DisconnectDecodeError::TooBig(payload.len()));
        }
        let Some(&first) = payload.first() else {
            return Ok(Self::Requested);
        };
        let code = if first == 0x00 {
            // A bare zero byte (non-canonical RLP) sent by older geth for Requested.
            0
        } else if first >= 0xc0 {
            let info = rlp::PayloadInfo::from(payload).map_err(DisconnectDecodeError::Rlp)?;
            let list = payload
                .get(..info.total())
                .ok_or(DisconnectDecodeError::Rlp(rlp::DecoderError::RlpIsTooShort))?;
            let list = rlp::Rlp::new(list);
            if info.value_len == 0 {
                0
            } else {
                let item = list.at(0).map_err(DisconnectDecodeError::Rlp)?;
                let raw = item.as_raw();
                if raw == [0x00] {
                    0
                } else {
                    decode_first::<u8>(raw).map_err(DisconnectDecodeError::Rlp)?
                }
            }
        } else {
            decode_first::<u8>(payload).map_err(DisconnectDecodeError::Rlp)?
        };
        Self::from_code(code).ok_or(DisconnectDecodeError::Unknown(code))
    }
}

impl TryFrom<u8> for DisconnectReason {
    type Error = DisconnectDecodeError;

    fn try_from(code: u8) -> Result<Self, Self::Error> {
        Self::from_code(code).ok_or(DisconnectDecodeError::Unknown(code))
    }
}

impl From<DisconnectReason> for u8 {
    fn from(r: DisconnectReason) -> Self {
        r.code()
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requested => "disconnect requested",
            Self::NetworkError => "network error",
            Self::ProtocolError => "breach of protocol",
            Self::UselessPeer => "useless peer",
            Self::TooManyPeers => "too many peers",
            Self::AlreadyConnected => "already connected",
            Self::IncompatibleVersion => "incompatible p2p protocol version",
            Self::InvalidIdentity => "invalid node identity",
            Self::Quitting => "client quitting",
            Self::UnexpectedIdentity => "unexpected identity",
            Self::ConnectedToSelf => "connected to self",
            Self::ReadTimeout => "read timeout",
            Self::SubprotocolError => "subprotocol error",
            Self::Invalid => "invalid disconnect reason",
        })
    }
}

impl rlp::Encodable for DisconnectReason {
    /// Encodes the bare reason code (use [`DisconnectReason::encode_payload`] for the message).
    fn rlp_append(&self, s: &mut rlp::RlpStream) {
        s.append(&self.code());
    }
}

/// Why a Disconnect payload did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectDecodeError {
    /// The payload exceeds [`MAX_DISCONNECT_PAYLOAD`].
    #[error("disconnect payload too big: {0} bytes")]
    TooBig(usize),
    /// Malformed RLP.
    #[error("malformed disconnect payload: {0}")]
    Rlp(rlp::DecoderError),
    /// A reason code that is not defined.
    #[error("unknown disconnect reason {0}")]
    Unknown(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(payload: &[u8], want: Result<DisconnectReason, ()>) {
        let got = DisconnectReason::decode_payload(payload).map_err(|_| ());
        assert_eq!(got, want, "payload {}", hex::encode(payload));
    }

    #[test]
    fn lenient_decoding() {
        use DisconnectReason::*;
        check(&[0xc1, 0x08], Ok(Quitting));
        check(&[0x08], Ok(Quitting));
        check(&[0xc1, 0x80], Ok(Requested));
        check(&[0x80], Ok(Requested));
        check(&[0x00], Ok(Requested));
        check(&[0xc1, 0x00], Ok(Requested));
        check(&[], Ok(Requested));
        check(&[0xc0], Ok(Requested));
        check(&[0xc1, 0x10], Ok(SubprotocolError));
        check(&[0xc2, 0x04, 0x05], Ok(TooManyPeers));
        check(&[0xc1, 0x08, 0xff], Ok(Quitting));
        check(&[0x0c], Err(()));
        check(&[0xc1, 0xff], Err(()));
        check(&[0xc1], Err(()));
        check(&[0xb8], Err(()));
        check(&[0xc1, 0xc0], Err(()));
        check(&[0x82, 0x01, 0x00], Err(()));
        check(&[0x08; 101], Err(()));
    }

    #[test]
    fn encoding_is_a_list() {
        assert_eq!(
            DisconnectReason::Quitting.encode_payload(),
            vec![0xc1, 0x08]
        );
        assert_eq!(
            DisconnectReason::Requested.encode_payload(),
            vec![0xc1, 0x80]
        );
        for r in DisconnectReason::ALL {
            assert_eq!(DisconnectReason::decode_payload(&r.encode_payload()), Ok(r));
            assert_eq!(DisconnectReason::from_code(r.code()), Some(r));
        }
        assert_eq!(DisconnectReason::from_code(0xff), None);
    }

    #[test]
    fn texts() {
        assert_eq!(DisconnectReason::Quitting.to_string(), "client quitting");
        assert_eq!(
            DisconnectDecodeError::Unknown(12).to_string(),
            "unknown disconnect reason 12"
        );
    }
}
