//! Block bodies and blocks: [`Body`] (raw transactions, ommers, withdrawals), [`Withdrawal`] and [`Block`].
//!
//! Transactions are kept as the raw bytes of their EIP-2718 form: a legacy transaction is its RLP list, a typed
//! transaction is its envelope `type || payload`. In the RLP of a body (as in eth/66+ `BlockBodies` and in a full
//! block) a legacy transaction is embedded as the list itself and a typed one as a byte string holding the
//! envelope; this module converts between the two forms in both directions.

use bytes::Bytes;
use primitive_types::H160;
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::{
    Error, Header, SealedHeader,
    header::{exact_list, list_of},
    roots,
};

/// The highest EIP-2718 transaction (and receipt) type byte.
pub const MAX_TX_TYPE: u8 = 0x7f;

/// Appends one raw transaction in its in-list form: a legacy RLP list as is, a typed envelope as a byte string.
pub(crate) fn append_raw_tx(s: &mut RlpStream, tx: &[u8]) {
    match tx.first() {
        Some(b) if *b >= 0xc0 => {
            s.append_raw(tx, 1);
        }
        _ => {
            s.append(&tx);
        }
    }
}

/// Decodes one transaction in its in-list form into its raw EIP-2718 bytes.
pub(crate) fn decode_raw_tx(item: &Rlp<'_>) -> Result<Bytes, DecoderError> {
    if item.is_list() {
        let (list, _) = exact_list(item)?;
        return Ok(Bytes::copy_from_slice(list.as_raw()));
    }
    let data = item.data()?;
    match data.first() {
        Some(t) if *t <= MAX_TX_TYPE => Ok(Bytes::copy_from_slice(data)),
        Some(_) => Err(DecoderError::Custom(
            "typed transaction with an invalid type byte",
        )),
        None => Err(DecoderError::Custom("empty transaction")),
    }
}

/// An EIP-4895 validator withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Withdrawal {
    /// Monotonic withdrawal index.
    pub index: u64,
    /// Index of the validator.
    pub validator_index: u64,
    /// Recipient.
    pub address: H160,
    /// Amount in gwei.
    pub amount: u64,
}

impl Encodable for Withdrawal {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(4);
        s.append(&self.index);
        s.append(&self.validator_index);
        s.append(&self.address);
        s.append(&self.amount);
    }
}

impl Decodable for Withdrawal {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, count) = exact_list(rlp)?;
        if count != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            index: rlp.val_at(0)?,
            validator_index: rlp.val_at(1)?,
            address: rlp.val_at(2)?,
            amount: rlp.val_at(3)?,
        })
    }
}

/// A block body: transactions, ommer headers and (from Shanghai) withdrawals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// Raw transactions in EIP-2718 form (legacy: the RLP list; typed: `type || payload`).
    pub transactions: Vec<Bytes>,
    /// Ommer (uncle) headers.
    pub ommers: Vec<Header>,
    /// Withdrawals, present from Shanghai on.
    pub withdrawals: Option<Vec<Withdrawal>>,
}

