//! Block headers: [`Header`] with every field through Prague and Amsterdam, its RLP form and Keccak-256 hash, and
//! [`SealedHeader`], a header kept together with its hash.

use std::ops::Deref;

use bytes::Bytes;
use primitive_types::{H160, H256, U256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use sha3::{Digest, Keccak256};

use crate::Error;

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> H256 {
    H256::from_slice(&Keccak256::digest(data))
}

/// Root of an empty Merkle-Patricia trie: `keccak256(rlp(""))`, the transactions, receipts and withdrawals root of a
/// block without any ([Yellow Paper] section 4.4).
///
/// [Yellow Paper]: https://ethereum.github.io/yellowpaper/paper.pdf
pub const EMPTY_ROOT_HASH: H256 = H256([
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
    0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
]);

/// Hash of an empty ommers list: `keccak256(rlp([]))`.
pub const EMPTY_OMMERS_HASH: H256 = H256([
    0x1d, 0xcc, 0x4d, 0xe8, 0xde, 0xc7, 0x5d, 0x7a, 0xab, 0x85, 0xb5, 0x67, 0xb6, 0xcc, 0xd4, 0x1a,
    0xd3, 0x12, 0x45, 0x1b, 0x94, 0x8a, 0x74, 0x13, 0xf0, 0xa1, 0x42, 0xfd, 0x40, 0xd4, 0x93, 0x47,
]);

/// Size of a logs bloom in bytes.
pub const BLOOM_BYTES: usize = 256;

/// The 2048-bit logs bloom filter of a header or receipt.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bloom(pub [u8; BLOOM_BYTES]);

impl Default for Bloom {
    fn default() -> Self {
        Self([0; BLOOM_BYTES])
    }
}

impl std::fmt::Debug for Bloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_zero() {
            return f.write_str("Bloom(0)");
        }
        f.write_str("Bloom(0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Bloom {
    /// Whether no bit is set.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }

    /// Sets the three bits for `input` (an address or a topic) as the Yellow Paper's `M3:2048` says: for each of
    /// the first three pairs of bytes of `keccak256(input)`, the low 11 bits select a bit, counted from the end.
    pub fn accrue(&mut self, input: &[u8]) {
        let hash = keccak256(input);
        for i in 0..3 {
            let bit = ((usize::from(hash[2 * i]) << 8) | usize::from(hash[2 * i + 1])) & 2047;
            let byte = BLOOM_BYTES - 1 - bit / 8;
            self.0[byte] |= 1 << (bit % 8);
        }
    }

    /// Whether all three bits of `input` are set (the item may be in the set).
    pub fn contains_input(&self, input: &[u8]) -> bool {
        let mut probe = Self::default();
        probe.accrue(input);
        probe.0.iter().zip(self.0.iter()).all(|(p, s)| p & s == *p)
    }

    /// ORs `other` into `self`.
    pub fn accrue_bloom(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
    }
}

impl Encodable for Bloom {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.encoder().encode_value(&self.0);
    }
}

impl Decodable for Bloom {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        rlp.decoder().decode_value(|bytes| {
            let arr: [u8; BLOOM_BYTES] = bytes.try_into().map_err(|_| {
                if bytes.len() < BLOOM_BYTES {
                    DecoderError::RlpIsTooShort
                } else {
                    DecoderError::RlpIsTooBig
                }
            })?;
            Ok(Self(arr))
        })
    }
}

/// Number of header fields up to and including `nonce` (the pre-London header).
const BASE_FIELDS: usize = 15;

