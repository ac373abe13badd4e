//! Reading a geth `genesis.json` into a [`ChainSpec`]: the `config` object (chain id, `*Block` / `*Time` fork
//! fields, `terminalTotalDifficulty`, `blobSchedule`), the genesis header fields and the `alloc`, whose secure
//! Merkle-Patricia state root (accounts `[nonce, balance, storageRoot, codeHash]` keyed by `keccak(address)`,
//! storage keyed by `keccak(slot)` with the RLP of the trimmed value) becomes the genesis state root.
//!
//! The header gets the fields geth v1.17.10 sets for the forks active at genesis: the base fee (1 gwei unless
//! given) from London, the empty withdrawals root from Shanghai, zero blob gas fields and a zero parent beacon
//! root from Cancun, the empty requests hash (`sha256("")`, EIP-7685) from Prague, and the empty block access
//! list hash with the given (or zero) slot number from Amsterdam.
//!
//! Numbers may be JSON numbers, decimal strings or `0x` hex strings, as geth accepts them; numbers are read from
//! their raw text, so a terminal total difficulty above 2^64 keeps every digit.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use primitive_types::{H160, H256, U256};
use rlp::RlpStream;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{BlobParams, ChainSpec, Fork, ForkKind};
use crate::{EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH, Error, GenesisError, Header, keccak256, roots};

/// The largest genesis file [`ChainSpec::from_path`] reads: 256 MiB.
pub const MAX_GENESIS_BYTES: u64 = 256 << 20;

/// `sha256("")`, the requests hash of a block without requests (EIP-7685).
pub(crate) const EMPTY_REQUESTS_HASH: H256 = H256([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// geth's `params.GenesisGasLimit`, used when the file gives no gas limit.
const GENESIS_GAS_LIMIT: u64 = 4_712_388;

/// geth's `params.GenesisDifficulty`, used when the file gives no difficulty (ethash chains without a mix hash).
const GENESIS_DIFFICULTY: u64 = 131_072;

/// The top level of a geth `genesis.json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    config: Option<BTreeMap<String, Box<RawValue>>>,
    nonce: Option<Box<RawValue>>,
    timestamp: Option<Box<RawValue>>,
    extra_data: Option<String>,
    gas_limit: Option<Box<RawValue>>,
    difficulty: Option<Box<RawValue>>,
    mix_hash: Option<String>,
    coinbase: Option<String>,
    number: Option<Box<RawValue>>,
    gas_used: Option<Box<RawValue>>,
    parent_hash: Option<String>,
    base_fee_per_gas: Option<Box<RawValue>>,
    excess_blob_gas: Option<Box<RawValue>>,
    blob_gas_used: Option<Box<RawValue>>,
    slot_number: Option<Box<RawValue>>,
    #[serde(default)]
    alloc: BTreeMap<String, Account>,
}

/// One account of the `alloc`.
#[derive(Deserialize)]
struct Account {
    balance: Option<Box<RawValue>>,
    nonce: Option<Box<RawValue>>,
    code: Option<String>,
    #[serde(default)]
    storage: BTreeMap<String, String>,
}

/// One entry of `blobSchedule`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlobEntry {
    target: u64,
    max: u64,
    base_fee_update_fraction: u64,
}

/// A [`GenesisError::Field`].
fn bad(field: impl Into<String>, reason: &'static str) -> GenesisError {
    GenesisError::Field {
        field: field.into(),
        reason,
    }
}

/// Parses a quantity: a JSON number, or a string in decimal or `0x` hex.
fn quantity(field: &str, raw: &RawValue) -> Result<U256, GenesisError> {
    let text = raw.get().trim();
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner,
        None => text,
    };
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(field, "not a 256-bit hex quantity"));
        }
        return U256::from_str_radix(hex, 16).map_err(|_| bad(field, "not a 256-bit hex quantity"));
    }
    if text.is_empty() || text.len() > 78 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, "not a decimal or hex quantity"));
    }
    U256::from_dec_str(text).map_err(|_| bad(field, "does not fit 256 bits"))
}

