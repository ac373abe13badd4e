//! EIP-2124 fork identifiers (with the EIP-6122 timestamp forks): computing a chain's fork hashes from its
//! genesis hash and fork schedule, and validating the fork id a remote announces in its Status.
//! [`ChainSpec::fork_filter`](crate::ChainSpec::fork_filter) builds a [`ForkFilter`] from a chain spec (eth-wire
//! re-exports this module's types under their old names).
//!
//! `FORK_HASH` is the IEEE CRC32 of the genesis hash followed by every passed fork activation (block numbers
//! first, then timestamps, each as a big-endian `u64`, ascending, duplicates and activations at 0 left out);
//! `FORK_NEXT` is the next activation, or 0 when none is known.

use primitive_types::H256;
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

/// The IEEE CRC32 table (reflected polynomial 0xEDB88320).
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Continues an IEEE CRC32 computation: `crc` is the checksum of the bytes so far (0 for none).
fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        let index = usize::from((c as u8) ^ b);
        c = CRC_TABLE.get(index).copied().unwrap_or_default() ^ (c >> 8);
    }
    !c
}

/// A `FORK_NEXT` at or above this value is read as a timestamp rather than a block number (EIP-6122); it is the
/// mainnet genesis timestamp.
pub const TIMESTAMP_THRESHOLD: u64 = 1_438_269_973;

/// The 4-byte fork hash (`FORK_HASH`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ForkHash(pub [u8; 4]);

impl ForkHash {
    /// The fork hash of a chain with no passed forks: the CRC32 of its genesis hash.
    pub fn from_genesis(genesis: H256) -> Self {
        Self(crc32_update(0, genesis.as_bytes()).to_be_bytes())
    }

    /// The fork hash after one more fork activation (block number or timestamp).
    #[must_use]
    pub fn with_activation(self, activation: u64) -> Self {
        let crc = u32::from_be_bytes(self.0);
        Self(crc32_update(crc, &activation.to_be_bytes()).to_be_bytes())
    }
}

impl std::fmt::Debug for ForkHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for ForkHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl From<u32> for ForkHash {
    fn from(v: u32) -> Self {
        Self(v.to_be_bytes())
    }
}

impl Encodable for ForkHash {
    fn rlp_append(&self, s: &mut RlpStream) {
        // A single value: encode it directly (a nested `append` would count as a second list item).
        s.encoder().encode_value(&self.0);
    }
}

impl Decodable for ForkHash {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        rlp.decoder().decode_value(|b| {
            <[u8; 4]>::try_from(b)
                .map(Self)
                .map_err(|_| DecoderError::Custom("fork hash is not 4 bytes"))
        })
    }
}

/// A fork identifier: `[FORK_HASH, FORK_NEXT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ForkId {
    /// CRC32 of the genesis hash and the passed fork activations.
    pub hash: ForkHash,
    /// The next fork activation (block number or timestamp), 0 if none is known.
    pub next: u64,
}

impl Encodable for ForkId {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.append(&self.hash);
        s.append(&self.next);
    }
}

impl Decodable for ForkId {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        // EIP-2124: extra list elements are allowed for forward compatibility, but every element must be
        // well-formed and the elements must exactly fill the list.
        let (list, count) = crate::codec::exact_list(rlp)?;
        if count < 2 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            hash: list.val_at(0)?,
            next: list.val_at(1)?,
        })
    }
}

/// Why a remote fork id was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForkIdError {
    /// The remote is on a subset of our passed forks but announces a next fork other than ours: it needs a
    /// software update.
    #[error("remote needs update")]
    RemoteStale,
    /// The remote fork hash matches none of ours, or it announces a fork we have already passed without
    /// applying: the chains diverged or we need an update.
    #[error("local incompatible or needs update")]
    LocalIncompatibleOrStale,
}

/// The local chain's fork schedule and head position, which compute the local [`ForkId`] and validate remote ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkFilter {
    /// Fork block numbers, ascending, deduplicated, without 0.
    blocks: Vec<u64>,
    /// Fork timestamps, ascending, deduplicated, without 0 and without values a block fork already has.
    times: Vec<u64>,
    /// `sums[i]` is the fork hash after the first `i` activations (blocks then times).
    sums: Vec<ForkHash>,
    /// Head block number.
    head_number: u64,
    /// Head timestamp.
    head_time: u64,
}

impl ForkFilter {
    /// A filter for the chain with genesis `genesis`, block-numbered forks `blocks` and timestamp forks `times`
    /// (any order, duplicates and zeros allowed), at head (`head_number`, `head_time`).
    pub fn new(
        genesis: H256,
        blocks: impl IntoIterator<Item = u64>,
        times: impl IntoIterator<Item = u64>,
        head_number: u64,
        head_time: u64,
    ) -> Self {
        let mut blocks: Vec<u64> = blocks.into_iter().filter(|b| *b != 0).collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut times: Vec<u64> = times.into_iter().filter(|t| *t != 0).collect();
        times.sort_unstable();
        times.dedup();
        let mut sums = Vec::with_capacity(blocks.len() + times.len() + 1);
        let mut hash = ForkHash::from_genesis(genesis);
        sums.push(hash);
        for a in blocks.iter().chain(times.iter()) {
            hash = hash.with_activation(*a);
            sums.push(hash);
        }
        Self {
            blocks,
            times,
            sums,
            head_number,
            head_time,
        }
    }