/// An Ethereum block header with every field through Prague and Amsterdam.
///
/// The optional tail (base fee from London, withdrawals root from Shanghai, blob gas used, excess blob gas and
/// parent beacon block root from Cancun, requests hash from Prague, block access list hash and slot number from
/// Amsterdam) is encoded in order and only up to the last
/// present field. A `None` before a present field cannot be expressed on the wire: it is encoded as zero and
/// decodes as `Some(0)` (or the zero hash), so such headers do not round-trip. Every real header has a tail that
/// is a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Hash of the parent header.
    pub parent_hash: H256,
    /// Hash of the RLP list of ommer headers.
    pub ommers_hash: H256,
    /// Fee recipient (coinbase).
    pub beneficiary: H160,
    /// State trie root after the block.
    pub state_root: H256,
    /// Root of the transactions trie.
    pub transactions_root: H256,
    /// Root of the receipts trie.
    pub receipts_root: H256,
    /// Bloom filter of the logs of all receipts.
    pub logs_bloom: Bloom,
    /// Proof-of-work difficulty (zero after the merge).
    pub difficulty: U256,
    /// Block number.
    pub number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used by the transactions.
    pub gas_used: u64,
    /// Unix time in seconds.
    pub timestamp: u64,
    /// Arbitrary extra data (at most 32 bytes on mainnet; not checked here).
    pub extra_data: Bytes,
    /// Proof-of-work mix hash (`prevRandao` after the merge).
    pub mix_hash: H256,
    /// Proof-of-work nonce.
    pub nonce: [u8; 8],
    /// EIP-1559 base fee (London).
    pub base_fee_per_gas: Option<u64>,
    /// EIP-4895 withdrawals root (Shanghai).
    pub withdrawals_root: Option<H256>,
    /// EIP-4844 blob gas used (Cancun).
    pub blob_gas_used: Option<u64>,
    /// EIP-4844 excess blob gas (Cancun).
    pub excess_blob_gas: Option<u64>,
    /// EIP-4788 parent beacon block root (Cancun).
    pub parent_beacon_block_root: Option<H256>,
    /// EIP-7685 requests hash (Prague).
    pub requests_hash: Option<H256>,
    /// EIP-7928 block access list hash (Amsterdam).
    pub block_access_list_hash: Option<H256>,
    /// EIP-7843 beacon slot number (Amsterdam).
    pub slot_number: Option<u64>,
}

impl Header {
    /// Keccak-256 of the RLP encoding: the block hash. Computing it encodes the header; use [`Header::seal`] to
    /// keep it.
    pub fn hash(&self) -> H256 {
        keccak256(&rlp::encode(self))
    }

    /// Computes the hash once and keeps it with the header.
    pub fn seal(self) -> SealedHeader {
        let hash = self.hash();
        SealedHeader { header: self, hash }
    }

    /// Number of optional tail fields that the encoding carries (0 to 8).
    fn tail_len(&self) -> usize {
        if self.slot_number.is_some() {
            8
        } else if self.block_access_list_hash.is_some() {
            7
        } else if self.requests_hash.is_some() {
            6
        } else if self.parent_beacon_block_root.is_some() {
            5
        } else if self.excess_blob_gas.is_some() {
            4
        } else if self.blob_gas_used.is_some() {
            3
        } else if self.withdrawals_root.is_some() {
            2
        } else if self.base_fee_per_gas.is_some() {
            1
        } else {
            0
        }
    }

    /// Whether the header commits to an empty body: no transactions, no ommers and no withdrawals.
    /// A downloader need not fetch such a body.
    pub fn has_empty_body(&self) -> bool {
        self.transactions_root == EMPTY_ROOT_HASH
            && self.ommers_hash == EMPTY_OMMERS_HASH
            && self.withdrawals_root.is_none_or(|r| r == EMPTY_ROOT_HASH)
    }

    /// Whether the header commits to an empty receipt list.
    pub fn has_empty_receipts(&self) -> bool {
        self.receipts_root == EMPTY_ROOT_HASH
    }

    /// An estimate of the memory the header takes, for cache budgets.
    pub fn approx_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.extra_data.len()
    }

    /// Decodes a header from its RLP bytes, requiring that nothing follows it.
    ///
    /// # Errors
    ///
    /// [`Error::Rlp`] or [`Error::Invalid`] on malformed input.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, Error> {
        Ok(decode_exact(bytes)?)
    }
}

impl Encodable for Header {
    fn rlp_append(&self, s: &mut RlpStream) {
        let tail = self.tail_len();
        s.begin_list(BASE_FIELDS + tail);
        s.append(&self.parent_hash);
        s.append(&self.ommers_hash);
        s.append(&self.beneficiary);
        s.append(&self.state_root);
        s.append(&self.transactions_root);
        s.append(&self.receipts_root);
        s.append(&self.logs_bloom);
        s.append(&self.difficulty);
        s.append(&self.number);
        s.append(&self.gas_limit);
        s.append(&self.gas_used);
        s.append(&self.timestamp);
        s.append(&self.extra_data.as_ref());
        s.append(&self.mix_hash);
        s.append(&self.nonce.as_slice());
        if tail >= 1 {
            s.append(&self.base_fee_per_gas.unwrap_or_default());
        }
        if tail >= 2 {
            s.append(&self.withdrawals_root.unwrap_or_default());
        }
        if tail >= 3 {
            s.append(&self.blob_gas_used.unwrap_or_default());
        }
        if tail >= 4 {
            s.append(&self.excess_blob_gas.unwrap_or_default());
        }
        if tail >= 5 {
            s.append(&self.parent_beacon_block_root.unwrap_or_default());
        }
        if tail >= 6 {
            s.append(&self.requests_hash.unwrap_or_default());
        }
        if tail >= 7 {
            s.append(&self.block_access_list_hash.unwrap_or_default());
        }
        if tail >= 8 {
            s.append(&self.slot_number.unwrap_or_default());
        }
    }
}