/// Parses a quantity that must fit a `u64`.
fn quantity_u64(field: &str, raw: &RawValue) -> Result<u64, GenesisError> {
    let v = quantity(field, raw)?;
    if v > U256::from(u64::MAX) {
        return Err(bad(field, "does not fit 64 bits"));
    }
    Ok(v.low_u64())
}

/// An optional `u64` quantity.
fn opt_u64(field: &str, raw: Option<&RawValue>) -> Result<Option<u64>, GenesisError> {
    raw.map(|r| quantity_u64(field, r)).transpose()
}

/// Decodes `0x`-prefixed (or bare) hex bytes of even length.
fn hex_bytes(field: &str, text: &str) -> Result<Vec<u8>, GenesisError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| bad(field, "not hex bytes"))
}

/// Decodes exactly `N` bytes of hex.
fn fixed<const N: usize>(field: &str, text: &str) -> Result<[u8; N], GenesisError> {
    hex_bytes(field, text)?
        .try_into()
        .map_err(|_| bad(field, "wrong length"))
}

/// Decodes a storage key or value: up to 32 bytes of hex, left-padded with zeros (geth's `storageJSON`).
fn storage_word(field: &str, text: &str) -> Result<H256, GenesisError> {
    let bytes = hex_bytes(field, text)?;
    let start = 32usize
        .checked_sub(bytes.len())
        .ok_or_else(|| bad(field, "more than 32 bytes"))?;
    let mut word = [0u8; 32];
    word[start..].copy_from_slice(&bytes);
    Ok(H256(word))
}

/// The RLP state-trie entry (`keccak` is applied by the trie) of one account.
fn account_entry(address: &str, account: &Account) -> Result<(H160, Vec<u8>), GenesisError> {
    let field = |name: &str| format!("alloc.{address}.{name}");
    let addr = H160(fixed::<20>(&format!("alloc.{address}"), address)?);
    let balance = account
        .balance
        .as_deref()
        .map(|r| quantity(&field("balance"), r))
        .transpose()?
        .unwrap_or_default();
    let nonce = opt_u64(&field("nonce"), account.nonce.as_deref())?.unwrap_or(0);
    let code = match &account.code {
        Some(c) => hex_bytes(&field("code"), c)?,
        None => Vec::new(),
    };
    let mut slots = Vec::with_capacity(account.storage.len());
    for (k, v) in &account.storage {
        let key = storage_word(&field("storage"), k)?;
        let value = U256::from_big_endian(storage_word(&field("storage"), v)?.as_bytes());
        // A zero value is no entry at all.
        if !value.is_zero() {
            slots.push((key, rlp::encode(&value).to_vec()));
        }
    }
    let storage_root = if slots.is_empty() {
        EMPTY_ROOT_HASH
    } else {
        roots::secure_root(slots)
    };
    let mut s = RlpStream::new_list(4);
    s.append(&nonce);
    s.append(&balance);
    s.append(&storage_root);
    s.append(&keccak256(&code));
    Ok((addr, s.out().to_vec()))
}

/// The genesis state root of `alloc`.
fn state_root(alloc: &BTreeMap<String, Account>) -> Result<H256, GenesisError> {
    let mut entries = Vec::with_capacity(alloc.len());
    for (address, account) in alloc {
        entries.push(account_entry(address, account)?);
    }
    Ok(roots::secure_root(entries))
}

/// The fork schedule, terminal total difficulty, blob schedule and other values of the `config` object.
struct Config {
    chain_id: u64,
    name: String,
    forks: BTreeMap<Fork, u64>,
    ttd: Option<U256>,
    blob_schedule: BTreeMap<Fork, BlobParams>,
    dao_fork_support: bool,
    deposit_contract: Option<H160>,
    ethash: bool,
}