    /// A filter for a chain whose forks are all active at genesis (fork id `[CRC32(genesis), 0]`).
    pub fn genesis_only(genesis: H256) -> Self {
        Self::new(genesis, [], [], 0, 0)
    }

    /// Moves the head.
    pub const fn set_head(&mut self, number: u64, time: u64) {
        self.head_number = number;
        self.head_time = time;
    }

    /// All fork activations: block numbers, then timestamps.
    fn activations(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.iter().chain(self.times.iter()).copied()
    }

    /// Whether activation `i` (an index into [`Self::activations`]) has passed at the current head.
    fn passed(&self, i: usize, activation: u64) -> bool {
        if i < self.blocks.len() {
            activation <= self.head_number
        } else {
            activation <= self.head_time
        }
    }

    /// The number of passed activations at the current head.
    fn passed_count(&self) -> usize {
        self.activations()
            .enumerate()
            .take_while(|(i, a)| self.passed(*i, *a))
            .count()
    }

    /// The local fork id at the current head.
    pub fn current(&self) -> ForkId {
        let n = self.passed_count();
        let hash = self.sums.get(n).copied().unwrap_or_default();
        let next = self.activations().nth(n).unwrap_or(0);
        ForkId { hash, next }
    }

    /// Validates a remote fork id against the local chain and head (EIP-2124 rules, with EIP-6122 timestamps).
    ///
    /// # Errors
    ///
    /// [`ForkIdError::RemoteStale`] or [`ForkIdError::LocalIncompatibleOrStale`] as the EIP specifies.
    pub fn validate(&self, remote: ForkId) -> Result<(), ForkIdError> {
        let passed = self.passed_count();
        let activations: Vec<u64> = self.activations().collect();
        // Rule 1: same fork hash as ours now.
        if self.sums.get(passed) == Some(&remote.hash) {
            if remote.next == 0 {
                return Ok(());
            }
            // The remote announces a next fork: it must not have passed locally. A value at or above
            // TIMESTAMP_THRESHOLD is a timestamp (no chain reaches such block numbers).
            let passed_locally = self.head_number >= remote.next
                || (remote.next >= TIMESTAMP_THRESHOLD && self.head_time >= remote.next);
            return if passed_locally {
                Err(ForkIdError::LocalIncompatibleOrStale)
            } else {
                Ok(())
            };
        }
        // Rule 2: the remote hash is one of our earlier (passed) states: it is syncing; its next fork must be
        // the one that followed that state locally.
        for i in 0..passed {
            if self.sums.get(i) == Some(&remote.hash) {
                return if activations.get(i) == Some(&remote.next) {
                    Ok(())
                } else {
                    Err(ForkIdError::RemoteStale)
                };
            }
        }
        // Rule 3: the remote hash is one of our future states: we are syncing.
        for i in passed + 1..self.sums.len() {
            if self.sums.get(i) == Some(&remote.hash) {
                return Ok(());
            }
        }
        // Rule 4: unknown.
        Err(ForkIdError::LocalIncompatibleOrStale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard CRC-32/IEEE check value.
        assert_eq!(crc32_update(0, b"123456789"), 0xCBF4_3926);
        // Incremental equals one-shot.
        assert_eq!(
            crc32_update(crc32_update(0, b"12345"), b"6789"),
            0xCBF4_3926
        );
    }

    #[test]
    fn fork_id_rlp() {
        let id = ForkId {
            hash: ForkHash([0xfc, 0x64, 0xec, 0x04]),
            next: 1_150_000,
        };
        let enc = rlp::encode(&id);
        assert_eq!(hex_of(&enc), "c984fc64ec0483118c30");
        assert_eq!(rlp::decode::<ForkId>(&enc).ok(), Some(id));
        let zero = ForkId {
            hash: ForkHash([1, 2, 3, 4]),
            next: 0,
        };
        assert_eq!(hex_of(&rlp::encode(&zero)), "c6840102030480");
        // A 3-byte hash is rejected.
        assert!(rlp::decode::<ForkId>(&[0xc5, 0x83, 1, 2, 3, 0x80]).is_err());
        // An extra well-formed element is tolerated (EIP-2124), a truncated one is not.
        let extra = [0xc7, 0x84, 1, 2, 3, 4, 0x80, 0x05];
        assert_eq!(rlp::decode::<ForkId>(&extra).ok(), Some(zero));
        assert!(rlp::decode::<ForkId>(&[0xc7, 0x84, 1, 2, 3, 4, 0x80, 0x81]).is_err());
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