/// A cursor over the items of a list payload that checks every item's length against the bytes left (unlike the
/// `rlp` crate's iterator, it never stops silently at a malformed item).
pub(crate) struct Items<'a> {
    rest: &'a [u8],
}

impl<'a> Items<'a> {
    /// The items of list `rlp` (trailing bytes after the list are ignored; the list must be complete).
    pub(crate) fn of_list(rlp: &Rlp<'a>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let info = rlp.payload_info()?;
        let rest = rlp
            .as_raw()
            .get(info.header_len..info.total())
            .ok_or(DecoderError::RlpIsTooShort)?;
        Ok(Self { rest })
    }

    /// The next item, `None` at the end of the payload.
    pub(crate) fn next_item(&mut self) -> Option<Result<Rlp<'a>, DecoderError>> {
        if self.rest.is_empty() {
            return None;
        }
        let item = rlp::PayloadInfo::from(self.rest).and_then(|info| {
            let (item, rest) = self
                .rest
                .split_at_checked(info.total())
                .ok_or(DecoderError::RlpIsTooShort)?;
            self.rest = rest;
            Ok(Rlp::new(item))
        });
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }

    /// Decodes the next item, failing at the end of the payload.
    pub(crate) fn next_val<T: Decodable>(&mut self) -> Result<T, DecoderError> {
        self.next_item()
            .ok_or(DecoderError::RlpIncorrectListLen)??
            .as_val()
    }

    /// Decodes the next item if there is one.
    pub(crate) fn next_opt<T: Decodable>(&mut self) -> Result<Option<T>, DecoderError> {
        self.next_item().map(|r| r?.as_val()).transpose()
    }

    /// Fails if items are left.
    pub(crate) fn finish(&self) -> Result<(), DecoderError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecoderError::RlpIncorrectListLen)
        }
    }
}

/// Checks that `rlp` is a list whose items exactly fill its payload, and returns a view trimmed to the list (with no
/// trailing bytes) and the number of items. Decoders must read items through the returned view: the `rlp` crate's
/// iterator stops silently at the first malformed item, and on a view with trailing bytes it yields them as
/// further items.
pub(crate) fn exact_list<'a>(rlp: &Rlp<'a>) -> Result<(Rlp<'a>, usize), DecoderError> {
    let mut items = Items::of_list(rlp)?;
    let mut count = 0usize;
    while let Some(item) = items.next_item() {
        item?;
        count += 1;
    }
    Ok((Rlp::new(item_bytes(rlp)?), count))
}

/// Decodes a list whose items exactly fill its payload.
pub(crate) fn list_of<T: Decodable>(rlp: &Rlp<'_>) -> Result<Vec<T>, DecoderError> {
    let mut items = Items::of_list(rlp)?;
    let mut out = Vec::new();
    while let Some(item) = items.next_item() {
        out.push(item?.as_val()?);
    }
    Ok(out)
}

/// The bytes of the first item of `rlp` (the `rlp` crate's top-level view may carry trailing bytes).
pub(crate) fn item_bytes<'a>(rlp: &Rlp<'a>) -> Result<&'a [u8], DecoderError> {
    let total = rlp.payload_info()?.total();
    rlp.as_raw().get(..total).ok_or(DecoderError::RlpIsTooShort)
}

/// Decodes `bytes` as exactly one `T`: trailing bytes are an error.
pub(crate) fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, DecoderError> {
    let rlp = Rlp::new(bytes);
    if rlp.payload_info()?.total() != bytes.len() {
        return Err(DecoderError::RlpInconsistentLengthAndData);
    }
    rlp.as_val()
}

impl Decodable for Header {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let mut it = Items::of_list(rlp)?;
        let header = Self {
            parent_hash: it.next_val()?,
            ommers_hash: it.next_val()?,
            beneficiary: it.next_val()?,
            state_root: it.next_val()?,
            transactions_root: it.next_val()?,
            receipts_root: it.next_val()?,
            logs_bloom: it.next_val()?,
            difficulty: it.next_val()?,
            number: it.next_val()?,
            gas_limit: it.next_val()?,
            gas_used: it.next_val()?,
            timestamp: it.next_val()?,
            extra_data: it.next_val()?,
            mix_hash: it.next_val()?,
            nonce: {
                let item = it.next_item().ok_or(DecoderError::RlpIncorrectListLen)??;
                item.decoder().decode_value(|b| {
                    b.try_into()
                        .map_err(|_| DecoderError::Custom("nonce is not 8 bytes"))
                })?
            },
            base_fee_per_gas: it.next_opt()?,
            withdrawals_root: it.next_opt()?,
            blob_gas_used: it.next_opt()?,
            excess_blob_gas: it.next_opt()?,
            parent_beacon_block_root: it.next_opt()?,
            requests_hash: it.next_opt()?,
            block_access_list_hash: it.next_opt()?,
            slot_number: it.next_opt()?,
        };
        // At most the 23 fields through Amsterdam.
        it.finish()?;
        Ok(header)
    }
}