impl Body {
    /// Whether there are no transactions, no ommers and no withdrawals.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
            && self.ommers.is_empty()
            && self.withdrawals.as_ref().is_none_or(Vec::is_empty)
    }

    /// Checks the body against the commitments of `header`: transactions root, ommers hash and, when the header has
    /// one, the withdrawals root (a body with withdrawals under a header without a withdrawals root fails too).
    ///
    /// # Errors
    ///
    /// [`Error::RootMismatch`] naming the first commitment that does not match.
    pub fn check_against(&self, header: &Header) -> Result<(), Error> {
        let ommers = roots::ommers_hash(&self.ommers);
        roots::expect(crate::RootKind::Ommers, header.ommers_hash, ommers)?;
        let txs = roots::transactions_root(&self.transactions);
        roots::expect(crate::RootKind::Transactions, header.transactions_root, txs)?;
        match (&self.withdrawals, header.withdrawals_root) {
            (None, None) => Ok(()),
            (Some(w), Some(root)) => roots::expect(
                crate::RootKind::Withdrawals,
                root,
                roots::withdrawals_root(w),
            ),
            (Some(w), None) => Err(Error::RootMismatch {
                kind: crate::RootKind::Withdrawals,
                expected: primitive_types::H256::zero(),
                computed: roots::withdrawals_root(w),
            }),
            (None, Some(root)) => Err(Error::RootMismatch {
                kind: crate::RootKind::Withdrawals,
                expected: root,
                computed: primitive_types::H256::zero(),
            }),
        }
    }

    /// An estimate of the memory the body takes, for cache budgets.
    pub fn approx_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .transactions
                .iter()
                .map(|t| t.len() + std::mem::size_of::<Bytes>())
                .sum::<usize>()
            + self.ommers.iter().map(Header::approx_size).sum::<usize>()
            + self
                .withdrawals
                .as_ref()
                .map_or(0, |w| w.len() * std::mem::size_of::<Withdrawal>())
    }

    /// Appends the body's fields (without an enclosing list).
    fn append_fields(&self, s: &mut RlpStream) {
        s.begin_list(self.transactions.len());
        for tx in &self.transactions {
            append_raw_tx(s, tx);
        }
        s.append_list(&self.ommers);
        if let Some(w) = &self.withdrawals {
            s.append_list(w);
        }
    }

    /// Decodes the body fields from `it`.
    fn decode_fields(it: &mut rlp::RlpIterator<'_, '_>) -> Result<Self, DecoderError> {
        let txs = it.next().ok_or(DecoderError::RlpIncorrectListLen)?;
        let (txs, _) = exact_list(&txs)?;
        let transactions = txs
            .iter()
            .map(|t| decode_raw_tx(&t))
            .collect::<Result<Vec<_>, _>>()?;
        let ommers = list_of(&it.next().ok_or(DecoderError::RlpIncorrectListLen)?)?;
        let withdrawals = it.next().map(|w| list_of(&w)).transpose()?;
        if it.next().is_some() {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            transactions,
            ommers,
            withdrawals,
        })
    }
}

impl Encodable for Body {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2 + usize::from(self.withdrawals.is_some()));
        self.append_fields(s);
    }
}

impl Decodable for Body {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, _) = exact_list(rlp)?;
        Self::decode_fields(&mut rlp.iter())
    }
}

/// A block: a sealed header and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header with its hash.
    pub header: SealedHeader,
    /// The body.
    pub body: Body,
}

impl Block {
    /// The block hash.
    pub const fn hash(&self) -> primitive_types::H256 {
        self.header.hash()
    }

    /// The block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }
}

impl Encodable for Block {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3 + usize::from(self.body.withdrawals.is_some()));
        s.append(&self.header);
        self.body.append_fields(s);
    }
}

impl Decodable for Block {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let (rlp, _) = exact_list(rlp)?;
        let mut it = rlp.iter();
        let header: SealedHeader = it
            .next()
            .ok_or(DecoderError::RlpIncorrectListLen)?
            .as_val()?;
        let body = Body::decode_fields(&mut it)?;
        Ok(Self { header, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_typed_transactions_take_their_in_list_forms() {
        let legacy = rlp::encode_list::<u64, u64>(&[1, 2, 3]).to_vec();
        let typed = vec![0x02, 0xc1, 0x05];
        let body = Body {
            transactions: vec![legacy.clone().into(), typed.clone().into()],
            ..Body::default()
        };
        let enc = rlp::encode(&body);
        let r = Rlp::new(&enc);
        let txs = r.at(0).unwrap();
        assert!(txs.at(0).unwrap().is_list());
        assert_eq!(txs.at(0).unwrap().as_raw(), legacy.as_slice());
        assert!(txs.at(1).unwrap().is_data());
        assert_eq!(txs.at(1).unwrap().data().unwrap(), typed.as_slice());
        assert_eq!(rlp::decode::<Body>(&enc).unwrap(), body);
    }

    #[test]
    fn bad_typed_transactions_are_rejected() {
        let mut s = RlpStream::new_list(2);
        s.begin_list(1).append(&vec![0x80u8, 1]);
        s.begin_list(0);
        assert!(rlp::decode::<Body>(&s.out()).is_err());
        let mut s = RlpStream::new_list(2);
        s.begin_list(1).append_empty_data();
        s.begin_list(0);
        assert!(rlp::decode::<Body>(&s.out()).is_err());
    }
}