/// Reads the `config` object.
fn config(map: &BTreeMap<String, Box<RawValue>>) -> Result<Config, GenesisError> {
    let get = |key: &str| map.get(key).map(|r| &**r).filter(|r| r.get() != "null");
    let chain_id = get("chainId")
        .map(|r| quantity_u64("config.chainId", r))
        .transpose()?
        .ok_or_else(|| bad("config.chainId", "missing"))?;
    let mut forks = BTreeMap::new();
    let mut ttd = None;
    for &fork in Fork::ALL {
        let key = fork.geth_key();
        let Some(raw) = get(key) else { continue };
        let field = format!("config.{key}");
        match fork.kind() {
            ForkKind::TotalDifficulty => ttd = Some(quantity(&field, raw)?),
            ForkKind::Block | ForkKind::Timestamp => {
                forks.insert(fork, quantity_u64(&field, raw)?);
            }
        }
    }
    let mut blob_schedule = BTreeMap::new();
    if let Some(raw) = get("blobSchedule") {
        let entries: BTreeMap<String, BlobEntry> = serde_json::from_str(raw.get())?;
        for &fork in Fork::ALL {
            let Some(key) = fork.blob_schedule_key() else {
                continue;
            };
            if let Some(e) = entries.get(key) {
                if e.base_fee_update_fraction == 0 {
                    return Err(bad(
                        format!("config.blobSchedule.{key}"),
                        "update fraction must be nonzero",
                    ));
                }
                let params = BlobParams {
                    target: e.target,
                    max: e.max,
                    update_fraction: e.base_fee_update_fraction,
                };
                blob_schedule.insert(fork, params);
            }
        }
    }
    // As geth: every scheduled fork that may set blob parameters must set them.
    for &fork in Fork::ALL {
        if let Some(key) = fork.blob_schedule_key()
            && forks.contains_key(&fork)
            && !blob_schedule.contains_key(&fork)
        {
            return Err(bad(
                format!("config.blobSchedule.{key}"),
                "missing for a scheduled fork",
            ));
        }
    }
    let dao_fork_support = match get("daoForkSupport") {
        Some(raw) => serde_json::from_str(raw.get())?,
        None => false,
    };
    let deposit_contract = get("depositContractAddress")
        .map(|raw| {
            let text: String = serde_json::from_str(raw.get())?;
            Ok::<_, GenesisError>(H160(fixed::<20>("config.depositContractAddress", &text)?))
        })
        .transpose()?;
    let name = match get("chainName") {
        Some(raw) => serde_json::from_str(raw.get())?,
        None => "custom".to_owned(),
    };
    Ok(Config {
        chain_id,
        name,
        forks,
        ttd,
        blob_schedule,
        dao_fork_support,
        deposit_contract,
        ethash: map.contains_key("ethash"),
    })
}

impl ChainSpec {
    /// Reads a geth `genesis.json`: the chain config, the genesis header fields and the alloc (whose state root
    /// is computed). The network id is the chain id, as geth uses by default; the name is the config's
    /// `chainName`, or `"custom"`.
    ///
    /// # Errors
    ///
    /// [`Error::Genesis`] if the text is not JSON of geth's shape, a value cannot be parsed, the chain id is
    /// missing, or a scheduled blob fork has no blob parameters.
    pub fn from_geth_genesis_json(json: &str) -> Result<Self, Error> {
        Ok(Self::parse_geth_genesis(json)?)
    }