/// A header with its hash, computed once.
///
/// Build one with [`Header::seal`], or decode one with [`rlp::decode`] (which hashes the input bytes directly,
/// without re-encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    header: Header,
    hash: H256,
}

impl SealedHeader {
    /// Pairs a header with a hash the caller vouches for (for example one read back from a store that computed it).
    /// A wrong hash here makes every later check wrong; prefer [`Header::seal`].
    pub const fn new_unchecked(header: Header, hash: H256) -> Self {
        Self { header, hash }
    }

    /// The block hash.
    pub const fn hash(&self) -> H256 {
        self.hash
    }

    /// The header.
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// Splits into header and hash.
    pub fn into_parts(self) -> (Header, H256) {
        (self.header, self.hash)
    }

    /// Drops the hash.
    pub fn into_header(self) -> Header {
        self.header
    }

    /// The number and hash.
    pub const fn num_hash(&self) -> (u64, H256) {
        (self.header.number, self.hash)
    }
}

impl Deref for SealedHeader {
    type Target = Header;

    fn deref(&self) -> &Header {
        &self.header
    }
}

impl Encodable for SealedHeader {
    fn rlp_append(&self, s: &mut RlpStream) {
        self.header.rlp_append(s);
    }
}

impl Decodable for SealedHeader {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let header = Header::decode(rlp)?;
        let hash = keccak256(item_bytes(rlp)?);
        Ok(Self { header, hash })
    }
}

impl From<SealedHeader> for Header {
    fn from(s: SealedHeader) -> Self {
        s.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_constants_are_the_hashes_they_claim() {
        assert_eq!(keccak256(&rlp::encode(&"")), EMPTY_ROOT_HASH);
        assert_eq!(keccak256(&rlp::EMPTY_LIST_RLP), EMPTY_OMMERS_HASH);
    }

    #[test]
    fn tail_is_encoded_up_to_the_last_present_field() {
        let mut h = Header::default();
        assert_eq!(Rlp::new(&rlp::encode(&h)).item_count().unwrap(), 15);
        h.base_fee_per_gas = Some(7);
        assert_eq!(Rlp::new(&rlp::encode(&h)).item_count().unwrap(), 16);
        h.parent_beacon_block_root = Some(H256::repeat_byte(1));
        let enc = rlp::encode(&h);
        assert_eq!(Rlp::new(&enc).item_count().unwrap(), 20);
        let back: Header = rlp::decode(&enc).unwrap();
        assert_eq!(back.withdrawals_root, Some(H256::zero()));
        assert_eq!(back.blob_gas_used, Some(0));
    }

    #[test]
    fn sealed_decode_hashes_the_raw_bytes() {
        let h = Header {
            number: 9,
            extra_data: Bytes::from_static(b"x"),
            ..Header::default()
        };
        let enc = rlp::encode(&h);
        let sealed: SealedHeader = rlp::decode(&enc).unwrap();
        assert_eq!(sealed.hash(), h.hash());
        assert_eq!(sealed.header(), &h);
        let mut trailing = enc.to_vec();
        trailing.push(0x80);
        let sealed: SealedHeader = rlp::decode(&trailing).unwrap();
        assert_eq!(sealed.hash(), h.hash(), "trailing bytes are not hashed");
        assert!(Header::decode_exact(&trailing).is_err());
    }

    #[test]
    fn garbage_inside_the_list_is_rejected() {
        let enc = rlp::encode(&Header::default()).to_vec();
        // Append a truncated item inside the list payload and fix up the list length.
        let inner_payload = &enc[3..];
        let mut payload = inner_payload.to_vec();
        payload.extend_from_slice(&[0xb8]);
        let mut bad = vec![0xf9, (payload.len() >> 8) as u8, payload.len() as u8];
        bad.extend_from_slice(&payload);
        assert!(rlp::decode::<Header>(&bad).is_err());
    }

    #[test]
    fn bloom_accrue_sets_three_bits_and_contains() {
        let mut b = Bloom::default();
        b.accrue(b"topic");
        let ones: u32 = b.0.iter().map(|x| x.count_ones()).sum();
        assert!((1..=3).contains(&ones));
        assert!(b.contains_input(b"topic"));
    }
}
