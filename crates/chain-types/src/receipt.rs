//! Transaction receipts and logs.
//!
//! A receipt has two byte forms. Its *envelope* is what the receipts trie commits to: a legacy receipt is the RLP
//! list `[status, cumulative_gas_used, logs_bloom, logs]`, a typed receipt (EIP-2718) is `type || rlp(list)`.
//! Inside an RLP list (an eth/66-68 `Receipts` message) a legacy receipt is embedded as the list itself and a
//! typed receipt as a byte string holding its envelope; [`Receipt`]'s [`Encodable`] and [`Decodable`] impls use
//! that in-list form.

use bytes::Bytes;
use primitive_types::{H160, H256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::{
    Bloom, Error, MAX_TX_TYPE,
    header::{exact_list, list_of},
};

/// A log entry emitted by a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Log {
    /// Emitting contract.
    pub address: H160,
    /// Indexed topics (at most four in the EVM; not checked here).
    pub topics: Vec<H256>,
    /// Unindexed data.
    pub data: Bytes,
}

impl Encodable for Log {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3);
        s.append(&self.address);
        s.append_list(&self.topics);
        s.append(&self.data.as_ref());
    }
}

impl Decodable for Log {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, count) = exact_list(rlp)?;
        if count != 3 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            address: rlp.val_at(0)?,
            topics: list_of(&rlp.at(1)?)?,
            data: rlp.val_at(2)?,
        })
    }
}

/// The outcome field of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptStatus {
    /// The transaction succeeded (EIP-658, from Byzantium): encoded as `0x01`.
    Success,
    /// The transaction failed (EIP-658): encoded as the empty string.
    Failure,
    /// The intermediate state root (receipts before Byzantium).
    PostState(H256),
}

impl Encodable for ReceiptStatus {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self {
            // Inside `rlp_append` values go through the encoder: `append` would count the item twice.
            Self::Success => s.encoder().encode_value(&[1]),
            Self::Failure => s.encoder().encode_value(&[]),
            Self::PostState(root) => s.encoder().encode_value(root.as_bytes()),
        }
    }
}

impl Decodable for ReceiptStatus {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        rlp.decoder().decode_value(|b| match b {
            [] => Ok(Self::Failure),
            [1] => Ok(Self::Success),
            _ if b.len() == 32 => Ok(Self::PostState(H256::from_slice(b))),
            _ => Err(DecoderError::Custom("invalid receipt status")),
        })
    }
}

/// A transaction receipt (legacy or typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The EIP-2718 type of the transaction: 0 for legacy, 1 to 0x7f for typed ones.
    pub tx_type: u8,
    /// Success, failure or (before Byzantium) the post-transaction state root.
    pub status: ReceiptStatus,
    /// Gas used in the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Bloom of the logs' addresses and topics.
    pub logs_bloom: Bloom,
    /// Logs emitted.
    pub logs: Vec<Log>,
}

impl Default for Receipt {
    fn default() -> Self {
        Self {
            tx_type: 0,
            status: ReceiptStatus::Success,
            cumulative_gas_used: 0,
            logs_bloom: Bloom::default(),
            logs: Vec::new(),
        }
    }
}

impl Receipt {
    /// The bloom of a list of logs: every address and every topic accrued.
    pub fn bloom_of(logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::default();
        for log in logs {
            bloom.accrue(log.address.as_bytes());
            for topic in &log.topics {
                bloom.accrue(topic.as_bytes());
            }
        }
        bloom
    }

    /// Appends the inner list `[status, cumulative_gas_used, logs_bloom, logs]`.
    fn append_inner(&self, s: &mut RlpStream) {
        s.begin_list(4);
        s.append(&self.status);
        s.append(&self.cumulative_gas_used);
        s.append(&self.logs_bloom);
        s.append_list(&self.logs);
    }