    /// Reads a geth `genesis.json` file; see [`ChainSpec::from_geth_genesis_json`].
    ///
    /// # Errors
    ///
    /// [`Error::Genesis`] if the file cannot be read, is over [`MAX_GENESIS_BYTES`], or is rejected by
    /// [`ChainSpec::from_geth_genesis_json`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let len = std::fs::metadata(path).map_err(GenesisError::from)?.len();
        if len > MAX_GENESIS_BYTES {
            return Err(GenesisError::TooLarge { len }.into());
        }
        let text = std::fs::read_to_string(path).map_err(GenesisError::from)?;
        Self::from_geth_genesis_json(&text)
    }

    /// The parser behind [`ChainSpec::from_geth_genesis_json`].
    fn parse_geth_genesis(json: &str) -> Result<Self, GenesisError> {
        let file: File = serde_json::from_str(json)?;
        let config = config(
            file.config
                .as_ref()
                .ok_or_else(|| bad("config", "missing"))?,
        )?;
        let u64_field = |name: &str, raw: &Option<Box<RawValue>>| opt_u64(name, raw.as_deref());
        let number = u64_field("number", &file.number)?.unwrap_or(0);
        let timestamp = u64_field("timestamp", &file.timestamp)?.unwrap_or(0);
        let mix_hash = match &file.mix_hash {
            Some(t) => H256(fixed::<32>("mixHash", t)?),
            None => H256::zero(),
        };
        let difficulty = match file.difficulty.as_deref().filter(|r| r.get() != "null") {
            Some(raw) => quantity("difficulty", raw)?,
            None if !config.ethash => U256::zero(),
            None if mix_hash.is_zero() => U256::from(GENESIS_DIFFICULTY),
            None => U256::zero(),
        };
        let mut header = Header {
            parent_hash: match &file.parent_hash {
                Some(t) => H256(fixed::<32>("parentHash", t)?),
                None => H256::zero(),
            },
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: match &file.coinbase {
                Some(t) => H160(fixed::<20>("coinbase", t)?),
                None => H160::zero(),
            },
            state_root: state_root(&file.alloc)?,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            difficulty,
            number,
            gas_limit: match u64_field("gasLimit", &file.gas_limit)? {
                Some(0) | None => GENESIS_GAS_LIMIT,
                Some(v) => v,
            },
            gas_used: u64_field("gasUsed", &file.gas_used)?.unwrap_or(0),
            timestamp,
            extra_data: match &file.extra_data {
                Some(t) => Bytes::from(hex_bytes("extraData", t)?),
                None => Bytes::new(),
            },
            mix_hash,
            nonce: u64_field("nonce", &file.nonce)?.unwrap_or(0).to_be_bytes(),
            ..Header::default()
        };
        let active = |fork: Fork| match fork.kind() {
            ForkKind::Block => config.forks.get(&fork).is_some_and(|b| *b <= number),
            _ => config.forks.get(&fork).is_some_and(|t| *t <= timestamp),
        };
        let base_fee = u64_field("baseFeePerGas", &file.base_fee_per_gas)?;
        if active(Fork::London) {
            header.base_fee_per_gas = Some(base_fee.unwrap_or(super::INITIAL_BASE_FEE));
        }
        if active(Fork::Shanghai) {
            header.withdrawals_root = Some(EMPTY_ROOT_HASH);
        }
        let excess = u64_field("excessBlobGas", &file.excess_blob_gas)?;
        if active(Fork::Cancun) {
            header.blob_gas_used =
                Some(u64_field("blobGasUsed", &file.blob_gas_used)?.unwrap_or(0));
            header.excess_blob_gas = Some(excess.unwrap_or(0));
            header.parent_beacon_block_root = Some(H256::zero());
        }
        if active(Fork::Prague) {
            header.requests_hash = Some(EMPTY_REQUESTS_HASH);
        }
        if active(Fork::Amsterdam) {
            // The empty block access list hashes like the empty ommers list: keccak256(rlp([])).
            header.block_access_list_hash = Some(EMPTY_OMMERS_HASH);
            header.slot_number = Some(u64_field("slotNumber", &file.slot_number)?.unwrap_or(0));
        }
        let merge_block = match config.ttd {
            Some(ttd) if ttd.is_zero() => Some(number),
            _ => None,
        };
        Ok(Self {
            name: config.name,
            chain_id: config.chain_id,
            network_id: config.chain_id,
            genesis: header.seal(),
            forks: config.forks,
            terminal_total_difficulty: config.ttd,
            merge_block,
            blob_schedule: config.blob_schedule,
            dao_fork_support: config.dao_fork_support,
            deposit_contract: config.deposit_contract,
            bootnodes: Vec::new(),
            dns_networks: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn quantities_in_every_form() {
        assert_eq!(quantity("x", &raw("17")).unwrap(), U256::from(17));
        assert_eq!(quantity("x", &raw("\"0x11\"")).unwrap(), U256::from(17));
        assert_eq!(quantity("x", &raw("\"17\"")).unwrap(), U256::from(17));
        let ttd = quantity("x", &raw("58750000000000000000000")).unwrap();
        assert_eq!(ttd, U256::from_dec_str("58750000000000000000000").unwrap());
        for bad in ["-1", "1.5", "\"0x\"", "\"0xzz\"", "true", "\"\""] {
            assert!(quantity("x", &raw(bad)).is_err(), "{bad}");
        }
        assert!(quantity_u64("x", &raw("18446744073709551616")).is_err());
    }

    #[test]
    fn storage_words_are_left_padded() {
        assert_eq!(storage_word("s", "0x01").unwrap(), H256::from_low_u64_be(1));
        assert!(storage_word("s", &format!("0x{}", "00".repeat(33))).is_err());
        assert!(storage_word("s", "0x1").is_err());
    }

    #[test]
    fn empty_requests_hash_is_sha256_of_nothing() {
        // The constant is the well-known SHA-256 of the empty string (FIPS 180-4 examples, EIP-7685).
        assert_eq!(
            format!("{EMPTY_REQUESTS_HASH:x}"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn header_fields_follow_the_forks_at_genesis() {
        let json = r#"{"config":{"chainId":7,"londonBlock":0,"shanghaiTime":0,"cancunTime":0,"pragueTime":0,
            "terminalTotalDifficulty":0,"blobSchedule":{"cancun":{"target":3,"max":6,"baseFeeUpdateFraction":3338477},
            "prague":{"target":6,"max":9,"baseFeeUpdateFraction":5007716}}},"gasLimit":"0x1000000","alloc":{}}"#;
        let spec = ChainSpec::from_geth_genesis_json(json).unwrap();
        let g = spec.genesis.header();
        assert_eq!(g.base_fee_per_gas, Some(1_000_000_000));
        assert_eq!(g.withdrawals_root, Some(EMPTY_ROOT_HASH));
        assert_eq!((g.blob_gas_used, g.excess_blob_gas), (Some(0), Some(0)));
        assert_eq!(g.parent_beacon_block_root, Some(H256::zero()));
        assert_eq!(g.requests_hash, Some(EMPTY_REQUESTS_HASH));
        assert_eq!(g.state_root, EMPTY_ROOT_HASH);
        // Not an ethash chain and no difficulty given: zero, as geth.
        assert!(g.difficulty.is_zero());
        assert_eq!(
            (spec.chain_id, spec.network_id, spec.name.as_str()),
            (7, 7, "custom")
        );
        // A genesis file names no entry points.
        assert!(spec.bootnodes.is_empty() && spec.dns_networks.is_empty());
    }

    #[test]
    fn bad_files_give_typed_errors() {
        let cases = [
            "",
            "[]",
            r#"{"alloc":{}}"#,
            r#"{"config":{}}"#,
            r#"{"config":{"chainId":"0xg"}}"#,
            r#"{"config":{"chainId":1,"cancunTime":0}}"#,
            r#"{"config":{"chainId":1},"alloc":{"0x12":{"balance":"1"}}}"#,
            r#"{"config":{"chainId":1},"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"x"}}}"#,
            r#"{"config":{"chainId":1},"extraData":"0x1"}"#,
            r#"{"config":{"chainId":1,"blobSchedule":{"cancun":{"target":3,"max":6,"baseFeeUpdateFraction":0}}}}"#,
        ];
        for json in cases {
            let err = ChainSpec::from_geth_genesis_json(json).unwrap_err();
            assert!(err.is_genesis(), "{json}: {err}");
        }
    }
}