    /// Decodes the inner list.
    fn decode_inner(tx_type: u8, rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, count) = exact_list(rlp)?;
        if count != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            tx_type,
            status: rlp.val_at(0)?,
            cumulative_gas_used: rlp.val_at(1)?,
            logs_bloom: rlp.val_at(2)?,
            logs: list_of(&rlp.at(3)?)?,
        })
    }

    /// The EIP-2718 envelope: the bytes the receipts trie commits to.
    pub fn encode_envelope(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.append_inner(&mut s);
        let inner = s.out();
        if self.tx_type == 0 {
            inner.to_vec()
        } else {
            let mut out = Vec::with_capacity(inner.len() + 1);
            out.push(self.tx_type);
            out.extend_from_slice(&inner);
            out
        }
    }

    /// Decodes an EIP-2718 envelope (legacy RLP list or `type || rlp(list)`), requiring that nothing follows it.
    ///
    /// # Errors
    ///
    /// [`Error::Rlp`] or [`Error::Invalid`] on malformed input.
    pub fn decode_envelope(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.first() {
            None => Err(Error::invalid("receipt", "empty envelope")),
            Some(b) if *b >= 0xc0 => Ok(Self::decode_inner(0, &exact(bytes)?)?),
            Some(t) if *t != 0 && *t <= MAX_TX_TYPE => Ok(Self::decode_inner(
                *t,
                &exact(bytes.get(1..).unwrap_or_default())?,
            )?),
            Some(_) => Err(Error::invalid("receipt", "invalid type byte")),
        }
    }
}

/// Wraps `bytes` as one RLP item that must span all of them.
fn exact(bytes: &[u8]) -> Result<Rlp<'_>, DecoderError> {
    let rlp = Rlp::new(bytes);
    let info = rlp.payload_info()?;
    if info.total() != bytes.len() {
        return Err(DecoderError::RlpInconsistentLengthAndData);
    }
    Ok(rlp)
}

impl Encodable for Receipt {
    fn rlp_append(&self, s: &mut RlpStream) {
        if self.tx_type == 0 {
            self.append_inner(s);
        } else {
            s.encoder().encode_value(&self.encode_envelope());
        }
    }
}

impl Decodable for Receipt {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.is_list() {
            return Self::decode_inner(0, rlp);
        }
        let data = rlp.data()?;
        match data.split_first() {
            Some((t, rest)) if *t != 0 && *t <= MAX_TX_TYPE => {
                Self::decode_inner(*t, &exact(rest)?)
            }
            Some(_) => Err(DecoderError::Custom(
                "typed receipt with an invalid type byte",
            )),
            None => Err(DecoderError::Custom("empty receipt")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tx_type: u8) -> Receipt {
        let logs = vec![Log {
            address: H160::repeat_byte(7),
            topics: vec![H256::repeat_byte(1), H256::repeat_byte(2)],
            data: Bytes::from_static(b"hello"),
        }];
        Receipt {
            tx_type,
            status: ReceiptStatus::Success,
            cumulative_gas_used: 21_000,
            logs_bloom: Receipt::bloom_of(&logs),
            logs,
        }
    }

    #[test]
    fn envelopes_round_trip() {
        for t in [0u8, 1, 2, 3] {
            let r = sample(t);
            let env = r.encode_envelope();
            assert_eq!(Receipt::decode_envelope(&env).unwrap(), r);
            assert_eq!(rlp::decode::<Receipt>(&rlp::encode(&r)).unwrap(), r);
            if t == 0 {
                assert!(env[0] >= 0xc0);
            } else {
                assert_eq!(env[0], t);
            }
        }
    }

    #[test]
    fn trailing_bytes_in_an_envelope_are_rejected() {
        let mut env = sample(2).encode_envelope();
        env.push(0);
        assert!(Receipt::decode_envelope(&env).is_err());
    }

    #[test]
    fn status_forms() {
        for st in [
            ReceiptStatus::Success,
            ReceiptStatus::Failure,
            ReceiptStatus::PostState(H256::repeat_byte(3)),
        ] {
            assert_eq!(rlp::decode::<ReceiptStatus>(&rlp::encode(&st)).unwrap(), st);
        }
        assert!(rlp::decode::<ReceiptStatus>(&rlp::encode(&2u8)).is_err());
    }
}
